"""A run waiting for a pool slot (``pacs``) is stopped by a termination.

Dagster's in-process executor waited for the slot in a loop that ignored the run worker's
SIGTERM / SIGINT (held as a flag for the next step) and never slept: a run terminated from the
UI while "Step blocked by limit for pool pacs" stayed CANCELING, its process alive at 100 % of
a core, until the run holding the slot ended (still running 30 s after SIGTERM, behind a run
holding the slot for 120 s). Runs are started as users start them (``dagster asset
materialize``, each in its own process) with the code location's executor
(:mod:`cadbusi_assets.defs.executor`); a termination is what Dagster's default run launcher
does: the run marked CANCELING, then a signal to the run's process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import psutil
import pytest

from cadbusi_assets.instance_config import DEMO_INSTANCE_YAML

ROOT = Path(__file__).resolve().parents[1]
DAGSTER = str(Path(sys.executable).parent / "dagster")

#: one asset in the ``pacs`` pool, run with the code location's own executor; HOLD seconds
_DEFS = textwrap.dedent(
    """
    import os, time
    import cadbusi_assets
    import dagster as dg
    from cadbusi_assets.defs import executor as location  # a module: not found as defs

    @dg.asset(pool="pacs")
    def fetch() -> None:
        print("holding", flush=True)
        time.sleep(float(os.environ["HOLD"]))

    defs = dg.Definitions(assets=[fetch], executor=location.executor().executor)
    """
)


#: the same asset run as ``cadbusi demo`` / ``cadbusi export`` run theirs (runner.materialize:
#: ``execute_in_process``, which always uses Dagster's own in-process executor)
_RUNNER = textwrap.dedent(
    """
    import cadbusi_assets
    import dagster as dg
    from cadbusi_assets import runner
    from pool_run_defs import fetch

    with dg.DagsterInstance.get() as instance:
        summary = runner.materialize(dg.Definitions(assets=[fetch]), ["fetch"], instance)
    print("success" if summary.success else "failure", flush=True)
    """
)


@dataclass
class Waiting:
    instance: dg.DagsterInstance
    holder: subprocess.Popen
    waiter: subprocess.Popen
    run_id: str  # the waiter's run


def _start(
    tmp_path: Path, home: Path, hold: float, runner: bool = False, script: str = _RUNNER
) -> subprocess.Popen:
    """``dagster asset materialize`` of the asset, or with ``runner`` the Python ``script``."""
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "PYTHONPATH": f"{ROOT}{os.pathsep}{tmp_path}",
        "HOLD": str(hold),
    }
    cli = [DAGSTER, "asset", "materialize", "-m", "pool_run_defs", "--select", "fetch"]
    return subprocess.Popen(
        [sys.executable, "-c", script] if runner else cli,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _home(tmp_path: Path) -> Path:
    """A Dagster home with the demo's instance settings, the test's definitions beside it."""
    (tmp_path / "pool_run_defs.py").write_text(_DEFS)
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(DEMO_INSTANCE_YAML)
    return home


def _holding(
    tmp_path: Path, home: Path, runner: bool = False, script: str = _RUNNER
) -> subprocess.Popen:
    """A run started (``dagster asset materialize``, or ``runner.materialize``) that holds the
    ``pacs`` slot for 10 minutes, once its step runs.

    The step's ``holding`` reaches the pipe through Dagster's compute-log mirror (a ``tail``
    process) while the run's own log lines go to the same pipe: a long log line written at the
    same moment can put ``holding`` in the middle of a line, so it is looked for anywhere in
    a line (looking for a whole line missed it once and waited out the 10 minutes). The
    output is read on a thread to the end, so the pipe never fills, and the wait has a limit.
    """
    process = _start(tmp_path, home, hold=600, runner=runner, script=script)
    stdout = process.stdout
    assert stdout is not None
    lines: list[str] = []
    seen = threading.Event()

    def read() -> None:
        for line in stdout:
            lines.append(line)
            if "holding" in line:
                seen.set()
        seen.set()  # the output ended: the run is over

    threading.Thread(target=read, daemon=True).start()
    if seen.wait(timeout=150) and any("holding" in line for line in lines):
        return process
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    last = "".join(lines[-5:])
    pytest.fail(f"the run never held its slot within 150 s: {last}")


def _until(what: str, condition: Callable[[], bool], timeout: float = 150.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"never {what}"
        time.sleep(0.25)


@pytest.fixture(params=["cli"])
def waiting(request, tmp_path) -> Iterator[Waiting]:
    """A run holding the ``pacs`` slot for 10 minutes and a second run waiting for it, started
    by ``dagster asset materialize`` (param ``cli``) or by ``runner.materialize`` (``runner``)."""
    home = _home(tmp_path)
    holder = _holding(tmp_path, home)
    waiter = None
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            (held,) = instance.get_runs()
            waiter = _start(tmp_path, home, hold=0, runner=request.param == "runner")

            def blocked() -> bool:
                runs = [r for r in instance.get_runs() if r.run_id != held.run_id]
                if not runs:
                    return False
                logs = instance.all_logs(runs[0].run_id)
                return any("blocked by limit for pool pacs" in (e.message or "") for e in logs)

            _until("blocked on the pool", blocked)
            (run,) = (r for r in instance.get_runs() if r.run_id != held.run_id)
            yield Waiting(instance, holder, waiter, run.run_id)
    finally:
        for process in (holder, waiter):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            if process is not None:
                process.wait()


def _stops_within(process: subprocess.Popen, seconds: float) -> float:
    start = time.monotonic()
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the waiting run still runs {seconds:.0f} s after its termination")
    return time.monotonic() - start


def test_terminating_a_run_waiting_for_its_pool_slot_cancels_it(waiting):
    instance = waiting.instance
    run = instance.get_run_by_id(waiting.run_id)
    assert run is not None and run.status == dg.DagsterRunStatus.STARTED
    instance.report_run_canceling(run)  # DefaultRunLauncher.terminate, then the signal
    os.kill(waiting.waiter.pid, signal.SIGTERM)
    _stops_within(waiting.waiter, 20)
    run = instance.get_run_by_id(waiting.run_id)
    assert run is not None and run.status == dg.DagsterRunStatus.CANCELED
    # its pending claim is withdrawn; the holder keeps its slot and runs on
    assert waiting.run_id not in instance.event_log_storage.get_concurrency_run_ids()
    assert waiting.holder.poll() is None
    assert instance.event_log_storage.get_concurrency_run_ids()
    (canceled,) = instance.all_logs(waiting.run_id, of_type=dg.DagsterEventType.RUN_CANCELED)
    assert canceled.dagster_event is not None
    error = canceled.dagster_event.job_canceled_data.error
    assert error is not None
    assert "Terminated while waiting for a pool slot; steps not started: fetch" in error.message


@pytest.mark.parametrize("waiting", ["cli", "runner"], indirect=True)
def test_an_interrupt_without_a_termination_request_fails_the_waiting_run(waiting):
    """Ctrl-C (SIGINT, nobody marked the run CANCELING): FAILED, with Dagster's reason; the
    same for ``cadbusi demo`` / ``cadbusi export`` (``runner``)."""
    os.kill(waiting.waiter.pid, signal.SIGINT)
    _stops_within(waiting.waiter, 20)
    run = waiting.instance.get_run_by_id(waiting.run_id)
    assert run is not None and run.status == dg.DagsterRunStatus.FAILURE
    assert waiting.run_id not in waiting.instance.event_log_storage.get_concurrency_run_ids()


@pytest.mark.parametrize("waiting", ["cli", "runner"], indirect=True)
def test_a_run_waiting_for_its_pool_slot_does_not_spin_a_core(waiting):
    """Dagster's wait loop never slept (100 % of a core while waiting); CPU seconds over 3 s."""
    process = psutil.Process(waiting.waiter.pid)
    before = sum(process.cpu_times()[:2])
    time.sleep(3)
    used = sum(process.cpu_times()[:2]) - before
    assert used < 0.5, f"{used:.2f} CPU seconds in 3 s of waiting"


@pytest.mark.parametrize("waiting", ["runner"], indirect=True)
def test_the_uis_terminate_stops_a_run_that_cadbusi_started(waiting):
    """``cadbusi demo`` / ``cadbusi export`` runs (``runner``) were not started by the run
    launcher: the UI's Terminate (``DefaultRunLauncher.terminate``) only marked them CANCELING
    ("Unable to get grpc client"), and run monitoring CANCELED a minute later while the
    process went on. Now the process stops itself: the waiting run within seconds, CANCELED."""
    instance = waiting.instance
    with dg.DagsterInstance.from_config(str(instance.root_directory)) as ui:
        ui.run_launcher.terminate(waiting.run_id)  # what the UI's Terminate button calls
    _stops_within(waiting.waiter, 20)
    run = instance.get_run_by_id(waiting.run_id)
    assert run is not None and run.status == dg.DagsterRunStatus.CANCELED
    assert waiting.run_id not in instance.event_log_storage.get_concurrency_run_ids()
    assert waiting.holder.poll() is None


def test_the_uis_terminate_stops_a_running_step_that_cadbusi_started(tmp_path):
    """The same for a run whose step is running (it holds the ``pacs`` slot): the step is
    interrupted, the run CANCELED and its slot freed."""
    home = _home(tmp_path)
    process = _holding(tmp_path, home, runner=True)
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            (run,) = instance.get_runs()
            instance.run_launcher.terminate(run.run_id)
            _stops_within(process, 20)
            run = instance.get_run_by_id(run.run_id)
            assert run is not None and run.status == dg.DagsterRunStatus.CANCELED
            assert not instance.event_log_storage.get_concurrency_run_ids()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


#: two runs one after the other, as ``cadbusi demo`` runs its backfill's months and stages
_TWO_RUNS = textwrap.dedent(
    """
    import cadbusi_assets
    import dagster as dg
    from cadbusi_assets import runner
    from pool_run_defs import fetch

    with dg.DagsterInstance.get() as instance:
        for _ in range(2):
            runner.materialize(dg.Definitions(assets=[fetch]), ["fetch"], instance)
    """
)


def test_ctrl_c_stops_the_command_not_only_its_current_run(tmp_path):
    """Ctrl-C during a run that ``runner`` started: Dagster failed the run and returned, and
    the command started its next run (a ``cadbusi demo`` needed one Ctrl-C per remaining
    run). Now the interrupt goes on up: no second run, a non-zero exit."""
    home = _home(tmp_path)
    process = _holding(tmp_path, home, runner=True, script=_TWO_RUNS)
    try:
        os.kill(process.pid, signal.SIGINT)
        _stops_within(process, 20)
        assert process.returncode != 0
        with dg.DagsterInstance.from_config(str(home)) as instance:
            (run,) = instance.get_runs()
            assert run.status == dg.DagsterRunStatus.FAILURE
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_the_cadbusi_command_ends_with_one_line_on_ctrl_c(monkeypatch, capsys):
    """``cadbusi``: an interrupt that reaches the command ends it with exit code 130 and one
    line on stderr, not a traceback."""
    from cadbusi_assets import cli

    def interrupted(args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_doctor", interrupted)
    assert cli.main(["doctor"]) == 130
    assert "interrupted" in capsys.readouterr().err
