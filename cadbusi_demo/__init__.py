"""Synthetic demo cohort: a clinical warehouse (DuckDB), a folder PACS of breast-ultrasound
DICOM with burned-in and header PHI, and ground truth for every image.

``generate_demo_cohort(out_dir, DemoConfig(...))`` writes everything; ``DemoCohort.load(out_dir)``
opens it again. The names are imported lazily so that worker processes, which only need the
image synthesis modules, do not pay for DuckDB and polars.

>>> from cadbusi_demo import DemoConfig
>>> DemoConfig().days
30
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cadbusi_demo.cohort import DemoCohort, generate_demo_cohort
    from cadbusi_demo.config import DemoConfig
    from cadbusi_demo.warehouse import WAREHOUSE_SCHEMA

_EXPORTS = {
    "DemoCohort": "cadbusi_demo.cohort",
    "generate_demo_cohort": "cadbusi_demo.cohort",
    "DemoConfig": "cadbusi_demo.config",
    "WAREHOUSE_SCHEMA": "cadbusi_demo.warehouse",
}

__all__ = ["WAREHOUSE_SCHEMA", "DemoCohort", "DemoConfig", "generate_demo_cohort"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'cadbusi_demo' has no attribute {name!r}")
