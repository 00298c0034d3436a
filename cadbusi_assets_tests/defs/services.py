"""The product as users run it: `dagster-webserver` and `dagster-daemon` in their own processes
over a temporary instance, driven through the webserver's GraphQL API (what the UI sends).

Everything is bounded by timeouts so that a hang fails the test instead of blocking CI.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import psutil
import requests

from cadbusi_assets_tests.support import free_port, in_ci

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
STUDY_DATE_ASSETS = [
    "radiology_reports",
    "pathology_reports",
    "imaging_studies",
    "raw_dicom",
    "deidentified_images",
    "image_features",
    "inpainted_images",
    "labelbox_data_rows",
]


def product_env(root: Path, cohort_dir: Path, key_file: Path, **extra: str) -> dict[str, str]:
    """Environment of a demo deployment whose sources are ``cohort_dir``, state under ``root``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CADBUSI_", "DAGSTER_"))}
    home = root / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    env.update(
        CADBUSI_DEPLOYMENT="demo",
        CADBUSI_HOME=str(root / "home"),
        CADBUSI_WAREHOUSE=f"duckdb://{cohort_dir / 'warehouse.duckdb'}",
        CADBUSI_PACS=f"folder://{cohort_dir / 'pacs'}",
        CADBUSI_RAW_ZONE=str(root / "zones" / "raw"),
        CADBUSI_RESEARCH_ZONE=str(root / "zones" / "research"),
        CADBUSI_LABELBOX=f"folder://{root / 'labelbox'}",
        CADBUSI_PSEUDONYM_KEY_FILE=str(key_file),
        CADBUSI_FIRST_STUDY_DATE="2026-09-01",
        CADBUSI_WORKERS="2",
        CADBUSI_OCR="1" if (in_ci() or _has_tesseract()) else "0",
        CADBUSI_LOCK_DIR=str(root / "locks"),
        DAGSTER_HOME=str(home),
        PYTHONUNBUFFERED="1",
    )
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    env.update(extra)
    return env


def _has_tesseract() -> bool:
    import shutil

    return shutil.which("tesseract") is not None


def write_instance_yaml(env: dict[str, str], extra_yaml: str = "") -> Path:
    home = Path(env["DAGSTER_HOME"])
    path = home / "dagster.yaml"
    path.write_text((ROOT / "dagster.yaml").read_text() + ("\n" + extra_yaml if extra_yaml else ""))
    # Create the storage now: two processes starting at once would race to create it.
    with dg.DagsterInstance.from_config(str(home)):
        pass
    return path


def checkout_deployment(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A demo deployment under ``tmp_path`` whose services load this checkout's code (the
    instance's run launcher is in it): a new key in ``secrets/``, the sources ``cohort/``
    (made empty when missing), OCR off unless ``extra`` says otherwise, its instance written.
    The environment (:func:`product_env`)."""
    from cadbusi_assets.identity import generate_key_file

    (tmp_path / "cohort").mkdir(exist_ok=True)
    key = generate_key_file(tmp_path / "secrets" / "pseudonym.key")
    env = product_env(tmp_path / "state", tmp_path / "cohort", key, **{"CADBUSI_OCR": "0", **extra})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    write_instance_yaml(env)
    return env


@dataclass
class Services:
    env: dict[str, str]
    port: int
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def graphql(self, query: str, variables: dict | None = None, timeout: float = 60) -> dict:
        reply = requests.post(
            f"{self.base}/graphql",
            json={"query": query, "variables": variables or {}},
            timeout=timeout,
        )
        reply.raise_for_status()
        body = reply.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.from_config(self.env["DAGSTER_HOME"])

    def log_tail(self, name: str, chars: int = 4000) -> str:
        path = self.logs.get(name)
        return path.read_text(errors="replace")[-chars:] if path and path.exists() else ""

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited ({proc.returncode}):\n{self.log_tail(name)}")


def _start(name: str, args: list[str], env: dict[str, str], log_dir: Path) -> tuple:
    log = log_dir / f"{name}.log"
    handle = log.open("wb")
    proc = subprocess.Popen(
        args,
        cwd=ROOT,
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return proc, log


def _stop(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=20)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


@contextlib.contextmanager
def dagster_services(
    env: dict[str, str],
    *,
    daemon: bool = True,
    webserver: bool = True,
    timeout: float = 180,
    workspace: Path | None = None,
) -> Iterator[Services]:
    """Start the webserver and/or the daemon on ``env``'s instance (the repository's
    ``workspace.yaml``, or ``workspace``); stop both at the end."""
    log_dir = Path(env["DAGSTER_HOME"]) / "service-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    services = Services(env, free_port())
    # The test process reads the same instance (PostgreSQL credentials come from the env).
    saved = {k: os.environ.get(k) for k in env if k.startswith("DAGSTER_PG_")}
    os.environ.update({k: env[k] for k in saved})
    # Create the instance's storage once, before two processes race to create it.
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]):
        pass
    workspace_file = str(workspace or ROOT / "workspace.yaml")
    try:
        if webserver:
            args = [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(services.port)]
            proc, log = _start("webserver", [*args, "-w", workspace_file], env, log_dir)
            services.procs["webserver"], services.logs["webserver"] = proc, log
        if daemon:
            args = [str(BIN / "dagster-daemon"), "run", "-w", workspace_file]
            proc, log = _start("daemon", args, env, log_dir)
            services.procs["daemon"], services.logs["daemon"] = proc, log
        if webserver:
            deadline = time.monotonic() + timeout
            while True:
                services.check_alive()
                with contextlib.suppress(requests.RequestException, AssertionError, KeyError):
                    data = services.graphql("{ assetNodes { id } }", timeout=10)
                    if data["assetNodes"]:
                        break
                if time.monotonic() > deadline:
                    raise AssertionError(
                        "the webserver did not serve the graph in time:\n"
                        + services.log_tail("webserver")
                    )
                time.sleep(0.5)
        yield services
    finally:
        for proc in services.procs.values():
            _stop(proc)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def wait_for(predicate, timeout: float, what: str, services: Services | None = None, poll=1.0):
    """Poll ``predicate`` until it returns a truthy value; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if services is not None:
            services.check_alive()
        if time.monotonic() > deadline:
            daemon_log = services.log_tail("daemon") if services else ""
            raise AssertionError(
                f"timed out after {timeout:.0f} s waiting for {what}\n{daemon_log}"
            )
        time.sleep(poll)


LAUNCH_BACKFILL = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
    ... on UnauthorizedError { message }
  }
}
"""

BACKFILL_STATUS = """
query($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { id status }
    ... on PythonError { message }
  }
}
"""

TERMINATE_RUN = """
mutation($runId: String!) {
  terminateRun(runId: $runId, terminatePolicy: SAFE_TERMINATE) {
    __typename
    ... on TerminateRunSuccess { run { runId status } }
    ... on TerminateRunFailure { message }
    ... on PythonError { message }
  }
}
"""


def launch_backfill(services: Services, assets: list[str], partitions: list[str]) -> str:
    data = services.graphql(
        LAUNCH_BACKFILL,
        {
            "params": {
                "partitionNames": partitions,
                "assetSelection": [{"path": [a]} for a in assets],
                "title": "test backfill",
            }
        },
    )["launchPartitionBackfill"]
    assert data["__typename"] == "LaunchBackfillSuccess", data
    return data["backfillId"]


FINISHED_BACKFILL = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


def wait_backfill(services: Services, backfill_id: str, timeout: float) -> str:
    def status():
        data = services.graphql(BACKFILL_STATUS, {"id": backfill_id})["partitionBackfillOrError"]
        return data["status"] if data.get("status") in FINISHED_BACKFILL else None

    return wait_for(status, timeout, f"backfill {backfill_id}", services, poll=2.0)


def wait_runs_finished(services: Services, timeout: float, min_runs: int = 1) -> list:
    instance = services.instance()

    def done():
        runs = instance.get_runs()
        if len(runs) < min_runs:
            return None
        unfinished = [r for r in runs if not r.is_finished]
        return None if unfinished else runs

    return wait_for(done, timeout, f"all runs to finish (at least {min_runs})", services, 2.0)


def process_tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def materialized(instance: dg.DagsterInstance, asset: str) -> set[str]:
    return set(instance.get_materialized_partitions(dg.AssetKey(asset)))
