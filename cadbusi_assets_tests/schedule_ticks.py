"""The schedules' ticks as the daemon evaluates them after it was off: switched on at one time,
the scheduler back at a later one (Dagster's own ``launch_scheduled_runs_for_schedule``, what
the daemon's iteration runs per schedule, at a frozen clock, the code location in its own code
server), in a process of its own and bounded. The schedules are evaluated in the order given:
the daemon's order within one iteration is not fixed (in threads in the Helm chart)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from cadbusi_assets_tests.run_support import _start, finish

_CATCH_UP = """
import datetime as dt, json, logging, os, sys
from dagster import DagsterInstance
from dagster._core.definitions.run_request import InstigatorType
from dagster._core.scheduler.scheduler import DEFAULT_MAX_CATCHUP_RUNS
from dagster._core.test_utils import freeze_time
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import ModuleTarget
from dagster._scheduler.scheduler import launch_scheduled_runs_for_schedule
from dagster._time import get_current_datetime

on, back = (dt.datetime.fromisoformat(a).replace(tzinfo=dt.UTC) for a in sys.argv[1:3])
names = sys.argv[3].split(",")
instance = DagsterInstance.get()
target = ModuleTarget(module_name="cadbusi_assets.definitions", attribute=None,
                      working_directory=os.getcwd(), location_name="cadbusi_assets")
with WorkspaceProcessContext(instance, target) as context:
    location = context.create_request_context().get_code_location("cadbusi_assets")
    repo = next(iter(location.get_repositories().values()))
    schedules = [repo.get_schedule(name) for name in names]
    with freeze_time(on):  # switched on; then the daemon is off
        for schedule in schedules:
            instance.start_schedule(schedule)
    with freeze_time(back):  # the daemon's first iteration once it is back, in this order
        for schedule in schedules:
            launch_scheduled_runs_for_schedule(
                context, logging.getLogger("scheduler"), schedule,
                instance.get_instigator_state(
                    schedule.get_remote_origin_id(), schedule.selector_id
                ),
                get_current_datetime(), DEFAULT_MAX_CATCHUP_RUNS, 0,
                instance.get_tick_retention_settings(InstigatorType.SCHEDULE),
                None, None, None,
            )
    rows = [
        {"partition": run.tags.get("dagster/partition"),
         "schedule": run.tags.get("dagster/schedule_name"),
         "status": run.status.value}
        for run in instance.get_runs()
    ]
print("RUNS " + json.dumps(rows))
"""


def catch_up(
    env: dict[str, str],
    switched_on: str,
    back_at: str,
    schedules: Sequence[str] = ("nightly_study_date_schedule", "late_arrivals_schedule"),
    timeout: float = 300,
) -> list[dict[str, str]]:
    """The runs the daemon's first iteration at ``back_at`` (ISO, UTC) submitted for
    ``schedules`` (evaluated in this order), switched on at ``switched_on`` on ``env``'s
    instance: partition, schedule, status (queued: nothing dequeues them)."""
    proc = _start([sys.executable, "-c", _CATCH_UP, switched_on, back_at, ",".join(schedules)], env)
    out = finish(proc, timeout, "the scheduler's catch-up")
    assert proc.returncode == 0, out[-3000:]
    line = next(x for x in out.splitlines() if x.startswith("RUNS "))
    return json.loads(line[len("RUNS ") :])
