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


# -- calipers → lesion boxes and sizes -------------------------------------------------------

Point = tuple[float, float]
Segment = tuple[Point, Point]


def _cross(o: Point, a: Point, b: Point) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _segments_cross(s: Segment, t: Segment) -> bool:
    (p1, p2), (q1, q2) = s, t
    d1, d2 = _cross(q1, q2, p1), _cross(q1, q2, p2)
    d3, d4 = _cross(p1, p2, q1), _cross(p1, p2, q2)
    return d1 * d2 < 0 and d3 * d4 < 0


def _cos(s: Segment, t: Segment) -> float:
    ax, ay = s[1][0] - s[0][0], s[1][1] - s[0][1]
    bx, by = t[1][0] - t[0][0], t[1][1] - t[0][1]
    norm = ((ax * ax + ay * ay) * (bx * bx + by * by)) ** 0.5
    return abs(ax * bx + ay * by) / norm if norm else 1.0


def caliper_pairs(points: Sequence[Sequence[float]] | None) -> list[Segment]:
    """Group caliper marks into measurement segments (pairs of end points).

    Two marks are one measurement. Four marks are the two axes of one lesion: of the three ways
    to pair them, the one whose segments cross and are closest to perpendicular wins. Other
    counts: marks sorted left to right and paired in order (a last odd mark is dropped).

    >>> caliper_pairs([[0, 5], [10, 5], [5, 0], [5, 8]])
    [((0.0, 5.0), (10.0, 5.0)), ((5.0, 0.0), (5.0, 8.0))]
    """
    pts = [(float(p[0]), float(p[1])) for p in (points or []) if p is not None and len(p) >= 2]
    if len(pts) < 2:
        return []
    if len(pts) == 2:
        return [(pts[0], pts[1])]
    if len(pts) == 4:
        a, b, c, d = pts
        options = [((a, b), (c, d)), ((a, c), (b, d)), ((a, d), (b, c))]
        best = min(options, key=lambda o: (not _segments_cross(o[0], o[1]), _cos(o[0], o[1])))
        return sorted(best)
    ordered = sorted(pts)
    return [(ordered[i], ordered[i + 1]) for i in range(0, len(ordered) - 1, 2)]


def _length_cm(segment: Segment, spacing_x: float, spacing_y: float) -> float:
    dx = (segment[1][0] - segment[0][0]) * spacing_x
    dy = (segment[1][1] - segment[0][1]) * spacing_y
    return (dx * dx + dy * dy) ** 0.5


def caliper_measurement(
    points: Sequence[Sequence[float]] | None,
    spacing_x_cm: float | None,
    spacing_y_cm: float | None = None,
) -> dict[str, Any]:
    """Box (x0, y0, x1, y1; full-image px) and sizes from an image's caliper marks.

    Two crossing segments (the lesion's two axes) give the box around their four end points;
    one segment gives a box along it, as thick as half its length (the other axis is unknown).
    ``size_cm`` is the longest segment in cm (needs the pixel spacing), ``sizes_cm`` all of them.

    >>> m = caliper_measurement([[0, 5], [10, 5], [5, 0], [5, 8]], 0.1)
    >>> m["box"], m["size_cm"], m["n_segments"]
    ((0, 0, 10, 8), 1.0, 2)
    """
    segments = caliper_pairs(points)
    out: dict[str, Any] = {"box": None, "size_cm": None, "sizes_cm": [], "n_segments": 0}
    if not segments:
        return out
    out["n_segments"] = len(segments)
    first = segments[0]
    crossing = [s for s in segments[1:] if _segments_cross(first, s)]
    if crossing:
        corners = [*first, *crossing[0]]
        xs, ys = [p[0] for p in corners], [p[1] for p in corners]
        box = (min(xs), min(ys), max(xs), max(ys))
    else:
        (x0, y0), (x1, y1) = first
        length = ((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5
        half = length / 4.0  # a box as thick as half the measured axis
        nx, ny = (-(y1 - y0) / length, (x1 - x0) / length) if length else (0.0, 0.0)
        corners = [
            (x0 + nx * half, y0 + ny * half),
            (x0 - nx * half, y0 - ny * half),
            (x1 + nx * half, y1 + ny * half),
            (x1 - nx * half, y1 - ny * half),
        ]
        xs, ys = [p[0] for p in corners], [p[1] for p in corners]
        box = (min(xs), min(ys), max(xs), max(ys))
    out["box"] = tuple(round(v) for v in box)
    if spacing_x_cm:
        sy = spacing_y_cm or spacing_x_cm
        sizes = [round(_length_cm(s, float(spacing_x_cm), float(sy)), 2) for s in segments]
        out["sizes_cm"] = sizes
        out["size_cm"] = max(sizes)
    return out


# -- linking report lesions, images and pathology parts ---------------------------------------

#: Largest circular clock difference (hours) and distance difference (cm) still called a match
#: (the original CADBUSI lesion matcher's thresholds).
CLOCK_TOLERANCE_H = 1.5
DISTANCE_TOLERANCE_CM = 2.0
SIZE_TOLERANCE_CM = 0.5
MIN_IMAGE_SCORE = 0.5

LESIONS_TABLE_SCHEMA = pl.Schema(
    {
        "lesion_id": pl.Utf8,
        "accession_pseudo": pl.Utf8,
        "patient_pseudo": pl.Utf8,
        "lesion_index": pl.Int32,
        "side": pl.Utf8,
        "clock": pl.Utf8,
        "distance_cm": pl.Float64,
        "size_cm": pl.Float64,
        "descriptors": pl.Utf8,
        "lesion_type": pl.Utf8,
        "text": pl.Utf8,
        "method": pl.Utf8,
        "n_images": pl.UInt32,
        "specimen_pseudo": pl.Utf8,
        "part_letter": pl.Utf8,
        "interpretation": pl.Utf8,
        "cancer_type": pl.Utf8,
        "pathology_score": pl.Float64,
        "pathology_evidence": pl.Utf8,
    }
)
LESION_IMAGES_SCHEMA = pl.Schema(
    {
        "lesion_id": pl.Utf8,
        "image_id": pl.Utf8,
        "accession_pseudo": pl.Utf8,
        "score": pl.Float64,
        "evidence": pl.Utf8,
        "image_clock": pl.Utf8,
        "image_distance_cm": pl.Float64,
        "caliper_size_cm": pl.Float64,
        "box_x0": pl.Int64,
        "box_y0": pl.Int64,
        "box_x1": pl.Int64,
        "box_y1": pl.Int64,
    }
)


def clock_hours(clock: pl.Expr) -> pl.Expr:
    """``"10:30"`` → 10.5 (12 → 0)."""
    parts = clock.str.extract_groups(r"^(\d{1,2}):(\d{2})$")
    hour = parts.struct.field("1").cast(pl.Float64, strict=False)
    minute = parts.struct.field("2").cast(pl.Float64, strict=False)
    return (hour % 12) + minute / 60.0


def _clock_gap(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    d = (clock_hours(a) - clock_hours(b)).abs()
    return pl.min_horizontal(d, 12.0 - d)


def _location_terms(
    side_a: str, side_b: str, clock_a: str, clock_b: str, dist_a: str, dist_b: str
) -> tuple[pl.Expr, pl.Expr, pl.Expr, pl.Expr, pl.Expr]:
    """(side ok, clock gap, distance gap, usable, location score in [0, 1])."""
    side_ok = (
        pl.col(side_a).is_null()
        | pl.col(side_b).is_null()
        | ~pl.col(side_b).is_in(["LEFT", "RIGHT"])
        | (pl.col(side_a) == pl.col(side_b))
    )
    clock_gap = _clock_gap(pl.col(clock_a), pl.col(clock_b))
    dist_gap = (pl.col(dist_a) - pl.col(dist_b)).abs()
    clock_term = (1.0 - clock_gap / CLOCK_TOLERANCE_H).clip(lower_bound=0.0)
    dist_term = (1.0 - dist_gap / DISTANCE_TOLERANCE_CM).clip(lower_bound=0.0)
    compared = clock_gap.is_not_null().cast(pl.Int32) + dist_gap.is_not_null().cast(pl.Int32)
    within = (clock_gap.is_null() | (clock_gap <= CLOCK_TOLERANCE_H)) & (
        dist_gap.is_null() | (dist_gap <= DISTANCE_TOLERANCE_CM)
    )
    usable = side_ok & within & (compared > 0)
    # clock weighs 0.6, distance 0.4; a missing term counts half (less certain than a match)
    score = 0.6 * clock_term.fill_null(0.5) + 0.4 * dist_term.fill_null(0.5)
    return side_ok, clock_gap, dist_gap, usable, score


def _fmt(value: pl.Expr, digits: int = 1) -> pl.Expr:
    return value.round(digits).cast(pl.Utf8).fill_null("?")


def link_images(lesions: pl.DataFrame, images: pl.DataFrame) -> pl.DataFrame:
    """Each image → its best-matching report lesion of the same study (:data:`LESION_IMAGES_SCHEMA`).

    ``lesions``: ``lesion_id, accession_pseudo, side, clock, distance_cm, size_cm``.
    ``images``: ``image_id, accession_pseudo, laterality, clock_position, nipple_distance_cm,
    caliper_size_cm, box_x0..box_y1``. A pair is a candidate when the sides do not conflict and
    the clock (≤ 1.5 h) and distance (≤ 2 cm) agree where both are known, with at least one of
    them known. Score: 0.6 clock + 0.4 distance closeness (a missing term counts half), +0.1 when
    the caliper size is within 0.5 cm of the reported size, -0.1 when it is far off; the best
    lesion per image is kept when its score is at least :data:`MIN_IMAGE_SCORE`. An image whose
    best score is shared by lesions at different locations (two lesions at 5:00 of one breast,
    an image that shows the clock but not the distance) stays unlinked: the evidence cannot
    tell them apart, and a link by lesion order would be a coin toss.
    """
    if lesions.height == 0 or images.height == 0:
        return pl.DataFrame(schema=LESION_IMAGES_SCHEMA)
    pairs = images.join(
        lesions.select(
            "lesion_id",
            "accession_pseudo",
            pl.col("side").alias("_l_side"),
            pl.col("clock").alias("_l_clock"),
            pl.col("distance_cm").alias("_l_dist"),
            pl.col("size_cm").alias("_l_size"),
            "lesion_index",
        ),
        on="accession_pseudo",
        how="inner",
    )
    _, clock_gap, _dist_gap, usable, score = _location_terms(
        "_l_side", "laterality", "_l_clock", "clock_position", "_l_dist", "nipple_distance_cm"
    )
    size_gap = (pl.col("_l_size") - pl.col("caliper_size_cm")).abs()
    size_term = (
        pl.when(size_gap.is_null())
        .then(0.0)
        .when(size_gap <= SIZE_TOLERANCE_CM)
        .then(0.1)
        .otherwise(-0.1)
    )
    evidence = pl.concat_str(
        pl.lit("side "),
        pl.col("laterality").fill_null("?"),
        pl.lit("/"),
        pl.col("_l_side").fill_null("?"),
        pl.lit("; clock "),
        pl.col("clock_position").fill_null("?"),
        pl.lit(" vs "),
        pl.col("_l_clock").fill_null("?"),
        pl.lit(" ("),
        _fmt(clock_gap),
        pl.lit(" h); distance "),
        _fmt(pl.col("nipple_distance_cm")),
        pl.lit(" vs "),
        _fmt(pl.col("_l_dist")),
        pl.lit(" cm; caliper size "),
        _fmt(pl.col("caliper_size_cm"), 2),
        pl.lit(" vs "),
        _fmt(pl.col("_l_size"), 2),
        pl.lit(" cm"),
    )
    scored = (
        pairs.with_columns(
            usable.alias("_usable"),
            (score + size_term).clip(0.0, 1.0).round(3).alias("score"),
            evidence.alias("evidence"),
        )
        .filter(pl.col("_usable") & (pl.col("score") >= MIN_IMAGE_SCORE))
        .filter(
            # ambiguous: the best score reached by lesions at more than one location
            pl.struct("_l_side", "_l_clock", "_l_dist")
            .filter(pl.col("score") == pl.col("score").max())
            .n_unique()
            .over("image_id")
            == 1
        )
        .sort(["image_id", "score", "lesion_index"], descending=[False, True, False])
        .group_by("image_id", maintain_order=True)
        .first()
    )
    return (
        scored.select(
            "lesion_id",
            "image_id",
            "accession_pseudo",
            "score",
            "evidence",
            pl.col("clock_position").alias("image_clock"),
            pl.col("nipple_distance_cm").alias("image_distance_cm"),
            "caliper_size_cm",
            "box_x0",
            "box_y0",
            "box_x1",
            "box_y1",
        )
        .cast(LESION_IMAGES_SCHEMA)
        .sort("lesion_id", "image_id")
    )


_PART_CLOCK = r"(?i)\b(1[0-2]|0?[1-9]):([0-5]\d)\b|\b(1[0-2]|[1-9])[ \t]*o['’]?[ \t]*clock\b"
_PART_DISTANCE = (
    r"(?i)(\d+(?:\.\d+)?)[ \t]*(cm|mm)[ \t]*(?:from[ \t]+(?:the[ \t]+)?nipple|fn\b|cmfn)"
)


def part_locations(parts: pl.DataFrame, text_column: str = "part_text") -> pl.DataFrame:
    """``parts`` plus ``part_clock`` and ``part_distance_cm`` read from the part's text."""
    text = pl.col(text_column).fill_null("")
    clock = text.str.extract_groups(_PART_CLOCK)
    hour = pl.coalesce(clock.struct.field("1"), clock.struct.field("3")).cast(
        pl.Int32, strict=False
    )
    distance = text.str.extract_groups(_PART_DISTANCE)
    factor = pl.when(distance.struct.field("2").str.to_lowercase() == "mm").then(0.1).otherwise(1.0)
    return parts.with_columns(
        pl.when(hour.is_not_null())
        .then(pl.format("{}:{}", hour, clock.struct.field("2").fill_null("00")))
        .alias("part_clock"),
        (distance.struct.field("1").cast(pl.Float64, strict=False) * factor)
        .round(2)
        .alias("part_distance_cm"),
    )


def link_pathology(lesions: pl.DataFrame, parts: pl.DataFrame) -> pl.DataFrame:
    """Each report lesion → the pathology part of its breast's specimen that it best matches.

    ``lesions``: ``lesion_id, accession_pseudo, side, clock, distance_cm``; ``parts``:
    ``accession_pseudo, side`` (the exam breast the specimen is linked to), ``specimen_pseudo,
    part_letter, laterality, part_clock, part_distance_cm, interpretation, cancer_type``. Location
    scored like images; when neither the part nor the lesion can be located, the single part of
    that breast goes to the single lesion of that breast (score 0.4, "only part and lesion").
    """
    columns = [
        "lesion_id",
        "specimen_pseudo",
        "part_letter",
        "interpretation",
        "cancer_type",
        "pathology_score",
        "pathology_evidence",
    ]
    if lesions.height == 0 or parts.height == 0:
        return pl.DataFrame(schema={c: LESIONS_TABLE_SCHEMA[c] for c in columns})
    pairs = lesions.select(
        "lesion_id", "accession_pseudo", "side", "clock", "distance_cm", "lesion_index"
    ).join(parts, on=["accession_pseudo", "side"], how="inner")
    pairs = pairs.filter(
        pl.col("laterality").is_null()
        | ~pl.col("laterality").is_in(["LEFT", "RIGHT"])
        | (pl.col("laterality") == pl.col("side"))
    )
    _, clock_gap, dist_gap, usable, score = _location_terms(
        "side", "laterality", "clock", "part_clock", "distance_cm", "part_distance_cm"
    )
    lesions_per_side = pl.col("lesion_id").n_unique().over("accession_pseudo", "side")
    parts_per_side = (
        pl.struct("specimen_pseudo", "part_letter").n_unique().over("accession_pseudo", "side")
    )
    only = (lesions_per_side == 1) & (parts_per_side == 1)
    evidence = pl.concat_str(
        pl.lit("part "),
        pl.col("part_letter").fill_null("?"),
        pl.lit(" "),
        pl.col("laterality").fill_null("?"),
        pl.lit(" clock "),
        pl.col("part_clock").fill_null("?"),
        pl.lit(" vs "),
        pl.col("clock").fill_null("?"),
        pl.lit(" ("),
        _fmt(clock_gap),
        pl.lit(" h); distance "),
        _fmt(pl.col("part_distance_cm")),
        pl.lit(" vs "),
        _fmt(pl.col("distance_cm")),
        pl.lit(" cm"),
    )
    scored = (
        pairs.with_columns(
            pl.when(usable)
            .then(score)
            .when(only & (clock_gap.is_null() & dist_gap.is_null()))
            .then(0.4)
            .otherwise(None)
            .round(3)
            .alias("pathology_score"),
            pl.when(usable)
            .then(evidence)
            .otherwise(pl.concat_str(evidence, pl.lit("; only part and lesion of this breast")))
            .alias("pathology_evidence"),
        )
        .filter(pl.col("pathology_score").is_not_null())
        .sort(["lesion_id", "pathology_score", "part_letter"], descending=[False, True, False])
        .group_by("lesion_id", maintain_order=True)
        .first()
    )
    return scored.select(columns).cast({c: LESIONS_TABLE_SCHEMA[c] for c in columns})


def lesion_table(
    report_lesions: pl.DataFrame, images: pl.DataFrame, parts: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(lesions, lesion_images): one row per report lesion with its pathology part, and one
    row per linked image with score, evidence and caliper box.

    ``report_lesions`` is :func:`extract_lesions` output keyed by ``accession_pseudo`` (and
    ``patient_pseudo``); ``lesion_id`` is ``<accession_pseudo>-L<lesion_index>``.
    """
    keyed = report_lesions.with_columns(
        pl.format("{}-L{}", pl.col("accession_pseudo"), pl.col("lesion_index")).alias("lesion_id")
    )
    if "patient_pseudo" not in keyed.columns:
        keyed = keyed.with_columns(pl.lit(None, dtype=pl.Utf8).alias("patient_pseudo"))
    links = link_images(keyed, images)
    pathology = link_pathology(keyed, parts)
    counts = links.group_by("lesion_id").agg(pl.len().alias("n_images"))
    table = (
        keyed.join(counts, on="lesion_id", how="left")
        .with_columns(pl.col("n_images").fill_null(0))
        .join(pathology, on="lesion_id", how="left")
    )
    table = table.select(
        [
            (pl.col(c) if c in table.columns else pl.lit(None)).cast(t).alias(c)
            for c, t in LESIONS_TABLE_SCHEMA.items()
        ]
    ).sort("lesion_id")
    return table, links
