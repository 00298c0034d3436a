"""Ten years of daily study-date partitions on the PostgreSQL instance (issue 14, item 2).

Starts a throw-away PostgreSQL, a Dagster instance from ``deploy/dagster.production.yaml``
(``DAGSTER_PG_*``), the definitions in production mode with ``CADBUSI_FIRST_STUDY_DATE`` ten
years back (3,650 partitions up to yesterday), ``dagster-webserver`` and ``dagster-daemon`` as
subprocesses, and measures through the webserver's GraphQL API (what the UI sends):

1. the partition-status query of one study-date asset (the asset's partitions page);
2. the asset graph with partition stats for every asset (the lineage view);
3. launching a backfill of all 3,650 partitions of the 8 study-date assets
   (``launchPartitionBackfill``);
4. the daemon's run creation rate, the run queue and the UI queries while the backfill runs,
   for ``--watch`` seconds; then the backfill is cancelled.

The sources are empty (an empty DuckDB warehouse, an empty folder PACS), so runs finish fast:
the work is not the point, the orchestration is. Nothing here contains PHI.

    .venv/bin/python -m benchmarks.partitions_scale --watch 240 --out bench.json
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import requests

from cadbusi_assets_tests.defs.services import BIN, ROOT, STUDY_DATE_ASSETS, _stop
from cadbusi_assets_tests.support import free_port

ONE_ASSET_STATUS = """
query($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) {
    __typename
    ... on AssetNode {
      id
      partitionKeysByDimension { name partitionKeys }
      assetPartitionStatuses {
        __typename
        ... on TimePartitionStatuses { ranges { status startKey endKey } }
        ... on DefaultPartitionStatuses {
          materializedPartitions failedPartitions materializingPartitions
        }
      }
      partitionStats { numMaterialized numPartitions numFailed numMaterializing }
    }
  }
}
"""

ASSET_GRAPH = """
{
  assetNodes {
    id
    assetKey { path }
    isPartitioned
    partitionStats { numMaterialized numPartitions numFailed numMaterializing }
  }
}
"""

LAUNCH_BACKFILL = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on UnauthorizedError { message }
  }
}
"""

CANCEL_BACKFILL = """
mutation($id: String!) {
  cancelPartitionBackfill(backfillId: $id) {
    __typename
    ... on CancelBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}
"""

BACKFILL_STATUS = """
query($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { id status numPartitions }
    ... on PythonError { message }
  }
}
"""


# -- services ---------------------------------------------------------------------------------


class Services:
    def __init__(self, env: dict[str, str], port: int, log_dir: Path) -> None:
        self.env, self.port, self.log_dir = env, port, log_dir
        self.procs: dict[str, subprocess.Popen] = {}
        self.children: dict[int, psutil.Process] = {}

    def remember_children(self) -> None:
        """Note the processes the services started (stopped with them at the end)."""
        for proc in self.procs.values():
            with contextlib.suppress(psutil.NoSuchProcess):
                for child in psutil.Process(proc.pid).children(recursive=True):
                    self.children.setdefault(child.pid, child)

    def graphql(self, query: str, variables: dict | None = None, timeout: float = 300) -> dict:
        reply = requests.post(
            f"http://127.0.0.1:{self.port}/graphql",
            json={"query": query, "variables": variables or {}},
            timeout=timeout,
        )
        reply.raise_for_status()
        body = reply.json()
        if "errors" in body:
            raise RuntimeError(f"GraphQL errors: {body['errors']}")
        return body["data"]

    def timed(self, query: str, variables: dict | None = None) -> tuple[float, dict]:
        start = time.perf_counter()
        data = self.graphql(query, variables)
        return time.perf_counter() - start, data

    def log_tail(self, name: str, chars: int = 3000) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited ({proc.returncode}):\n{self.log_tail(name)}")


@contextlib.contextmanager
def dagster_services(env: dict[str, str], timeout: float = 600) -> Iterator[Services]:
    import dagster as dg

    log_dir = Path(env["DAGSTER_HOME"]) / "service-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    services = Services(env, free_port(), log_dir)
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]):  # create the schema once
        pass
    workspace = str(ROOT / "workspace.yaml")
    commands = {
        "webserver": [
            str(BIN / "dagster-webserver"),
            *("-h", "127.0.0.1", "-p", str(services.port), "-w", workspace),
        ],
        "daemon": [str(BIN / "dagster-daemon"), "run", "-w", workspace],
    }
    try:
        for name, args in commands.items():
            handle = (log_dir / f"{name}.log").open("wb")
            services.procs[name] = subprocess.Popen(
                args,
                cwd=ROOT,
                env=env,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            services.check_alive()
            with contextlib.suppress(requests.RequestException, RuntimeError, KeyError):
                if services.graphql("{ assetNodes { id } }", timeout=30)["assetNodes"]:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("the webserver did not serve the graph in time")
            time.sleep(1)
        yield services
    finally:
        # code servers and run workers the services started (some in sessions of their own)
        services.remember_children()
        children = list(services.children.values())
        for proc in services.procs.values():
            _stop(proc)
        for child in children:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.terminate()
        _, alive = psutil.wait_procs(children, timeout=20)
        for child in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()


# -- environment --------------------------------------------------------------------------------


def _empty_sources(root: Path) -> dict[str, str]:
    """An empty warehouse (demo schema, no rows), an empty folder PACS, zones and a key."""
    import duckdb

    from cadbusi_assets.identity import generate_key_file
    from cadbusi_demo.warehouse import WAREHOUSE_SCHEMA

    warehouse = root / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        for table, columns in WAREHOUSE_SCHEMA.items():
            con.execute(f"CREATE TABLE {table} ({', '.join(f'{c} {k}' for c, k in columns)})")
    for folder in ("pacs", "zones/raw", "zones/research", "labelbox", "locks"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "secrets").mkdir()
    key = generate_key_file(root / "secrets" / "pseudonym.key")
    return {
        "CADBUSI_WAREHOUSE": f"duckdb://{warehouse}",
        "CADBUSI_PACS": f"folder://{root / 'pacs'}",
        "CADBUSI_RAW_ZONE": str(root / "zones" / "raw"),
        "CADBUSI_RESEARCH_ZONE": str(root / "zones" / "research"),
        "CADBUSI_LABELBOX": f"folder://{root / 'labelbox'}",
        "CADBUSI_PSEUDONYM_KEY_FILE": str(key),
        "CADBUSI_LOCK_DIR": str(root / "locks"),
    }


def _environment(
    root: Path,
    pg,
    first: dt.date,
    last: dt.date,
    instance_yaml: Path,
    paused: bool,
    run_chunk_size: int | None,
) -> dict:
    import yaml

    home = root / "dagster_home"
    home.mkdir(parents=True)
    config = yaml.safe_load(instance_yaml.read_text())
    if paused:  # runs stay queued: the daemon's run creation alone, no run competes for CPU
        config.setdefault("concurrency", {}).setdefault("runs", {})["max_concurrent_runs"] = 0
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CADBUSI_", "DAGSTER_"))}
    env.update(_empty_sources(root))
    env.update(
        CADBUSI_DEPLOYMENT="production",
        CADBUSI_FIRST_STUDY_DATE=first.isoformat(),
        CADBUSI_LAST_STUDY_DATE=last.isoformat(),
        CADBUSI_WORKERS="1",
        CADBUSI_OCR="0",  # no images: nothing to read
        DAGSTER_HOME=str(home),
        DAGSTER_PG_HOST=pg.host,
        DAGSTER_PG_PORT=str(pg.port),
        DAGSTER_PG_USER=pg.user,
        DAGSTER_PG_PASSWORD=pg.password,
        DAGSTER_PG_DB="postgres",
        PYTHONUNBUFFERED="1",
    )
    if run_chunk_size:  # runs the daemon submits between two looks at the backfill's status
        env["DAGSTER_ASSET_BACKFILL_RUN_CHUNK_SIZE"] = str(run_chunk_size)
    return env


# -- measurements -------------------------------------------------------------------------------


def _repeat(services: Services, query: str, variables: dict | None, n: int) -> dict:
    times = [services.timed(query, variables)[0] for _ in range(n)]
    return {"first_s": round(times[0], 3), "median_s": round(statistics.median(times), 3)}


def _run_counts(instance, backfill_id: str) -> dict[str, int]:
    import dagster as dg

    counts: dict[str, int] = {}
    for status in dg.DagsterRunStatus:
        n = instance.get_runs_count(
            filters=dg.RunsFilter(tags={"dagster/backfill": backfill_id}, statuses=[status])
        )
        if n:
            counts[status.value] = n
    return counts


def _pg_connections(pg) -> int:
    import psycopg2

    with contextlib.closing(psycopg2.connect(pg.dsn)) as con, con.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = 'postgres'")
        return int(cur.fetchone()[0])


def measure(args: argparse.Namespace) -> dict:
    import dagster as dg

    from cadbusi_assets_tests.records.postgres_server import start_postgres

    last = dt.date.today() - dt.timedelta(days=1)
    first = last - dt.timedelta(days=args.days - 1)
    report: dict = {
        "partitions": args.days,
        "first_study_date": first.isoformat(),
        "last_study_date": last.isoformat(),
        "assets": len(STUDY_DATE_ASSETS),
        "cpu_count": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "instance_yaml": str(args.instance_yaml.relative_to(ROOT)),
        "paused_queue": args.paused_queue,
        "asset_backfill_run_chunk_size": args.run_chunk_size or 25,
    }
    pg = start_postgres()
    try:
        with tempfile.TemporaryDirectory(prefix="cadbusi-partitions-") as tmp:
            env = _environment(
                Path(tmp),
                pg,
                first,
                last,
                args.instance_yaml,
                args.paused_queue,
                args.run_chunk_size,
            )
            os.environ.update({k: v for k, v in env.items() if k.startswith("DAGSTER_PG_")})
            started = time.perf_counter()
            with dagster_services(env) as services:
                report["services_ready_s"] = round(time.perf_counter() - started, 1)
                instance = dg.DagsterInstance.from_config(env["DAGSTER_HOME"])
                key = {"path": [args.asset]}
                _, data = services.timed(ONE_ASSET_STATUS, {"key": key})
                stats = data["assetNodeOrError"]["partitionStats"]
                assert stats["numPartitions"] == args.days, stats
                report["one_asset_partition_status"] = _repeat(
                    services, ONE_ASSET_STATUS, {"key": key}, args.repeat
                )
                report["asset_graph_partition_stats"] = _repeat(
                    services, ASSET_GRAPH, None, args.repeat
                )

                partitions = [(first + dt.timedelta(days=i)).isoformat() for i in range(args.days)]
                params = {
                    "partitionNames": partitions,
                    "assetSelection": [{"path": [a]} for a in STUDY_DATE_ASSETS],
                    "title": f"{args.days} study dates",
                }
                launched_at = time.perf_counter()
                elapsed, data = services.timed(LAUNCH_BACKFILL, {"params": params})
                launched = data["launchPartitionBackfill"]
                assert launched["__typename"] == "LaunchBackfillSuccess", launched
                backfill_id = launched["backfillId"]
                report["launch_backfill_s"] = round(elapsed, 3)

                samples: list[dict[str, Any]] = []
                first_run_s = None
                while time.perf_counter() - launched_at < args.watch:
                    services.check_alive()
                    services.remember_children()
                    counts = _run_counts(instance, backfill_id)
                    total = sum(counts.values())
                    t = time.perf_counter() - launched_at
                    if total and first_run_s is None:
                        first_run_s = round(t, 1)
                    status_s, _ = services.timed(ONE_ASSET_STATUS, {"key": key})
                    graph_s, _ = services.timed(ASSET_GRAPH)
                    samples.append(
                        {
                            "t_s": round(t, 1),
                            "runs": total,
                            "by_status": counts,
                            "queued": counts.get("QUEUED", 0),
                            "one_asset_status_s": round(status_s, 3),
                            "asset_graph_s": round(graph_s, 3),
                            "pg_connections": _pg_connections(pg),
                        }
                    )
                    print(json.dumps(samples[-1]), flush=True)
                    time.sleep(args.sample_every)
                report["first_run_created_after_s"] = first_run_s
                report["samples"] = samples
                runs_end = samples[-1]["runs"] if samples else 0
                window = samples[-1]["t_s"] - (first_run_s or 0) if samples else 0
                report["runs_created"] = runs_end
                report["runs_per_minute_after_first"] = (
                    round(runs_end / (window / 60), 1) if window > 0 and runs_end else 0
                )
                report["runs_per_minute_since_launch"] = (
                    round(runs_end / (samples[-1]["t_s"] / 60), 1) if runs_end else 0
                )
                report["max_queue_length"] = max((s["queued"] for s in samples), default=0)
                ui = [s["one_asset_status_s"] for s in samples]
                graph = [s["asset_graph_s"] for s in samples]
                report["during_backfill"] = {
                    "one_asset_status_median_s": round(statistics.median(ui), 3) if ui else None,
                    "one_asset_status_max_s": max(ui, default=None),
                    "asset_graph_median_s": round(statistics.median(graph), 3) if graph else None,
                    "asset_graph_max_s": max(graph, default=None),
                    "pg_connections_max": max((s["pg_connections"] for s in samples), default=0),
                }
                status = services.graphql(BACKFILL_STATUS, {"id": backfill_id})
                report["backfill"] = status["partitionBackfillOrError"]
                cancel_at = time.perf_counter()
                services.graphql(CANCEL_BACKFILL, {"id": backfill_id})
                while time.perf_counter() - cancel_at < args.cancel_wait:
                    state = services.graphql(BACKFILL_STATUS, {"id": backfill_id})
                    if state["partitionBackfillOrError"].get("status") in ("CANCELED", "FAILED"):
                        break
                    time.sleep(2)
                report["cancel"] = {
                    "status": state["partitionBackfillOrError"].get("status"),
                    "after_s": round(time.perf_counter() - cancel_at, 1),
                    "runs": _run_counts(instance, backfill_id),
                }
                instance.dispose()
    finally:
        pg.stop()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=3650, help="study-date partitions")
    parser.add_argument("--asset", default="raw_dicom", help="asset of the one-asset query")
    parser.add_argument("--repeat", type=int, default=3, help="repeats of each idle query")
    parser.add_argument("--watch", type=float, default=240, help="seconds to watch the backfill")
    parser.add_argument("--sample-every", type=float, default=10, help="seconds between samples")
    parser.add_argument("--cancel-wait", type=float, default=120, help="seconds to wait on cancel")
    parser.add_argument(
        "--instance-yaml",
        type=Path,
        default=ROOT / "deploy" / "dagster.production.yaml",
        help="dagster.yaml of the instance",
    )
    parser.add_argument(
        "--paused-queue",
        action="store_true",
        help="max_concurrent_runs 0: measure run creation alone (runs stay queued)",
    )
    parser.add_argument(
        "--run-chunk-size",
        type=int,
        help="DAGSTER_ASSET_BACKFILL_RUN_CHUNK_SIZE for the daemon (Dagster's default: 25)",
    )
    parser.add_argument("--out", type=Path, help="write the JSON report here")
    args = parser.parse_args(argv)
    args.instance_yaml = args.instance_yaml.resolve()
    report = measure(args)
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
