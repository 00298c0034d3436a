"""How much of a UI backfill is image work: launch a backfill of every study-date asset through
the webserver's GraphQL API (what the UI sends), let the daemon carry it out, and split the
wall time from the event log.

    .venv/bin/python -m benchmarks.run_overhead --days 31

Prints, per run: launch (queued → process started), start-up (process started → first step),
each step's time, and the share of the backfill's wall time spent in the image steps
(`deidentified_images`, `image_features`, `inpainted_images`) and in all study-date steps.
Nothing is asserted: these are figures for the README and the issue notes.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import dagster as dg

from cadbusi_assets.identity import generate_key_file
from cadbusi_assets_tests.defs.services import (
    STUDY_DATE_ASSETS,
    dagster_services,
    launch_backfill,
    product_env,
    wait_backfill,
    write_instance_yaml,
)
from cadbusi_demo import DemoConfig, generate_demo_cohort

IMAGE_STEPS = {"deidentified_images", "image_features", "inpainted_images"}


def _event_times(instance: dg.DagsterInstance, run_id: str) -> dict:
    out: dict = {"steps": defaultdict(float)}
    starts: dict[str, float] = {}
    for record in instance.get_records_for_run(run_id).records:
        entry = record.event_log_entry
        event = entry.dagster_event
        if event is None:
            continue
        kind = event.event_type.name  # RUN_START's stored value is the legacy PIPELINE_START
        if kind in ("RUN_ENQUEUED", "RUN_STARTING", "RUN_START", "RUN_SUCCESS", "RUN_FAILURE"):
            out.setdefault(kind, entry.timestamp)
        elif kind == "STEP_START" and event.step_key is not None:
            starts[event.step_key] = entry.timestamp
            out.setdefault("first_step", entry.timestamp)
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key in starts:
            assert event.step_key is not None
            out["last_step"] = entry.timestamp
            out["steps"][event.step_key] += entry.timestamp - starts.pop(event.step_key)
    return out


def measure(days: int, workers: int, keep: Path | None = None) -> dict:
    root = Path(keep or tempfile.mkdtemp(prefix="cadbusi-overhead-"))
    cohort = root / "cohort"
    config = DemoConfig(days=days, workers=workers)
    if not (cohort / "warehouse.duckdb").exists():
        generate_demo_cohort(cohort, config)
    key = root / "secrets" / "pseudonym.key"
    if not key.exists():
        generate_key_file(key)
    env = product_env(root / "state", cohort, key, CADBUSI_WORKERS=str(workers))
    write_instance_yaml(env)
    partitions = [d.isoformat() for d in config.dates()]
    with dagster_services(env) as services:
        started = time.time()
        backfill_id = launch_backfill(services, STUDY_DATE_ASSETS, partitions)
        status = wait_backfill(services, backfill_id, timeout=6 * 3600)
        instance = services.instance()
        runs = instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
        per_run = []
        end = started
        steps_total: dict[str, float] = defaultdict(float)
        for run in runs:
            times = _event_times(instance, run.run_id)
            finished = times.get("RUN_SUCCESS") or times.get("RUN_FAILURE") or time.time()
            end = max(end, finished)
            for step, seconds in times["steps"].items():
                steps_total[step] += seconds
            per_run.append(
                {
                    "run_id": run.run_id,
                    "status": run.status.value,
                    # queued -> run process started (launch, Python, Dagster, code location)
                    "launch_s": round(times.get("RUN_START", 0) - times.get("RUN_STARTING", 0), 2),
                    # run process started -> first step (resources, plan)
                    "startup_s": round(times.get("first_step", 0) - times.get("RUN_START", 0), 2),
                    # last step -> run finished
                    "teardown_s": round(finished - times.get("last_step", finished), 2),
                    "wall_s": round(finished - times.get("RUN_STARTING", finished), 2),
                    "steps_s": {k: round(v, 2) for k, v in times["steps"].items()},
                }
            )
    wall = end - started
    image = sum(v for k, v in steps_total.items() if k in IMAGE_STEPS)
    work = sum(steps_total.values())
    return {
        "days": days,
        "workers": workers,
        "backfill_status": status,
        "runs": len(runs),
        "wall_s": round(wall, 1),
        "seconds_per_date": round(wall / days, 2),
        "image_steps_s": round(image, 1),
        "all_steps_s": round(work, 1),
        "share_image_work": round(image / wall, 3) if wall else None,
        "share_in_steps": round(work / wall, 3) if wall else None,
        "per_run": per_run,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=31, help="study dates in the backfill")
    parser.add_argument("--workers", type=int, default=2, help="worker processes per step")
    parser.add_argument("--keep", type=Path, help="folder to keep (and reuse) the cohort in")
    args = parser.parse_args()
    print(json.dumps(measure(args.days, args.workers, args.keep), indent=2))


if __name__ == "__main__":
    main()
