"""Lesions described in the findings: clock position, distance from the nipple, size and
descriptors, one row per lesion.

The deterministic extractor (default) reads each sentence of the findings that names a
lesion (mass, lesion, nodule, cyst, lymph node, area, focus) with a clock position or a size:

- ``clock``: ``2:00``, ``10:30``, ``2 o'clock`` → ``"2:00"``, ``"10:30"`` (decimals such as
  ``1.2 cm`` never match — a defect of the original OCR clock regex);
- ``distance_cm``: ``3 cm from the nipple``, ``3 cm FN``, ``25 mm from nipple`` (mm → cm);
- ``size_cm``: the largest dimension of ``1.4 x 1.1 x 1.0 cm``, ``8 mm``, ``measuring 2 cm``;
- ``descriptors``: BI-RADS ultrasound lexicon words present in the sentence;
- ``lesion_type``: ``lymph node``, ``cyst``, ``mass`` or ``other``;
- ``side``: LEFT/RIGHT named in the sentence, else the unilateral study laterality.

An optional :class:`LesionLLM` can do the extraction instead (off by default, never used by the
tests of the pipeline). Its input text is scrubbed first (names, identifiers, signatures and
dates removed) and its answers are joined back by request id, never by position (a defect of
the original Gemini batch join).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import polars as pl

from cadbusi_assets.records.lexicon import FEATURES, lexicon_features
from cadbusi_assets.records.scrub import scrub_report_text

LESIONS_SCHEMA_EXTRA = pl.Schema(
    {
        "lesion_index": pl.Int32,
        "side": pl.Utf8,
        "clock": pl.Utf8,
        "distance_cm": pl.Float64,
        "size_cm": pl.Float64,
        "descriptors": pl.Utf8,
        "lesion_type": pl.Utf8,
        "text": pl.Utf8,
        "method": pl.Utf8,
    }
)

_DECIMAL_MARK = "\x1e"
_SENTENCE = r"[^.;\n]+"
_LESION_NOUN = r"(?i)\b(?:mass(?:es)?|lesions?|nodules?|cysts?|lymph nodes?|nodes?|focus|foci|area|abnormality|finding)\b"
_CLOCK = r"(?i)\b(1[0-2]|0?[1-9]):([0-5]\d)\b|\b(1[0-2]|[1-9])[ \t]*o['’]?[ \t]*clock\b"
_DISTANCE = r"(?i)(\d+(?:\x1e\d+)?)[ \t]*(cm|mm)[ \t]*(?:from[ \t]+(?:the[ \t]+)?nipple|fn\b|f\x1en\x1e?|cmfn)"
_SIZE = (
    r"(?i)(\d+(?:\x1e\d+)?)(?:[ \t]*(?:cm|mm)?[ \t]*x[ \t]*(\d+(?:\x1e\d+)?))?"
    r"(?:[ \t]*(?:cm|mm)?[ \t]*x[ \t]*(\d+(?:\x1e\d+)?))?[ \t]*(cm|mm)\b"
)


@dataclass(frozen=True)
class LesionRequest:
    """One text for the LLM; ``request_id`` is how the answer is matched back."""

    request_id: str
    text: str


@dataclass(frozen=True)
class Lesion:
    clock: str | None = None
    distance_cm: float | None = None
    size_cm: float | None = None
    descriptors: str | None = None
    side: str | None = None
    lesion_type: str | None = None


@runtime_checkable
class LesionLLM(Protocol):
    """A pluggable LLM client. Implementations send the requests (batch or one by one) and
    return the lesions per ``request_id``; requests they could not answer are simply absent."""

    def extract(self, requests: Sequence[LesionRequest]) -> Mapping[str, Sequence[Lesion]]: ...


def extract_lesions(
    findings: pl.DataFrame | str,
    *,
    text_column: str = "findings",
    key_columns: Sequence[str] = ("patient_id", "accession_number"),
    llm: LesionLLM | None = None,
) -> pl.DataFrame:
    """One row per lesion: the key columns present in ``findings`` plus
    :data:`LESIONS_SCHEMA_EXTRA`. A plain string is read as one findings text.

    With ``llm`` the LLM extracts (on scrubbed text); otherwise the deterministic rules do.
    """
    frame = pl.DataFrame({text_column: [findings]}) if isinstance(findings, str) else findings
    keys = [c for c in key_columns if c in frame.columns]
    laterality = (
        pl.col("study_laterality")
        if "study_laterality" in frame.columns
        else pl.lit(None, dtype=pl.Utf8)
    )
    rows = frame.select(
        *keys, pl.col(text_column).alias("_text"), laterality.alias("_laterality")
    ).with_row_index("_row")
    if llm is not None:
        return _with_llm(rows, keys, llm)
    return _with_rules(rows, keys)


def _number(expr: pl.Expr) -> pl.Expr:
    return expr.str.replace(_DECIMAL_MARK, ".", literal=True).cast(pl.Float64, strict=False)


def _with_rules(rows: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    sentences = (
        rows.with_columns(
            pl.col("_text")
            .str.replace_all(r"(\d)\.(\d)", "$1" + _DECIMAL_MARK + "$2")
            .str.replace_all(r"(?i)\bf\.n\.", "f" + _DECIMAL_MARK + "n" + _DECIMAL_MARK)
            .str.extract_all(_SENTENCE)
            .alias("_sentence")
        )
        .explode("_sentence")
        .with_columns(pl.col("_sentence").str.strip_chars())
        .filter(pl.col("_sentence").str.len_chars() > 0)
    )
    s = pl.col("_sentence")
    clock_parts = s.str.extract_groups(_CLOCK)
    distance = s.str.extract_groups(_DISTANCE)
    without_distance = s.str.replace_all(_DISTANCE, " ")
    size = without_distance.str.extract_groups(_SIZE)
    unit_factor = (
        pl.when(size.struct.field("4").str.to_lowercase() == "mm").then(0.1).otherwise(1.0)
    )
    size_cm = (
        pl.max_horizontal(
            _number(size.struct.field("1")),
            _number(size.struct.field("2")),
            _number(size.struct.field("3")),
        )
        * unit_factor
    ).round(3)
    distance_cm = _number(distance.struct.field("1")) * pl.when(
        distance.struct.field("2").str.to_lowercase() == "mm"
    ).then(0.1).otherwise(1.0)
    distance_cm = distance_cm.round(3)
    hour = pl.coalesce(clock_parts.struct.field("1"), clock_parts.struct.field("3")).cast(
        pl.Int32, strict=False
    )
    minutes = clock_parts.struct.field("2").fill_null("00")
    clock = pl.when(hour.is_not_null()).then(pl.format("{}:{}", hour, minutes))
    lowered = s.str.to_lowercase()
    lesion_type = (
        pl.when(lowered.str.contains(r"\blymph nodes?\b|\bnodes?\b"))
        .then(pl.lit("lymph node"))
        .when(lowered.str.contains(r"\bcysts?\b"))
        .then(pl.lit("cyst"))
        .when(lowered.str.contains(r"\b(?:mass(?:es)?|lesions?|nodules?)\b"))
        .then(pl.lit("mass"))
        .otherwise(pl.lit("other"))
    )
    up = s.str.to_uppercase()
    right, left = up.str.contains(r"\bRIGHT\b"), up.str.contains(r"\bLEFT\b")
    side = (
        pl.when(right & ~left)
        .then(pl.lit("RIGHT"))
        .when(left & ~right)
        .then(pl.lit("LEFT"))
        .when(pl.col("_laterality").is_in(["LEFT", "RIGHT"]))
        .then(pl.col("_laterality"))
    )
    lesions = (
        sentences.with_columns(
            clock.alias("clock"),
            distance_cm.alias("distance_cm"),
            size_cm.alias("size_cm"),
            lesion_type.alias("lesion_type"),
            side.alias("side"),
            s.str.replace_all(_DECIMAL_MARK, ".", literal=True).alias("text"),
            pl.lit("rules").alias("method"),
        )
        .filter(
            s.str.contains(_LESION_NOUN)
            & (pl.col("clock").is_not_null() | pl.col("size_cm").is_not_null())
        )
        .with_columns(
            (pl.int_range(pl.len()).over("_row") + 1).cast(pl.Int32).alias("lesion_index")
        )
        .with_row_index("_sid")
    )
    # descriptors: the lexicon of the sentence, with its negation and priority rules
    lexicon = lexicon_features(lesions, "_sentence", "_sid")
    descriptors = pl.concat_str([pl.col(f) for f in FEATURES], separator=", ", ignore_nulls=True)
    lesions = lesions.join(
        lexicon.select(
            "_sid", pl.when(descriptors.str.len_chars() > 0).then(descriptors).alias("descriptors")
        ),
        on="_sid",
        how="left",
    ).sort("_sid")
    return lesions.select(*keys, *[pl.col(c).cast(t) for c, t in LESIONS_SCHEMA_EXTRA.items()])


def _with_llm(rows: pl.DataFrame, keys: list[str], llm: LesionLLM) -> pl.DataFrame:
    present = rows.filter(pl.col("_text").is_not_null())
    requests = [
        LesionRequest(
            f"row-{row_id}",
            scrub_report_text(
                text, identifiers=[v for v in key_values if v], date_shift_days=0, remove_dates=True
            )
            or "",
        )
        for row_id, text, *key_values in present.select("_row", "_text", *keys).iter_rows()
    ]
    answers = llm.extract(requests) if requests else {}
    records: list[dict[str, Any]] = []
    for request in requests:
        row_id = int(request.request_id.removeprefix("row-"))
        for index, lesion in enumerate(answers.get(request.request_id, ()), start=1):
            records.append(
                {
                    "_row": row_id,
                    "lesion_index": index,
                    "side": lesion.side,
                    "clock": normalize_clock(lesion.clock),
                    "distance_cm": _float_or_none(lesion.distance_cm),
                    "size_cm": _float_or_none(lesion.size_cm),
                    "descriptors": lesion.descriptors,
                    "lesion_type": lesion.lesion_type,
                    "text": None,
                    "method": "llm",
                }
            )
    found = pl.DataFrame(records, schema={"_row": pl.UInt32, **LESIONS_SCHEMA_EXTRA})
    joined = found.join(rows.select("_row", *keys), on="_row", how="left").sort(
        "_row", "lesion_index"
    )
    return joined.select(*keys, *LESIONS_SCHEMA_EXTRA)


def normalize_clock(value: Any) -> str | None:
    """``"2"``, ``"2:00"``, ``"2 o'clock"``, ``"10:30"`` → ``"2:00"``/``"10:30"``; else None.

    >>> [normalize_clock(v) for v in ("2", "02:00", "10:30", "2 o'clock", "1.2", "na", None)]
    ['2:00', '2:00', '10:30', '2:00', None, None, None]
    """
    if value is None:
        return None
    match = re.fullmatch(
        r"\s*(1[0-2]|0?[1-9])(?::([0-5]\d))?\s*(?:o['’]?\s*clock)?\s*", str(value), re.I
    )
    if not match:
        return None
    return f"{int(match.group(1))}:{match.group(2) or '00'}"


def _float_or_none(value: Any) -> float | None:
    if value is None:
        return None
    try:
        number = float(str(value).lower().replace("cm", "").strip())
    except ValueError:
        return None
    return number if number == number else None  # NaN → None


def lesions_from_json(text: str) -> list[Lesion]:
    """Parse an LLM answer: a JSON array of ``{direction|clock, distance, size, type|descriptors}``
    objects, possibly inside a markdown code fence; ``"na"`` means missing.

    >>> lesions_from_json('```json\\n[{"direction": "2:00", "distance": "3", "size": "1.4", "type": "oval"}]\\n```')
    [Lesion(clock='2:00', distance_cm=3.0, size_cm=1.4, descriptors='oval', side=None, lesion_type=None)]
    """
    cleaned = re.sub(r"^\s*```(?:json)?\s*|\s*```\s*$", "", text.strip())
    try:
        data = json.loads(cleaned)
    except json.JSONDecodeError:
        return []
    if not isinstance(data, list):
        return []

    def value(item: dict, *names: str) -> Any:
        for name in names:
            if name in item and str(item[name]).strip().lower() not in (
                "na",
                "n/a",
                "",
                "none",
                "null",
            ):
                return item[name]
        return None

    return [
        Lesion(
            clock=normalize_clock(value(item, "clock", "direction")),
            distance_cm=_float_or_none(value(item, "distance_cm", "distance")),
            size_cm=_float_or_none(value(item, "size_cm", "size")),
            descriptors=value(item, "descriptors", "type"),
        )
        for item in data
        if isinstance(item, dict)
    ]
