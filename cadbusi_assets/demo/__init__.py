"""Synthetic demo cohort: a clinical warehouse (DuckDB), a folder PACS of breast-ultrasound
DICOM with burned-in and header PHI, and ground truth for every image.

>>> from cadbusi_assets.demo import DemoConfig
>>> DemoConfig().days
30
"""

from cadbusi_assets.demo.cohort import DemoCohort, generate_demo_cohort
from cadbusi_assets.demo.config import DemoConfig
from cadbusi_assets.demo.warehouse import WAREHOUSE_SCHEMA

__all__ = ["WAREHOUSE_SCHEMA", "DemoCohort", "DemoConfig", "generate_demo_cohort"]
