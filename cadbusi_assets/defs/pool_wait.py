"""The in-process executor, with a wait for a pool slot (``pacs``, ``gpu`` …) that a
termination ends.

Dagster's in-process executor waits for a pool slot in a loop that (dagster 1.13) neither
sleeps nor looks at signals: the run worker holds SIGTERM / SIGINT as a flag to be raised at
the next step, and the step is the one that waits. A run terminated from the UI while "Step
blocked by limit for pool pacs" stayed CANCELING until the run ahead of it ended (it then
started the step only to be interrupted), and spun a CPU core all that time.

:class:`PoolWait` raises the interruption while a step waits for its slot (the run ends
CANCELED, or FAILED when nobody asked for it; the pending claim is withdrawn on the way out)
and sleeps :data:`POLL_SECONDS` between looks instead of spinning. The slot itself is still
asked of the instance at Dagster's own pace. Runs of the code location get it through
:func:`in_process_executor`; ``execute_in_process`` (``cadbusi demo``, ``cadbusi export``:
:mod:`cadbusi_assets.runner`), which always uses Dagster's own executor, through
:func:`execute_in_process_waits`.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from dagster._core.events import EngineEventData
from dagster._core.execution.api import ExecuteRunWithPlanIterable
from dagster._core.execution.context.system import PlanExecutionContext, PlanOrchestrationContext
from dagster._core.execution.context_creation_job import PlanExecutionContextManager
from dagster._core.execution.plan.execute_plan import inner_plan_execution_iterator
from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext
from dagster._core.execution.plan.plan import ExecutionPlan
from dagster._core.executor import in_process
from dagster._core.executor.in_process import InProcessExecutor
from dagster._utils.interrupts import pop_captured_interrupt
from dagster._utils.timing import time_execution_scope
from dagster_shared.utils.timing import format_duration

#: Seconds between two looks at a pending pool claim (and at a termination request).
POLL_SECONDS = 0.25
#: Seconds between two looks, while a step waits for its slot, for a run of this host whose
#: process died holding the slot (it would be waited for until ``dead_run_sensor`` ran,
#: forever where no daemon runs).
DEAD_RUN_CHECK_SECONDS = 5.0


class PoolWait(InstanceConcurrencyContext):
    """Dagster's pool claims, ended by a termination while a step waits for its slot; while
    it waits, a run of this host whose process died is marked and its slots freed every
    :data:`DEAD_RUN_CHECK_SECONDS`."""

    _dead_checked = 0.0

    def interval_to_next_pending_claim_check(self) -> float:
        if not self.has_pending_claims():
            return 0.0
        if pop_captured_interrupt():
            steps = ", ".join(sorted(self.pending_claim_steps()))
            raise dg.DagsterExecutionInterruptedError(
                f"Terminated while waiting for a pool slot; steps not started: {steps}."
            )
        now = time.monotonic()
        if now - self._dead_checked >= DEAD_RUN_CHECK_SECONDS:
            self._dead_checked = now
            from cadbusi_assets.defs.run_process import release_dead_runs

            with contextlib.suppress(Exception):  # the database away a moment: next look
                release_dead_runs(self._instance)
        # Dagster answers min(0, …) here: the executor's wait loop never slept
        return POLL_SECONDS


def _steps(
    job_context: PlanExecutionContext,
    execution_plan: ExecutionPlan,
    instance_concurrency_context: InstanceConcurrencyContext | None = None,
) -> Iterator[dg.DagsterEvent]:
    """``dagster._core.executor.in_process.inprocess_execution_iterator`` with :class:`PoolWait`."""
    with PoolWait(job_context.instance, job_context.dagster_run) as claims:
        yield from inner_plan_execution_iterator(job_context, execution_plan, claims)


class PoolWaitInProcessExecutor(InProcessExecutor):
    """Dagster's :class:`InProcessExecutor` whose steps wait for pool slots in a
    :class:`PoolWait`."""

    def execute(
        self, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan
    ) -> Iterator[dg.DagsterEvent]:
        from cadbusi_assets.defs.run_process import tag_run_process

        # before any step waits for a pool slot: a killed run of this host is marked and its
        # slots freed (its first step used to do it, after waiting for the slot itself)
        tag_run_process(plan_context.instance, plan_context.dagster_run.run_id)
        # InProcessExecutor.execute (dagster 1.13) with _steps as the iterator
        pid, step_keys = os.getpid(), execution_plan.step_keys_to_execute
        yield dg.DagsterEvent.engine_event(
            plan_context,
            f"Executing steps in process (pid: {pid})",
            event_specific_data=EngineEventData.in_process(pid, step_keys),
        )
        with time_execution_scope() as timer:
            yield from ExecuteRunWithPlanIterable(
                execution_plan=plan_context.execution_plan,
                iterator=_steps,
                execution_context_manager=PlanExecutionContextManager(
                    job=plan_context.job,
                    retry_mode=plan_context.retry_mode,
                    execution_plan=plan_context.execution_plan,
                    run_config=plan_context.run_config,
                    dagster_run=plan_context.dagster_run,
                    instance=plan_context.instance,
                    raise_on_error=plan_context.raise_on_error,
                    output_capture=plan_context.output_capture,
                    step_dependency_config=self.step_dependency_config,
                ),
            )
        yield dg.DagsterEvent.engine_event(
            plan_context,
            f"Finished steps in process (pid: {pid}) in {format_duration(timer.millis)}",
            event_specific_data=EngineEventData.in_process(pid, step_keys),
        )


@dg.executor(name="in_process", config_schema=dg.in_process_executor.config_schema.as_field())
def in_process_executor(init_context: dg.InitExecutorContext) -> PoolWaitInProcessExecutor:
    """Dagster's ``in_process_executor`` (same name and config) with :class:`PoolWait`."""
    base = dg.in_process_executor.executor_creation_fn(init_context)  # type: ignore[misc]
    assert isinstance(base, InProcessExecutor)
    return PoolWaitInProcessExecutor(
        retries=base.retries,
        step_dependency_config=base.step_dependency_config,
        marker_to_close=base.marker_to_close,
    )


@contextmanager
def execute_in_process_waits() -> Iterator[None]:
    """While inside: Dagster's in-process executor of this process (the one
    ``JobDefinition.execute_in_process`` always uses) waits for pool slots in a :class:`PoolWait`
    (Ctrl-C or SIGTERM stop a run waiting for its slot). Main thread only, not re-entrant."""
    original = in_process.InstanceConcurrencyContext
    in_process.InstanceConcurrencyContext = PoolWait  # type: ignore[misc]
    try:
        yield
    finally:
        in_process.InstanceConcurrencyContext = original  # type: ignore[misc]
