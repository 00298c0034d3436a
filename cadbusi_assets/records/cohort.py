"""Cohort selection for ``imaging_studies``: the ultrasound breast studies to retrieve.

Every input row ends up either in the cohort or in the exclusions with one
``exclusion_reason`` (the first rule that applies, in this order):

1. ``not ultrasound`` — modality is not US;
2. ``axilla only`` — the description names the axilla and not the breast;
3. ``outside read`` — an outside-film read or second opinion (images are not ours);
4. ``report not final`` — report status is cancelled/deleted (configurable);
5. ``BI-RADS 0`` — incomplete assessment (configurable);
6. ``missing PACS reference`` — no study_instance_uid to retrieve;
7. ``duplicate row`` — the same accession and study UID again (warehouse fan-out); the first
   row stays in the cohort;
8. ``duplicate accession`` — one accession with several different study UIDs: all its rows
   are excluded, since the images cannot be attributed.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

EXCLUSION_REASONS: tuple[str, ...] = (
    "not ultrasound",
    "axilla only",
    "outside read",
    "report not final",
    "BI-RADS 0",
    "missing PACS reference",
    "duplicate row",
    "duplicate accession",
)

DEFAULT_EXCLUDED_STATUSES: tuple[str, ...] = (
    "CANCELLED",
    "CANCELED",
    "DELETED",
    "VOID",
    "ENTERED IN ERROR",
)


@dataclass(frozen=True)
class CohortSelection:
    """``cohort``: one row per accession to retrieve; ``exclusions``: every excluded input row
    with ``exclusion_reason``."""

    cohort: pl.DataFrame
    exclusions: pl.DataFrame


def select_cohort(
    parsed_radiology: pl.DataFrame,
    *,
    exclude_outside_reads: bool = True,
    exclude_axilla_only: bool = True,
    exclude_birads_0: bool = True,
    require_pacs_reference: bool = True,
    excluded_report_statuses: tuple[str, ...] = DEFAULT_EXCLUDED_STATUSES,
) -> CohortSelection:
    """Split parsed radiology rows (output of ``parse_radiology_reports``) into the cohort and
    the recorded exclusions. Both keep all input columns; exclusions add ``exclusion_reason``."""
    frame = parsed_radiology
    for column in ("modality", "study_instance_uid", "report_status", "birads"):
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.Utf8).alias(column))
    description = pl.col("exam_description").fill_null("").str.to_uppercase()
    modality = pl.col("modality").fill_null("").str.strip_chars().str.to_uppercase()
    uid = pl.col("study_instance_uid").str.strip_chars()
    status = pl.col("report_status").fill_null("").str.strip_chars().str.to_uppercase()
    statuses = [s.upper() for s in excluded_report_statuses]

    reason = (
        pl.when(modality != "US")
        .then(pl.lit("not ultrasound"))
        .when(
            pl.lit(exclude_axilla_only)
            & description.str.contains(r"\bAXILL\w*")
            & ~description.str.contains(r"\bBREASTS?\b")
        )
        .then(pl.lit("axilla only"))
        .when(
            pl.lit(exclude_outside_reads)
            & description.str.contains(r"\bOUTSIDE\b|\bSECOND OPINION\b|\bOUTSIDE FILMS?\b|\bOSH\b")
        )
        .then(pl.lit("outside read"))
        .when(status.is_in(statuses))
        .then(pl.lit("report not final"))
        .when(pl.lit(exclude_birads_0) & (pl.col("birads") == "0").fill_null(False))
        .then(pl.lit("BI-RADS 0"))
        .when(pl.lit(require_pacs_reference) & (uid.is_null() | (uid.str.len_chars() == 0)))
        .then(pl.lit("missing PACS reference"))
    )
    staged = frame.with_row_index("__order").with_columns(reason.alias("exclusion_reason"))
    candidates = staged.filter(pl.col("exclusion_reason").is_null())
    uid_count = pl.col("study_instance_uid").n_unique().over("accession_number")
    first_of_uid = pl.col("__order") == pl.col("__order").min().over(
        "accession_number", "study_instance_uid"
    )
    candidates = candidates.with_columns(
        pl.when(uid_count > 1)
        .then(pl.lit("duplicate accession"))
        .when(~first_of_uid)
        .then(pl.lit("duplicate row"))
        .alias("exclusion_reason")
    )
    decided = pl.concat([staged.filter(pl.col("exclusion_reason").is_not_null()), candidates]).sort(
        "__order"
    )
    cohort = decided.filter(pl.col("exclusion_reason").is_null()).drop(
        "__order", "exclusion_reason"
    )
    exclusions = decided.filter(pl.col("exclusion_reason").is_not_null()).drop("__order")
    return CohortSelection(cohort=cohort, exclusions=exclusions)


def exclusion_counts(selection: CohortSelection) -> dict[str, int]:
    """Excluded rows per reason (every known reason present, zero when unused), for asset
    metadata."""
    counts = {reason: 0 for reason in EXCLUSION_REASONS}
    if selection.exclusions.height:
        for reason, n in selection.exclusions.group_by("exclusion_reason").len().iter_rows():
            counts[reason] = int(n)
    return counts
