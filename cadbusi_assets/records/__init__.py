"""Clinical records: warehouse adapters, report parsing, cohort selection, diagnosis labels.

Plain Python over polars frames; no Dagster here. The Dagster assets (``defs/records``) call:

- :func:`open_warehouse` → a :class:`Warehouse` (DuckDB, PostgreSQL or BigQuery) with
  ``radiology_exams``, ``pathology_specimens``, ``patients``, ``exam_counts`` per date window;
- :func:`parse_radiology_reports`, :func:`parse_pathology_reports`;
- :func:`select_cohort` → :class:`CohortSelection` (+ :func:`exclusion_counts`);
- :func:`link_pathology`, :func:`diagnosis_labels` with :class:`LabelWindows`;
- :func:`pseudonymize_labels`, :func:`scrub_report_text`, :func:`scrub_reports`;
- :func:`extract_lesions` (deterministic; optional :class:`LesionLLM`), :func:`parsing_accuracy`.
"""

from typing import TYPE_CHECKING

from cadbusi_assets.lazy import lazy_exports

if TYPE_CHECKING:
    from cadbusi_assets.records.accuracy import parsing_accuracy
    from cadbusi_assets.records.birads import extract_birads
    from cadbusi_assets.records.cohort import (
        EXCLUSION_REASONS,
        CohortSelection,
        exclusion_counts,
        select_cohort,
    )
    from cadbusi_assets.records.labels import (
        LABELS_SCHEMA,
        diagnosis_labels,
        label_disagreements,
        link_pathology,
    )
    from cadbusi_assets.records.lesions import (
        LESIONS_SCHEMA_EXTRA,
        Lesion,
        LesionLLM,
        LesionRequest,
        extract_lesions,
        lesions_from_json,
    )
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

# imported on first use (cadbusi_assets.lazy): importing one module of the package does not
# import all the others (and what they import)
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "parsing_accuracy": "cadbusi_assets.records.accuracy",
        "extract_birads": "cadbusi_assets.records.birads",
        "EXCLUSION_REASONS": "cadbusi_assets.records.cohort",
        "CohortSelection": "cadbusi_assets.records.cohort",
        "exclusion_counts": "cadbusi_assets.records.cohort",
        "select_cohort": "cadbusi_assets.records.cohort",
        "LABELS_SCHEMA": "cadbusi_assets.records.labels",
        "diagnosis_labels": "cadbusi_assets.records.labels",
        "label_disagreements": "cadbusi_assets.records.labels",
        "link_pathology": "cadbusi_assets.records.labels",
        "LESIONS_SCHEMA_EXTRA": "cadbusi_assets.records.lesions",
        "Lesion": "cadbusi_assets.records.lesions",
        "LesionLLM": "cadbusi_assets.records.lesions",
        "LesionRequest": "cadbusi_assets.records.lesions",
        "extract_lesions": "cadbusi_assets.records.lesions",
        "lesions_from_json": "cadbusi_assets.records.lesions",
        "PARSED_PATHOLOGY_SCHEMA": "cadbusi_assets.records.pathology",
        "parse_pathology_reports": "cadbusi_assets.records.pathology",
        "pseudonymize_labels": "cadbusi_assets.records.pseudonymize",
        "PARSED_COLUMNS": "cadbusi_assets.records.radiology",
        "parse_radiology_reports": "cadbusi_assets.records.radiology",
        "EXAM_COUNTS_SCHEMA": "cadbusi_assets.records.schemas",
        "PATHOLOGY_SCHEMA": "cadbusi_assets.records.schemas",
        "PATIENTS_SCHEMA": "cadbusi_assets.records.schemas",
        "RADIOLOGY_SCHEMA": "cadbusi_assets.records.schemas",
        "scrub_report_text": "cadbusi_assets.records.scrub",
        "scrub_reports": "cadbusi_assets.records.scrub",
        "Warehouse": "cadbusi_assets.records.warehouse",
        "WarehouseError": "cadbusi_assets.records.warehouse",
        "open_warehouse": "cadbusi_assets.records.warehouse",
        "LabelWindows": "cadbusi_assets.records.windows",
    },
)

__all__ = [
    "EXAM_COUNTS_SCHEMA",
    "EXCLUSION_REASONS",
    "LABELS_SCHEMA",
    "LESIONS_SCHEMA_EXTRA",
    "PARSED_COLUMNS",
    "PARSED_PATHOLOGY_SCHEMA",
    "PATHOLOGY_SCHEMA",
    "PATIENTS_SCHEMA",
    "RADIOLOGY_SCHEMA",
    "CohortSelection",
    "LabelWindows",
    "Lesion",
    "LesionLLM",
    "LesionRequest",
    "Warehouse",
    "WarehouseError",
    "diagnosis_labels",
    "exclusion_counts",
    "extract_birads",
    "extract_lesions",
    "label_disagreements",
    "lesions_from_json",
    "link_pathology",
    "open_warehouse",
    "parse_pathology_reports",
    "parse_radiology_reports",
    "parsing_accuracy",
    "pseudonymize_labels",
    "scrub_report_text",
    "scrub_reports",
    "select_cohort",
]
