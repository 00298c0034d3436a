"""Which process runs a Dagster run, so that a run whose process died can be marked failed.

The default run launcher cannot tell the daemon that a run process died (SIGKILL, out of
memory): such a run would stay STARTED forever. Every run records its process id, host and
process start time as run tags on first use of the zones; ``dead_run_sensor`` checks them.

A process id means nothing on another machine (a run launched on another host or in a
container: the Kubernetes run launcher, a second code server). So a run's process also
**beats** (with the ``in_process`` executor, the default, the process that runs the steps; with
Celery or Kubernetes, the process that orchestrates them, which records itself before the
first step, :func:`cadbusi_assets.defs.executor.orchestrator_records_itself`): it writes a
new value under :func:`heartbeat_key` in the Dagster instance's key-value store every
:data:`HEARTBEAT_SECONDS`. ``dead_run_sensor`` marks a run of another host failed once its
heartbeat has not changed for ``$CADBUSI_RUN_HEARTBEAT_TIMEOUT`` seconds (default
:data:`DEFAULT_HEARTBEAT_TIMEOUT`), as timed by the sensor's own clock between its own ticks
(no clock of two machines is compared; a pause of the sensor itself, say a daemon restart or a
database outage, starts the wait again).
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import threading
import time
from collections.abc import Callable

import dagster as dg
import psutil

from cadbusi_assets.defs.executor import EXECUTOR_ENV_VAR

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


#: How often a run's process writes its heartbeat (seconds).
HEARTBEAT_SECONDS = 30.0
HEARTBEAT_TIMEOUT_ENV_VAR = "CADBUSI_RUN_HEARTBEAT_TIMEOUT"
#: A run of another host whose heartbeat stood still this long (seconds) is dead.
DEFAULT_HEARTBEAT_TIMEOUT = 300.0


class HeartbeatSettingError(ValueError):
    """``$CADBUSI_RUN_HEARTBEAT_TIMEOUT`` is not a number of seconds above the beat."""


def heartbeat_timeout() -> float:
    """``$CADBUSI_RUN_HEARTBEAT_TIMEOUT`` (seconds), at least two beats; the default when unset."""
    text = os.environ.get(HEARTBEAT_TIMEOUT_ENV_VAR, "").strip()
    if not text:
        return DEFAULT_HEARTBEAT_TIMEOUT
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not seconds >= 2 * heartbeat_seconds():  # (nan too)
        raise HeartbeatSettingError(
            f"{HEARTBEAT_TIMEOUT_ENV_VAR}={text!r}: give the seconds a run of another host may "
            f"go without a heartbeat, at least {2 * heartbeat_seconds():g} (two beats)."
        )
    return seconds


def heartbeat_seconds() -> float:
    """The beat (:data:`HEARTBEAT_SECONDS`; ``$CADBUSI_RUN_HEARTBEAT_SECONDS`` for tests)."""
    text = os.environ.get("CADBUSI_RUN_HEARTBEAT_SECONDS", "").strip()
    try:
        return max(0.1, float(text)) if text else HEARTBEAT_SECONDS
    except ValueError:
        return HEARTBEAT_SECONDS


def heartbeat_key(run_id: str) -> str:
    """The key of ``run_id``'s heartbeat in the instance's key-value store."""
    return f"cadbusi/run_heartbeat/{run_id}"


def _steps_in_run_process() -> bool:
    """Whether the steps run in the run's own process (the ``in_process`` executor): a step
    of the Celery or Kubernetes executor runs in a worker that outlives the run, so its beats
    would tell nothing of the run."""
    return os.environ.get(EXECUTOR_ENV_VAR, "").strip().lower() in ("", "in_process")


class _Heartbeat:
    """This process's beat for the run it runs (one thread; a later run replaces the run)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._beat: Callable[[], bool] | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        # stopped (and waited for, briefly) before the interpreter's finalization: a daemon
        # thread frozen there in the middle of a database call could hold a lock that the
        # main thread's last steps need
        atexit.register(self.stop)

    def stop(self, timeout: float = 5.0) -> None:
        """No more beats from this process; waits up to ``timeout`` for a beat under way."""
        self._stopping.set()
        with self._lock:
            self._beat = None
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def start(self, instance: dg.DagsterInstance, run_id: str) -> None:
        key = heartbeat_key(run_id)
        storage = instance.run_storage
        pid = os.getpid()
        count = 0

        def beat() -> bool:
            """One beat; False once the run is over (nothing more to tell)."""
            nonlocal count
            run = instance.get_run_by_id(run_id)
            if run is None or run.is_finished:
                return False
            count += 1
            storage.set_cursor_values({key: f"{pid}:{count}"})
            return True

        beat()  # before the run's tag says it beats
        with self._lock:
            self._stopping.clear()
            self._beat = beat
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="cadbusi-run-heartbeat", daemon=True
                )
                self._thread.start()

    def _loop(self) -> None:
        while not self._stopping.wait(heartbeat_seconds()):
            with self._lock:
                beat = self._beat
            if beat is None:
                return
            try:
                going = beat()
            except Exception:  # the instance's database away for a while: beat again later
                continue
            if not going:
                with self._lock:
                    if self._beat is beat:
                        self._beat = None
                        self._thread = None
                        return


_HEARTBEAT = _Heartbeat()

_STOPPING = (dg.DagsterRunStatus.CANCELING, dg.DagsterRunStatus.CANCELED)


def _terminable_by_its_launcher(run: dg.DagsterRun) -> bool:
    """Whether the run launcher that the UI's Terminate asks can stop ``run`` itself: Dagster's
    default launcher reaches the runs it started through their code server (their
    ``GRPC_INFO_TAG``); a run that ``dagster asset materialize`` or a Python process ran in
    its own process has no such tag, and Terminate only marked it CANCELING while it went on."""
    from dagster._core.storage.tags import GRPC_INFO_TAG

    return GRPC_INFO_TAG in run.tags


#: Seconds a run the launcher can reach (:func:`_terminable_by_its_launcher`) may stay
#: CANCELING before its own process interrupts itself: the launcher stops it within a second
#: or two when its code server answers; when that server is gone (and the run is on another
#: host, where the launcher cannot signal it either), nothing else would.
LAUNCHER_GRACE_SECONDS = 10.0
#: Run tag set by :class:`RunLauncher` when it interrupted the run's process itself: the
#: process does not interrupt itself a second time (its clean-up under way). Its value is the
#: run's id: a re-execution from the UI inherits its parent's tags (:func:`interrupted_by_launcher`).
INTERRUPTED_TAG = "cadbusi/run_interrupted"


def interrupted_by_launcher(run: dg.DagsterRun) -> bool:
    """Whether :class:`RunLauncher` interrupted ``run``'s process itself: the mark is the run's
    own, not its parent's that a re-execution inherited (``"1"``: a mark written before the
    value was the run id, trusted on a run that is no re-execution)."""
    mark = run.tags.get(INTERRUPTED_TAG)
    return mark == run.run_id or (mark == "1" and not run.parent_run_id)


def watch_termination(instance: dg.DagsterInstance, run_id: str) -> threading.Thread | None:
    """In the process that runs ``run_id``'s steps on its main thread: once someone terminates
    the run (the UI's Terminate, run monitoring: CANCELING or CANCELED), interrupt the main
    thread as Ctrl-C would; Dagster's execution turns that into the run's cancellation (the
    run ends CANCELED, the steps' own clean-up runs). A run that its launcher cannot reach
    (:func:`_terminable_by_its_launcher`) is interrupted at once; one its launcher can reach
    only when the code server that started it (this process's parent) is gone, the run has
    stayed CANCELING for :data:`LAUNCHER_GRACE_SECONDS` and :class:`RunLauncher` did not
    interrupt it itself (:data:`INTERRUPTED_TAG`), so a run is interrupted once: a run of
    another host whose code server died stops too, which no launcher can reach. Not for a run that a ``cadbusi``
    command watches; the thread ends with the run. One query of the run's status a second."""
    # the commands watch their runs themselves, waiting ones too; the same poll as theirs
    from cadbusi_assets.runner import RUNNER_TAG, TERMINATION_POLL_SECONDS

    run = instance.get_run_by_id(run_id)
    if run is None or RUNNER_TAG in run.tags:
        return None
    reachable = _terminable_by_its_launcher(run)
    grace = LAUNCHER_GRACE_SECONDS if reachable else 0.0
    # the code server that started the run is this process's parent: while it lives, the
    # launcher reaches the run through it
    code_server = os.getppid()
    main = threading.main_thread().ident
    if main is None:
        return None

    def watch() -> None:
        stopping_since: float | None = None
        while True:
            time.sleep(TERMINATION_POLL_SECONDS)
            try:
                now = instance.get_run_by_id(run_id)
            except Exception:  # the instance's database away for a while: look again
                continue
            if now is None:
                return
            if now.status in _STOPPING:
                if interrupted_by_launcher(now):
                    return
                if reachable and os.getppid() == code_server:
                    continue  # its code server lives: the launcher stops the run
                if stopping_since is None:
                    stopping_since = time.monotonic()
                if time.monotonic() - stopping_since >= grace:
                    signal.pthread_kill(main, signal.SIGINT)
                    return
                continue
            if now.is_finished:
                return

    thread = threading.Thread(target=watch, name="cadbusi-run-termination-watch", daemon=True)
    thread.start()
    return thread


def tag_run_process(instance: dg.DagsterInstance, run_id: str, orchestrator: bool = False) -> None:
    """Record which process runs ``run_id`` (once per run) so a dead process can be detected;
    with the ``in_process`` executor, or from the process that orchestrates the steps of
    another executor (``orchestrator``: :func:`cadbusi_assets.defs.executor.orchestrator_records_itself`),
    start its heartbeat too. A step of a worker executor finds the orchestrator's record."""
    run = instance.get_run_by_id(run_id)
    if run is None or _recorded(run):
        return
    release_dead_runs(instance)  # a killed run's pool slot would block this run's next steps
    pid = os.getpid()
    record: dict[str, object] = {
        "run_id": run_id,
        "pid": pid,
        "host": socket.gethostname(),
        "started": round(psutil.Process(pid).create_time(), 2),
    }
    if orchestrator or _steps_in_run_process():
        _HEARTBEAT.start(instance, run_id)
        record["beats"] = True
    instance.add_run_tags(run_id, {RUN_PROCESS_TAG: json.dumps(record, sort_keys=True)})
    if orchestrator or _steps_in_run_process():
        watch_termination(instance, run_id)


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


def _beats(run: dg.DagsterRun) -> bool:
    record = _recorded(run)
    return bool(record and record.get("beats"))


def stopped_heartbeats(
    instance: dg.DagsterInstance,
    runs: list[dg.DagsterRun],
    memory: dict,
    now: float,
    timeout: float,
) -> set[str]:
    """The ids of ``runs`` (of other hosts, beating) whose heartbeat stood still for
    ``timeout`` seconds of the caller's clock (``now``). ``memory`` (the sensor's cursor,
    updated in place) keeps each run's last heartbeat value and when the caller first saw it,
    and ``"tick"``, when the caller last looked: after a pause longer than ``timeout`` / 2
    (the sensor stopped, the database was away) every wait starts again."""
    last_tick = memory.get("tick")
    seen: dict = memory.get("runs", {})
    paused = not isinstance(last_tick, int | float) or now - last_tick > timeout / 2
    values = instance.run_storage.get_cursor_values({heartbeat_key(r.run_id) for r in runs})
    kept: dict = {}
    stopped = set()
    for run in runs:
        value = values.get(heartbeat_key(run.run_id), "")
        earlier = seen.get(run.run_id)
        if paused or not earlier or earlier[0] != value:
            kept[run.run_id] = [value, now]
            continue
        kept[run.run_id] = earlier
        if now - float(earlier[1]) >= timeout:
            stopped.add(run.run_id)
    memory["runs"] = kept
    memory["tick"] = now
    return stopped


def release_dead_runs(instance: dg.DagsterInstance, heartbeats: dict | None = None) -> list[str]:
    """Mark failed (canceled, when it was being canceled) every run of this host whose process
    is gone, and free the pool slots (``pacs``, ``gpu`` …) that runs which are over still hold;
    the ids of the runs marked.

    With ``heartbeats`` (``dead_run_sensor``'s memory, :func:`stopped_heartbeats`), a run of
    another host whose heartbeat stood still for ``$CADBUSI_RUN_HEARTBEAT_TIMEOUT`` seconds is
    marked too (the callers without a memory, a run's first step and the ``cadbusi``
    commands, judge this host's runs only).

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
    runs = [record.dagster_run for record in records]
    alive = {run.run_id: run_process_alive(run) for run in runs}
    stopped: set[str] = set()
    if heartbeats is not None:
        elsewhere = [run for run in runs if alive[run.run_id] is None and _beats(run)]
        stopped = stopped_heartbeats(
            instance, elsewhere, heartbeats, time.time(), heartbeat_timeout()
        )
    for run in runs:
        # a run someone was terminating ends CANCELED, and its log says so
        canceling = run.status == dg.DagsterRunStatus.CANCELING
        outcome = "the run is marked canceled." if canceling else "the run is marked failed."
        if run.run_id in stopped:
            message = (
                f"The run's process on another host sent no heartbeat for "
                f"{heartbeat_timeout():g} s (killed, crashed, or its machine is gone); {outcome}"
            )
        elif alive[run.run_id] is False:
            message = f"The run's process is gone (killed or crashed); {outcome}"
        else:
            continue
        if canceling:
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


def wake_stopped_run(run: dg.DagsterRun) -> list[int]:
    """Continue (``SIGCONT``) the process of ``run`` on this host and its children where they
    are stopped (``SIGSTOP``, Ctrl-Z in the shell that started the run, a paused container),
    so that the run's own watch (:func:`watch_termination`) sees its termination and stops
    it: a stopped process handles no request, and held its date's partition lock while run
    monitoring marked the run CANCELED. The pids continued."""
    if run_process_alive(run) is not True:
        return []
    pid = run_pid(run)
    try:
        process = psutil.Process(pid)
        family = [process, *process.children(recursive=True)]
    except psutil.Error:
        return []
    woken = []
    for member in family:
        try:
            if member.status() == psutil.STATUS_STOPPED:
                member.send_signal(signal.SIGCONT)
                woken.append(member.pid)
        except psutil.Error:  # ended meanwhile
            continue
    return woken


class RunLauncher(dg.DefaultRunLauncher):
    """Dagster's default run launcher (``run_launcher`` of the instance's ``dagster.yaml``),
    whose ``terminate`` (the UI's Terminate) also reaches a run whose code server is gone.

    The default launcher reaches a run through the code server that started it (the daemon's,
    named by the run's ``.dagster/grpc_info`` tag). When that server was killed (a daemon
    restart that took its processes, an out-of-memory kill), Terminate failed with "Could not
    reach user code server" (the webserver answered HTTP 500) and left the run CANCELING:

    * a run whose process died with the server kept its pool slots until ``dead_run_sensor``
      or run monitoring ended it (with no daemon, never): it is ended CANCELED at once here,
      its slots freed (:func:`release_dead_runs`);
    * a run whose process lives on went on writing, and ended SUCCESS: its process (recorded
      on this host) is interrupted here as Ctrl-C would, and with the run CANCELING Dagster
      ends it CANCELED, its steps' own clean-up run.

    A run of another host, or one that has not recorded its process yet, goes to the default
    launcher as before."""

    def terminate(self, run_id: str) -> bool:
        from dagster._core.errors import DagsterUserCodeUnreachableError

        instance = self._instance
        run = instance.get_run_by_id(run_id)
        alive = None if run is None or run.is_finished else run_process_alive(run)
        if run is not None and alive is False:
            if run.status != dg.DagsterRunStatus.CANCELING:
                instance.report_run_canceling(run, message="Sending run termination request.")
            return run_id in release_dead_runs(instance)
        try:
            answered = super().terminate(run_id)
        except DagsterUserCodeUnreachableError:
            pid = run_pid(run) if run is not None and alive else None
            if pid is None:
                if run is None or alive is not None or not _beats(run):
                    raise
                # another host: its process, watching its run, interrupts itself
                instance.report_engine_event(
                    "The code server that started the run is gone and the run's process is on "
                    f"another host; it interrupts itself within {LAUNCHER_GRACE_SECONDS:g} s.",
                    run,
                    cls=self.__class__,
                )
                return True
        else:
            if run is not None and alive:
                wake_stopped_run(run)
            return answered
        instance.add_run_tags(run_id, {INTERRUPTED_TAG: run_id})
        instance.report_engine_event(
            "The code server that started the run is gone; interrupting the run's process "
            f"(pid {pid}) directly.",
            run,
            cls=self.__class__,
        )
        try:
            os.kill(pid, signal.SIGINT)
        except OSError:  # ended meanwhile, or another user's: the run stays CANCELING
            return False
        if run is not None:
            wake_stopped_run(run)
        return True
