"""The executor of every job in this code location.

By default steps run inside the run's process (``in_process_executor``): each study-date step
already spreads its images over worker processes (``parallel.py``); a subprocess per step
would add its start-up (Python, Dagster and this code location) to every asset of every run and
buy no parallelism. With the in-process executor a 31-date ranged run pays that start-up once,
and termination interrupts the run process, which stops the step's workers at once.

``CADBUSI_EXECUTOR=k8s`` gives every step its own Kubernetes pod (``k8s_job_executor``, for
example inpainting on a GPU node pool; see ``deploy/helm``).
"""

import os

import dagster as dg

EXECUTOR_ENV_VAR = "CADBUSI_EXECUTOR"


@dg.definitions
def executor() -> dg.Definitions:
    if os.environ.get(EXECUTOR_ENV_VAR, "").strip().lower() == "k8s":
        from dagster_k8s import k8s_job_executor

        return dg.Definitions(executor=k8s_job_executor)
    return dg.Definitions(executor=dg.in_process_executor)
