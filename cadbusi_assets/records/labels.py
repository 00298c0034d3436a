"""Pathology linking and per-breast diagnosis labels (cadbusi.md §2.4), as polars joins.

:func:`diagnosis_labels` gives one row per (ultrasound accession, side). Rules, in order; the
first that applies sets the label, except the "4" family, which overrides:

========== =============================================================================
rule       when (windows from :class:`LabelWindows`, relative to the exam date)
========== =============================================================================
MALIGNANT0 pathology of the same patient and encounter on that breast, any part malignant
BENIGN0    same, all parts with an interpretation benign. A part of unknown side counts for
           a unilateral exam only. Skipped when the report says the pathology is discordant.
BENIGN1    BI-RADS 1/2; no biopsy −30…+120 d; no BI-RADS other than 1/2 on that side in the
           next 730 d; no malignant pathology on that side in the next 450 d; follow-up ≥180 d
BENIGN3    BI-RADS 3; same biopsy and malignancy rules; every follow-up BI-RADS within
           1095 d is 1/2, or all are 1/2/3 with one exam ≥730 d out; follow-up ≥180 d
MALIGNANT1 BI-RADS 6 and malignant pathology on that breast
MALIGNANT2 malignant pathology on that breast 0…240 d after the exam, BI-RADS 4/4A/4B/4C/5/6
           and a biopsy exam on that breast in the same window (or the exam is the biopsy)
BENIGN2    benign and no malignant pathology on that breast 0…240 d after, BI-RADS 1–4B
MALIGNANT4 the report's own pathology section says malignant (overrides; disagreements are
BENIGN4    kept in ``overridden_rule``); benign → BENIGN4
========== =============================================================================

Fixes to the original: a side without evidence stays unknown (``label`` null,
``has_malignant = -1``), never benign; pathology links only to ultrasound exams; parts of
unknown side never label a bilateral exam; the override family applies to one side only when
the side is known.
"""

from __future__ import annotations

import polars as pl

from cadbusi_assets.records.exam_facts import laterality_from_text
from cadbusi_assets.records.sides import explode_sides
from cadbusi_assets.records.windows import LabelWindows

LABELS_SCHEMA = pl.Schema(
    {
        "patient_id": pl.Utf8,
        "accession_number": pl.Utf8,
        "exam_date": pl.Date,
        "side": pl.Utf8,
        "study_laterality": pl.Utf8,
        "birads": pl.Utf8,
        "label": pl.Utf8,
        "has_malignant": pl.Int8,
        "evidence_code": pl.Int8,
        "rule": pl.Utf8,
        "source": pl.Utf8,
        "specimen_accession": pl.Utf8,
        "overridden_rule": pl.Utf8,
        "prior_breast_cancer": pl.Int8,
    }
)

LINKS_SCHEMA_EXTRA = pl.Schema(
    {
        "side": pl.Utf8,
        "biopsy_accession": pl.Utf8,
        "biopsy_date": pl.Date,
        "accession_number": pl.Utf8,
        "exam_date": pl.Date,
        "days_exam_to_specimen": pl.Int32,
    }
)

_KEY = ["accession_number", "side"]
_SUSPICIOUS = ["4", "4A", "4B", "4C", "5", "6"]
_BENIGN2_BIRADS = ["1", "2", "3", "4", "4A", "4B"]


def _exams(parsed_radiology: pl.DataFrame) -> pl.DataFrame:
    """One row per accession (its ultrasound row if it has one, else the first), with the
    columns the rules need."""
    frame = parsed_radiology
    defaults = {
        "modality": pl.Utf8,
        "encounter_id": pl.Utf8,
        "concordance": pl.Boolean,
        "pathology_category": pl.Utf8,
        "pathology_text": pl.Utf8,
        "is_biopsy": pl.Boolean,
    }
    frame = frame.with_columns(
        [pl.lit(None, dtype=t).alias(c) for c, t in defaults.items() if c not in frame.columns]
    )
    # one row per accession; an accession with an ultrasound row is an ultrasound exam
    return (
        frame.filter(pl.col("accession_number").is_not_null() & pl.col("exam_date").is_not_null())
        .sort(pl.col("modality").str.to_uppercase().ne_missing("US"), maintain_order=True)
        .unique("accession_number", keep="first", maintain_order=True)
        .select(
            "patient_id",
            "accession_number",
            "encounter_id",
            "exam_date",
            pl.col("modality").str.to_uppercase().alias("modality"),
            "study_laterality",
            "birads",
            pl.col("is_biopsy").fill_null(False),
            "concordance",
            "pathology_category",
            "pathology_text",
        )
    )


def _parts(parsed_pathology: pl.DataFrame) -> pl.DataFrame:
    return parsed_pathology.filter(pl.col("specimen_date").is_not_null()).select(
        "patient_id",
        pl.col("encounter_id").alias("path_encounter_id"),
        "specimen_accession",
        "part_letter",
        "specimen_date",
        pl.col("laterality").fill_null("UNKNOWN").alias("path_laterality"),
        pl.col("interpretation").fill_null("UNKNOWN"),
    )


def _part_matches_side(exam_laterality: pl.Expr, side: pl.Expr) -> pl.Expr:
    """A part is on this exam side: same side, or unknown side and a unilateral exam."""
    return (pl.col("path_laterality") == side) | (
        (pl.col("path_laterality") == "UNKNOWN") & exam_laterality.is_in(["LEFT", "RIGHT"])
    )


def link_pathology(
    parsed_radiology: pl.DataFrame,
    parsed_pathology: pl.DataFrame,
    windows: LabelWindows = LabelWindows(),
) -> pl.DataFrame:
    """Each pathology part with the prior ultrasound exam of the same breast.

    1. The part's biopsy exam: the patient's biopsy exam (any modality) from
       ``pathology_after_biopsy_days`` before to ``pathology_before_biopsy_days`` after the
       specimen date, on a compatible side; same encounter preferred, then the closest.
    2. The linked exam: the latest non-biopsy **ultrasound** exam covering the part's side
       (unilateral same side or bilateral; any side for a part of unknown side) at most
       ``link_lookback_days`` before the biopsy date (the specimen date without a biopsy).

    Returns the parsed pathology columns plus ``side`` (the part's side, or the linked exam's
    when the part's is unknown), ``biopsy_accession``, ``biopsy_date``, ``accession_number``,
    ``exam_date``, ``days_exam_to_specimen`` (null where nothing links).
    """
    exams = _exams(parsed_radiology)
    parts = parsed_pathology.with_row_index("__part")
    lat = pl.col("path_laterality")

    biopsies = exams.filter(pl.col("is_biopsy")).select(
        "patient_id",
        pl.col("accession_number").alias("biopsy_accession"),
        pl.col("exam_date").alias("biopsy_date"),
        pl.col("encounter_id").alias("biopsy_encounter"),
        pl.col("study_laterality").alias("biopsy_laterality"),
    )
    part_keys = parts.select(
        "__part",
        "patient_id",
        "encounter_id",
        "specimen_date",
        pl.col("laterality").fill_null("UNKNOWN").alias("path_laterality"),
    )
    biopsy_delta = (pl.col("specimen_date") - pl.col("biopsy_date")).dt.total_days()
    biopsy_match = (
        part_keys.join(biopsies, on="patient_id", how="inner")
        .filter(
            biopsy_delta.is_between(
                -windows.pathology_before_biopsy_days, windows.pathology_after_biopsy_days
            )
            & (
                (lat == "UNKNOWN")
                | pl.col("biopsy_laterality").is_null()
                | (pl.col("biopsy_laterality") == "BILATERAL")
                | (pl.col("biopsy_laterality") == lat)
            )
        )
        .with_columns(
            (pl.col("encounter_id") == pl.col("biopsy_encounter"))
            .fill_null(False)
            .alias("_same_encounter"),
            biopsy_delta.abs().alias("_distance"),
        )
        .sort(
            "__part",
            "_same_encounter",
            "_distance",
            "biopsy_accession",
            descending=[False, True, False, False],
        )
        .unique("__part", keep="first")
        .select("__part", "biopsy_accession", "biopsy_date", "biopsy_laterality")
    )

    us_exams = exams.filter((pl.col("modality") == "US") & ~pl.col("is_biopsy")).select(
        "patient_id",
        pl.col("accession_number").alias("linked_accession"),
        pl.col("exam_date").alias("linked_date"),
        pl.col("encounter_id").alias("linked_encounter"),
        pl.col("study_laterality").alias("linked_laterality"),
    )
    anchored = part_keys.join(biopsy_match, on="__part", how="left").with_columns(
        pl.coalesce("biopsy_date", "specimen_date").alias("_anchor")
    )
    exam_delta = (pl.col("_anchor") - pl.col("linked_date")).dt.total_days()
    exam_match = (
        anchored.join(us_exams, on="patient_id", how="inner")
        .filter(
            exam_delta.is_between(0, windows.link_lookback_days)
            & (
                (lat == "UNKNOWN")
                | (pl.col("linked_laterality") == "BILATERAL")
                | (pl.col("linked_laterality") == lat)
            )
        )
        .with_columns(
            (pl.col("encounter_id") == pl.col("linked_encounter"))
            .fill_null(False)
            .alias("_same_encounter")
        )
        .sort(
            "__part",
            "linked_date",
            "_same_encounter",
            "linked_accession",
            descending=[False, True, True, False],
        )
        .unique("__part", keep="first")
        .select("__part", "linked_accession", "linked_date", "linked_laterality")
    )
    unilateral = ["LEFT", "RIGHT"]
    linked = (
        parts.join(biopsy_match, on="__part", how="left")
        .join(exam_match, on="__part", how="left")
        .with_columns(
            pl.when(pl.col("laterality").is_in(unilateral))
            .then(pl.col("laterality"))
            .when(pl.col("linked_laterality").is_in(unilateral))
            .then(pl.col("linked_laterality"))
            .when(pl.col("biopsy_laterality").is_in(unilateral))
            .then(pl.col("biopsy_laterality"))
            .otherwise(pl.lit("UNKNOWN"))
            .alias("side"),
            pl.col("linked_accession").alias("accession_number"),
            pl.col("linked_date").alias("exam_date"),
            (pl.col("specimen_date") - pl.col("linked_date"))
            .dt.total_days()
            .cast(pl.Int32)
            .alias("days_exam_to_specimen"),
        )
        .sort("__part")
    )
    return linked.select(
        *parsed_pathology.columns, *[pl.col(c).cast(t) for c, t in LINKS_SCHEMA_EXTRA.items()]
    )


def diagnosis_labels(
    parsed_radiology: pl.DataFrame,
    parsed_pathology: pl.DataFrame,
    windows: LabelWindows = LabelWindows(),
) -> pl.DataFrame:
    """Per-breast labels of the ultrasound exams in ``parsed_radiology`` (:data:`LABELS_SCHEMA`).

    ``parsed_radiology`` holds all radiology exams of the window (mammograms count as follow-up
    and biopsies); ``parsed_pathology`` the parsed pathology parts. A bilateral exam and one of
    unknown laterality get a LEFT and a RIGHT row.
    """
    w = windows
    exams = _exams(parsed_radiology)
    parts = _parts(parsed_pathology)
    sides = explode_sides(
        exams.filter(pl.col("modality") == "US"), "study_laterality", unknown_as_both=True
    )
    if sides.is_empty():
        return pl.DataFrame(schema=LABELS_SCHEMA)
    exam_lat = pl.col("study_laterality")

    # -- pathology at the same encounter (0) -------------------------------------------------
    same_encounter = (
        sides.filter(pl.col("encounter_id").is_not_null())
        .join(
            parts,
            left_on=["patient_id", "encounter_id"],
            right_on=["patient_id", "path_encounter_id"],
            how="inner",
        )
        .filter(
            _part_matches_side(exam_lat, pl.col("side"))
            & pl.col("concordance").fill_null(True)  # not discordant
        )
        .group_by(_KEY)
        .agg(
            (pl.col("interpretation") == "MALIGNANT").any().alias("_m"),
            (pl.col("interpretation") == "BENIGN").any().alias("_b"),
            pl.col("specimen_accession")
            .filter(pl.col("interpretation") == "MALIGNANT")
            .min()
            .alias("_m_spec"),
            pl.col("specimen_accession")
            .filter(pl.col("interpretation") == "BENIGN")
            .min()
            .alias("_b_spec"),
        )
        .select(
            *_KEY,
            pl.when("_m")
            .then(pl.lit("MALIGNANT0"))
            .when("_b")
            .then(pl.lit("BENIGN0"))
            .alias("rule0"),
            pl.when("_m").then("_m_spec").when("_b").then("_b_spec").alias("spec0"),
        )
    )

    # -- radiology follow-up (1, 3) ---------------------------------------------------------
    events = explode_sides(exams, "study_laterality", unknown_as_both=True).select(
        "patient_id",
        "side",
        pl.col("accession_number").alias("_acc"),
        pl.col("exam_date").alias("_date"),
        pl.col("birads").alias("_birads"),
        pl.col("is_biopsy").alias("_biopsy"),
    )
    delta = (pl.col("_date") - pl.col("exam_date")).dt.total_days()
    known = pl.col("_birads").is_not_null()
    followup = (
        sides.select(*_KEY, "patient_id", "exam_date")
        .join(events, on=["patient_id", "side"], how="inner")
        .filter(pl.col("_acc") != pl.col("accession_number"))
        .with_columns(delta.alias("_delta"))
        .group_by(_KEY)
        .agg(
            (
                pl.col("_biopsy")
                & pl.col("_delta").is_between(-w.biopsy_before_days, w.biopsy_after_days)
            )
            .any()
            .alias("_biopsy_near"),
            (pl.col("_biopsy") & pl.col("_delta").is_between(0, w.future_pathology_days))
            .any()
            .alias("_biopsy_future"),
            (
                known
                & ~pl.col("_birads").is_in(["1", "2"])
                & pl.col("_delta").is_between(0, w.benign_stable_days)
            )
            .any()
            .alias("_not_stable"),
            pl.col("_delta").filter(pl.col("_delta") > 0).max().alias("_followup"),
            (
                known
                & ~pl.col("_birads").is_in(["1", "2"])
                & pl.col("_delta").is_between(1, w.benign3_window_days)
            )
            .any()
            .alias("_b3_not_12"),
            (
                known
                & ~pl.col("_birads").is_in(["1", "2", "3"])
                & pl.col("_delta").is_between(1, w.benign3_window_days)
            )
            .any()
            .alias("_b3_not_123"),
            (
                known
                & pl.col("_birads").is_in(["1", "2", "3"])
                & (pl.col("_delta") >= w.benign3_long_followup_days)
            )
            .any()
            .alias("_b3_long"),
        )
    )

    # -- pathology on this side over time (1, 3, MALIGNANT1, 2) ------------------------------
    pdelta = (pl.col("specimen_date") - pl.col("exam_date")).dt.total_days()
    on_side = (
        sides.select(*_KEY, "patient_id", "exam_date", "study_laterality")
        .join(parts, on="patient_id", how="inner")
        .with_columns(pdelta.alias("_pdelta"))
    )
    malignant = pl.col("interpretation") == "MALIGNANT"
    benign = pl.col("interpretation") == "BENIGN"
    strict_side = _part_matches_side(exam_lat, pl.col("side"))
    any_side = (pl.col("path_laterality") == pl.col("side")) | (
        pl.col("path_laterality") == "UNKNOWN"
    )
    future = pl.col("_pdelta").is_between(0, w.future_pathology_days)
    pathology = on_side.group_by(_KEY).agg(
        (malignant & any_side & pl.col("_pdelta").is_between(0, w.no_malignancy_days))
        .any()
        .alias("_malignant_soon"),
        (malignant & strict_side).any().alias("_malignant_ever"),
        pl.col("specimen_accession").filter(malignant & strict_side).min().alias("_m1_spec"),
        (malignant & strict_side & future).any().alias("_m_future"),
        (benign & strict_side & future).any().alias("_b_future"),
        (malignant & any_side & future).any().alias("_m_future_any"),
        pl.col("specimen_accession")
        .filter(malignant & strict_side & future)
        .min()
        .alias("_m2_spec"),
        pl.col("specimen_accession").filter(benign & strict_side & future).min().alias("_b2_spec"),
        pl.col("_pdelta").filter(malignant & strict_side & future).min().alias("_m2_days"),
        pl.col("_pdelta").filter(benign & strict_side & future).min().alias("_b2_days"),
        pl.col("specimen_date")
        .filter(malignant & (pl.col("path_laterality") == pl.col("side")) & (pl.col("_pdelta") < 0))
        .min()
        .alias("_first_prior_malignancy"),
    )

    table = (
        sides.join(same_encounter, on=_KEY, how="left")
        .join(followup, on=_KEY, how="left")
        .join(pathology, on=_KEY, how="left")
        .with_columns(
            [
                pl.col(c).fill_null(False)
                for c in (
                    "_biopsy_near",
                    "_biopsy_future",
                    "_not_stable",
                    "_b3_not_12",
                    "_b3_not_123",
                    "_b3_long",
                    "_malignant_soon",
                    "_malignant_ever",
                    "_m_future",
                    "_b_future",
                    "_m_future_any",
                )
            ]
        )
    )
    birads = pl.col("birads")
    no_biopsy_no_cancer = ~(pl.col("_biopsy_near") | pl.col("is_biopsy")) & ~pl.col(
        "_malignant_soon"
    )
    followed = (pl.col("_followup") >= w.min_followup_days).fill_null(False)
    benign1 = birads.is_in(["1", "2"]) & no_biopsy_no_cancer & ~pl.col("_not_stable") & followed
    benign3 = (
        (birads == "3")
        & no_biopsy_no_cancer
        & followed
        & (~pl.col("_b3_not_12") | (~pl.col("_b3_not_123") & pl.col("_b3_long")))
    )
    malignant1 = (birads == "6") & pl.col("_malignant_ever")
    malignant2 = (
        pl.col("_m_future")
        & birads.is_in(_SUSPICIOUS)
        & (pl.col("_biopsy_future") | pl.col("is_biopsy"))
    )
    benign2 = pl.col("_b_future") & ~pl.col("_m_future_any") & birads.is_in(_BENIGN2_BIRADS)

    category_side = laterality_from_text(pl.col("pathology_text"))
    category_applies = exam_lat.is_in(["LEFT", "RIGHT"]) | (category_side == pl.col("side"))
    rule4 = (
        pl.when(category_applies & (pl.col("pathology_category") == "MALIGNANT"))
        .then(pl.lit("MALIGNANT4"))
        .when(category_applies & (pl.col("pathology_category") == "BENIGN"))
        .then(pl.lit("BENIGN4"))
    )
    table = table.with_columns(
        pl.coalesce(
            pl.col("rule0"),
            pl.when(benign1).then(pl.lit("BENIGN1")),
            pl.when(benign3).then(pl.lit("BENIGN3")),
            pl.when(malignant1).then(pl.lit("MALIGNANT1")),
            pl.when(malignant2).then(pl.lit("MALIGNANT2")).when(benign2).then(pl.lit("BENIGN2")),
        ).alias("_base_rule"),
        rule4.alias("_rule4"),
    )
    base_class = pl.col("_base_rule").str.replace(r"\d$", "")
    rule = pl.coalesce("_rule4", "_base_rule")
    table = (
        table.with_columns(
            rule.alias("rule"),
            pl.when(
                pl.col("_rule4").is_not_null()
                & (base_class != pl.col("_rule4").str.replace(r"\d$", ""))
            )
            .then(pl.col("_base_rule"))
            .alias("overridden_rule"),
        )
        .with_columns(
            pl.col("rule").str.replace(r"\d$", "").alias("label"),
            pl.col("rule").str.extract(r"(\d)$", 1).cast(pl.Int8).alias("evidence_code"),
            pl.when(pl.col("rule") == "MALIGNANT0")
            .then(pl.col("spec0"))
            .when(pl.col("rule") == "BENIGN0")
            .then(pl.col("spec0"))
            .when(pl.col("rule") == "MALIGNANT1")
            .then(pl.col("_m1_spec"))
            .when(pl.col("rule") == "MALIGNANT2")
            .then(pl.col("_m2_spec"))
            .when(pl.col("rule") == "BENIGN2")
            .then(pl.col("_b2_spec"))
            .alias("specimen_accession"),
            pl.when(pl.col("rule").str.ends_with("0"))
            .then(pl.lit("pathology at the same encounter"))
            .when(pl.col("rule") == "BENIGN1")
            .then(
                pl.format(
                    "BI-RADS {} with {} days of benign follow-up", birads, pl.col("_followup")
                )
            )
            .when(pl.col("rule") == "BENIGN3")
            .then(pl.format("BI-RADS 3 with {} days of stable follow-up", pl.col("_followup")))
            .when(pl.col("rule") == "MALIGNANT1")
            .then(pl.lit("BI-RADS 6 with malignant pathology on this side"))
            .when(pl.col("rule") == "MALIGNANT2")
            .then(pl.format("malignant pathology {} days after the exam", pl.col("_m2_days")))
            .when(pl.col("rule") == "BENIGN2")
            .then(pl.format("benign pathology {} days after the exam", pl.col("_b2_days")))
            .when(pl.col("rule").str.ends_with("4"))
            .then(pl.lit("pathology category in the radiology report"))
            .alias("source"),
        )
        .with_columns(
            pl.when(pl.col("label") == "MALIGNANT")
            .then(1)
            .when(pl.col("label") == "BENIGN")
            .then(0)
            .otherwise(-1)
            .cast(pl.Int8)
            .alias("has_malignant"),
        )
    )
    first_malignant_exam = (
        pl.col("exam_date").filter(pl.col("label") == "MALIGNANT").min().over("patient_id", "side")
    )
    table = table.with_columns(
        (
            (pl.col("exam_date") > first_malignant_exam).fill_null(False)
            | (pl.col("_first_prior_malignancy") < pl.col("exam_date")).fill_null(False)
        )
        .cast(pl.Int8)
        .alias("prior_breast_cancer")
    )
    return table.sort("patient_id", "exam_date", "accession_number", "side").select(
        [pl.col(c).cast(t) for c, t in LABELS_SCHEMA.items()]
    )


def label_disagreements(labels: pl.DataFrame) -> pl.DataFrame:
    """The rows where the report's explicit pathology category (rule family 4) overrode a
    different label from the other rules (the original's disagreement report)."""
    return labels.filter(pl.col("overridden_rule").is_not_null())
