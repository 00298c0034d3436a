"""Which process runs a Dagster run, so that a run whose process died can be marked failed.

The default run launcher cannot tell the daemon that a run process died (SIGKILL, out of
memory): such a run would stay STARTED forever. Every run records its process id, host and
process start time as run tags on first use of the zones; ``dead_run_sensor`` checks them.
"""

from __future__ import annotations

import json
import os
import socket

import dagster as dg
import psutil

#: Run tag ``{"run_id", "pid", "host", "started"}`` written by the run's own process. The run
#: id is part of it because a re-execution copies its parent's tags.
RUN_PROCESS_TAG = "cadbusi/run_process"


def _recorded(run: dg.DagsterRun) -> dict | None:
    text = run.tags.get(RUN_PROCESS_TAG)
    if not text:
        return None
    record = json.loads(text)
    return record if record.get("run_id") == run.run_id else None


def run_pid(run: dg.DagsterRun) -> int | None:
    """The pid recorded by ``run``'s own process (None before its first study-date step)."""
    record = _recorded(run)
    return int(record["pid"]) if record else None


def tag_run_process(instance: dg.DagsterInstance, run_id: str) -> None:
    """Record which process runs ``run_id`` (once per run) so a dead process can be detected."""
    run = instance.get_run_by_id(run_id)
    if run is None or _recorded(run):
        return
    pid = os.getpid()
    record = {
        "run_id": run_id,
        "pid": pid,
        "host": socket.gethostname(),
        "started": round(psutil.Process(pid).create_time(), 2),
    }
    instance.add_run_tags(run_id, {RUN_PROCESS_TAG: json.dumps(record, sort_keys=True)})


def run_process_alive(run: dg.DagsterRun) -> bool | None:
    """Whether the process that tagged ``run`` still runs (None: unknown, another host)."""
    record = _recorded(run)
    if record is None or record.get("host") != socket.gethostname():
        return None
    try:
        process = psutil.Process(int(record["pid"]))
        same = abs(process.create_time() - float(record["started"])) < 1.0
        return same and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
