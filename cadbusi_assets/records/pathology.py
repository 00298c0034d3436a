"""Pathology report parsing: :func:`parse_pathology_reports`.

1. **Fan-out collapse**: the warehouse has one row per (specimen, diagnosis name); rows are
   collapsed per ``specimen_accession`` (diagnosis names and part descriptions "; "-joined,
   the longest final-diagnosis and synoptic texts kept, the earliest dates).
2. **Final diagnosis**: the text after ``FINAL DIAGNOSIS`` up to the next section header
   (COMMENT, NOTE, SYNOPTIC REPORT, GROSS/MICROSCOPIC DESCRIPTION, CLINICAL HISTORY, CASE
   NUMBER, ADDENDUM, ELECTRONICALLY SIGNED); the whole text when there is no header.
   ``A.`` is assumed when the text does not start with a part letter.
3. **Parts**: split at lettered part starts at line beginnings (``A.``, ``B)``); one output
   row per part, the text cut at COMMENT/NOTE/CLINICAL HISTORY/CASE NUMBER.
4. Per part: ``laterality`` RIGHT/LEFT when exactly one side is named (else the specimen's part
   descriptions, else UNKNOWN); ``interpretation`` MALIGNANT/BENIGN/UNKNOWN; ``high_risk``
   (atypical ductal/lobular hyperplasia, LCIS, flat epithelial atypia, other atypia);
   ``cancer_type`` for malignant parts; ``grade`` (1–3) when stated.

Interpretation rules (case-insensitive):

- "lobular carcinoma in situ"/LCIS is never malignant (benign, high risk);
- a malignant term (carcinoma, malignant/malignancy, DCIS, IDC, ILC, tumor cells,
  metastatic/metastasis, melanoma, lymphoma, sarcoma, Paget disease) counts unless negated by
  "negative for", "no evidence of", "no", "without", "free of", "absence of", "rule out" in the
  50 characters before it, or by "not identified"/"not seen"/"absent" right after it;
- "suspicious for", "cannot exclude", "concerning for" a malignancy → UNKNOWN;
- else an explicit negation, "benign", a high-risk lesion or a benign lexicon term → BENIGN;
- else UNKNOWN.

Cancer types, first match wins: IDC, ILC, INVASIVE MAMMARY, MUCINOUS, TUBULAR, MEDULLARY,
PAPILLARY, ADENOID CYSTIC, METAPLASTIC, INFLAMMATORY, MICROMETASTASIS, ISOLATED TUMOR CELLS,
METASTATIC, ADENOCARCINOMA, INVASIVE CARCINOMA, DCIS, CARCINOMA, OTHER.
"""

from __future__ import annotations

import polars as pl

from cadbusi_assets.records.schemas import PATHOLOGY_SCHEMA, typed_schema

PARSED_PATHOLOGY_SCHEMA = typed_schema(
    {
        "specimen_accession": pl.Utf8,
        "patient_id": pl.Utf8,
        "encounter_id": pl.Utf8,
        "specimen_date": pl.Date,
        "received_at": pl.Datetime("us"),
        "part_letter": pl.Utf8,
        "part_text": pl.Utf8,
        "laterality": pl.Utf8,
        "interpretation": pl.Utf8,
        "high_risk": pl.Boolean,
        "cancer_type": pl.Utf8,
        "grade": pl.Int8,
        "final_diagnosis": pl.Utf8,
        "synoptic_report": pl.Utf8,
        "diagnosis_names": pl.Utf8,
        "part_descriptions": pl.Utf8,
    }
)

INTERPRETATIONS = ("MALIGNANT", "BENIGN", "UNKNOWN")

_SECTION_END = (
    r"(?:\n[ \t]*(?:COMMENTS?|NOTE|SYNOPTIC REPORT|GROSS DESCRIPTION|MICROSCOPIC DESCRIPTION"
    r"|MICROSCOPIC|CLINICAL HISTORY|CLINICAL INFORMATION|CASE NUMBER|ADDENDUM|INTRAOPERATIVE"
    r"|ELECTRONICALLY SIGNED|DIAGNOSIS BY|PATHOLOGIST)\b|\z)"
)
_FINAL = r"(?s)FINAL (?:PATHOLOGIC(?:AL)? )?DIAGNOSIS[ \t]*:?[ \t]*\n?(.*?)" + _SECTION_END
_SYNOPTIC = r"(?s)SYNOPTIC REPORT[ \t]*:?[ \t]*\n?(.*?)(?:\n[ \t]*(?:COMMENTS?|NOTE|CASE NUMBER|ELECTRONICALLY SIGNED|ADDENDUM)\b|\z)"
_PART_START = r"(?m)^[ \t]*([A-Z])[.)][ \t]+"
_PART_END = r"(?s)\s*\b(?:COMMENTS?|NOTE|CLINICAL HISTORY|CASE NUMBER)\b\s*:.*$"

_MALIGNANT = (
    r"\b(?:carcinomas?|malignan(?:t|cy|cies)|dcis|idc|ilc|tumou?r cells|metasta(?:tic|sis|ses)"
    r"|melanoma|lymphoma|sarcoma|angiosarcoma|paget'?s disease)\b"
)
#: "metastatic carcinoma", "carcinoma in situ or invasive carcinoma": one negation covers the run
_MALIGNANT_CHAIN = _MALIGNANT + r"(?:(?:[ \t]+[\w/\-]+){0,3}?[ \t]+" + _MALIGNANT + r")*"
_NEGATION_BEFORE = r"\b(?:negative for|no evidence of|no residual|no|without|free of|absence of|absent|rule out|r/o)\b"
_NEGATION_AFTER = r"(?:[^.;\n]{0,30}?)\b(?:not identified|not seen|not present|absent)\b"
_UNCERTAIN = (
    r"\b(?:suspicious for|cannot (?:be )?exclude\w*|cannot rule out|concerning for|worrisome for)\b"
)
_HIGH_RISK = (
    r"\b(?:atypical (?:ductal|lobular) hyperplasia|adh|alh|lcis|flat epithelial atypia|fea"
    r"|atypia|atypical)\b"
)
_BENIGN = (
    r"\b(?:benign|fibroadenomas?|fibroadenomatoid|fibrocystic|fibrosis|stromal fibrosis"
    r"|pseudoangiomatous|pash|usual ductal hyperplasia|ductal hyperplasia|hyperplasia"
    r"|columnar cell|apocrine metaplasia|cysts?|duct ectasia|fat necrosis|sclerosing adenosis"
    r"|adenosis|radial scar|complex sclerosing lesion|papillomas?|intraductal papilloma"
    r"|lymph nodes?|reactive|biopsy site|hematoma|inflammation|mastitis|abscess|lipoma"
    r"|hamartoma|breast tissue|fibroadipose|gynecomastia|phyllodes|granuloma|calcifications?"
    r"|scar|sclerosis|lcis|negated)\b"
)
CANCER_TYPES: tuple[tuple[str, str], ...] = (
    (
        "IDC",
        r"invasive ductal carcinoma|infiltrating ductal carcinoma|\bidc\b|invasive carcinoma of no special type|invasive carcinoma,? nst\b",
    ),
    ("ILC", r"invasive lobular carcinoma|infiltrating lobular carcinoma|\bilc\b"),
    ("INVASIVE MAMMARY", r"invasive mammary carcinoma|mixed ductal and lobular"),
    ("MUCINOUS", r"mucinous carcinoma|colloid carcinoma"),
    ("TUBULAR", r"tubular carcinoma"),
    ("MEDULLARY", r"medullary carcinoma"),
    ("PAPILLARY", r"papillary carcinoma"),
    ("ADENOID CYSTIC", r"adenoid cystic carcinoma"),
    ("METAPLASTIC", r"metaplastic carcinoma"),
    ("INFLAMMATORY", r"inflammatory (?:breast )?carcinoma"),
    ("MICROMETASTASIS", r"micrometasta"),
    ("ISOLATED TUMOR CELLS", r"isolated tumou?r cells"),
    ("METASTATIC", r"metasta(?:tic|sis|ses)"),
    ("ADENOCARCINOMA", r"adenocarcinoma"),
    ("INVASIVE CARCINOMA", r"invasive carcinoma|infiltrating carcinoma"),
    ("DCIS", r"ductal carcinoma in situ|\bdcis\b|intraductal carcinoma"),
    ("CARCINOMA", r"carcinoma"),
    ("OTHER", r"sarcoma|lymphoma|melanoma|malignan|paget"),
)


def collapse_fanout(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per ``specimen_accession`` from the warehouse's (specimen, diagnosis) rows."""

    def joined(column: str) -> pl.Expr:
        values = pl.col(column).drop_nulls().str.strip_chars()
        values = values.filter(values.str.len_chars() > 0).unique().sort()
        return pl.when(values.len() > 0).then(values.str.join("; "))

    def longest(column: str) -> pl.Expr:
        return (
            pl.col(column)
            .sort_by(pl.col(column).str.len_chars().fill_null(-1), descending=True)
            .first()
        )

    return (
        frame.filter(pl.col("specimen_accession").is_not_null())
        .unique(maintain_order=True)
        .group_by("specimen_accession", maintain_order=True)
        .agg(
            pl.col("patient_id").drop_nulls().first(),
            pl.col("encounter_id").drop_nulls().first(),
            pl.col("specimen_date").min(),
            pl.col("received_at").min(),
            longest("final_diagnosis_text").alias("final_diagnosis_text"),
            longest("synoptic_report").alias("synoptic_report"),
            joined("diagnosis_name").alias("diagnosis_names"),
            joined("part_description").alias("part_descriptions"),
        )
    )


def _final_diagnosis(text: pl.Expr) -> pl.Expr:
    section = pl.coalesce(text.str.extract(_FINAL, 1), text).str.strip_chars()
    lettered = section.str.contains(r"^[A-Z][.)][ \t]")
    return (
        pl.when(section.str.len_chars() == 0)
        .then(None)
        .when(lettered)
        .then(section)
        .otherwise(pl.lit("A. ") + section)
    )


def _laterality(text: pl.Expr) -> pl.Expr:
    up = text.str.to_uppercase()
    right = up.str.contains(r"\b(?:RIGHT|RT)\b")
    left = up.str.contains(r"\b(?:LEFT|LT)\b")
    return pl.when(right & ~left).then(pl.lit("RIGHT")).when(left & ~right).then(pl.lit("LEFT"))


def _without_negated(text: pl.Expr) -> pl.Expr:
    """Lower-case text with LCIS neutralized and negated malignant mentions replaced by the
    token ``negated`` (so that what remains malignant is really asserted)."""
    lowered = text.str.to_lowercase()
    lowered = lowered.str.replace_all(r"\blobular carcinoma in situ\b|\blcis\b", "lcis")
    lowered = lowered.str.replace_all(
        _NEGATION_BEFORE + r"[^.;\n]{0,50}?" + _MALIGNANT_CHAIN, " negated "
    )
    lowered = lowered.str.replace_all(_MALIGNANT + _NEGATION_AFTER, " negated ")
    return lowered.str.replace_all(_UNCERTAIN + r"[^.;\n]{0,50}?" + _MALIGNANT, " uncertain ")


def interpretation_columns(text: pl.Expr) -> list[pl.Expr]:
    """``interpretation``, ``high_risk``, ``cancer_type``, ``grade`` of one part text."""
    cleaned = _without_negated(text)
    atypia_cleaned = cleaned.str.replace_all(
        r"\b(?:negative for|no|without|free of)\b[^.;\n]{0,50}?\batyp\w*", " negated "
    )
    malignant = cleaned.str.contains(_MALIGNANT)
    uncertain = cleaned.str.contains(r"\buncertain\b")
    high_risk = atypia_cleaned.str.contains(_HIGH_RISK).fill_null(False)
    benign = cleaned.str.contains(_BENIGN) | high_risk
    interpretation = (
        pl.when(malignant)
        .then(pl.lit("MALIGNANT"))
        .when(uncertain)
        .then(pl.lit("UNKNOWN"))
        .when(benign)
        .then(pl.lit("BENIGN"))
        .otherwise(pl.lit("UNKNOWN"))
    )
    cancer_type = pl.coalesce(
        [
            pl.when(cleaned.str.contains(pattern)).then(pl.lit(name))
            for name, pattern in CANCER_TYPES
        ]
    )
    grade_text = cleaned.str.extract(r"\bgrade[ \t]*(?:[:\-][ \t]*)?(iii|ii|i|[123])\b", 1)
    grade = grade_text.replace_strict(
        {"i": 1, "ii": 2, "iii": 3, "1": 1, "2": 2, "3": 3}, default=None, return_dtype=pl.Int8
    )
    return [
        interpretation.alias("interpretation"),
        (high_risk & ~malignant.fill_null(False)).alias("high_risk"),
        pl.when(malignant).then(cancer_type).alias("cancer_type"),
        pl.when(malignant).then(grade).alias("grade"),
    ]


def parse_pathology_reports(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per specimen part, :data:`PARSED_PATHOLOGY_SCHEMA`.

    ``frame`` has the warehouse's pathology columns (``PATHOLOGY_SCHEMA``; fan-out rows allowed).
    A specimen without final-diagnosis text yields one part ``A`` read from its diagnosis names.
    """
    missing = [c for c in ("specimen_accession", "patient_id") if c not in frame.columns]
    if missing:
        raise ValueError(f"parse_pathology_reports: input lacks column(s) {', '.join(missing)}")
    typed = frame.select(
        [
            (pl.col(c) if c in frame.columns else pl.lit(None)).cast(t).alias(c)
            for c, t in PATHOLOGY_SCHEMA.items()
        ]
    )
    specimens = collapse_fanout(typed).with_columns(
        _final_diagnosis(pl.col("final_diagnosis_text")).alias("final_diagnosis"),
        pl.coalesce(
            pl.col("synoptic_report"),
            pl.col("final_diagnosis_text").str.extract(_SYNOPTIC, 1).str.strip_chars(),
        ).alias("synoptic_report"),
    )
    parts = (
        specimens.with_columns(
            pl.col("final_diagnosis")
            .str.replace_all(_PART_START, "\x1f$1. ")
            .str.split("\x1f")
            .alias("_part")
        )
        .explode("_part", keep_nulls=True, empty_as_null=True)
        .with_columns(pl.col("_part").str.strip_chars())
        .filter(pl.col("_part").is_null() | (pl.col("_part").str.len_chars() > 0))
        .with_columns(
            pl.col("_part").str.extract(r"^([A-Z])[.)]", 1).fill_null("A").alias("part_letter"),
            pl.col("_part")
            .str.replace(r"^[A-Z][.)][ \t]*", "")
            .str.replace(_PART_END, "")
            .str.strip_chars()
            .alias("part_text"),
        )
        .with_columns(
            pl.when(pl.col("part_text").str.len_chars() > 0)
            .then(pl.col("part_text"))
            .alias("part_text")
        )
    )
    reading = pl.coalesce(pl.col("part_text"), pl.col("diagnosis_names"))
    parts = parts.with_columns(
        pl.coalesce(
            _laterality(pl.col("part_text")),
            _laterality(pl.col("part_descriptions")),
            pl.lit("UNKNOWN"),
        ).alias("laterality"),
        *interpretation_columns(reading),
    ).with_columns(
        pl.col("interpretation").fill_null("UNKNOWN"), pl.col("high_risk").fill_null(False)
    )
    parts = parts.unique(["specimen_accession", "part_letter"], keep="first", maintain_order=True)
    return parts.select([pl.col(c).cast(t) for c, t in PARSED_PATHOLOGY_SCHEMA.items()])
