"""Run the Dagster graph in-process on the configured instance (used by `cadbusi demo` and
`cadbusi export`). The runs land in ``$DAGSTER_HOME`` and show up in the UI like any other.

Partitioned assets are materialized as one ranged run per chunk of study dates — the same
runs a UI backfill launches for assets with ``BackfillPolicy.multi_run(31)`` — never as a loop
of one run per date.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import signal
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import dagster as dg
from dagster._core.events import RunFailureReason

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
MAX_DAYS_PER_RUN = 31
#: A tag naming the ``materialize`` call that started a run (found by it while it runs).
RUNNER_TAG = "cadbusi/runner_call"
#: Seconds between two looks at whether a run of this process was terminated from the UI.
TERMINATION_POLL_SECONDS = 1.0


@dataclass
class RunSummary:
    name: str
    success: bool
    run_id: str
    failed_checks: list[str]
    #: Study dates that failed inside a ranged run whose other dates succeeded ({date: asset}).
    failed_dates: dict[str, str] = field(default_factory=dict)
    #: Why each failed step failed: ``step: ErrorClass: first line`` (the innermost cause).
    failed_steps: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.success and not self.failed_checks and not self.failed_dates


def load_definitions() -> dg.Definitions:
    from cadbusi_assets.definitions import defs

    return defs()


def failure_reason(event: dg.DagsterEvent) -> str:
    """``ErrorClass: first line of its message`` of a step failure's innermost cause (the
    code's own error, not the engine's wrapper around it); "" for other events.

    The message is shown for this package's own errors only (they are written to carry no
    PHI). Another library's message may quote a value it choked on (a header, a report
    line), so only its class is shown, and the UI's run log keeps the rest."""
    error = getattr(event.event_specific_data, "error", None)
    if error is None:
        return ""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    lines = (error.message or "").strip().splitlines()
    message = lines[0] if lines else ""
    name = error.cls_name or "error"
    ours = re.match(rf"cadbusi_assets\.[\w.]*\.{re.escape(name)}: ", message)
    if ours is None and name == "Failure" and _raised_here(error.stack or []):
        # Dagster's Failure, raised by this package with its own words (an export refused on
        # a stale catalog): said as such, not as another library's message
        ours = re.match(r"dagster\.[\w.]*\.Failure: ", message)
    if ours is None:
        return f"{name} (its message is in the run's log in the UI)"
    return f"{name}: {message[ours.end() :]}"


_OUR_FRAME = re.compile(r'File "[^"]*[/\\]cadbusi_assets[/\\][^"]*"')


def _raised_here(stack: list[str]) -> bool:
    """Whether the innermost frame of a traceback's ``stack`` lies in this package."""
    frames = [line for line in stack if line.lstrip().startswith("File ")]
    return bool(frames) and _OUR_FRAME.search(frames[-1]) is not None


class _ProgressHandler(logging.Handler):
    """Prints the pipeline's own log messages (not engine events) as short indented lines."""

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        if meta.get("dagster_event") is not None:
            event = meta["dagster_event"]
            if record.levelno >= logging.ERROR or event.event_type_value in (
                "STEP_FAILURE",
                "RUN_FAILURE",
            ):
                reason = failure_reason(event) if event.event_type_value == "STEP_FAILURE" else ""
                print(
                    f"      ✗ {meta.get('step_key') or ''} {event.message or ''}".rstrip()
                    + (f"\n        reason: {reason}" if reason else ""),
                    flush=True,
                )
            return
        step = meta.get("step_key") or ""
        print(f"      {step}: {meta.get('orig_message', record.getMessage())}", flush=True)


@dg.logger(
    config_schema=None,
    description="Compact progress lines for the command line (the UI keeps full logs).",
)
def progress_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    log = logging.Logger("cadbusi.progress", logging.INFO)
    log.addHandler(_ProgressHandler())
    return log


def _check_failures(result: dg.ExecuteInProcessResult) -> list[str]:
    return [
        f"{e.asset_key.to_user_string()}:{e.check_name}"
        for e in result.get_asset_check_evaluations()
        if not e.passed
    ]


@contextmanager
def _stops_when_terminated(instance: dg.DagsterInstance, call: str) -> Iterator[None]:
    """While inside: a run tagged ``RUNNER_TAG = call`` that someone terminates (the UI's
    Terminate, ``dagster run delete``'s cancel, run monitoring: the run CANCELING or CANCELED)
    is interrupted as Ctrl-C would (SIGINT to the main thread, which Dagster's in-process
    execution turns into the run's cancellation). The UI cannot reach such a run otherwise:
    the run launcher did not start it, so its Terminate only marked the run while the process
    went on writing. Main thread only."""
    done = threading.Event()
    lock = threading.Lock()
    main = threading.main_thread().ident
    assert main is not None
    stopping = (dg.DagsterRunStatus.CANCELING, dg.DagsterRunStatus.CANCELED)

    def watch() -> None:
        while not done.wait(TERMINATION_POLL_SECONDS):
            try:
                records = instance.get_run_records(dg.RunsFilter(tags={RUNNER_TAG: call}), limit=1)
            except Exception:  # a storage hiccup: look again at the next tick
                continue
            if records and records[0].dagster_run.status in stopping:
                with lock:
                    if not done.is_set():
                        # to the main thread: its blocking call (a step's wait) is cut short
                        signal.pthread_kill(main, signal.SIGINT)
                return

    watcher = threading.Thread(target=watch, name="cadbusi-termination-watch", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        with lock:
            done.set()
        watcher.join()


def materialize(
    defs: dg.Definitions,
    selection: Sequence[str],
    instance: dg.DagsterInstance,
    *,
    partition_key: str | None = None,
    tags: dict[str, str] | None = None,
    run_config: dict | None = None,
    name: str = "",
) -> RunSummary:
    from cadbusi_assets.defs.pool_wait import execute_in_process_waits
    from cadbusi_assets.defs.run_process import release_dead_runs

    release_dead_runs(instance)  # a killed earlier run's pool slot would block this one
    keys = [dg.AssetKey(name) for name in selection]
    job = defs.resolve_implicit_job_def_def_for_assets(keys)
    if job is None:
        raise ValueError(f"no asset job contains {', '.join(selection)}")
    call = uuid.uuid4().hex
    with (
        execute_in_process_waits(),  # Ctrl-C / SIGTERM stop a run waiting for a pool slot
        _stops_when_terminated(instance, call),  # and so does the UI's Terminate
    ):
        result = job.with_logger_defs({"progress": progress_logger}).execute_in_process(
            run_config={"loggers": {"progress": {}}, **(run_config or {})},
            instance=instance,
            partition_key=partition_key,
            asset_selection=keys,
            tags={**(tags or {}), RUNNER_TAG: call},
            raise_on_error=False,
        )
    if any(
        event.event_type == dg.DagsterEventType.RUN_FAILURE
        and getattr(event.event_specific_data, "failure_reason", None)
        == RunFailureReason.UNEXPECTED_TERMINATION
        for event in result.all_events
    ):
        # Ctrl-C or SIGTERM to this process (no termination request: that one ends the run
        # CANCELED and the command goes on with its next run): Dagster failed the run; the
        # command stops here instead of starting its next run.
        raise KeyboardInterrupt
    run = instance.get_run_by_id(result.run_id)
    failed_dates = json.loads((run.tags if run else {}).get("cadbusi/failed_dates", "") or "{}")
    failed_steps = [
        f"{event.step_key}: {failure_reason(event)}"
        for event in result.all_events
        if event.event_type_value == "STEP_FAILURE"
    ]
    return RunSummary(
        name or ",".join(selection),
        result.success,
        result.run_id,
        _check_failures(result),
        failed_dates,
        failed_steps,
    )


def backfill_study_dates(
    defs: dg.Definitions,
    selection: Sequence[str],
    instance: dg.DagsterInstance,
    start: dt.date,
    end: dt.date,
    echo: Callable[[str], None] = print,
) -> list[RunSummary]:
    """Materialize ``selection`` for every study date in [start, end], one ranged run per month."""
    summaries = []
    chunk_start = start
    while chunk_start <= end:
        chunk_end = min(end, chunk_start + dt.timedelta(days=MAX_DAYS_PER_RUN - 1))
        echo(f"→ backfill {chunk_start}…{chunk_end}: {', '.join(selection)}")
        summaries.append(
            materialize(
                defs,
                selection,
                instance,
                tags={RANGE_START: chunk_start.isoformat(), RANGE_END: chunk_end.isoformat()},
                name=f"study dates {chunk_start}…{chunk_end}",
            )
        )
        chunk_start = chunk_end + dt.timedelta(days=1)
    return summaries


def cut_export(
    defs: dg.Definitions, instance: dg.DagsterInstance, key: str, run_config: dict | None = None
) -> RunSummary:
    """Add the ``exports`` partition ``key`` (if new) and build it (the OS user who cut it is
    recorded in the raw-zone export audit). A key that cannot name an export folder is an
    :class:`~cadbusi_assets.defs.partitions.ExportKeyError` before anything is added."""
    from cadbusi_assets.defs.partitions import check_export_key
    from cadbusi_assets.identity.audit import current_user

    check_export_key(key)  # before the key becomes a partition of the instance
    if not instance.has_dynamic_partition("exports", key):
        instance.add_dynamic_partitions("exports", [key])
    return materialize(
        defs,
        ["dataset_export"],
        instance,
        partition_key=key,
        tags={"cadbusi/user": current_user()},
        run_config=run_config,
        name=f"dataset_export {key}",
    )
