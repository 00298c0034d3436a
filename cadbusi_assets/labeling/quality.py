"""Label quality checks at ingestion: objects of a class the ontology does not know, and
answers that contradict what the image itself says.

An object's class is the name of the Labelbox tool it was drawn with. A class that differs
from an ontology tool only in case or spacing (``"Lesion "``, ``"lesion mask"``) is taken as
that tool and stored under its name (:func:`check_object_classes`), so it is drawn and counted
like the others; any other class is kept, scrubbed like typed text (a tool name is text someone
typed: names, phones, ids), and reported, since no lesion mask and no count reads it. The
report names an unknown class only as ``[unknown class]``.

A ``laterality`` (or ``clock``) answer that contradicts the image's own side (clock) read
from its annotation (``image_features``) is reported, never changed
(:func:`image_disagreements`): which of the two is wrong is for a person to decide.

>>> objects = pl.DataFrame({"label_id": ["a", "a", "b"], "feature_id": ["f1", "f2", "f3"],
...     "name": ["Lesion ", "tumour 17", "lesion"]})
>>> check = check_object_classes(objects, ["lesion", "lesion_mask"])
>>> check.objects["name"].to_list(), check.normalised
(['lesion', 'tumour 17', 'lesion'], 1)
>>> check_object_classes(objects.with_columns(name=pl.lit("Hortensia Quackenbush")),
...     ["lesion"]).objects["name"].to_list()
['[NAME]', '[NAME]', '[NAME]']
>>> check.problems.rows()
[('a', 1, 'f2', '[unknown class]', 'class not in the ontology')]
>>> clock_minutes("12:30"), clock_minutes("2:10"), clock_minutes("UOQ")
(30, 130, None)
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl

from cadbusi_assets.labeling.ndjson import scrub_label_text

#: how an unknown class is named in a report (the class as typed is not shown)
UNKNOWN_CLASS = "[unknown class]"
NOT_IN_ONTOLOGY = "class not in the ontology"
NO_CLASS = "object without a class name"
CLASS_PROBLEM_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "label_id": pl.Utf8,
    "object_index": pl.Int64,
    "feature_id": pl.Utf8,
    "class": pl.Utf8,
    "problem": pl.Utf8,
}
#: questions compared with the image's own reading (the ontology's and pre-labels' names)
LATERALITY_QUESTION = "laterality"
CLOCK_QUESTION = "clock"
#: a labelled clock this far (minutes, around the dial) from the image's is a disagreement:
#: more than one step of the ontology's half-hour options
CLOCK_TOLERANCE_MINUTES = 30
DISAGREEMENT_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "label_id": pl.Utf8,
    "image_id": pl.Utf8,
    "question": pl.Utf8,
    "label_answer": pl.Utf8,
    "image_reading": pl.Utf8,
}
_SPACE = re.compile(r"[\s_]+")
_CLOCK = re.compile(r"^\s*(\d{1,2})\s*:\s*(\d{2})\s*$")


def class_key(name: str) -> str:
    """``name`` without case or spacing differences: ``" Lesion  Mask"`` → ``lesion_mask``."""
    return _SPACE.sub("_", name.strip().lower()).strip("_")


@dataclass
class ClassCheck:
    #: the objects, a class matching an ontology tool but for case/spacing renamed to it
    objects: pl.DataFrame
    #: how many objects were renamed so
    normalised: int
    #: one row per object of an unknown class (:data:`CLASS_PROBLEM_SCHEMA`)
    problems: pl.DataFrame

    def counts_by_reason(self) -> dict[str, int]:
        if self.problems.height == 0:
            return {}
        return dict(self.problems.group_by("problem").len().sort("problem").iter_rows())


def check_object_classes(objects: pl.DataFrame, known: Iterable[str]) -> ClassCheck:
    """Rename the objects whose class is a ``known`` one but for case or spacing to that one,
    scrub the other classes like typed text, and list those of another class (or none). ``object_index`` is the object's position among
    its label's objects (from 0), for objects without a feature id."""
    names = list(known)
    canonical = {class_key(n): n for n in reversed(names)}  # the first of equal keys wins
    exact = set(names)
    if objects.height == 0:
        return ClassCheck(objects, 0, pl.DataFrame(schema=CLASS_PROBLEM_SCHEMA))
    given = objects["name"].to_list()
    renamed: list[str | None] = []
    normalised = 0
    for name in given:
        if name is None or name in exact:
            renamed.append(name)
            continue
        match = canonical.get(class_key(name))
        renamed.append(match if match is not None else scrub_label_text(name))
        normalised += match is not None
    indexed = objects.with_columns(
        pl.Series("name", renamed, dtype=pl.Utf8),
        pl.int_range(pl.len()).over("label_id").cast(pl.Int64).alias("_object_index"),
    )
    unknown = indexed.filter(pl.col("name").is_null() | ~pl.col("name").is_in(names))
    problems = unknown.select(
        "label_id",
        pl.col("_object_index").cast(pl.Int64).alias("object_index"),
        "feature_id",
        pl.lit(UNKNOWN_CLASS).alias("class"),
        pl.when(pl.col("name").is_null())
        .then(pl.lit(NO_CLASS))
        .otherwise(pl.lit(NOT_IN_ONTOLOGY))
        .alias("problem"),
    )
    return ClassCheck(indexed.drop("_object_index"), normalised, problems)


def clock_minutes(text: str | None) -> int | None:
    """``H:MM`` (1-12 o'clock) as minutes past 12:00 on the dial; None for anything else."""
    match = _CLOCK.match(text or "")
    if match is None:
        return None
    hours, minutes = int(match.group(1)), int(match.group(2))
    if not 1 <= hours <= 12 or minutes >= 60:
        return None
    return (hours % 12) * 60 + minutes


def _side(value: str | None) -> str | None:
    text = (value or "").strip().lower()
    if text in ("l", "lt", "left"):
        return "LEFT"
    if text in ("r", "rt", "right"):
        return "RIGHT"
    return None


def image_readings(features: pl.DataFrame | None) -> pl.DataFrame:
    """``image_id``, ``image_side`` (LEFT/RIGHT) and ``image_clock`` (``H:MM``) per image of
    the ``image_features`` rows; a reading the image's rows do not agree on is left null."""
    schema = {"image_id": pl.Utf8, "image_side": pl.Utf8, "image_clock": pl.Utf8}
    if features is None or features.height == 0 or "image_id" not in features.columns:
        return pl.DataFrame(schema=schema)
    columns = [
        pl.col("laterality").cast(pl.Utf8) if "laterality" in features.columns else pl.lit(None),
        pl.col("clock_position").cast(pl.Utf8)
        if "clock_position" in features.columns
        else pl.lit(None),
    ]
    frame = features.select(
        pl.col("image_id").cast(pl.Utf8),
        columns[0].cast(pl.Utf8).map_elements(_side, return_dtype=pl.Utf8).alias("image_side"),
        columns[1].cast(pl.Utf8).alias("image_clock"),
    )

    def one(column: str) -> pl.Expr:
        values = pl.col(column).drop_nulls().unique()
        return pl.when(values.len() == 1).then(values.first()).alias(column)

    return frame.group_by("image_id").agg(one("image_side"), one("image_clock"))


def image_disagreements(classifications: pl.DataFrame, readings: pl.DataFrame) -> pl.DataFrame:
    """One row per ``laterality`` answer naming the other side than the image's, and per
    ``clock`` answer more than :data:`CLOCK_TOLERANCE_MINUTES` from the image's clock (both
    ``H:MM``; a quadrant is not compared). Nested answers (of a lesion object) count too."""
    if classifications.height == 0 or readings.height == 0:
        return pl.DataFrame(schema=DISAGREEMENT_SCHEMA)
    question = pl.col("question").str.strip_chars().str.to_lowercase()
    answers = classifications.filter(
        question.is_in([LATERALITY_QUESTION, CLOCK_QUESTION]) & pl.col("answer").is_not_null()
    ).select("label_id", "image_id", question.alias("question"), "answer")
    joined = answers.join(readings, on="image_id", how="inner")
    rows = []
    for label_id, image_id, asked, answer, side, clock in joined.iter_rows():
        if asked == LATERALITY_QUESTION:
            labelled = _side(answer)
            if labelled and side and labelled != side:
                rows.append((label_id, image_id, asked, labelled, side))
            continue
        labelled_minutes, image_minutes = clock_minutes(answer), clock_minutes(clock)
        if labelled_minutes is None or image_minutes is None:
            continue
        apart = abs(labelled_minutes - image_minutes)
        if min(apart, 720 - apart) > CLOCK_TOLERANCE_MINUTES:
            rows.append((label_id, image_id, asked, answer.strip(), clock.strip()))
    return (
        pl.DataFrame(rows, schema=DISAGREEMENT_SCHEMA, orient="row")
        .unique()
        .sort(["question", "label_id", "image_id"])
    )
