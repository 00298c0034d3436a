"""Cross-exam radiology features of each exam, from the patient's exams in a bounded span.

The span is :class:`~cadbusi_assets.records.windows.HistoryWindows` (3 years back, 1 year
forward by default); exams outside it are never used, so the result depends only on what the
warehouse holds around the exam, not on which other dates were parsed in the same run.

- ``biopsy_guidance`` on non-biopsy exams: copied from the patient's nearest biopsy whose
  date lies ``guidance_before_days`` before to ``guidance_after_days`` after the exam
  (default −30…+120 days, the next biopsy preferred);
- ``days_to_biopsy``: days to the patient's next biopsy within ``forward_days`` (0 on biopsy
  exams); if none, minus the days since the most recent one within ``lookback_days``; null
  when the patient has no biopsy in the span;
- ``left_prior_breast_biopsies`` / ``right_prior_breast_biopsies``: earlier biopsy exams on that
  side within ``lookback_days`` (a bilateral biopsy counts for both);
- ``previous_worst_mg`` / ``previous_worst_mg_accession``: for ultrasound exams, the worst
  mammogram BI-RADS on the same side on or up to ``lookback_days`` before the exam date
  (order 0 < 1 < 2 < 3 < 4 < 4A < 4B < 4C < 5 < 6; a bilateral mammogram counts for both
  sides, a bilateral ultrasound takes the worse side).

:func:`add_exam_history` reads the other exams from ``context`` (default: the frame itself).
:mod:`cadbusi_assets.records.history_context` reads the full span from the warehouse.
"""

from __future__ import annotations

import polars as pl

from cadbusi_assets.records.sides import explode_sides
from cadbusi_assets.records.windows import HistoryWindows

MG_SEVERITY: tuple[str, ...] = ("0", "1", "2", "3", "4", "4A", "4B", "4C", "5", "6")

HISTORY_COLUMNS = (
    "days_to_biopsy",
    "left_prior_breast_biopsies",
    "right_prior_breast_biopsies",
    "previous_worst_mg",
    "previous_worst_mg_accession",
)

#: the parsed columns the history reads, of the exams and of their context
HISTORY_INPUT_COLUMNS = (
    "patient_id",
    "exam_date",
    "is_biopsy",
    "biopsy_guidance",
    "study_laterality",
    "modality",
    "birads",
    "accession_number",
)


def add_exam_history(
    frame: pl.DataFrame,
    *,
    key: str,
    context: pl.DataFrame | None = None,
    windows: HistoryWindows | None = None,
) -> pl.DataFrame:
    """``frame`` (unique ``key``; parsed columns :data:`HISTORY_INPUT_COLUMNS`) with the
    history columns added and ``biopsy_guidance`` propagated.

    ``context`` (the same columns, no key) holds the exams the history is taken from; it must
    contain every exam of the frame's patients within the windows' span around each row (the
    frame's own exams included). Default: the frame itself.
    """
    windows = windows or HistoryWindows()
    exams = frame.select(key, *HISTORY_INPUT_COLUMNS)
    others = (exams if context is None else context).select(HISTORY_INPUT_COLUMNS)
    lookback, forward = windows.lookback_days, windows.forward_days
    guidance_before_days = windows.guidance_before_days
    guidance_after_days = windows.guidance_after_days
    biopsies = others.filter(pl.col("is_biopsy") & pl.col("exam_date").is_not_null()).select(
        "patient_id",
        pl.col("exam_date").alias("biopsy_date"),
        pl.col("biopsy_guidance").alias("_guidance"),
        pl.col("study_laterality").alias("_biopsy_laterality"),
    )
    pairs = exams.select(key, "patient_id", "exam_date").join(
        biopsies, on="patient_id", how="inner"
    )
    pairs = pairs.with_columns(
        (pl.col("biopsy_date") - pl.col("exam_date")).dt.total_days().alias("_delta")
    ).filter(pl.col("_delta").is_between(-lookback, forward))

    nearest = pairs.group_by(key).agg(
        pl.col("_delta").filter(pl.col("_delta") >= 0).min().alias("_next"),
        pl.col("_delta").filter(pl.col("_delta") < 0).max().alias("_last"),
        _nearest_guidance(0, guidance_after_days, pl.col("_delta")).alias("_guidance_next"),
        _nearest_guidance(-guidance_before_days, -1, -pl.col("_delta")).alias("_guidance_last"),
    )

    side_pairs = explode_sides(pairs.filter(pl.col("_delta") < 0), "_biopsy_laterality")
    prior_counts = side_pairs.group_by(key).agg(
        (pl.col("side") == "LEFT").sum().cast(pl.Int32).alias("left_prior_breast_biopsies"),
        (pl.col("side") == "RIGHT").sum().cast(pl.Int32).alias("right_prior_breast_biopsies"),
    )

    worst_mg = _previous_worst_mg(exams, others, key, lookback)

    result = (
        frame.join(nearest, on=key, how="left")
        .join(prior_counts, on=key, how="left")
        .join(worst_mg, on=key, how="left")
        .with_columns(
            pl.coalesce(pl.col("_next"), pl.col("_last")).cast(pl.Int32).alias("days_to_biopsy"),
            pl.coalesce(
                pl.col("biopsy_guidance"), pl.col("_guidance_next"), pl.col("_guidance_last")
            ).alias("biopsy_guidance"),
            pl.col("left_prior_breast_biopsies").fill_null(0),
            pl.col("right_prior_breast_biopsies").fill_null(0),
        )
        .drop("_next", "_last", "_guidance_next", "_guidance_last")
    )
    return result


def _nearest_guidance(low: int, high: int, distance: pl.Expr) -> pl.Expr:
    """The guidance of the biopsy with the smallest ``distance`` among those with ``_delta``
    in ``[low, high]`` (ties broken by the guidance text, so row order never matters)."""
    inside = pl.col("_delta").is_between(low, high)
    return (
        pl.col("_guidance")
        .filter(inside)
        .sort_by(distance.filter(inside), pl.col("_guidance").filter(inside), nulls_last=True)
        .first()
    )


def _previous_worst_mg(
    exams: pl.DataFrame, others: pl.DataFrame, key: str, lookback: int
) -> pl.DataFrame:
    severity = {c: i for i, c in enumerate(MG_SEVERITY)}
    us = explode_sides(exams.filter(pl.col("modality") == "US"), "study_laterality").select(
        key, "patient_id", "exam_date", "side"
    )
    mg = explode_sides(
        others.filter((pl.col("modality") == "MG") & pl.col("birads").is_in(MG_SEVERITY)),
        "study_laterality",
    ).select(
        "patient_id",
        "side",
        pl.col("exam_date").alias("_mg_date"),
        pl.col("birads").alias("_mg_birads"),
        pl.col("accession_number").alias("_mg_accession"),
        pl.col("birads").replace_strict(severity, return_dtype=pl.Int32).alias("_severity"),
    )
    joined = us.join(mg, on=["patient_id", "side"], how="inner").filter(
        pl.col("_mg_date").is_between(
            pl.col("exam_date") - pl.duration(days=lookback), pl.col("exam_date")
        )
    )
    return joined.group_by(key).agg(
        pl.col("_mg_birads")
        .sort_by("_severity", "_mg_date", "_mg_accession")
        .last()
        .alias("previous_worst_mg"),
        pl.col("_mg_accession")
        .sort_by("_severity", "_mg_date", "_mg_accession")
        .last()
        .alias("previous_worst_mg_accession"),
    )
