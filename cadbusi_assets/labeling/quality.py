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
from cadbusi_assets.labeling.ontology import ClassificationSpec

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
    scrubbed: dict[str, str | None] = {}  # once per distinct class (a label set repeats them)
    for name in given:
        if name is None or name in exact:
            renamed.append(name)
            continue
        match = canonical.get(class_key(name))
        if match is None and name not in scrubbed:
            scrubbed[name] = scrub_label_text(name)
        renamed.append(match if match is not None else scrubbed[name])
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


#: how an unknown question is named in a report (the question as typed is not shown)
UNKNOWN_QUESTION = "[unknown question]"
QUESTION_NOT_IN_ONTOLOGY = "question not in the ontology"
QUESTION_WITHOUT_NAME = "answer without a question name"
ANSWER_NOT_AN_OPTION = "answer not among the question's options"
QUESTION_PROBLEM_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "label_id": pl.Utf8,
    "question": pl.Utf8,
    "answer_kind": pl.Utf8,
    "problem": pl.Utf8,
    "answers": pl.Int64,
}


@dataclass
class QuestionCheck:
    #: the answers: a known question's name (or option) but for case/spacing renamed to it;
    #: an unknown question's name and every answer to it scrubbed like typed text; an answer
    #: that is not one of its question's options scrubbed too
    classifications: pl.DataFrame
    #: answers renamed to the ontology's question or option
    normalised: int
    #: answers (rows) to a question the ontology does not have
    unknown_question_answers: int
    #: answers to an ontology question that are not among its options
    answers_not_in_options: int
    #: per label, question (``[unknown question]`` unless an ontology question), kind and
    #: problem: how many answers (:data:`QUESTION_PROBLEM_SCHEMA`)
    problems: pl.DataFrame
    #: the rows of :attr:`classifications` that are an ontology question's option (for lists
    #: of answers in run metadata)
    known: pl.Series


def check_questions(
    classifications: pl.DataFrame, questions: Iterable[ClassificationSpec]
) -> QuestionCheck:
    """Compare the answers with the ontology's classification questions (``questions``: items
    of the ontology, :class:`.ontology.ClassificationSpec`).

    A question name is typed by whoever edits the project's ontology in Labelbox, and an
    option's name too: a question the configured ontology does not have ("Mrs X's prior?"),
    answered with options of its own, would otherwise be stored and listed as typed. Such
    answers are kept (a person decides) with the question and a radio or checklist answer
    scrubbed (:func:`scrub_label_text`; text answers are scrubbed at parsing), counted and
    listed per label as ``[unknown question]``; an answer to an ontology question that is not
    one of its options is scrubbed and counted the same way. Nothing is scrubbed twice
    differently: a second call changes nothing.

    >>> from cadbusi_assets.labeling.ontology import OntologySpec
    >>> answers = pl.DataFrame({"label_id": ["a", "a", "a", "a"],
    ...     "question": ["Laterality", "Hortensia Quackenbush?", "comment", "birads"],
    ...     "answer": ["left", "Hortensia Quackenbush", "fine", "4Z"],
    ...     "answer_kind": ["radio", "radio", "text", "radio"]})
    >>> check = check_questions(answers, OntologySpec.default().classifications)
    >>> check.classifications["question"].to_list()
    ['laterality', '[NAME]?', 'comment', 'birads']
    >>> check.classifications["answer"].to_list()[1], check.known.to_list()
    ('[NAME]', [True, False, False, False])
    >>> check.unknown_question_answers, check.answers_not_in_options, check.normalised
    (1, 1, 1)
    >>> check.problems.select("question", "problem").rows()[0]
    ('[unknown question]', 'question not in the ontology')
    """
    specs = {q.name: q for q in questions}
    canonical = {class_key(n): n for n in reversed(list(specs))}
    empty = pl.DataFrame(schema=QUESTION_PROBLEM_SCHEMA)
    if classifications.height == 0 or "question" not in classifications.columns:
        return QuestionCheck(classifications, 0, 0, 0, empty, pl.Series("known", [], pl.Boolean))
    scrubbed: dict[str, str | None] = {}

    def scrub(text: str) -> str | None:
        if text not in scrubbed:
            scrubbed[text] = scrub_label_text(text)
        return scrubbed[text]

    def verdict(
        question: str | None, answer: str | None, kind: str | None
    ) -> tuple[str | None, str | None, bool, str | None, str | None, bool]:
        """(question, answer, known option, problem, question as listed, normalised)"""
        name = canonical.get(class_key(question)) if question is not None else None
        if name is None:
            reason = QUESTION_WITHOUT_NAME if question is None else QUESTION_NOT_IN_ONTOLOGY
            return (
                None if question is None else scrub(question),
                answer if kind == "text" or answer is None else scrub(answer),
                False,
                reason,
                UNKNOWN_QUESTION,
                False,
            )
        options = list(specs[name].options)
        if kind == "text" or answer is None or not options:
            known = kind != "text" and answer is not None
            return name, answer, known, None, None, name != question
        option = {class_key(o): o for o in reversed(options)}.get(class_key(answer))
        if option is None:
            return name, scrub(answer), False, ANSWER_NOT_AN_OPTION, name, name != question
        return name, option, True, None, None, name != question or option != answer

    triple = ["question", "answer", "answer_kind"]
    distinct = classifications.select(triple).unique(maintain_order=True)
    verdicts = [verdict(*row) for row in distinct.iter_rows()]
    table = distinct.with_columns(
        pl.Series("_question", [v[0] for v in verdicts], dtype=pl.Utf8),
        pl.Series("_answer", [v[1] for v in verdicts], dtype=pl.Utf8),
        pl.Series("_known", [v[2] for v in verdicts], dtype=pl.Boolean),
        pl.Series("_problem", [v[3] for v in verdicts], dtype=pl.Utf8),
        pl.Series("_listed", [v[4] for v in verdicts], dtype=pl.Utf8),
        pl.Series("_normalised", [v[5] for v in verdicts], dtype=pl.Boolean),
    )
    joined = (
        classifications.with_row_index("_row")
        .join(table, on=triple, how="left", nulls_equal=True)
        .sort("_row")
    )
    out = joined.with_columns(
        pl.col("_question").alias("question"), pl.col("_answer").alias("answer")
    ).select(classifications.columns)
    problem = pl.col("_problem")
    unknown_questions = int(
        joined["_problem"].is_in([QUESTION_NOT_IN_ONTOLOGY, QUESTION_WITHOUT_NAME]).sum()
    )
    not_options = int((joined["_problem"] == ANSWER_NOT_AN_OPTION).sum())
    normalised = int(joined["_normalised"].sum())
    listed = joined.filter(problem.is_not_null())
    problems = (
        listed.select(
            "label_id",
            pl.col("_listed").alias("question"),
            "answer_kind",
            pl.col("_problem").alias("problem"),
        )
        .group_by(["label_id", "question", "answer_kind", "problem"])
        .len("answers")
        .with_columns(pl.col("answers").cast(pl.Int64))
        .sort(["label_id", "question", "answer_kind", "problem"], nulls_last=True)
        if listed.height
        else empty
    )
    return QuestionCheck(
        out, normalised, unknown_questions, not_options, problems, joined["_known"].alias("known")
    )
