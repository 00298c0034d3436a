"""Per-exam facts read from the exam description and laterality fields: study laterality,
biopsy flags and biopsy guidance modality. Polars expressions, word-boundary matches only (no
"ft"/"ht"-style substring hits)."""

from __future__ import annotations

import polars as pl

LATERALITIES = ("LEFT", "RIGHT", "BILATERAL")

_BILATERAL = r"\b(?:BILAT\w*|BOTH|B/L|BIL)\b"
_RIGHT = r"\b(?:RIGHT|RT|R)\b"
_LEFT = r"\b(?:LEFT|LT|L)\b"
_BIOPSY = (
    r"\b(?:BIOPS(?:Y|IES)|BX|ASP(?:IRATION|IRATE)?|SPECIMENS?|FNA|CORE NEEDLE|CORE BX"
    r"|VACUUM[ -]ASSISTED|VAB)\b"
)
_ULTRASOUND = r"\b(?:US|ULTRASOUND|UL|SONO\w*|SONOGRAPH\w*)\b"
_GUIDANCE_WORD = r"\b([A-Z]+)[ -]+GUID"
_GUIDANCE = {
    "US": "US",
    "ULTRASOUND": "US",
    "UL": "US",
    "SONO": "US",
    "SONOGRAPHIC": "US",
    "SONOGRAPHICALLY": "US",
    "MAMMO": "MAMMO",
    "MAMMOGRAPHIC": "MAMMO",
    "MAMMOGRAPHICALLY": "MAMMO",
    "MAMMOGRAM": "MAMMO",
    "MG": "MAMMO",
    "TOMO": "TOMO",
    "TOMOSYNTHESIS": "TOMO",
    "STEREO": "STEREOTACTIC",
    "STEREOTACTIC": "STEREOTACTIC",
    "STEREOTACTICALLY": "STEREOTACTIC",
    "STEREOTAXIC": "STEREOTACTIC",
    "MR": "MR",
    "MRI": "MR",
}


def laterality_from_text(text: pl.Expr) -> pl.Expr:
    """LEFT/RIGHT/BILATERAL from a description-like text, else null.

    Both sides named (or BILAT/BOTH/B/L) → BILATERAL.
    """
    up = text.str.to_uppercase()
    bilateral = up.str.contains(_BILATERAL)
    right = up.str.contains(_RIGHT)
    left = up.str.contains(_LEFT)
    return (
        pl.when(bilateral | (right & left))
        .then(pl.lit("BILATERAL"))
        .when(right)
        .then(pl.lit("RIGHT"))
        .when(left)
        .then(pl.lit("LEFT"))
    )


def laterality_from_report(text: pl.Expr) -> pl.Expr:
    """Laterality named in the report body: "bilateral", or which breasts are mentioned."""
    up = text.str.to_uppercase()
    bilateral = up.str.contains(r"\bBILATERAL\b|\bBOTH BREASTS\b")
    right = up.str.contains(r"\b(?:RIGHT|RT)\b")
    left = up.str.contains(r"\b(?:LEFT|LT)\b")
    return (
        pl.when(bilateral | (right & left))
        .then(pl.lit("BILATERAL"))
        .when(right)
        .then(pl.lit("RIGHT"))
        .when(left)
        .then(pl.lit("LEFT"))
    )


def normalized_laterality(column: pl.Expr) -> pl.Expr:
    """A warehouse laterality field (``L``, ``Left``, ``B``, ``BILAT``...) as LEFT/RIGHT/BILATERAL."""
    up = column.str.strip_chars().str.to_uppercase()
    return (
        pl.when(up.is_in(["L", "LT", "LEFT"]))
        .then(pl.lit("LEFT"))
        .when(up.is_in(["R", "RT", "RIGHT"]))
        .then(pl.lit("RIGHT"))
        .when(up.is_in(["B", "BI", "BIL", "BILAT", "BILATERAL", "BOTH", "B/L"]))
        .then(pl.lit("BILATERAL"))
    )


def study_laterality(laterality: pl.Expr, description: pl.Expr, report: pl.Expr) -> pl.Expr:
    """The warehouse field first, then the exam description, then the report text."""
    return pl.coalesce(
        [
            normalized_laterality(laterality),
            laterality_from_text(description),
            laterality_from_report(report),
        ]
    )


def modality_of(modality: pl.Expr, description: pl.Expr) -> pl.Expr:
    """Upper-case modality; when missing, guessed from the description (US or MG)."""
    up = description.str.to_uppercase()
    guessed = (
        pl.when(up.str.contains(_ULTRASOUND))
        .then(pl.lit("US"))
        .when(up.str.contains(r"\b(?:MG|MAMMO\w*|TOMO\w*|DBT)\b"))
        .then(pl.lit("MG"))
    )
    return pl.coalesce([modality.str.strip_chars().str.to_uppercase(), guessed])


def is_biopsy(description: pl.Expr) -> pl.Expr:
    return description.str.to_uppercase().str.contains(_BIOPSY).fill_null(False)


def is_us_biopsy(description: pl.Expr, modality: pl.Expr) -> pl.Expr:
    up = description.str.to_uppercase()
    return is_biopsy(description) & (
        (modality == "US").fill_null(False) | up.str.contains(_ULTRASOUND).fill_null(False)
    )


def own_biopsy_guidance(description: pl.Expr, modality: pl.Expr) -> pl.Expr:
    """Guidance of a biopsy exam: the word before "GUID…" (US/MAMMO/TOMO/STEREOTACTIC/MR),
    else a modality named in the description, else OTHER. Null for non-biopsy exams."""
    up = description.str.to_uppercase()
    word = up.str.extract(_GUIDANCE_WORD, 1).replace_strict(
        _GUIDANCE, default=None, return_dtype=pl.Utf8
    )
    named = (
        pl.when(up.str.contains(r"\bSTEREO\w*"))
        .then(pl.lit("STEREOTACTIC"))
        .when(up.str.contains(r"\bTOMO\w*"))
        .then(pl.lit("TOMO"))
        .when(up.str.contains(r"\bMRI?\b"))
        .then(pl.lit("MR"))
        .when(is_us_biopsy(description, modality))
        .then(pl.lit("US"))
        .when(up.str.contains(r"\bMAMMO\w*|\bMG\b"))
        .then(pl.lit("MAMMO"))
    )
    return pl.when(is_biopsy(description)).then(pl.coalesce([word, named, pl.lit("OTHER")]))
