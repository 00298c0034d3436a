"""Clinical records: warehouse adapters, report parsing, cohort selection, diagnosis labels.

Plain Python over polars frames; no Dagster here. The Dagster assets (``defs/records``) call:

- :func:`open_warehouse` → a :class:`Warehouse` (DuckDB, PostgreSQL or BigQuery) with
  ``radiology_exams``, ``pathology_specimens``, ``patients``, ``exam_counts`` per date window;
- :func:`parse_radiology_reports`, :func:`parse_pathology_reports`;
- :func:`select_cohort` → :class:`CohortSelection` (+ :func:`exclusion_counts`);
- :func:`link_pathology`, :func:`diagnosis_labels` with :class:`LabelWindows`;
- :func:`pseudonymize_labels`, :func:`scrub_report_text`, :func:`scrub_reports`.
"""

from cadbusi_assets.records.birads import extract_birads
from cadbusi_assets.records.cohort import (
    EXCLUSION_REASONS,
    CohortSelection,
    exclusion_counts,
    select_cohort,
)
from cadbusi_assets.records.labels import LABELS_SCHEMA, diagnosis_labels, link_pathology
from cadbusi_assets.records.pathology import PARSED_PATHOLOGY_SCHEMA, parse_pathology_reports
from cadbusi_assets.records.pseudonymize import pseudonymize_labels
from cadbusi_assets.records.radiology import PARSED_COLUMNS, parse_radiology_reports
from cadbusi_assets.records.schemas import (
    EXAM_COUNTS_SCHEMA,
    PATHOLOGY_SCHEMA,
    PATIENTS_SCHEMA,
    RADIOLOGY_SCHEMA,
)
from cadbusi_assets.records.scrub import scrub_report_text, scrub_reports
from cadbusi_assets.records.warehouse import Warehouse, WarehouseError, open_warehouse
from cadbusi_assets.records.windows import LabelWindows

__all__ = [
    "EXAM_COUNTS_SCHEMA",
    "EXCLUSION_REASONS",
    "LABELS_SCHEMA",
    "PARSED_COLUMNS",
    "PARSED_PATHOLOGY_SCHEMA",
    "PATHOLOGY_SCHEMA",
    "PATIENTS_SCHEMA",
    "RADIOLOGY_SCHEMA",
    "CohortSelection",
    "LabelWindows",
    "Warehouse",
    "WarehouseError",
    "diagnosis_labels",
    "exclusion_counts",
    "extract_birads",
    "link_pathology",
    "open_warehouse",
    "parse_pathology_reports",
    "parse_radiology_reports",
    "pseudonymize_labels",
    "scrub_report_text",
    "scrub_reports",
    "select_cohort",
]
