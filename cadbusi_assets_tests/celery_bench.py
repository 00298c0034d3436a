"""Throughput of the Celery setup with 1 and with 2 workers (issue 14, item 1).

    python -m cadbusi_assets_tests.celery_bench --dates 6 --runs-at-once 2 [--images]

Builds a synthetic demo cohort of ``--dates`` study dates, then, for each worker count, starts
a redis-server broker and that many ``celery`` workers (one pool process each), and launches
one run per study date (the records and retrieval assets: 4 steps each; with ``--images`` also
de-identification with OCR verification and image analysis, one process per step: the
CPU-bound work), ``--runs-at-once`` runs at a time, every step on the workers. Prints one JSON
line per worker count and the speed-up. Same runs, same submitting side: only the number of
workers changes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import tempfile
import time
from pathlib import Path

from cadbusi_assets_tests import celery_support


def _run_one(args: tuple[str, str, str, str]) -> tuple[str, bool, float]:
    day, broker, dagster_home, job = args
    import dagster as dg

    from cadbusi_assets_tests.defs import celery_job

    instance = dg.DagsterInstance.from_config(dagster_home)
    started = time.monotonic()
    result = dg.execute_job(
        dg.reconstructable(getattr(celery_job, job)),
        instance=instance,
        run_config={"execution": {"config": {"broker": broker, "backend": broker}}},
        tags={"dagster/partition": day},
        raise_on_error=False,
    )
    return day, result.success, time.monotonic() - started


def measure(
    workers: int,
    days: list[str],
    runs_at_once: int,
    work: Path,
    env: dict[str, str],
    job: str = "celery_study_date_job",
):
    work.mkdir(parents=True)
    dagster_home = work / "dagster_home"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    import dagster as dg

    # create the SQLite storage once, before several processes open it at the same time
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        instance.get_runs(limit=1)
    redis_proc, broker = celery_support.start_redis(work)
    procs = [redis_proc]
    try:
        names = [f"w{i + 1}" for i in range(workers)]
        worker_env = {**env, "DAGSTER_HOME": str(dagster_home)}
        worker_procs = [celery_support.start_worker(n, broker, work, worker_env) for n in names]
        procs += worker_procs
        celery_support.wait_for_workers(broker, set(names), worker_procs)
        os.environ.update(worker_env)
        started = time.monotonic()
        with multiprocessing.get_context("spawn").Pool(runs_at_once) as pool:
            results = pool.map(_run_one, [(d, broker, str(dagster_home), job) for d in days], 1)
        seconds = time.monotonic() - started
        per_worker = celery_support.tasks_per_worker(broker)
    finally:
        celery_support.stop(procs[::-1])
    return {
        "workers": workers,
        "dates": len(days),
        "runs_at_once": runs_at_once,
        "job": job,
        "seconds": round(seconds, 1),
        "dates_per_minute": round(60 * len(days) / seconds, 2),
        "all_succeeded": all(ok for _, ok, _ in results),
        "steps_per_worker": per_worker,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dates", type=int, default=6)
    parser.add_argument("--runs-at-once", type=int, default=2)
    parser.add_argument("--workers", default="1,2", help="worker counts to compare")
    parser.add_argument("--images", action="store_true", help="include the image steps (CPU-bound)")
    args = parser.parse_args(argv)

    from cadbusi_assets.identity import generate_key_file
    from cadbusi_demo import DemoConfig, generate_demo_cohort

    config = DemoConfig(start=dt.date(2026, 9, 1), days=args.dates, studies_per_day=(3, 3), seed=5)
    with tempfile.TemporaryDirectory(prefix="cadbusi-celery-bench-") as tmp:
        root = Path(tmp)
        generate_demo_cohort(root / "cohort", config)
        key = generate_key_file(root / "secrets" / "pseudonym.key")
        days = [d.isoformat() for d in config.dates()]
        results = []
        for workers in (int(w) for w in args.workers.split(",")):
            env = {k: v for k, v in os.environ.items() if not k.startswith("CADBUSI_")}
            env.update(
                CELERY_TEST_RAW_ZONE=str(root / f"w{workers}" / "zones" / "raw"),
                CELERY_TEST_RESEARCH_ZONE=str(root / f"w{workers}" / "zones" / "research"),
                CELERY_TEST_WAREHOUSE=f"duckdb://{root / 'cohort' / 'warehouse.duckdb'}",
                CELERY_TEST_PACS=f"folder://{root / 'cohort' / 'pacs'}",
                CELERY_TEST_KEY_FILE=str(key),
                CELERY_TEST_STEP_WORKERS="1",
            )
            job = "celery_image_job" if args.images else "celery_study_date_job"
            result = measure(workers, days, args.runs_at_once, root / f"w{workers}", env, job)
            results.append(result)
            print(json.dumps(result), flush=True)
        if len(results) >= 2:
            base = results[0]["seconds"]
            print(
                json.dumps(
                    {
                        "speedup": {
                            str(r["workers"]): round(base / r["seconds"], 2) for r in results
                        },
                        "cpu_count": os.cpu_count(),
                    }
                )
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
