"""Cross-exam radiology features, computed within one patient's exams in the given frame.

- ``biopsy_guidance`` on non-biopsy exams: copied from the patient's nearest biopsy whose
  date lies ``before_days`` before to ``after_days`` after the exam (default −30…+120 days,
  the next biopsy preferred);
- ``days_to_biopsy``: days to the patient's next biopsy (0 on biopsy exams); if none follows,
  minus the days since the most recent one; null for patients without a biopsy;
- ``left_prior_breast_biopsies`` / ``right_prior_breast_biopsies``: earlier biopsy exams on that
  side (a bilateral biopsy counts for both);
- ``previous_worst_mg`` / ``previous_worst_mg_accession``: for ultrasound exams, the worst
  mammogram BI-RADS on the same side on or before the exam date (order 0 < 1 < 2 < 3 < 4 < 4A
  < 4B < 4C < 5 < 6; a bilateral mammogram counts for both sides, a bilateral ultrasound takes
  the worse side).

Only the exams in the frame are seen: to get these right, parse a window wide enough to hold
the biopsies and prior mammograms of interest (the labels asset does).
"""

from __future__ import annotations

import polars as pl

from cadbusi_assets.records.sides import explode_sides

MG_SEVERITY: tuple[str, ...] = ("0", "1", "2", "3", "4", "4A", "4B", "4C", "5", "6")

HISTORY_COLUMNS = (
    "days_to_biopsy",
    "left_prior_breast_biopsies",
    "right_prior_breast_biopsies",
    "previous_worst_mg",
    "previous_worst_mg_accession",
)


def add_exam_history(
    frame: pl.DataFrame,
    *,
    key: str,
    guidance_before_days: int = 30,
    guidance_after_days: int = 120,
) -> pl.DataFrame:
    """``frame`` (unique ``key``; parsed columns patient_id, exam_date, is_biopsy,
    biopsy_guidance, study_laterality, modality, birads, accession_number) with the history
    columns added and ``biopsy_guidance`` propagated."""
    exams = frame.select(
        key,
        "patient_id",
        "exam_date",
        "is_biopsy",
        "biopsy_guidance",
        "study_laterality",
        "modality",
        "birads",
        "accession_number",
    )
    biopsies = exams.filter(pl.col("is_biopsy") & pl.col("exam_date").is_not_null()).select(
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
    )

    nearest = pairs.group_by(key).agg(
        pl.col("_delta").filter(pl.col("_delta") >= 0).min().alias("_next"),
        pl.col("_delta").filter(pl.col("_delta") < 0).max().alias("_last"),
        pl.col("_guidance")
        .filter(pl.col("_delta").is_between(0, guidance_after_days))
        .sort_by(pl.col("_delta").filter(pl.col("_delta").is_between(0, guidance_after_days)))
        .first()
        .alias("_guidance_next"),
        pl.col("_guidance")
        .filter(pl.col("_delta").is_between(-guidance_before_days, -1))
        .sort_by(-pl.col("_delta").filter(pl.col("_delta").is_between(-guidance_before_days, -1)))
        .first()
        .alias("_guidance_last"),
    )

    side_pairs = explode_sides(pairs.filter(pl.col("_delta") < 0), "_biopsy_laterality")
    prior_counts = side_pairs.group_by(key).agg(
        (pl.col("side") == "LEFT").sum().cast(pl.Int32).alias("left_prior_breast_biopsies"),
        (pl.col("side") == "RIGHT").sum().cast(pl.Int32).alias("right_prior_breast_biopsies"),
    )

    worst_mg = _previous_worst_mg(exams, key)

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


def _previous_worst_mg(exams: pl.DataFrame, key: str) -> pl.DataFrame:
    severity = {c: i for i, c in enumerate(MG_SEVERITY)}
    us = explode_sides(exams.filter(pl.col("modality") == "US"), "study_laterality").select(
        key, "patient_id", "exam_date", "side"
    )
    mg = explode_sides(
        exams.filter((pl.col("modality") == "MG") & pl.col("birads").is_in(MG_SEVERITY)),
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
        pl.col("_mg_date") <= pl.col("exam_date")
    )
    return joined.group_by(key).agg(
        pl.col("_mg_birads").sort_by("_severity", "_mg_date").last().alias("previous_worst_mg"),
        pl.col("_mg_accession")
        .sort_by("_severity", "_mg_date")
        .last()
        .alias("previous_worst_mg_accession"),
    )
