"""Runs started the way users start them, for the tests of killed and re-run study dates.

One place for what ``test_user_runs.py`` and the adversarial run files each wrote themselves:
a date re-run with ``dagster asset materialize``, a ranged run as ``make demo`` / ``cadbusi
demo`` starts it (:func:`cadbusi_assets.runner.backfill_study_dates`, in its own process), run
requests carried out one after the other in one process, and bounded waits and kills. Every
process starts in its own session, so a kill takes its workers too.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

import dagster as dg
import pytest

from cadbusi_assets_tests.defs.services import BIN, ROOT

MATERIALIZE = [str(BIN / "dagster"), "asset", "materialize", "-m", "cadbusi_assets.definitions"]


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        args,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def materialize_date(env: dict[str, str], selection: Sequence[str], day: str) -> subprocess.Popen:
    """``dagster asset materialize --select <selection> --partition <day>`` (README's re-run)."""
    return _start([*MATERIALIZE, "--select", ",".join(selection), "--partition", day], env)


_RANGED = """
import datetime as dt, sys
import cadbusi_assets
from dagster import DagsterInstance
from cadbusi_assets import runner
selection = sys.argv[1].split(",")
start, end = (dt.date.fromisoformat(d) for d in sys.argv[2:4])
runs = runner.backfill_study_dates(
    runner.load_definitions(), selection, DagsterInstance.get(), start, end
)
sys.exit(0 if all(r.success for r in runs) else 1)
"""


def ranged_run(
    env: dict[str, str], selection: Sequence[str], start: str, end: str
) -> subprocess.Popen:
    """The ranged run of ``make demo`` (``cadbusi demo``): one run over [start, end]."""
    return _start([sys.executable, "-c", _RANGED, ",".join(selection), start, end], env)


_REQUESTS = """
import json, sys
import cadbusi_assets
from dagster import DagsterInstance
from cadbusi_assets import runner
defs, instance = runner.load_definitions(), DagsterInstance.get()
failed = 0
for request in json.loads(sys.argv[1]):
    summary = runner.materialize(
        defs, request["assets"], instance,
        partition_key=request["partition"], tags=request["tags"],
    )
    print(request["partition"], "ok" if summary.success else "failed", flush=True)
    failed += not summary.success
sys.exit(1 if failed else 0)
"""


def carry_out(env: dict[str, str], requests: Sequence[dg.RunRequest]) -> subprocess.Popen:
    """The sensor's run requests, one run after the other (as the daemon would launch them,
    one at a time here), in one process."""
    payload = [
        {
            "partition": r.partition_key,
            "assets": [k.to_user_string() for k in r.asset_selection or []],
            "tags": dict(r.tags),
        }
        for r in requests
    ]
    return _start([sys.executable, "-c", _REQUESTS, json.dumps(payload)], env)


def finish(proc: subprocess.Popen, timeout: float, what: str) -> str:
    """The process's output once it ends; killed with its session and failed past ``timeout``."""
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
        pytest.fail(f"{what} took longer than {timeout} s")
    return out.decode(errors="replace")


def kill_when(proc: subprocess.Popen, ready: Callable[[], bool], timeout: float, what: str) -> str:
    """SIGKILL ``proc`` and its session as soon as ``ready()`` (polled every 5 ms); fails the
    test when the process ends first or ``timeout`` passes. Returns its output."""
    deadline = time.monotonic() + timeout
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if ready():
                os.killpg(proc.pid, signal.SIGKILL)
                return finish(proc, 30, "the killed run")
            time.sleep(0.005)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        out = finish(proc, 30, "the run")
    except BaseException:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=30)
        raise
    pytest.fail(f"the run ended or timed out before {what}:\n{out[-3000:]}")
