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
#: Runs that are over: the pool slots they still hold are freed.
_OVER = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]


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
    release_dead_runs(instance)  # a killed run's pool slot would block this run's next steps
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


def release_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed (canceled, when it was being canceled) every run of this host whose process
    is gone, and free the pool slots (``pacs``, ``gpu`` …) that runs which are over still hold;
    the ids of the runs marked.

    A killed run keeps its pool slot in ``$DAGSTER_HOME`` (Dagster frees the slots of a run
    that ended only when ``run_monitoring.free_slots_after_run_end_seconds`` is set, and only
    in the daemon): every later run of that pool waited for it forever ("Step blocked by limit
    for pool pacs"). Called by ``dead_run_sensor``, by the ``cadbusi`` commands before a run and
    by each run on its first study-date step, so a run started after a killed one goes on.
    """
    marked = []
    records = instance.get_run_records(
        filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING])
    )
    for record in records:
        run = record.dagster_run
        if run_process_alive(run) is not False:
            continue
        message = "The run's process is gone (killed or crashed); the run is marked failed."
        if run.status == dg.DagsterRunStatus.CANCELING:
            instance.report_run_canceled(run, message=message)
        else:
            instance.report_run_failed(run, message=message)
        marked.append(run.run_id)
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return marked
    holding = storage.get_concurrency_run_ids()
    if holding:
        over = instance.get_run_records(
            filters=dg.RunsFilter(run_ids=sorted(holding), statuses=_OVER)
        )
        for record in over:
            storage.free_concurrency_slots_for_run(record.dagster_run.run_id)
    return marked
