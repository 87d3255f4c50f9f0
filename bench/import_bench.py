#!/usr/bin/env python
"""Import benchmark: `import_campaign` and `import_ratings` on PostgreSQL at realistic size.

Run from the repository root:

    .venv/bin/python bench/import_bench.py [--items 10000 --systems 10 --raters-per-output 1
        --criteria 3 --database-url postgres://postgres@127.0.0.1:5432/postgres --keep-files
        --scale]

It generates a campaign spec, an outputs JSONL (items × systems rows) and a judgments JSONL
(outputs × raters-per-output × criteria rows) in a temporary directory, creates a dedicated
database (`evalbench` by default) next to the one --database-url names, migrates it, runs
the real management commands, each in its own subprocess so that its peak RSS can be read
from wait4(), checks the targets and the row counts in the database, and drops the
database again. Exit status: 0 all targets met, 1 a target missed or a count wrong, 2 an
import failed. A benchmark, not a test: nothing here is collected by pytest.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
VENV_PYTHON = REPO / ".venv" / "bin" / "python"

TARGET_ROWS_PER_S = 50_000
TARGET_PEAK_RSS_MB = 300.0

CRITERION_KEYS = ("fluency", "relevance", "accuracy", "coherence", "helpfulness", "safety",
                  "conciseness", "style")
RATER_POOL = 50

WORDS = (
    "the model answer question user data system result value report training evaluation "
    "prompt response context reference output baseline improvement accuracy metric score "
    "sample token sentence paragraph document summary translation reasoning step example "
    "because therefore however although while when which that this these those their "
    "is are was were be been has have had will would could should may might can must "
    "provides explains describes returns computes shows suggests indicates improves reduces "
    "clear correct relevant fluent concise detailed brief complete partial wrong likely "
    "important different similar specific general simple complex large small recent early "
    "in on at by for with from into over under between across through during after before "
    "a an of to and or but not also only more most less very quite rather fairly often "
    "patient customer contract invoice policy product service request account payment issue "
    "weather river city country history science language music market energy health school"
).split()


# --- generation -------------------------------------------------------------------------


def _text(rng: random.Random, low: int, high: int) -> str:
    """Plausible-looking prose of low..high characters, cut at a word boundary."""
    target = rng.randint(low, high)
    words = rng.choices(WORDS, k=target // 4 + 8)
    parts: list[str] = []
    length = 0
    start = True
    for word in words:
        if start:
            word = word.capitalize()
        start = rng.random() < 0.08
        if start:
            word += "."
        elif rng.random() < 0.05:
            word += ","
        parts.append(word)
        length += len(word) + 1
        if length >= target:
            break
    text = " ".join(parts)[:target].rstrip(" ,")
    return text if text.endswith(".") else text + "."


def system_names(count: int) -> list[str]:
    return ["baseline", *[f"ft-v{i}" for i in range(1, count)]]


def criterion_keys(count: int) -> list[str]:
    keys = list(CRITERION_KEYS[:count])
    keys += [f"criterion{i}" for i in range(len(keys) + 1, count + 1)]
    return keys


def write_spec(path: Path, slug: str, systems: list[str], criteria: list[str]) -> None:
    spec = {
        "name": f"Import benchmark ({slug})",
        "slug": slug,
        "kind": "rating",
        "instructions": "Rate each answer on every criterion (1 = poor, 5 = excellent).",
        "overlap": 1,
        "baseline": systems[0],
        "criteria": [
            {"key": key, "label": key.capitalize(), "min": 1, "max": 5, "level": "ordinal"}
            for key in criteria
        ],
        "metrics": ["bleu", "chrf", "rougeL"],
    }
    path.write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")


def write_outputs(path: Path, items: int, systems: list[str], seed: int) -> int:
    """items × systems rows, item-major (all systems of q1, then q2, ...); returns bytes."""
    rng = random.Random(seed)
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode
    with path.open("w", encoding="utf-8") as out:
        for index in range(1, items + 1):
            item_id = f"q{index}"
            prompt = _text(rng, 80, 200).rstrip(".") + "?"
            reference = _text(rng, 150, 300)
            for system in systems:
                text = _text(rng, 200, 400)
                out.write(dumps({
                    "item_id": item_id, "input": prompt, "references": [reference],
                    "system": system, "output": text,
                    "latency_ms": rng.randint(80, 2500), "tokens": len(text) // 4,
                }))
                out.write("\n")
    return path.stat().st_size


@dataclass(frozen=True)
class RatingsFile:
    rows: int
    ratings: int
    raters: int
    size: int


def write_ratings(path: Path, items: int, systems: list[str], criteria: list[str],
                  raters_per_output: int, pool: int, order: str, seed: int) -> RatingsFile:
    """One row per (output, rater, criterion); raters are distinct per output."""
    rng = random.Random(seed)
    raters = [f"rater{i:03d}" for i in range(1, pool + 1)]
    quality = {s: 3.0 + 0.15 * i for i, s in enumerate(systems)}
    used: set[str] = set()
    lines: list[str] = []
    rows = ratings = 0
    with path.open("w", encoding="utf-8") as out:
        for index in range(1, items + 1):
            item_id = f"q{index}"
            for system in systems:
                for rater in rng.sample(raters, raters_per_output):
                    used.add(rater)
                    ratings += 1
                    for key in criteria:
                        value = min(5, max(1, round(rng.gauss(quality[system], 1.0))))
                        line = json.dumps({"item_id": item_id, "system": system, "rater": rater,
                                           "criterion": key, "value": value}) + "\n"
                        rows += 1
                        if order == "random":
                            lines.append(line)
                        else:
                            out.write(line)
        if order == "random":
            rng.shuffle(lines)
            out.writelines(lines)
    return RatingsFile(rows=rows, ratings=ratings, raters=len(used), size=path.stat().st_size)


# --- database ---------------------------------------------------------------------------


def bench_url(admin_url: str, name: str) -> str:
    parts = urlsplit(admin_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def create_database(admin_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists:
            print(f"database {name!r} exists (left by an earlier run?): dropping it")
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(admin_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                     .format(sql.Identifier(name)))


# --- measuring --------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    label: str
    rows: int
    wall_s: float
    peak_rss_mb: float
    exit_code: int
    log: str
    startup_s: float = 0.0
    cpu_s: float = 0.0  # the command process's user + system CPU
    server_cpu_s: float | None = None  # its PostgreSQL backend's CPU, when /proc shows it

    @property
    def process_rate(self) -> float:
        """Rows per second of the whole process, startup included."""
        return self.rows / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def rate(self) -> float:
        """Rows per second of the import itself: wall minus the fixed cost of a process."""
        net = self.wall_s - self.startup_s
        return self.rows / net if net > 0 else 0.0


def clean_up(args: argparse.Namespace, created_db: bool, url: str, workdir: Path) -> None:
    """Close connections, then drop the bench database and the temp files unless kept."""
    if created_db:
        if "django" in sys.modules:
            from django.db import connections

            connections.close_all()
        if args.keep_db:
            print(f"kept database {args.db_name!r} ({url})")
        else:
            drop_database(args.database_url, args.db_name)
            print(f"dropped database {args.db_name!r}")
    if args.keep_files:
        print(f"kept files in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


class BackendCpu(threading.Thread):
    """Follows the CPU time of the PostgreSQL backends serving one application_name.

    CPU seconds are what a run costs the database server whatever else the machine is doing;
    wall time on a shared machine is not. It reads /proc/<pid>/stat of each backend every
    50 ms until stopped (PostgreSQL on this host, readable /proc), else reports None.
    """

    def __init__(self, admin_url: str, app_name: str) -> None:
        super().__init__(daemon=True)
        self.admin_url, self.app_name = admin_url, app_name
        self.latest: dict[int, float] = {}
        self.readable = True
        self.done = threading.Event()

    def run(self) -> None:
        import psycopg

        tick = os.sysconf("SC_CLK_TCK")
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            while not self.done.wait(0.05):
                pids = conn.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s",
                                    [self.app_name]).fetchall()
                for (pid,) in pids:
                    try:
                        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                    except OSError:
                        self.readable = False
                        continue
                    self.latest[pid] = (int(fields[11]) + int(fields[12])) / tick

    def stop(self) -> float | None:
        self.done.set()
        self.join()
        return sum(self.latest.values()) if self.readable and self.latest else None


def run_manage(label: str, rows: int, args: list[str], env: dict[str, str], log: Path,
               startup_s: float = 0.0, admin_url: str | None = None) -> Run:
    """Run `manage.py ARGS` in its own process: wall time, peak RSS and CPU of the process,
    and (with admin_url) CPU of its database backend, up to the last 50 ms sample."""
    python = str(VENV_PYTHON if VENV_PYTHON.exists() else Path(sys.executable))
    app_name = f"import-bench-{os.getpid()}-{label.replace(' ', '-')}"
    backend = BackendCpu(admin_url, app_name) if admin_url else None
    if backend:
        backend.start()
    with log.open("wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen([python, "manage.py", *args], cwd=REPO,
                                env=dict(env, PGAPPNAME=app_name),
                                stdout=out, stderr=subprocess.STDOUT)
        # wait4 reports this child's own rusage (ru_maxrss = its VmHWM, in KiB on Linux),
        # unlike RUSAGE_CHILDREN, which is the maximum over every child reaped so far.
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    server_cpu = backend.stop() if backend else None
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Run(label, rows, wall, usage.ru_maxrss / 1024, proc.returncode,
               log.read_text(encoding="utf-8", errors="replace").strip(), startup_s,
               usage.ru_utime + usage.ru_stime, server_cpu)


def report(run: Run) -> bool:
    print(f"{run.label}")
    if run.log:
        print(f"  command said:  {run.log.splitlines()[-1]}")
    print(f"  rows           {run.rows:>10,}")
    print(f"  wall           {run.wall_s:>10.2f} s   (import alone "
          f"{run.wall_s - run.startup_s:.2f} s after the fixed {run.startup_s:.2f} s)")
    print(f"  rows/s         {run.rate:>10,.0f}     (whole process {run.process_rate:,.0f})")
    print(f"  peak RSS       {run.peak_rss_mb:>10.1f} MB")
    server = "n/a" if run.server_cpu_s is None else f"{run.server_cpu_s:.2f} s"
    print(f"  CPU            {run.cpu_s:>10.2f} s   (command process; its database backend "
          f"{server})")
    ok_rate = run.rate >= TARGET_ROWS_PER_S
    ok_rss = run.peak_rss_mb < TARGET_PEAK_RSS_MB
    print(f"  target rows/s >= {TARGET_ROWS_PER_S:,} (import alone): "
          f"{'PASS' if ok_rate else 'MISS'}")
    print(f"  target peak RSS < {TARGET_PEAK_RSS_MB:.0f} MB:             "
          f"{'PASS' if ok_rss else 'MISS'}")
    return ok_rate and ok_rss


def check_counts(slug: str, expected: dict[str, int]) -> bool:
    """Compare the campaign's rows in the database with what was generated."""
    from django.db.models import Count

    from annotations.models import (
        Campaign,
        CampaignMembership,
        Item,
        Output,
        Rating,
        RatingValue,
        System,
    )

    campaign = Campaign.objects.select_related("baseline").get(slug=slug)
    actual = {
        "systems": System.objects.filter(campaign=campaign).count(),
        "items": Item.objects.filter(campaign=campaign).count(),
        "outputs": Output.objects.filter(item__campaign=campaign).count(),
        "ratings": Rating.objects.filter(output__item__campaign=campaign).count(),
        "rating values": RatingValue.objects.filter(
            rating__output__item__campaign=campaign).count(),
        "raters": CampaignMembership.objects.filter(
            campaign=campaign, role=CampaignMembership.Role.RATER).count(),
    }
    ok = True
    for key, want in expected.items():
        got = actual[key]
        flag = "ok" if got == want else "WRONG"
        ok &= got == want
        print(f"  {key:<14} expected {want:>9,}  in database {got:>9,}  {flag}")
    if "ratings" in expected:
        per_system = (RatingValue.objects.filter(rating__output__item__campaign=campaign)
                      .values("rating__output__system__name").annotate(n=Count("id")))
        counts = {row["n"] for row in per_system}
        if len(counts) != 1:
            print(f"  rating values per system differ: {sorted(counts)}  WRONG")
            ok = False
    baseline = campaign.baseline.name if campaign.baseline else None
    if baseline != "baseline":
        print(f"  baseline system is {baseline!r}, expected 'baseline'  WRONG")
        ok = False
    return ok


# --- main -------------------------------------------------------------------------------


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--systems", type=int, default=10)
    parser.add_argument("--raters-per-output", type=int, default=1)
    parser.add_argument("--criteria", type=int, default=3)
    parser.add_argument("--rater-pool", type=int, default=RATER_POOL,
                        help="distinct raters the judgments draw from")
    parser.add_argument("--ratings-order", choices=["item", "random"], default="item",
                        help="judgments file order: grouped by item (as exported per item) "
                             "or shuffled (as exported by time)")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/postgres",
                        help="a PostgreSQL database to connect to for CREATE/DROP DATABASE")
    parser.add_argument("--db-name", default="evalbench",
                        help="the dedicated database created and dropped by the bench")
    parser.add_argument("--settings", default="evalproject.settings.test")
    parser.add_argument("--scale", action="store_true",
                        help="also import the outputs at 2x rows to show peak RSS does not "
                             "grow with the file")
    parser.add_argument("--keep-files", action="store_true",
                        help="keep the generated files (their directory is printed)")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database")
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args(argv)
    if min(args.items, args.systems, args.raters_per_output, args.criteria) < 1:
        parser.error("--items, --systems, --raters-per-output and --criteria must be >= 1")
    if args.raters_per_output > args.rater_pool:
        parser.error("--raters-per-output cannot exceed --rater-pool")
    if urlsplit(args.database_url).scheme not in ("postgres", "postgresql"):
        parser.error("--database-url must be a postgres:// URL")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    url = bench_url(args.database_url, args.db_name)
    workdir = Path(tempfile.mkdtemp(prefix="import-bench-"))
    systems = system_names(args.systems)
    criteria = criterion_keys(args.criteria)

    print(f"machine: {os.cpu_count()} CPUs, load average {_load()} (other work skews timings)")
    print(f"generating into {workdir} ...")
    started = time.perf_counter()
    spec = workdir / "spec.json"
    outputs = workdir / "outputs.jsonl"
    judgments = workdir / "judgments.jsonl"
    write_spec(spec, "bench", systems, criteria)
    outputs_size = write_outputs(outputs, args.items, systems, args.seed)
    rfile = write_ratings(judgments, args.items, systems, criteria, args.raters_per_output,
                          args.rater_pool, args.ratings_order, args.seed + 1)
    n_outputs = args.items * len(systems)
    print(f"  {outputs.name}: {n_outputs:,} rows, {outputs_size / 2**20:.1f} MiB")
    print(f"  {judgments.name}: {rfile.rows:,} rows ({rfile.ratings:,} ratings, "
          f"{rfile.raters} raters, order={args.ratings_order}), {rfile.size / 2**20:.1f} MiB")
    if args.scale:
        spec2 = workdir / "spec-scale.json"
        outputs2 = workdir / "outputs-scale.jsonl"
        write_spec(spec2, "bench-scale", systems, criteria)
        size2 = write_outputs(outputs2, 2 * args.items, systems, args.seed + 2)
        print(f"  {outputs2.name}: {2 * n_outputs:,} rows, {size2 / 2**20:.1f} MiB")
    print(f"  generated in {time.perf_counter() - started:.1f} s")

    env = dict(os.environ, DATABASE_URL=url, DJANGO_SETTINGS_MODULE=args.settings,
               DEBUG="0", LOG_LEVEL="WARNING")
    # The bench process itself: DATABASE_URL must be set before django.setup().
    os.environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE=args.settings, DEBUG="0")
    sys.path.insert(0, str(REPO))

    created = False
    status = 0
    try:
        print(f"creating database {args.db_name!r} and migrating ...")
        create_database(args.database_url, args.db_name)
        created = True
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=0)

        # The fixed cost of one command process (interpreter, django.setup(), system checks,
        # the command's imports, one query): import_ratings on a campaign that does not exist
        # exits right after looking it up.
        startup = min((run_manage("startup", 0, ["import_ratings", "no-such-campaign",
                                                 os.devnull], env, workdir / "startup.log")
                       for _ in range(3)), key=lambda run: run.wall_s)
        print(f"\nfixed cost of a command process (best of 3): {startup.wall_s:.2f} s, "
              f"peak RSS {startup.peak_rss_mb:.1f} MB\n")

        admin = args.database_url
        runs = [run_manage("import_campaign", n_outputs,
                           ["import_campaign", str(spec), str(outputs)], env,
                           workdir / "import_campaign.log", startup.wall_s, admin)]
        if runs[0].exit_code == 0:
            runs.append(run_manage("import_ratings", rfile.rows,
                                   ["import_ratings", "bench", str(judgments)], env,
                                   workdir / "import_ratings.log", startup.wall_s, admin))
        scale_run = None
        if args.scale and runs[0].exit_code == 0:
            scale_run = run_manage("import_campaign (2x)", 2 * n_outputs,
                                   ["import_campaign", str(spec2), str(outputs2)], env,
                                   workdir / "import_campaign_scale.log", startup.wall_s, admin)

        all_ok = True
        for run in [*runs, *([scale_run] if scale_run else [])]:
            if run.exit_code != 0:
                print(f"{run.label}: FAILED (exit {run.exit_code})\n{run.log}")
                status = 2
                continue
            all_ok &= report(run)
        if status:
            return status

        print("\nrow counts (campaign 'bench'):")
        all_ok &= check_counts("bench", {
            "systems": len(systems), "items": args.items, "outputs": n_outputs,
            "ratings": rfile.ratings, "rating values": rfile.rows, "raters": rfile.raters,
        })
        if scale_run:
            print("row counts (campaign 'bench-scale'):")
            all_ok &= check_counts("bench-scale", {
                "systems": len(systems), "items": 2 * args.items, "outputs": 2 * n_outputs,
            })
            one, two = runs[0], scale_run
            print(f"\nscale: peak RSS {one.rows:,} rows {one.peak_rss_mb:.1f} MB  vs  "
                  f"{two.rows:,} rows {two.peak_rss_mb:.1f} MB  "
                  f"(ratio {two.peak_rss_mb / one.peak_rss_mb:.2f} for 2.00x rows)")
        print(f"\nload average after the imports: {_load()}")
        print(f"result: {'all targets met' if all_ok else 'TARGET MISSED'}")
        status = 0 if all_ok else 1
        return status
    finally:
        clean_up(args, created, url, workdir)


if __name__ == "__main__":
    sys.exit(main())
