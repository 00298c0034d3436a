"""Report sections and small report-level facts, as polars expressions over the report text.

- ``findings``: after ``FINDINGS`` (upper case) or ``Findings:``, up to the impression,
  assessment, recommendation, addendum, pathology or signature line.
- ``impression``: after ``IMPRESSION`` up to recommendations, addendum, pathology or signature.
- ``pathology_text``: after ``PATHOLOGY:`` / ``PATHOLOGY RESULTS:`` up to the next upper-case
  ``HEADER:`` line or a blank line.
- ``addendum``: from the first ADDENDUM / AMENDMENT / APPENDED to the end.
- ``density_text`` / ``density``: the ``DENSITY:`` or ``BREAST COMPOSITION:`` text and its ACR
  letter A–D (also from free phrases such as "heterogeneously dense").
- ``concordance``: True for "concordant" / "CONCORDANCE: yes", False for "discordant",
  "not concordant", "non-concordant", "CONCORDANCE: no".
- ``pathology_category``: MALIGNANT/BENIGN from the pathology section of a radiology report
  (the explicit pathology category of a radiology-pathology correlation).
"""

from __future__ import annotations

import polars as pl

_SIGNATURE = r"(?i:dictated|electronically signed|signed by|signed electronically|interpreted by|transcribed)"
_FINDINGS_END = (
    r"(?:\n[ \t]*(?:(?i:impression|(?:final |overall )?assessment|recommendations?|addendum|pathology)\b"
    r"|" + _SIGNATURE + r")|\z)"
)
_IMPRESSION_END = (
    r"(?:\n[ \t]*(?:(?i:recommendations?|addendum|pathology)\b|" + _SIGNATURE + r")|\z)"
)
_HEADER_END = r"(?:\n[ \t]*[A-Z][A-Z /&]{2,}:|\n[ \t]*\n|\z)"


def findings(text: pl.Expr) -> pl.Expr:
    pattern = r"(?s)(?:FINDINGS|Findings[ \t]*:)[ \t]*:?[ \t]*(.*?)" + _FINDINGS_END
    return _clean(text.str.extract(pattern, 1))


def impression(text: pl.Expr) -> pl.Expr:
    pattern = (
        r"(?s)(?:(?:^|\n)[ \t]*(?i:impression)\b|(?i:impression)[ \t]*:)[ \t]*:?[ \t]*(.*?)"
        + _IMPRESSION_END
    )
    return _clean(text.str.extract(pattern, 1))


def pathology_text(text: pl.Expr) -> pl.Expr:
    pattern = r"(?s)(?i:pathology(?: results?)?)[ \t]*:[ \t]*(.*?)" + _HEADER_END
    return _clean(text.str.extract(pattern, 1))


def addendum(text: pl.Expr) -> pl.Expr:
    return _clean(text.str.extract(r"(?s)(\b(?i:addendum|amendment|appended)\b.*)", 1))


def density_text(text: pl.Expr) -> pl.Expr:
    pattern = (
        r"(?s)(?i:(?:breast )?density|breast composition|composition)[ \t]*:[ \t]*(.*?)"
        + _HEADER_END
    )
    return _clean(text.str.extract(pattern, 1))


def density(text: pl.Expr) -> pl.Expr:
    """ACR breast density letter A–D, or null."""
    lowered = text.str.to_lowercase()
    letter = lowered.str.extract(
        r"(?:density|composition)[ \t]*(?:is|:|=|-)?[ \t]*(?:acr[ \t]*)?(?:category[ \t]*|type[ \t]*)?\(?([abcd])\)?\b",
        1,
    ).str.to_uppercase()
    return pl.coalesce(
        [
            letter,
            pl.when(lowered.str.contains(r"\bextremely dense\b")).then(pl.lit("D")),
            pl.when(lowered.str.contains(r"\bheterogeneously dense\b")).then(pl.lit("C")),
            pl.when(lowered.str.contains(r"\bscattered (?:areas of )?fibroglandular\b")).then(
                pl.lit("B")
            ),
            pl.when(
                lowered.str.contains(r"\balmost entirely fat(?:ty)?\b|\bpredominantly fatty\b")
            ).then(pl.lit("A")),
        ]
    )


def concordance(text: pl.Expr) -> pl.Expr:
    """True (concordant), False (discordant) or null (not stated)."""
    lowered = text.str.to_lowercase()
    discordant = lowered.str.contains(
        r"\bdiscordan(?:t|ce)\b|\bnot concordant\b|\bnon-?concordant\b|\bconcordance[ \t]*:[ \t]*no\b"
    )
    concordant = lowered.str.contains(r"\bconcordant\b|\bconcordance[ \t]*:[ \t]*yes\b")
    return pl.when(discordant).then(False).when(concordant).then(True).otherwise(None)


def pathology_category(pathology: pl.Expr) -> pl.Expr:
    """MALIGNANT when the pathology section names a non-negated malignancy, BENIGN when it says
    benign, else null."""
    lowered = pathology.str.to_lowercase()
    negated = lowered.str.replace_all(
        r"\blobular carcinoma in situ\b|\blcis\b", " lcis "
    ).str.replace_all(
        r"\b(?:negative for|no evidence of|no|without|free of)\b[^.;\n]{0,50}?"
        r"(?:malignan\w*|carcinoma|cancer|invasive)",
        " ",
    )
    malignant = negated.str.contains(
        r"\bmalignan\w*|\binvasive\b|\bcarcinoma\b|\bdcis\b|\bidc\b|\bilc\b|\bcancer\b"
    )
    benign = lowered.str.contains(r"\bbenign\b|\bnegative for malignancy\b|\bno malignancy\b")
    return pl.when(malignant).then(pl.lit("MALIGNANT")).when(benign).then(pl.lit("BENIGN"))


def _clean(section: pl.Expr) -> pl.Expr:
    stripped = section.str.strip_chars()
    return pl.when(stripped.str.len_chars() > 0).then(stripped)
