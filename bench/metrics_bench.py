#!/usr/bin/env python
"""Metric-run benchmark: corpus BLEU, chrF, ROUGE-1/2/L and METEOR over 100k outputs through
the platform (PostgreSQL + real Celery workers on Redis), with 1 then 2 workers, against the
same libraries called directly in one process.

Run from the repository root:

    .venv/bin/python bench/metrics_bench.py [--outputs 100000 --systems 10 --chunk-size 1000
        --workers 1,2 --database-url postgres://postgres@127.0.0.1:5432/postgres
        --redis-url redis://127.0.0.1:6379/12 --profile --keep-db]

It generates an outputs JSONL (the generator of import_bench.py: one reference per item,
200–400-character outputs), creates a dedicated database (`evalmetrics`), migrates it and
imports the file with the real `import_campaign` command. Then:

- direct: in this process, per system, sacrebleu.corpus_bleu and corpus_chrf, one rouge-score
  RougeScorer(rouge1, rouge2, rougeL, stemmer on) per output and nltk's meteor_score per
  output (13a tokens, WordNet from NLTK_DATA when present), ROUGE/METEOR as means;
- platform: N `celery worker --pool=solo` processes (N = 1, then 2) on a flushed Redis db,
  and `manage.py run_metrics bench --force --wait` (force: every value is computed, none is
  reused); the platform time is the run's created_at → finished_at from the database (the
  command's own start-up is printed beside it). After the last one, a rerun without --force
  shows the time when nothing changed (every value reused).

It checks that the platform's system values equal the direct ones, prints the times, the
two ratios and their targets (platform ≤ 1.15 × direct with 1 worker; 2 workers ≥ 1.7 ×
faster than 1), and drops the database. Exit status: 0 targets met, 1 a target missed or a
value differs, 2 a step failed. A benchmark, not a test: nothing here is collected by pytest.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from import_bench import (  # noqa: E402 - the sibling benchmark, reused for data and the database
    REPO,
    VENV_PYTHON,
    _load,
    bench_url,
    clean_up,
    create_database,
    run_manage,
    system_names,
    write_outputs,
)

SLUG = "bench"
METRICS = ("bleu", "chrf", "rouge1", "rouge2", "rougeL", "meteor")
TARGET_PLATFORM_OVER_DIRECT = 1.15
TARGET_SPEEDUP_2_WORKERS = 1.7
PYTHON = str(VENV_PYTHON if VENV_PYTHON.exists() else Path(sys.executable))


def write_spec(path: Path, systems: list[str]) -> None:
    import json

    spec = {"name": "Metrics benchmark", "slug": SLUG, "kind": "rating",
            "instructions": "Rate each answer.", "overlap": 1, "baseline": systems[0],
            "criteria": [{"key": "fluency", "label": "Fluency", "min": 1, "max": 5,
                          "level": "ordinal"}],
            "metrics": list(METRICS)}
    path.write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")


# --- direct: the libraries in one process -------------------------------------------------


def read_outputs(path: Path) -> dict[str, tuple[list[str], list[str]]]:
    """system → (hypotheses, references) in file order."""
    import orjson

    texts: dict[str, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    with path.open("rb") as rows:
        for line in rows:
            row = orjson.loads(line)
            hyps, refs = texts[row["system"]]
            hyps.append(row["output"])
            refs.append(row["references"][0])
    return dict(texts)


def direct(texts: dict[str, tuple[list[str], list[str]]]) -> tuple[float, float, dict, str]:
    """(seconds, CPU seconds, {(system, metric): value}, METEOR mode), the libraries directly."""
    import nltk
    import sacrebleu
    from nltk.corpus.reader.wordnet import WordNetCorpusReader
    from nltk.translate.meteor_score import meteor_score
    from rouge_score import rouge_scorer
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

    start, cpu_start = time.perf_counter(), time.process_time()
    folder = next((Path(p) / "corpora" / "wordnet" for p in nltk.data.path
                   if (Path(p) / "corpora" / "wordnet" / "lexnames").is_file()), None)
    wordnet = WordNetCorpusReader(str(folder), None) if folder else _NoSynonyms()
    tokenize = Tokenizer13a()
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    values: dict[tuple[str, str], float] = {}
    for system, (hyps, refs) in texts.items():
        values[system, "bleu"] = sacrebleu.corpus_bleu(hyps, [refs]).score
        values[system, "chrf"] = sacrebleu.corpus_chrf(hyps, [refs]).score
        rouge: dict[str, list[float]] = {"rouge1": [], "rouge2": [], "rougeL": []}
        meteor: list[float] = []
        for hyp, ref in zip(hyps, refs, strict=True):
            scores = scorer.score(ref, hyp)
            for key, bucket in rouge.items():
                bucket.append(scores[key].fmeasure)
            meteor.append(meteor_score([tokenize(ref).split()], tokenize(hyp).split(),
                                       wordnet=wordnet))
        for key, bucket in rouge.items():
            values[system, key] = math.fsum(bucket) / len(bucket)
        values[system, "meteor"] = math.fsum(meteor) / len(meteor)
    mode = "exact+stem+synonym" if folder else "exact+stem"
    return time.perf_counter() - start, time.process_time() - cpu_start, values, mode


class _NoSynonyms:
    def synsets(self, *args, **kwargs) -> list:
        return []


# --- platform: run_metrics with real workers ------------------------------------------------


def start_workers(count: int, env: dict[str, str], workdir: Path, tag: str) -> list:
    workers = []
    for index in range(count):
        log = workdir / f"worker-{tag}-{index}.log"
        workers.append((subprocess.Popen(
            [PYTHON, "-m", "celery", "-A", "evalproject", "worker", "--loglevel=INFO",
             "--pool=solo", "--without-gossip", "--without-mingle", "--without-heartbeat",
             "-n", f"bench-{tag}-{index}-{os.getpid()}@%h"],
            cwd=REPO, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
            start_new_session=True,
        ), log))
    deadline = time.monotonic() + 180
    for proc, log in workers:
        while not re.search(r"\bready\.", log.read_text(errors="replace")):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker did not start:\n{log.read_text()}")
            time.sleep(0.2)
    return workers


def stop_workers(workers: list) -> None:
    import signal

    for proc, _ in workers:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc, _ in workers:
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds the processes used so far (/proc/<pid>/stat)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url, socket_connect_timeout=2).flushdb()


def platform_run(label: str, env: dict[str, str], workdir: Path, chunk_size: int,
                 force: bool, pids: list[int]) -> dict:
    """run_metrics --wait; returns the run's figures from the database and the workers' CPU."""
    from metrics.models import MetricRun

    args = ["run_metrics", SLUG, "--metrics", ",".join(METRICS), "--chunk-size",
            str(chunk_size), "--wait", "--poll", "0.2"] + (["--force"] if force else [])
    cpu_before = cpu_seconds(pids)
    run = run_manage(label, 0, args, env, workdir / f"{label}.log")
    worker_cpu = cpu_seconds(pids) - cpu_before
    if run.exit_code != 0:
        raise RuntimeError(f"{label}: run_metrics exited {run.exit_code}:\n{run.log}")
    row = MetricRun.objects.filter(campaign__slug=SLUG).order_by("-id").first()
    last_chunk = max(row.chunks.values_list("done_at", flat=True))
    return {
        "label": label, "command_s": run.wall_s,
        "run_s": (row.finished_at - row.created_at).total_seconds(),
        "chunks_s": (last_chunk - row.created_at).total_seconds(),
        "finalize_s": (row.finished_at - last_chunk).total_seconds(),
        "worker_cpu_s": worker_cpu,
        "computed": row.segments_computed + row.corpus_computed,
        "reused": row.segments_reused + row.corpus_reused,
    }


def platform_values() -> dict[tuple[str, str], float | None]:
    from metrics.models import MetricValue

    return {(name, metric): value for name, metric, value in MetricValue.objects.filter(
        campaign__slug=SLUG, output__isnull=True, metric__in=METRICS,
    ).values_list("system__name", "metric", "value")}


def profile_chunk(chunk_size: int) -> None:
    """cProfile of one chunk executed in this process (a forced run, not queued)."""
    import cProfile
    import pstats
    from unittest import mock

    from annotations.models import Campaign
    from metrics.services.runs import metric_run_chunk_execute, metric_run_start

    with mock.patch("metrics.services.runs.lifecycle.metric_run_queue"):
        run = metric_run_start(campaign=Campaign.objects.get(slug=SLUG), metrics=list(METRICS),
                               chunk_size=chunk_size, force=True)
    profiler = cProfile.Profile()
    profiler.enable()
    metric_run_chunk_execute(run_id=run.pk, chunk_index=0)
    profiler.disable()
    print(f"profile of one chunk of {chunk_size} outputs (cumulative, top 18):")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(18)
    from metrics.services.runs import metric_run_cancel

    metric_run_cancel(run=run)


# --- main ---------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--outputs", type=int, default=100_000,
                        help="outputs in total (systems × items)")
    parser.add_argument("--systems", type=int, default=10)
    parser.add_argument("--chunk-size", type=int, default=1000)
    parser.add_argument("--workers", default="1,2",
                        help="worker counts to run, comma-separated (the ratios need 1 and 2)")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/postgres",
                        help="a PostgreSQL database to connect to for CREATE/DROP DATABASE")
    parser.add_argument("--db-name", default="evalmetrics")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12",
                        help="broker and result backend; the bench flushes this db")
    parser.add_argument("--settings", default="evalproject.settings.test")
    parser.add_argument("--profile", action="store_true",
                        help="also profile one chunk in this process (cProfile)")
    parser.add_argument("--keep-files", action="store_true")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args(argv)
    if args.systems < 1 or args.outputs < args.systems or args.chunk_size < 1:
        parser.error("need --systems ≥ 1, --outputs ≥ --systems and --chunk-size ≥ 1")
    try:
        args.worker_counts = [int(n) for n in args.workers.split(",") if n.strip()]
    except ValueError:
        parser.error("--workers must be comma-separated integers")
    if not args.worker_counts or min(args.worker_counts) < 1:
        parser.error("--workers must name at least one count ≥ 1")
    if urlsplit(args.database_url).scheme not in ("postgres", "postgresql"):
        parser.error("--database-url must be a postgres:// URL")
    return args


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def compare(platform: dict, direct_values: dict) -> bool:
    worst = 0.0
    for key, expected in direct_values.items():
        got = platform.get(key)
        if got is None:
            print(f"  missing platform value {key}")
            return False
        worst = max(worst, abs(got - expected) / max(1.0, abs(expected)))
    ok = worst <= 1e-9
    print(f"values: {len(direct_values)} system values, largest relative difference "
          f"{worst:.2e}: {'equal' if ok else 'DIFFERENT'}")
    return ok


def main(argv: list[str] | None = None) -> int:  # noqa: C901 - a linear script
    args = parse_args(argv)
    url = bench_url(args.database_url, args.db_name)
    workdir = Path(tempfile.mkdtemp(prefix="metrics-bench-"))
    systems = system_names(args.systems)
    items = args.outputs // args.systems
    print(f"machine: {os.cpu_count()} CPUs, load average {_load()} (other work skews timings)")
    spec, outputs = workdir / "spec.json", workdir / "outputs.jsonl"
    write_spec(spec, systems)
    write_outputs(outputs, items, systems, args.seed)
    print(f"generated {items * len(systems):,} outputs ({items:,} items × {len(systems)} "
          f"systems) in {workdir}")
    env = dict(os.environ, DATABASE_URL=url, DJANGO_SETTINGS_MODULE=args.settings, DEBUG="0",
               LOG_LEVEL="WARNING", CELERY_BROKER_URL=args.redis_url,
               CELERY_RESULT_BACKEND=args.redis_url)
    os.environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE=args.settings, DEBUG="0")
    sys.path.insert(0, str(REPO))
    created = False
    status = 0
    try:
        create_database(args.database_url, args.db_name)
        created = True
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=0)
        imported = run_manage("import", 0, ["import_campaign", str(spec), str(outputs)], env,
                              workdir / "import.log")
        if imported.exit_code != 0:
            print(f"import failed:\n{imported.log}")
            return 2
        print(f"imported in {imported.wall_s:.1f} s")
        if args.profile:
            profile_chunk(args.chunk_size)

        print("direct: the libraries in this process ...")
        direct_s, direct_cpu_s, direct_values, mode = direct(read_outputs(outputs))
        print(f"  {direct_s:.1f} s, CPU {direct_cpu_s:.1f} s (METEOR {mode})")

        runs: dict[int, dict] = {}
        for count in args.worker_counts:
            flush_redis(args.redis_url)
            workers = start_workers(count, env, workdir, str(count))
            try:
                pids = [proc.pid for proc, _ in workers]
                runs[count] = platform_run(f"platform-{count}w", env, workdir, args.chunk_size,
                                           force=True, pids=pids)
                figures = runs[count]
                print(f"platform, {count} worker(s): run {figures['run_s']:.1f} s (chunks "
                      f"{figures['chunks_s']:.1f} s, finalize {figures['finalize_s']:.1f} s; "
                      f"command {figures['command_s']:.1f} s), workers' CPU "
                      f"{figures['worker_cpu_s']:.1f} s, {figures['computed']:,} values computed")
                if not compare(platform_values(), direct_values):
                    status = 1
                if count == args.worker_counts[-1]:
                    again = platform_run("rerun", env, workdir, args.chunk_size, force=False,
                                         pids=pids)
                    print(f"rerun with nothing changed, {count} worker(s): run "
                          f"{again['run_s']:.1f} s, {again['reused']:,} values reused, "
                          f"{again['computed']:,} computed")
            finally:
                stop_workers(workers)

        print(f"load average after: {_load()}")
        if 1 in runs:
            ratio = runs[1]["run_s"] / direct_s
            ok = ratio <= TARGET_PLATFORM_OVER_DIRECT
            print(f"platform (1 worker) / direct = {ratio:.2f}  "
                  f"(target ≤ {TARGET_PLATFORM_OVER_DIRECT}): {verdict(ok)}")
            status = status or (0 if ok else 1)
            print(f"CPU seconds, platform workers (1) / direct = "
                  f"{runs[1]['worker_cpu_s'] / direct_cpu_s:.2f}  (load-independent beside the "
                  "wall-time ratio; PostgreSQL's and the command's CPU not included)")
        if 1 in runs and 2 in runs:
            speedup = runs[1]["run_s"] / runs[2]["run_s"]
            ok = speedup >= TARGET_SPEEDUP_2_WORKERS
            print(f"1 worker / 2 workers = {speedup:.2f}  "
                  f"(target ≥ {TARGET_SPEEDUP_2_WORKERS}): {verdict(ok)}")
            status = status or (0 if ok else 1)
    except Exception as error:  # noqa: BLE001 - a bench reports and exits 2
        print(f"bench failed: {type(error).__name__}: {error}")
        status = 2
    finally:
        clean_up(args, created, url, workdir)
    return status


if __name__ == "__main__":
    sys.exit(main())
