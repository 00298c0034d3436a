"""The executor of every job in this code location: steps run inside the run's process.

Each study-date step already spreads its images over worker processes (``parallel.py``);
a subprocess per step would add its start-up (about 8 s: Python, Dagster and this code
location) to every asset of every run and buy no parallelism. With the in-process executor a
31-date ranged run pays that start-up once. Termination interrupts the run process, which
stops the step's workers at once.
"""

import dagster as dg


@dg.definitions
def executor() -> dg.Definitions:
    return dg.Definitions(executor=dg.in_process_executor)
