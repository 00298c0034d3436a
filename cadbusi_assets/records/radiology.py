"""Radiology report parsing: :func:`parse_radiology_reports`.

Pure function over a polars frame; every text rule is a polars ``str`` expression (see
:mod:`.birads`, :mod:`.sections`, :mod:`.exam_facts`, :mod:`.lexicon`, :mod:`.history`).
"""

from __future__ import annotations

import polars as pl

from cadbusi_assets.records import exam_facts, sections
from cadbusi_assets.records.birads import birads_columns
from cadbusi_assets.records.history import add_exam_history
from cadbusi_assets.records.lexicon import FEATURES, lexicon_features

REQUIRED_COLUMNS = (
    "patient_id",
    "accession_number",
    "exam_date",
    "exam_description",
    "report_text",
)
OPTIONAL_COLUMNS = {
    "modality": pl.Utf8,
    "laterality": pl.Utf8,
    "encounter_id": pl.Utf8,
    "study_instance_uid": pl.Utf8,
}

#: the columns parse_radiology_reports adds, with their types
PARSED_COLUMNS = pl.Schema(
    {
        "birads": pl.Utf8,
        "birads_source": pl.Utf8,
        "study_laterality": pl.Utf8,
        "is_biopsy": pl.Boolean,
        "is_us_biopsy": pl.Boolean,
        "biopsy_guidance": pl.Utf8,
        "days_to_biopsy": pl.Int32,
        "density": pl.Utf8,
        "density_text": pl.Utf8,
        "findings": pl.Utf8,
        "impression": pl.Utf8,
        "pathology_text": pl.Utf8,
        "pathology_category": pl.Utf8,
        "addendum": pl.Utf8,
        "concordance": pl.Boolean,
        "ultrasound_findings": pl.Utf8,
        **{feature: pl.Utf8 for feature in FEATURES},
        "lexicon_negated": pl.Utf8,
        "left_prior_breast_biopsies": pl.Int32,
        "right_prior_breast_biopsies": pl.Int32,
        "previous_worst_mg": pl.Utf8,
        "previous_worst_mg_accession": pl.Utf8,
    }
)

_ROW = "__row"
_MAMMO_SECTION = r"(?m)^[ \t]*(?:(?:BILATERAL|RIGHT|LEFT|DIGITAL|DIAGNOSTIC|SCREENING)[ \t]+)*(?:MAMMO\w*|TOMOSYNTHESIS|MG)\b[^\n]*:"
_MAMMO_MENTION_NOT_A_SECTION = r"(?i)(?:due|correlat)[^.\n]*\bmammo"
_US_SECTION = (
    r"(?s)(?:^|\n)[ \t]*(?:(?:BILATERAL|RIGHT|LEFT|TARGETED|BREAST)[ \t]+)*"
    r"(?:ULTRASOUND|SONOGRA\w*|US)\b[^\n]*:[ \t]*(.*?)"
    r"(?:\n[ \t]*(?:(?:BILATERAL|RIGHT|LEFT|DIGITAL|DIAGNOSTIC)[ \t]+)*(?:MAMMO\w*|IMPRESSION|ASSESSMENT|RECOMMENDATION\w*|ADDENDUM)\b|\z)"
)


def parse_radiology_reports(
    frame: pl.DataFrame, *, lexicon: bool = True, history: bool = True
) -> pl.DataFrame:
    """``frame`` with the parsed report columns of :data:`PARSED_COLUMNS` added.

    ``frame`` needs ``patient_id, accession_number, exam_date, exam_description, report_text``;
    ``modality``, ``laterality``, ``encounter_id`` and ``study_instance_uid`` are used when
    present (added as nulls otherwise). Row order and all input columns are kept.

    ``lexicon=False`` skips the ultrasound lexicon, ``history=False`` the cross-exam columns
    (both then null).
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"parse_radiology_reports: input lacks column(s) {', '.join(missing)}")
    base = frame.with_columns(
        [
            pl.lit(None, dtype=t).alias(c)
            for c, t in OPTIONAL_COLUMNS.items()
            if c not in frame.columns
        ]
    ).drop([c for c in PARSED_COLUMNS if c in frame.columns])
    input_columns = base.columns
    text = pl.col("report_text")
    description = pl.col("exam_description")
    modality = exam_facts.modality_of(pl.col("modality"), description)

    parsed = base.with_row_index(_ROW).with_columns(
        *birads_columns(text),
        exam_facts.study_laterality(pl.col("laterality"), description, text).alias(
            "study_laterality"
        ),
        exam_facts.is_biopsy(description).alias("is_biopsy"),
        exam_facts.is_us_biopsy(description, modality).alias("is_us_biopsy"),
        exam_facts.own_biopsy_guidance(description, modality).alias("biopsy_guidance"),
        sections.density(text).alias("density"),
        sections.density_text(text).alias("density_text"),
        sections.findings(text).alias("findings"),
        sections.impression(text).alias("impression"),
        sections.pathology_text(text).alias("pathology_text"),
        sections.addendum(text).alias("addendum"),
        sections.concordance(text).alias("concordance"),
        modality.alias("_modality"),
    )
    parsed = parsed.with_columns(
        sections.pathology_category(pl.col("pathology_text")).alias("pathology_category"),
        ultrasound_findings(text, pl.col("findings")).alias("ultrasound_findings"),
    )

    lexicon_rows = (pl.col("_modality") == "US") & pl.col("study_laterality").is_in(
        ["LEFT", "RIGHT"]
    )
    if lexicon:
        source = parsed.select(
            _ROW, pl.when(lexicon_rows).then(pl.col("ultrasound_findings")).alias("_lexicon_text")
        )
        parsed = parsed.join(lexicon_features(source, "_lexicon_text", _ROW), on=_ROW, how="left")

    if history:
        history_input = parsed.with_columns(pl.col("_modality").alias("modality")).select(
            _ROW,
            "patient_id",
            "exam_date",
            "is_biopsy",
            "biopsy_guidance",
            "study_laterality",
            "modality",
            "birads",
            "accession_number",
        )
        history_frame = add_exam_history(history_input, key=_ROW).select(
            _ROW,
            "biopsy_guidance",
            "days_to_biopsy",
            "left_prior_breast_biopsies",
            "right_prior_breast_biopsies",
            "previous_worst_mg",
            "previous_worst_mg_accession",
        )
        parsed = parsed.drop("biopsy_guidance").join(history_frame, on=_ROW, how="left")

    parsed = parsed.sort(_ROW)
    return parsed.select(
        *input_columns,
        *[
            (pl.col(c) if c in parsed.columns else pl.lit(None)).cast(t).alias(c)
            for c, t in PARSED_COLUMNS.items()
        ],
    )


def ultrasound_findings(text: pl.Expr, findings: pl.Expr) -> pl.Expr:
    """The text the lexicon reads: the ULTRASOUND/SONOGRAPHY section when the report also has a
    real mammography section (a "MAMMO…:" header not preceded by "due to"/"correlat…"); null
    when there is a mammography section but no ultrasound one; otherwise the findings (or the
    whole report when it has no findings section)."""
    has_mammo_section = text.str.contains(_MAMMO_SECTION) & ~text.str.contains(
        _MAMMO_MENTION_NOT_A_SECTION + r"[^\n]*:"
    )
    us_section = sections._clean(text.str.extract(_US_SECTION, 1))
    return pl.when(has_mammo_section).then(us_section).otherwise(pl.coalesce(findings, text))
