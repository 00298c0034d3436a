"""The executor of every job in this code location.

By default steps run inside the run's process (``in_process_executor``): each study-date step
already spreads its images over worker processes (``parallel.py``); a subprocess per step
would add its start-up (Python, Dagster and this code location) to every asset of every run and
buy no parallelism. With the in-process executor a 31-date ranged run pays that start-up once,
and termination interrupts the run process, which stops the step's workers at once (and a run
still waiting for a pool slot: :mod:`cadbusi_assets.defs.pool_wait`).

``CADBUSI_EXECUTOR=k8s`` gives every step its own Kubernetes pod (``k8s_job_executor``, for
example inpainting on a GPU node pool; see ``deploy/helm``). ``CADBUSI_EXECUTOR=celery`` sends
every step to Celery workers (``dagster-celery``, the ``celery`` extra) through the broker in
``CADBUSI_CELERY_BROKER`` (``redis://host:6379/0``; results go to ``CADBUSI_CELERY_BACKEND``,
default the broker).

With either, steps run in worker processes (pods) that outlive the run, so the run's own
process, which orchestrates the steps, records itself and beats
(:mod:`cadbusi_assets.defs.run_process`) before it hands out the first step
(:func:`orchestrator_records_itself`): a run whose orchestrating process died is then marked
failed by ``dead_run_sensor`` like an in-process run, whatever its workers do.
"""

import os
from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster._core.execution.context.system import PlanOrchestrationContext
from dagster._core.execution.plan.plan import ExecutionPlan
from dagster._core.execution.retries import RetryMode
from dagster._core.execution.step_dependency_config import StepDependencyConfig
from dagster._core.executor.base import Executor

EXECUTOR_ENV_VAR = "CADBUSI_EXECUTOR"
BROKER_ENV_VAR = "CADBUSI_CELERY_BROKER"
BACKEND_ENV_VAR = "CADBUSI_CELERY_BACKEND"
EXECUTORS = ("in_process", "k8s", "celery")


class ExecutorSettingError(ValueError):
    """``CADBUSI_EXECUTOR`` names no executor, or the Celery broker is missing."""


class _RecordingOrchestrator(Executor):
    """``inner``, whose orchestrating process records itself as the run's process first."""

    def __init__(self, inner: Executor) -> None:
        self._inner = inner

    @property
    def retries(self) -> RetryMode:
        return self._inner.retries

    @property
    def step_dependency_config(self) -> StepDependencyConfig:
        return self._inner.step_dependency_config

    def __getattr__(self, name: str) -> Any:  # app_args() of the Celery executor …
        return getattr(self._inner, name)

    def execute(
        self, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan
    ) -> Iterator[dg.DagsterEvent]:
        from cadbusi_assets.defs.run_process import tag_run_process

        tag_run_process(plan_context.instance, plan_context.dagster_run.run_id, orchestrator=True)
        yield from self._inner.execute(plan_context, execution_plan)


def orchestrator_records_itself(inner: dg.ExecutorDefinition) -> dg.ExecutorDefinition:
    """``inner`` (an executor whose steps run in other processes: Celery, Kubernetes) whose
    orchestrating process records itself as the run's process and beats: before, the first
    step recorded its worker's process, which lives on after the run, so a run whose
    orchestrator died stayed STARTED for ever, its pool slots held."""
    create = inner.executor_creation_fn
    assert create is not None

    def creation(init_context: dg.InitExecutorContext) -> Executor:
        return _RecordingOrchestrator(create(init_context))

    return dg.ExecutorDefinition(
        name=inner.name,
        config_schema=inner.config_schema.as_field(),
        requirements=inner.get_requirements,
        executor_creation_fn=creation,
        description=inner.description,
    )


def _celery() -> dg.ExecutorDefinition:
    broker = os.environ.get(BROKER_ENV_VAR, "").strip()
    if not broker:
        raise ExecutorSettingError(
            f"CADBUSI_EXECUTOR=celery needs the broker in {BROKER_ENV_VAR} "
            "(for example redis://127.0.0.1:6379/0)."
        )
    from dagster_celery import celery_executor

    backend = os.environ.get(BACKEND_ENV_VAR, "").strip() or broker
    return orchestrator_records_itself(celery_executor).configured(
        {"broker": broker, "backend": backend}, name="celery"
    )


@dg.definitions
def executor() -> dg.Definitions:
    name = os.environ.get(EXECUTOR_ENV_VAR, "").strip().lower() or "in_process"
    if name == "k8s":
        from dagster_k8s import k8s_job_executor

        return dg.Definitions(executor=orchestrator_records_itself(k8s_job_executor))
    if name == "celery":
        return dg.Definitions(executor=_celery())
    if name != "in_process":
        raise ExecutorSettingError(
            f"{EXECUTOR_ENV_VAR}={name!r} is not one of {', '.join(EXECUTORS)}."
        )
    from cadbusi_assets.defs.pool_wait import in_process_executor

    return dg.Definitions(executor=in_process_executor)
