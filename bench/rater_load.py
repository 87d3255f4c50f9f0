#!/usr/bin/env python
"""Rater load benchmark: the next -> submit loop of DESIGN.md §4 against gunicorn + PostgreSQL.

Run from the repository root:

    .venv/bin/python bench/rater_load.py [--items 10000 --sequential 300 --concurrency 32
        --per-rater 40 --workers 5 --database-url postgres://postgres@127.0.0.1:5432/postgres
        --keep-db]

It creates a dedicated database (`evalrater` by default, dropped first if it exists) next to
the one --database-url names, migrates it, imports a rating campaign of items x 3 systems
with the real `import_campaign` command (fluency/relevance/accuracy and satisfaction on
1-5, overlap k=3), makes it active, creates 1 + concurrency raters with API tokens (the
first through the real `create_rater` command), and starts gunicorn with the production
settings on a free loopback port. Then:

- phase A: one rater, sequentially, does --sequential next -> submit loops, no think time;
- phase B: --concurrency rater processes each loop next -> submit --per-rater times (or
  until 204), all started together.

Every request opens a fresh connection (http.client, `Connection: close`), so the figures
compare with a peer measurement taken the same way. Each submission carries a unique
idempotency key; about --replay-rate of them are sent again with the same key and must
answer 200 with the same rating. Afterwards the database is checked directly: no output
over k live assignments, no lost rating, no duplicate rating. gunicorn is stopped and the
database dropped (unless --keep-db). Only 127.0.0.1 is contacted.

Exit status: 0 all targets met, 1 a target missed or an invariant violated, 2 the setup
failed. A benchmark, not a test: nothing here is collected by pytest.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = REPO / ".venv" / "bin"
sys.path.insert(0, str(Path(__file__).resolve().parent))

from import_bench import (  # noqa: E402 - the sibling benchmark, reused for data and the database
    _load,
    bench_url,
    clean_up,
    create_database,
    system_names,
    write_outputs,
)

HOST = "127.0.0.1"  # loopback only
SLUG = "rater-bench"
SYSTEMS = 3
OVERLAP = 3
CRITERIA = ("fluency", "relevance", "accuracy")

TARGET_SEQ_P95_NEXT_MS = 10.0
TARGET_SEQ_P95_SUBMIT_MS = 15.0
TARGET_PAIRS_PER_S = 150.0


# --- setup ------------------------------------------------------------------------------


def write_spec(path: Path, systems: list[str]) -> None:
    criteria = [{"key": key, "label": key.capitalize(), "min": 1, "max": 5, "level": "ordinal"}
                for key in CRITERIA]
    criteria.append({"key": "satisfaction", "label": "User satisfaction", "min": 1, "max": 5,
                     "level": "ordinal"})
    spec = {
        "name": "Rater load benchmark", "slug": SLUG, "kind": "rating",
        "instructions": "Rate each answer on every criterion (1 = poor, 5 = excellent).",
        "overlap": OVERLAP, "baseline": systems[0], "criteria": criteria,
        "metrics": ["bleu"],
    }
    path.write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")


def manage(args: list[str], env: dict[str, str], timeout: float) -> str:
    """Run `manage.py ARGS`; its output, or SystemExit with the output on failure."""
    python = VENV_BIN / "python"
    proc = subprocess.run([str(python if python.exists() else sys.executable), "manage.py",
                           *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"manage.py {args[0]} failed (exit {proc.returncode}):\n"
                         f"{proc.stdout}{proc.stderr}")
    return proc.stdout


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def start_gunicorn(env: dict[str, str], port: int, workers: int, log: Path) -> subprocess.Popen:
    gunicorn = VENV_BIN / "gunicorn"
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(gunicorn), "evalproject.wsgi:application", "--bind", f"{HOST}:{port}",
             "--workers", str(workers), "--timeout", "60", "--graceful-timeout", "10",
             "--log-level", "warning"],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_healthy(proc: subprocess.Popen, port: int, limit_s: float) -> bool:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            status, _, _ = request(port, "GET", "/healthz/", None, None, timeout=2)
            if status == 200:
                return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def stop_gunicorn(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)  # the master we started; it stops its own workers
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


# --- the client -------------------------------------------------------------------------


def request(port: int, method: str, path: str, token: str | None, body: dict | None,
            timeout: float = 30.0) -> tuple[int, bytes, float]:
    """One request on a fresh connection; (status, body, seconds incl. connect and read)."""
    headers = {"Connection": "close", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    start = time.perf_counter()
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    return response.status, data, time.perf_counter() - start


@dataclass
class Result:
    """What one rater loop saw; plain data so it crosses the process boundary."""
    next_ms: list[float] = field(default_factory=list)
    submit_ms: list[float] = field(default_factory=list)
    replay_ms: list[float] = field(default_factory=list)
    created: list[tuple[int, int]] = field(default_factory=list)  # (assignment, rating) 201s
    replays: int = 0
    replay_ok: int = 0
    replay_bad: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    exhausted: bool = False  # got 204
    timed_out: bool = False

    def merge(self, other: Result) -> None:
        for name in ("next_ms", "submit_ms", "replay_ms", "created", "replay_bad", "errors"):
            getattr(self, name).extend(getattr(other, name))
        self.replays += other.replays
        self.replay_ok += other.replay_ok
        self.exhausted |= other.exhausted
        self.timed_out |= other.timed_out


def rater_loop(port: int, token: str, submissions: int, time_limit_s: float,
               replay_rate: float, seed: int) -> Result:
    """next -> submit until `submissions` are stored, 204, an error, or the time limit."""
    rng = random.Random(seed)
    result = Result()
    next_path = f"/api/campaigns/{SLUG}/next/"
    deadline = time.monotonic() + time_limit_s
    attempts = 0
    while len(result.created) < submissions and attempts < 2 * submissions + 10:
        attempts += 1
        if time.monotonic() > deadline:
            result.timed_out = True
            break
        try:
            status, data, took = request(port, "GET", next_path, token, None)
        except OSError as error:
            result.errors.append(f"next: {error!r}")
            break
        result.next_ms.append(took * 1000)
        if status == 204:
            result.exhausted = True
            break
        if status != 200:
            result.errors.append(f"next: HTTP {status} {data[:200]!r}")
            break
        assignment = json.loads(data)["assignment"]
        body = {"scores": {key: rng.randint(1, 5) for key in CRITERIA},
                "satisfaction": rng.randint(1, 5), "comment": "",
                "key": uuid.UUID(int=rng.getrandbits(128)).hex}
        path = f"/api/assignments/{assignment}/rating/"
        try:
            status, data, took = request(port, "POST", path, token, body)
        except OSError as error:
            result.errors.append(f"submit: {error!r}")
            break
        result.submit_ms.append(took * 1000)
        if status != 201:
            result.errors.append(f"submit {assignment}: HTTP {status} {data[:200]!r}")
            break
        rating = json.loads(data)["rating"]
        result.created.append((assignment, rating))
        if rng.random() < replay_rate:  # a double click / network retry with the same key
            result.replays += 1
            try:
                status, data, took = request(port, "POST", path, token, body)
            except OSError as error:
                result.replay_bad.append(f"{assignment}: {error!r}")
                continue
            result.replay_ms.append(took * 1000)
            if status == 200 and json.loads(data)["rating"] == rating:
                result.replay_ok += 1
            else:
                result.replay_bad.append(f"{assignment}: HTTP {status} {data[:200]!r}")
    return result


def _worker(port: int, token: str, submissions: int, time_limit_s: float, replay_rate: float,
            seed: int, start: multiprocessing.synchronize.Event, out: multiprocessing.Queue
            ) -> None:
    start.wait()
    try:
        result = rater_loop(port, token, submissions, time_limit_s, replay_rate, seed)
    except Exception as error:  # noqa: BLE001 - reported to the parent, never swallowed
        result = Result(errors=[f"worker crashed: {error!r}"])
    out.put(result)


def run_concurrent(port: int, tokens: list[str], submissions: int, time_limit_s: float,
                   replay_rate: float, seed: int) -> tuple[Result, float, int]:
    """All rater processes start on one event; (merged result, wall s, processes lost)."""
    ctx = multiprocessing.get_context("fork")
    start = ctx.Event()
    out = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(port, token, submissions, time_limit_s,
                                               replay_rate, seed + i, start, out), daemon=True)
             for i, token in enumerate(tokens)]
    for proc in procs:
        proc.start()
    time.sleep(0.5)  # let every process reach start.wait()
    merged = Result()
    received = 0
    began = time.perf_counter()
    start.set()
    deadline = time.monotonic() + time_limit_s + 30
    while received < len(procs) and time.monotonic() < deadline:
        try:
            merged.merge(out.get(timeout=max(0.1, deadline - time.monotonic())))
            received += 1
        except Exception:  # noqa: BLE001 - queue.Empty: the deadline passed
            break
    wall = time.perf_counter() - began
    for proc in procs:
        proc.join(timeout=5)
        if proc.is_alive():
            proc.terminate()  # one of our own rater processes, by its handle
            proc.join(timeout=5)
    return merged, wall, len(procs) - received


# --- reporting --------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile; nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def print_latency(label: str, values: list[float]) -> None:
    print(f"  {label:<18} n={len(values):>5}  p50 {percentile(values, 50):7.1f} ms  "
          f"p95 {percentile(values, 95):7.1f} ms  max {max(values, default=float('nan')):7.1f} ms")


def print_result(result: Result) -> None:
    print_latency("next", result.next_ms)
    print_latency("submit", result.submit_ms)
    if result.replay_ms:
        print_latency("replayed submit", result.replay_ms)
    print(f"  submissions (201)  {len(result.created):>5}   replays {result.replays} "
          f"(200 with the same rating: {result.replay_ok})"
          f"{'   rater got 204 (nothing left)' if result.exhausted else ''}"
          f"{'   TIME LIMIT hit' if result.timed_out else ''}")
    for error in result.errors[:10]:
        print(f"  error: {error}")
    if len(result.errors) > 10:
        print(f"  ... {len(result.errors) - 10} more errors")
    for bad in result.replay_bad[:5]:
        print(f"  replay wrong: {bad}")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def check_invariants(created: list[tuple[int, int]]) -> bool:
    """Check the database directly; prints each invariant and returns whether all hold."""
    from django.db.models import Count, Q
    from django.utils import timezone

    from annotations.models import Assignment, Campaign, Rating, RatingValue

    campaign = Campaign.objects.get(slug=SLUG)
    now = timezone.now()
    live = Q(status=Assignment.Status.SUBMITTED) | Q(status=Assignment.Status.ASSIGNED,
                                                     lease_expires_at__gt=now)
    over_k = (Assignment.objects.filter(live, campaign=campaign).order_by()
              .values("output_id", "output_b_id").annotate(n=Count("pk"))
              .filter(n__gt=campaign.overlap).count())
    twice = (Assignment.objects.filter(campaign=campaign).order_by()
             .values("rater_id", "output_id", "output_b_id").annotate(n=Count("pk"))
             .filter(n__gt=1).count())
    ratings = Rating.objects.filter(output__item__campaign=campaign)
    rating_ids = {r for _, r in created}
    stored = set(ratings.filter(pk__in=rating_ids).values_list("pk", flat=True))
    lost = len(rating_ids - stored)
    total = ratings.count()
    wrong_assignment = sum(
        1 for a, r in created
        if r in stored and ratings.filter(pk=r, assignment_id=a).count() == 0
    ) if len(created) <= 20_000 else 0
    duplicates = (ratings.order_by().values("rater_id", "output_id", "output_b_id")
                  .annotate(n=Count("pk")).filter(n__gt=1).count())
    values = RatingValue.objects.filter(rating__output__item__campaign=campaign).count()
    submitted = Assignment.objects.filter(campaign=campaign,
                                          status=Assignment.Status.SUBMITTED).count()
    per_rating = len(CRITERIA) + 1
    rows = [
        ("outputs over k live assignments", over_k, 0),
        ("outputs given twice to one rater", twice, 0),
        ("201 ratings missing in database", lost, 0),
        ("201 ratings on another assignment", wrong_assignment, 0),
        ("ratings in database", total, len(rating_ids)),
        ("duplicate (rater, output) ratings", duplicates, 0),
        ("rating values in database", values, per_rating * len(rating_ids)),
        ("submitted assignments", submitted, len(rating_ids)),
    ]
    ok = True
    for label, got, want in rows:
        good = got == want
        ok &= good
        print(f"  {label:<36} {got:>7,}  (expected {want:,})  {'ok' if good else 'VIOLATION'}")
    return ok


# --- main -------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=10_000,
                        help=f"campaign items, each with {SYSTEMS} system outputs")
    parser.add_argument("--sequential", type=int, default=300,
                        help="phase A: next -> submit loops of the one sequential rater")
    parser.add_argument("--concurrency", type=int, default=32,
                        help="phase B: concurrent rater processes")
    parser.add_argument("--per-rater", type=int, default=40,
                        help="phase B: submissions per rater process (fewer on 204)")
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1,
                        help="gunicorn sync workers (default 2 x cores + 1)")
    parser.add_argument("--warmup", type=int, default=None,
                        help="unmeasured next -> submit loops of a warm-up rater before phase "
                             "A (default 20 x workers; 0: none)")
    parser.add_argument("--replay-rate", type=float, default=0.02,
                        help="share of submissions sent again with the same key")
    parser.add_argument("--time-limit", type=float, default=300.0,
                        help="seconds each phase may run before its loops stop")
    parser.add_argument("--conn-max-age", type=int, default=None,
                        help="DATABASE_CONN_MAX_AGE for gunicorn (default: unset, i.e. the "
                             "settings' default of persistent connections for 60 s)")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/postgres",
                        help="a PostgreSQL database to connect to for CREATE/DROP DATABASE")
    parser.add_argument("--db-name", default="evalrater",
                        help="the dedicated database created and dropped by the bench")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database")
    parser.add_argument("--keep-files", action="store_true",
                        help="keep the generated files and gunicorn's log (directory printed)")
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args(argv)
    if min(args.items, args.sequential, args.concurrency, args.per_rater, args.workers) < 1:
        parser.error("--items, --sequential, --concurrency, --per-rater and --workers "
                     "must be >= 1")
    if not 0 <= args.replay_rate <= 1:
        parser.error("--replay-rate must be between 0 and 1")
    if args.warmup is None:
        args.warmup = 20 * args.workers
    if args.warmup < 0:
        parser.error("--warmup must be >= 0")
    parts = urlsplit(args.database_url)
    if parts.scheme not in ("postgres", "postgresql"):
        parser.error("--database-url must be a postgres:// URL")
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        parser.error("--database-url must point at the loopback interface")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    url = bench_url(args.database_url, args.db_name)
    workdir = Path(tempfile.mkdtemp(prefix="rater-load-"))
    systems = system_names(SYSTEMS)

    print(f"machine: {os.cpu_count()} CPUs, load average {_load()} (other work skews timings)")
    env = dict(os.environ, DATABASE_URL=url,
               DJANGO_SETTINGS_MODULE="evalproject.settings.production",
               SECRET_KEY=secrets.token_urlsafe(40), DEBUG="false", ALLOWED_HOSTS=HOST,
               SESSION_COOKIE_SECURE="false", CSRF_COOKIE_SECURE="false", LOG_LEVEL="WARNING")
    env.pop("DATABASE_CONN_MAX_AGE", None)
    if args.conn_max_age is not None:
        env["DATABASE_CONN_MAX_AGE"] = str(args.conn_max_age)
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE",
                                           "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS")})
    sys.path.insert(0, str(REPO))

    created_db = False
    gunicorn: subprocess.Popen | None = None
    try:
        started = time.perf_counter()
        spec, outputs = workdir / "spec.json", workdir / "outputs.jsonl"
        write_spec(spec, systems)
        write_outputs(outputs, args.items, systems, args.seed)
        print(f"campaign: {args.items:,} items x {SYSTEMS} systems = "
              f"{args.items * SYSTEMS:,} outputs, overlap k={OVERLAP}, criteria "
              f"{', '.join(CRITERIA)} + satisfaction (1-5)")
        print(f"creating database {args.db_name!r}, migrating, importing ...")
        create_database(args.database_url, args.db_name)
        created_db = True
        manage(["migrate", "--no-input", "-v", "0"], env, timeout=300)
        said = manage(["import_campaign", str(spec), str(outputs)], env, timeout=600)
        print(f"  import_campaign said: {said.strip().splitlines()[-1] if said.strip() else ''}")

        import django

        django.setup()
        from django.db import connections

        from annotations.models import Campaign
        from annotations.services.assignments import rater_create

        Campaign.objects.filter(slug=SLUG).update(status=Campaign.Status.ACTIVE)
        campaign = Campaign.objects.get(slug=SLUG)
        # The first rater through the real command (its token is the last line it prints),
        # the others in this process through the same service, for speed.
        out = manage(["create_rater", "rater-seq", "--campaign", SLUG], env, timeout=120)
        seq_token = out.strip().splitlines()[-1].strip()
        tokens = [rater_create(username=f"rater-{i:03d}", campaign=campaign).token
                  for i in range(1, args.concurrency + 1)]
        warm_token = rater_create(username="rater-warmup", campaign=campaign).token
        connections.close_all()  # nothing open across the fork below
        print(f"  {1 + args.concurrency} raters with tokens; setup took "
              f"{time.perf_counter() - started:.1f} s")

        port = free_port()
        log = workdir / "gunicorn.log"
        gunicorn = start_gunicorn(env, port, args.workers, log)
        if not wait_healthy(gunicorn, port, 60):
            print(f"gunicorn did not become healthy on {HOST}:{port}:\n"
                  f"{log.read_text(errors='replace')[-3000:]}")
            return 2
        conn_age = env.get("DATABASE_CONN_MAX_AGE", "unset (settings default: 60 s "
                                                     "persistent connections)")
        print(f"gunicorn: {args.workers} sync workers on {HOST}:{port}, production settings, "
              f"DATABASE_CONN_MAX_AGE {conn_age}")
        # Warm every worker (imports, URL resolver) so phase A measures steady state.
        for _ in range(4 * args.workers):
            request(port, "GET", "/healthz/", None, None)
        # ... and its rater path: a separate rater's next -> submit loops, not measured, so
        # that each worker's database connection has its statements prepared and planned
        # (PostgreSQL plans a prepared statement afresh for its first five runs), as on a
        # server that has been up for a while. --warmup 0 shows the cold figures.
        warm = rater_loop(port, warm_token, args.warmup, args.time_limit, 0.0, args.seed + 7) \
            if args.warmup else Result()
        if args.warmup:
            print(f"warm-up: {len(warm.created)} next -> submit loops by another rater "
                  f"(not measured){'; errors: ' + '; '.join(warm.errors) if warm.errors else ''}")
        # The floor under every figure below on this machine right now: a fresh connection,
        # a Django request and one `SELECT 1`. On a busy machine it shows how much of a
        # latency is the engine's and how much is everybody's.
        floor = [request(port, "GET", "/healthz/", None, None)[2] * 1000 for _ in range(100)]
        print(f"\nfloor: GET /healthz/ (fresh connection, one SELECT 1) (load {_load()})")
        print_latency("healthz", floor)

        print(f"\nphase A: 1 rater, {args.sequential} sequential next -> submit loops, "
              f"fresh connection per request (load {_load()})")
        seq = rater_loop(port, seq_token, args.sequential, args.time_limit, args.replay_rate,
                         args.seed)
        print_result(seq)
        p95_next, p95_submit = percentile(seq.next_ms, 95), percentile(seq.submit_ms, 95)
        ok_next = p95_next <= TARGET_SEQ_P95_NEXT_MS
        ok_submit = p95_submit <= TARGET_SEQ_P95_SUBMIT_MS
        ok_a = not seq.errors and not seq.replay_bad and len(seq.created) == args.sequential
        print(f"  target p95 next <= {TARGET_SEQ_P95_NEXT_MS:g} ms:     {verdict(ok_next)} "
              f"({p95_next:.1f} ms)")
        print(f"  target p95 submit <= {TARGET_SEQ_P95_SUBMIT_MS:g} ms:   {verdict(ok_submit)} "
              f"({p95_submit:.1f} ms)")

        print(f"\nphase B: {args.concurrency} rater processes x {args.per_rater} next -> submit, "
              f"no think time (load {_load()})")
        conc, wall, lost_procs = run_concurrent(port, tokens, args.per_rater, args.time_limit,
                                                args.replay_rate, args.seed + 1000)
        print_result(conc)
        pairs = len(conc.created)
        rate = pairs / wall if wall > 0 else 0.0
        print(f"  wall {wall:.2f} s; {pairs:,} next+submit pairs -> {rate:.1f} pairs/s "
              f"({(len(conc.next_ms) + len(conc.submit_ms) + len(conc.replay_ms)) / wall:.0f} "
              f"requests/s)")
        if lost_procs:
            print(f"  {lost_procs} rater processes never reported (time limit)")
        ok_rate = rate >= TARGET_PAIRS_PER_S
        ok_b = (not conc.errors and not conc.replay_bad and not lost_procs
                and pairs == args.concurrency * args.per_rater)
        print(f"  target >= {TARGET_PAIRS_PER_S:g} pairs/s:           {verdict(ok_rate)} "
              f"({rate:.1f})")
        print(f"\nload average after the phases: {_load()}")

        stop_gunicorn(gunicorn)
        print("\ninvariants (database, both phases):")
        ok_inv = check_invariants(warm.created + seq.created + conc.created)
        ok_inv &= ok_a and ok_b
        if not (ok_a and ok_b):
            print("  requests failed, a replay was wrong, or a loop stopped short: VIOLATION")
        print(f"  target zero violations:             {verdict(ok_inv)}")
        all_ok = ok_next and ok_submit and ok_rate and ok_inv
        print(f"\nresult: {'all targets met' if all_ok else 'TARGET MISSED'}")
        return 0 if all_ok else 1
    finally:
        if gunicorn is not None:
            stop_gunicorn(gunicorn)
        clean_up(args, created_db, url, workdir)


if __name__ == "__main__":
    sys.exit(main())
