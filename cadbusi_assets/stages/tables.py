"""The registry of the per-partition tables (``tables/<name>/<partition>.parquet``) of both zones.

Every table a stage writes is listed here once: its name, its zone (``raw``: real dates and
identifiers, key holders only; ``research``: pseudonyms only), the stage module that owns
(writes) it, its polars schema (columns in order) and the columns that key a row.
:func:`write_table` writes a frame through the registry: the columns are checked and cast to
the schema (a column that a partition leaves all null keeps its type), so every partition of a
table has one schema. Readers can rely on :data:`TABLES` instead of a stage's constants.

No Dagster here; the domain modules own the schemas they already define, which this module
imports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from cadbusi_assets.identity.audit import EXPORT_AUDIT_SCHEMA, REIDENTIFICATION_AUDIT_SCHEMA
from cadbusi_assets.identity.reidentify import LINKS_SCHEMA
from cadbusi_assets.pacs.manifest import CONFLICT_SCHEMA, STUDY_SCHEMA
from cadbusi_assets.pacs.manifest import INSTANCE_SCHEMA as MANIFEST_SCHEMA
from cadbusi_assets.records.pathology import PARSED_PATHOLOGY_SCHEMA
from cadbusi_assets.records.radiology import PARSED_COLUMNS
from cadbusi_assets.records.schemas import PATIENTS_SCHEMA, RADIOLOGY_SCHEMA
from cadbusi_assets.stages.retrieval import HANDOVER_SCHEMA, REMOVED_SCHEMA
from cadbusi_assets.storage import Zone, write_partition_table
from cadbusi_assets.ultrasound.analysis import FEATURES_SCHEMA as FRAME_FEATURES
from cadbusi_assets.ultrasound.twins import TWINS_SCHEMA

Schema = Mapping[str, pl.DataType | type[pl.DataType]]

RAW = "raw"
RESEARCH = "research"


class TableSchemaError(ValueError):
    """A frame does not have the columns its registered table has (names only, no values)."""


@dataclass(frozen=True)
class Table:
    name: str
    zone: str  # RAW or RESEARCH
    stage: str  # what writes it: a module under cadbusi_assets.stages, or "identity.audit"
    schema: pl.Schema
    key: tuple[str, ...]
    description: str = ""


# -- research zone: de-identification ---------------------------------------------------------
IMAGE_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "image_id": pl.Utf8,
    "instance_id": pl.Utf8,
    "frame": pl.Int32,
    "n_frames": pl.Int32,
    "is_cine": pl.Boolean,
    "accession_pseudo": pl.Utf8,
    "patient_pseudo": pl.Utf8,
    "study_uid_pseudo": pl.Utf8,
    "series_uid_pseudo": pl.Utf8,
    "sop_uid_pseudo": pl.Utf8,
    "study_date_shifted": pl.Date,
    "manufacturer": pl.Utf8,
    "model": pl.Utf8,
    "rows": pl.Int32,
    "columns": pl.Int32,
    "photometric_original": pl.Utf8,
    "transfer_syntax_original": pl.Utf8,
    "regions": pl.List(pl.List(pl.Int32)),
    "region_formats": pl.List(pl.Int32),
    "region_data_types": pl.List(pl.Int32),
    "region_count": pl.Int32,
    "physical_delta_x_cm": pl.Float64,
    "physical_delta_y_cm": pl.Float64,
    "image_laterality": pl.Utf8,
    "is_colour": pl.Boolean,
    "png_path": pl.Utf8,
    "png_sha256": pl.Utf8,
    "dicom_path": pl.Utf8,
}

INSTANCE_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "instance_id": pl.Utf8,
    "raw_instance_key": pl.Utf8,
    "accession_pseudo": pl.Utf8,
    "sop_uid_pseudo": pl.Utf8,
    "sop_class_uid": pl.Utf8,
    "n_frames": pl.Int32,
    "frames_kept": pl.Int32,
    "dicom_path": pl.Utf8,
    "dicom_sha256": pl.Utf8,
    "pixel_cleaning": pl.Utf8,
    "blanked_fraction": pl.Float64,
    "profile": pl.Utf8,
}

QUARANTINE_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "raw_instance_key": pl.Utf8,
    "accession_pseudo": pl.Utf8,
    "stage": pl.Utf8,
    "reason": pl.Utf8,
}

RAW_QUARANTINE_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    **QUARANTINE_SCHEMA,
    "raw_path": pl.Utf8,
}

STUDIES_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "accession_pseudo": pl.Utf8,
    "patient_pseudo": pl.Utf8,
    "study_uid_pseudo": pl.Utf8,
    "study_date_shifted": pl.Date,
    "age_years": pl.Int32,
    "exam_description": pl.Utf8,
    "study_laterality": pl.Utf8,
    "birads": pl.Utf8,
    "is_biopsy": pl.Boolean,
    "findings": pl.Utf8,
    "impression": pl.Utf8,
}

# -- research zone: analysis and inpainting ---------------------------------------------------
_POINTS = pl.List(pl.List(pl.Int64))

#: ``image_features``: the image's keys from ``images``, the columns of
#: :meth:`cadbusi_assets.ultrasound.analysis.FrameAnalysis.as_row` (but ``frame``), the twin
#: signature, the study's side and the exclusion reason.
FEATURES_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "image_id": pl.Utf8,
    "instance_id": pl.Utf8,
    "frame": pl.Int32,
    "accession_pseudo": pl.Utf8,
    "is_cine": pl.Boolean,
    "rows": pl.Int32,
    "columns": pl.Int32,
    **{k: v for k, v in FRAME_FEATURES.items() if k != "frame"},
    "study_laterality": pl.Utf8,
    "exclusion_reason": pl.Utf8,
}

INPAINTED_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "image_id": pl.Utf8,
    "inpainted_path": pl.Utf8,
    "inpainted_sha256": pl.Utf8,
    "mask_pixels": pl.Int64,
    "method": pl.Utf8,
}

# -- research zone: labeling ------------------------------------------------------------------
DATA_ROWS_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "global_key": pl.Utf8,
    "external_id": pl.Utf8,
    "row_data": pl.Utf8,
    "row_data_mode": pl.Utf8,
    "row_data_expires_at": pl.Utf8,
    "queued_in": pl.Utf8,
    # sent earlier, no longer usable here; Labelbox still holds it (stages.labeling.WITHDRAWN)
    "withdrawn": pl.Boolean,
}

# -- raw zone: records and retrieval ----------------------------------------------------------
RADIOLOGY_REPORTS_SCHEMA = {**RADIOLOGY_SCHEMA, **PARSED_COLUMNS}
_PATIENT = {k: v for k, v in PATIENTS_SCHEMA.items() if k != "patient_id"}
COHORT_SCHEMA = {**RADIOLOGY_REPORTS_SCHEMA, **_PATIENT}
_UTF8: pl.DataType = pl.Utf8()
COHORT_EXCLUSIONS_SCHEMA = {**RADIOLOGY_REPORTS_SCHEMA, "exclusion_reason": _UTF8}
RESOLVED_COHORT_SCHEMA = {**COHORT_SCHEMA, "study_uid_source": _UTF8}

#: The retrieval manifest as stored (the attempt count goes to the run metadata instead).
RETRIEVAL_INSTANCES_SCHEMA = {k: v for k, v in MANIFEST_SCHEMA.items() if k != "attempts"}

UNRESOLVED_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "accession_number": pl.Utf8,
    "patient_id": pl.Utf8,
    "exam_date": pl.Date,
    "modality": pl.Utf8,
    "exam_description": pl.Utf8,
    "study_instance_uid": pl.Utf8,
    "lookup_reason": pl.Utf8,
}

KEY_FINGERPRINTS_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "partition": pl.Utf8,
    "fingerprint": pl.Utf8,
}


def _table(
    name: str, zone: str, stage: str, schema: Schema, key: tuple[str, ...], description: str
) -> Table:
    return Table(name, zone, stage, pl.Schema(dict(schema)), key, description)


_ALL = [
    # raw zone (real dates, original identifiers: key holders only)
    _table(
        "radiology_reports",
        RAW,
        "records",
        RADIOLOGY_REPORTS_SCHEMA,
        ("accession_number",),
        "warehouse exam rows of the date with the parsed report fields",
    ),
    _table(
        "pathology_reports",
        RAW,
        "records",
        PARSED_PATHOLOGY_SCHEMA,
        ("specimen_accession", "part_letter"),
        "pathology specimens of the date, one row per part",
    ),
    _table(
        "imaging_studies",
        RAW,
        "records",
        COHORT_SCHEMA,
        ("accession_number",),
        "the cohort: studies to retrieve, with the patient's name and birth date",
    ),
    _table(
        "imaging_study_exclusions",
        RAW,
        "records",
        COHORT_EXCLUSIONS_SCHEMA,
        ("accession_number",),
        "exams left out of the cohort, with the reason",
    ),
    _table(
        "retrieval_instances",
        RAW,
        "retrieval",
        RETRIEVAL_INSTANCES_SCHEMA,
        ("study_key", "instance_key"),
        "the retrieval manifest: one row per instance with its raw path and status",
    ),
    _table(
        "retrieval_studies",
        RAW,
        "retrieval",
        STUDY_SCHEMA,
        ("study_key",),
        "per study: instances expected, stored and failed",
    ),
    _table(
        "retrieval_conflicts",
        RAW,
        "retrieval",
        CONFLICT_SCHEMA,
        ("study_key", "instance_key"),
        "instances another study or date already holds (skipped)",
    ),
    _table(
        "retrieval_removed",
        RAW,
        "retrieval",
        REMOVED_SCHEMA,
        ("instance_key",),
        "instances the date once stored that a later run deleted, with the reason",
    ),
    _table(
        "retrieval_handovers",
        RAW,
        "retrieval",
        HANDOVER_SCHEMA,
        ("to_partition", "instance_key"),
        "instances the run released (their study left the cohort) that another date waits for",
    ),
    _table(
        "retrieval_cohort",
        RAW,
        "retrieval",
        RESOLVED_COHORT_SCHEMA,
        ("accession_number",),
        "the cohort with StudyInstanceUIDs found by PACS lookups",
    ),
    _table(
        "retrieval_unresolved",
        RAW,
        "retrieval",
        UNRESOLVED_SCHEMA,
        ("accession_number",),
        "cohort studies whose StudyInstanceUID no lookup found",
    ),
    _table(
        "key_fingerprints",
        RAW,
        "safety",
        KEY_FINGERPRINTS_SCHEMA,
        ("partition",),
        "the pseudonym key's fingerprint per partition (also in the research zone)",
    ),
    _table(
        "reidentification_links",
        RAW,
        "deidentification",
        LINKS_SCHEMA,
        ("kind", "pseudonym"),
        "pseudonym → original links of the date (cadbusi reidentify)",
    ),
    _table(
        "deidentification_quarantine",
        RAW,
        "deidentification",
        RAW_QUARANTINE_SCHEMA,
        ("raw_instance_key",),
        "quarantined instances with their raw paths",
    ),
    _table(
        "export_audit",
        RAW,
        "identity.audit",
        EXPORT_AUDIT_SCHEMA,
        ("event_id",),
        "one row per export (who, run, partitions); one file per event, never replaced",
    ),
    _table(
        "reidentification_audit",
        RAW,
        "identity.audit",
        REIDENTIFICATION_AUDIT_SCHEMA,
        ("event_id",),
        "one row per cadbusi reidentify lookup; one file per event, never replaced",
    ),
    # research zone (pseudonyms only, partitioned by research batch)
    _table(
        "instances",
        RESEARCH,
        "deidentification",
        INSTANCE_SCHEMA,
        ("instance_id",),
        "de-identified DICOM instances",
    ),
    _table(
        "images",
        RESEARCH,
        "deidentification",
        IMAGE_SCHEMA,
        ("image_id",),
        "one PNG per kept frame of a de-identified instance",
    ),
    _table(
        "quarantine",
        RESEARCH,
        "deidentification",
        QUARANTINE_SCHEMA,
        ("raw_instance_key",),
        "instances that could not be de-identified, with the reason",
    ),
    _table(
        "studies",
        RESEARCH,
        "deidentification",
        STUDIES_SCHEMA,
        ("accession_pseudo",),
        "pseudonymized study rows with scrubbed report text",
    ),
    _table(
        "image_features",
        RESEARCH,
        "analysis",
        FEATURES_SCHEMA,
        ("image_id",),
        "field of view, calipers, Doppler, OCR fields, quality, exclusion reason per image",
    ),
    _table(
        "twins",
        RESEARCH,
        "analysis",
        TWINS_SCHEMA,
        ("caliper_image_id",),
        "caliper image → nearest clean image of the same study and geometry",
    ),
    _table(
        "inpainted_images",
        RESEARCH,
        "analysis",
        INPAINTED_SCHEMA,
        ("image_id",),
        "caliper-free PNGs of images with calipers and no clean twin",
    ),
    _table(
        "labelbox_data_rows",
        RESEARCH,
        "labeling",
        DATA_ROWS_SCHEMA,
        ("global_key",),
        "images queued to Labelbox",
    ),
]

#: ``(zone, name)`` → table. ``key_fingerprints`` is written to both zones.
TABLES: dict[tuple[str, str], Table] = {(t.zone, t.name): t for t in _ALL}
TABLES[(RESEARCH, "key_fingerprints")] = Table(
    "key_fingerprints",
    RESEARCH,
    "safety",
    pl.Schema(KEY_FINGERPRINTS_SCHEMA),
    ("partition",),
    "the pseudonym key's fingerprint per research batch",
)


def table(name: str, zone: str) -> Table:
    """The registered table; :class:`KeyError` when there is none."""
    return TABLES[(zone, name)]


def conform(name: str, zone: str, frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with exactly the registered columns, in order and cast to their types.

    A frame without rows may lack columns (it gets them, empty); otherwise a missing or an
    extra column is a :class:`TableSchemaError`: a stage that changes what it writes changes
    the registry too.
    """
    schema = table(name, zone).schema
    missing = [c for c in schema if c not in frame.columns]
    extra = [c for c in frame.columns if c not in schema]
    if extra or (missing and frame.height):
        raise TableSchemaError(
            f"table {name} ({zone} zone): columns not in the registry {extra}, "
            f"registered columns missing {missing}"
        )
    return frame.select(
        [
            (pl.col(c) if c in frame.columns else pl.lit(None)).cast(dtype).alias(c)
            for c, dtype in schema.items()
        ]
    )


def write_table(zone: Zone, zone_kind: str, name: str, partition: str, frame: pl.DataFrame):
    """Write one partition of a registered table (``zone_kind``: :data:`RAW` or
    :data:`RESEARCH`), conformed to its schema."""
    return write_partition_table(zone, name, partition, conform(name, zone_kind, frame))
