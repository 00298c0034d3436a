"""BI-RADS assessment category from free report text, as polars expressions.

Supported phrasings (case-insensitive, with or without ®/(R)/™, hyphen or space in "BI-RADS"):

- ``BI-RADS 4``, ``BIRADS: 3``, ``BI-RADS Category 4A: Suspicious``, ``BI-RADS® 1: Negative``,
  ``BI-RADS ASSESSMENT: CODE: 4-Suspicious``, ``BI-RADS ATLAS category (overall): 2``,
  ``US BI-RADS: 4B``, ``ACR BI-RADS category 5``, ``BI-RADS category four`` (number words)
- ``ACR code 5``, ``ACR category 3``
- ``Category 4 (Suspicious abnormality)``
- ``Final Assessment: 3 (Probably Benign)``, ``ASSESSMENT: 2 - Benign``
- ``OVERALL ASSESSMENT: BI-RADS 4C`` (also ``Final``/``Combined``)
- ``ADDENDUM: ... changed to BI-RADS 4A`` (revisions win over the original assessment)
- words only: ``ASSESSMENT: Probably benign`` → 3, ``Negative`` → 1, ``Benign`` → 2,
  ``Suspicious`` → 4, ``Highly suggestive of malignancy`` → 5,
  ``Known biopsy-proven malignancy`` → 6, ``Incomplete`` → 0 (used only when no number is found)

Mentions of a *prior* assessment (``prior BI-RADS 4``, ``previous``, ``history of``) are ignored
(not across a comma: ``compared with the prior, BI-RADS 2`` is today's).
When several assessments appear, the first level that has one wins:

0. a revision in an addendum (``changed/revised/upgraded/downgraded to BI-RADS n``), else an
   assessment the addendum gives (``ADDENDUM: on review of the prior, BI-RADS 5``);
1. an assessment labelled overall/final/combined;
2. an assessment inside the IMPRESSION/ASSESSMENT part of the report;
3. any assessment in the report;
4. an assessment given in words only.

Within a level the most severe category wins, in the ACR hierarchy for combining assessments
(1 < 2 < 3 < 6 < 0 < 4 < 4A < 4B < 4C < 5), which is how a per-side "BI-RADS 2" and an
overall "BI-RADS 4C" resolve.
"""

from __future__ import annotations

import polars as pl

#: least to most severe, as the ACR combines per-side assessments into an overall one
HIERARCHY: tuple[str, ...] = ("1", "2", "3", "6", "0", "4", "4A", "4B", "4C", "5")
CATEGORIES: frozenset[str] = frozenset(HIERARCHY)

_NUMBER_WORDS = {
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
}
_CAT = r"(?:[0-6](?:[ABCabc]|[ \t][ABC])?|(?i:zero|one|two|three|four|five|six))\b"
_BR = r"(?i:bi[ \t\-]*rads)(?:[ \t]*(?:®|\((?i:r)\)|™|\((?i:tm)\)))?"
_SEP = r"[ \t]*[:=#\-–—]?[ \t]*"
_QUALIFIER = (
    r"(?:[ \t]+(?i:atlas|assessment|category|final|overall|code|classification|score|cat\.?)"
    r"|[ \t]*\((?i:overall|final)\))*"
)
_CODE = r"(?:(?i:code|category|cat\.?)[ \t]*[:=#\-]?[ \t]*)?"
_MODALITY = (
    r"(?:(?i:us|ultrasound|sonographic|mammo(?:gram|graphy|graphic)?|mg|acr|overall|final)[ \t]+)?"
)
#: optional context before a mention: prior-assessment words (mention dropped) or overall words
_CONTEXT = (
    r"(?:(?i:prior|previous(?:ly)?|history of|hx of|old|remote|overall|final|combined|summary)"
    r"[^\n.;,]{0,40}?)?"
)
_MENTION = (
    _CONTEXT
    + r"(?:"
    + _MODALITY
    + _BR
    + _QUALIFIER
    + _SEP
    + _CODE
    + r"|(?i:acr)[ \t]+(?i:code|category|cat\.?)?"
    + _SEP
    + r"|\b(?i:category)"
    + _SEP
    + r"|\b(?i:(?:final|overall|combined)[ \t]+)?(?i:assessment)(?:[ \t]+(?i:category|code))?[ \t]*[:\-][ \t]*"
    + _CODE
    + r")"
    + r"("
    + _CAT
    + r")"
    + r"(?:[ \t]*[:\-][ \t]*(?i:pathology))?"
)
_REVISION = (
    r"(?i:changed|revised|amended|upgraded|downgraded|updated|modified)[ \t]+(?i:to)[ \t]+"
    r"(?:(?i:a|an)[ \t]+)?"
    r"(?:" + _BR + _QUALIFIER + _SEP + _CODE + r"|(?i:category)" + _SEP + r")"
    r"(" + _CAT + r")"
)
_WORDS = (
    r"(?i:(?:final|overall)[ \t]+)?(?i:assessment)[ \t]*[:\-][ \t]*"
    r"((?i:incomplete|negative|probably benign|benign|suspicious|highly suggestive of malignancy"
    r"|known biopsy[ \-]proven malignancy))"
)
_WORD_CATEGORIES = {
    "incomplete": "0",
    "negative": "1",
    "benign": "2",
    "probably benign": "3",
    "suspicious": "4",
    "highly suggestive of malignancy": "5",
    "known biopsy proven malignancy": "6",
    "known biopsy-proven malignancy": "6",
}
#: where the assessment part of a report starts (impression / assessment headers)
_ASSESSMENT_PART = r"(?s)(?:(?:^|\n)[ \t]*(?i:impression|(?:final |overall )?assessment)\b|(?i:impression)[ \t]*:)(.*)"
_ADDENDUM_PART = r"(?s)\b(?i:addendum|amendment|appended)\b(.*)"

_LEVEL_NAMES = ("addendum", "overall", "impression", "report", "words")


def _normalize(element: pl.Expr) -> pl.Expr:
    """``'4 a'``, ``'4a'``, ``'four'`` → ``'4A'``, ``'4A'``, ``'4'``."""
    text = element.str.to_lowercase().str.replace_all(r"[ \t]", "")
    text = text.replace(_NUMBER_WORDS)
    return text.str.to_uppercase()


def _ranked(element: pl.Expr) -> pl.Expr:
    """``'05|4'``: a sortable severity rank before the category (max = most severe)."""
    category = _normalize(element)
    rank = category.replace_strict(
        {c: f"{i:02d}" for i, c in enumerate(HIERARCHY)}, default=None, return_dtype=pl.Utf8
    )
    return pl.concat_str([rank, pl.lit("|"), category])


def _worst(mentions: pl.Expr, keep: pl.Expr | None = None) -> pl.Expr:
    """The most severe category among list-of-mention ``mentions`` (optionally filtered)."""
    element = pl.element()
    filtered = element.filter(keep) if keep is not None else element
    ranked = mentions.list.eval(
        _ranked(filtered.str.extract(r"(" + _CAT + r")(?:[ \t]*[:\-][ \t]*(?i:pathology))?$", 1))
    )
    return ranked.list.drop_nulls().list.max().str.split("|").list.get(1, null_on_oob=True)


def _is_prior(element: pl.Expr) -> pl.Expr:
    return element.str.contains(r"^(?i:prior|previous|history|hx|old|remote)\b")


def _is_overall(element: pl.Expr) -> pl.Expr:
    return element.str.contains(r"(?i)\b(?:overall|final|combined|summary)\b")


def _is_pathology_item(element: pl.Expr) -> pl.Expr:
    return element.str.contains(r"(?i)pathology$")


def birads_columns(text: pl.Expr) -> list[pl.Expr]:
    """Expressions for ``birads`` (``'0'``..``'6'``, ``'4A'``..``'4C'`` or null) and
    ``birads_source`` (the level that decided: addendum/overall/impression/report/words)."""
    element = pl.element()
    valid = ~_is_prior(element) & ~_is_pathology_item(element)
    all_mentions = text.str.extract_all(_MENTION)
    assessment_part = text.str.extract(_ASSESSMENT_PART, 1)
    addendum_part = text.str.extract(_ADDENDUM_PART, 1)

    # an addendum's own assessment: its revision words ("changed to BI-RADS 5"), else any
    # assessment it gives ("ADDENDUM: on review, BI-RADS 5"): the radiologist's later word
    revision = pl.coalesce(
        _worst(addendum_part.str.extract_all(_REVISION)),
        _worst(addendum_part.str.extract_all(_MENTION), valid),
    )
    overall = _worst(all_mentions, valid & _is_overall(element))
    impression = _worst(assessment_part.str.extract_all(_MENTION), valid)
    anywhere = _worst(all_mentions, valid)
    words = (
        text.str.extract(_WORDS, 1)
        .str.to_lowercase()
        .replace_strict(_WORD_CATEGORIES, default=None, return_dtype=pl.Utf8)
    )
    levels = [revision, overall, impression, anywhere, words]
    birads = pl.coalesce(levels)
    source = pl.coalesce(
        [
            pl.when(level.is_not_null()).then(pl.lit(name))
            for level, name in zip(levels, _LEVEL_NAMES, strict=True)
        ]
    )
    return [birads.alias("birads"), source.alias("birads_source")]


def extract_birads(texts: pl.Series | list[str | None]) -> pl.Series:
    """The BI-RADS category of each text (convenience for one-off use and tests).

    >>> extract_birads(["ASSESSMENT: BI-RADS 2 - Benign", "Final Assessment: 3 (Probably Benign)"]).to_list()
    ['2', '3']
    >>> extract_birads(["RIGHT: BI-RADS 2. OVERALL ASSESSMENT: BI-RADS 4C"]).to_list()
    ['4C']
    """
    frame = pl.DataFrame({"text": pl.Series(texts, dtype=pl.Utf8)})
    return frame.select(birads_columns(pl.col("text"))[0]).to_series()
