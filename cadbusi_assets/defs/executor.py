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
"""

import os

import dagster as dg

EXECUTOR_ENV_VAR = "CADBUSI_EXECUTOR"
BROKER_ENV_VAR = "CADBUSI_CELERY_BROKER"
BACKEND_ENV_VAR = "CADBUSI_CELERY_BACKEND"
EXECUTORS = ("in_process", "k8s", "celery")


class ExecutorSettingError(ValueError):
    """``CADBUSI_EXECUTOR`` names no executor, or the Celery broker is missing."""


def _celery() -> dg.ExecutorDefinition:
    broker = os.environ.get(BROKER_ENV_VAR, "").strip()
    if not broker:
        raise ExecutorSettingError(
            f"CADBUSI_EXECUTOR=celery needs the broker in {BROKER_ENV_VAR} "
            "(for example redis://127.0.0.1:6379/0)."
        )
    from dagster_celery import celery_executor

    backend = os.environ.get(BACKEND_ENV_VAR, "").strip() or broker
    return celery_executor.configured({"broker": broker, "backend": backend}, name="celery")


@dg.definitions
def executor() -> dg.Definitions:
    name = os.environ.get(EXECUTOR_ENV_VAR, "").strip().lower() or "in_process"
    if name == "k8s":
        from dagster_k8s import k8s_job_executor

        return dg.Definitions(executor=k8s_job_executor)
    if name == "celery":
        return dg.Definitions(executor=_celery())
    if name != "in_process":
        raise ExecutorSettingError(
            f"{EXECUTOR_ENV_VAR}={name!r} is not one of {', '.join(EXECUTORS)}."
        )
    from cadbusi_assets.defs.pool_wait import in_process_executor

    return dg.Definitions(executor=in_process_executor)
