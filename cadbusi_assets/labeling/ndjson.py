"""Labelbox export rows → normalized label tables.

One export row is one data row with ``projects.<project id>.labels[]``; each label has
``annotations.objects[]`` (boxes, polygons, points, masks, with nested classifications) and
``annotations.classifications[]`` (radio, checklist, text). We keep:

* ``labels``: one row per (data row, label): ids, project (its name scrubbed like typed text),
  workflow status (Labelbox's value or ``other``: :func:`workflow_status`), timestamps and
  ``annotator_hash``, the annotator's keyed pseudonym (:mod:`.annotators`; null when parsed
  without the pseudonym key: the staff e-mail is never kept, nor an unkeyed hash of it);
* ``objects``: one row per object annotation with its ``kind`` (Labelbox's ``annotation_kind``
  or ``other``: :func:`annotation_kind`) and geometry (a mask as ``mask_url`` without
  query string and ``mask_color``; ``mask_path`` / ``mask_sha256`` are filled in by the label
  ingestion, which fetches and stores the mask, see :mod:`.masks`);
* ``classifications``: one row per answer (radio answer, each checklist answer, text), for
  global classifications and those nested under objects; typed text is scrubbed like report
  text (:func:`scrub_label_text`).

A label id appears once in the parsed tables: when exports overlap (a second export that
re-exports a relabelled data row), the newest version of each label wins — the later
``updated_at``, and on equal times the one read last (the later export).
:func:`parse_export` also returns the versions that lost (``superseded``), each with its
``label_revision`` (a content hash of that version) and ``superseded_by`` (the winner's).

>>> row = {"data_row": {"id": "dr1", "global_key": "img1"}, "projects": {"p1": {"name": "P",
...   "labels": [{"id": "l1", "label_details": {"updated_at": "2026-01-02T00:00:00.000+00:00"},
...   "annotations": {"objects": [], "classifications": [{"name": "has_calipers",
...   "radio_answer": {"name": "yes"}}]}}], "project_details": {"workflow_status": "DONE"}}}}
>>> tables = parse_export_rows([row])
>>> tables.classifications.select("image_id", "question", "answer").row(0)
('img1', 'has_calipers', 'yes')
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from cadbusi_assets.labeling.masks import safe_mask_url

LABELS_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "label_id": pl.Utf8,
    "data_row_id": pl.Utf8,
    "image_id": pl.Utf8,
    "project_id": pl.Utf8,
    "project_name": pl.Utf8,
    "workflow_status": pl.Utf8,
    "created_at": pl.Datetime("us", "UTC"),
    "updated_at": pl.Datetime("us", "UTC"),
    "annotator_hash": pl.Utf8,
    "seconds_to_create": pl.Float64,
}
OBJECTS_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "label_id": pl.Utf8,
    "image_id": pl.Utf8,
    "project_id": pl.Utf8,
    "feature_id": pl.Utf8,
    "name": pl.Utf8,
    "kind": pl.Utf8,
    "bbox_left": pl.Float64,
    "bbox_top": pl.Float64,
    "bbox_width": pl.Float64,
    "bbox_height": pl.Float64,
    "points": pl.List(pl.List(pl.Float64)),
    "mask_url": pl.Utf8,
    "mask_color": pl.List(pl.Int32),
    "mask_path": pl.Utf8,
    "mask_sha256": pl.Utf8,
}
CLASSIFICATIONS_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "label_id": pl.Utf8,
    "image_id": pl.Utf8,
    "project_id": pl.Utf8,
    "parent_feature_id": pl.Utf8,
    "question": pl.Utf8,
    "answer": pl.Utf8,
    "answer_kind": pl.Utf8,
}


#: Position of a label entry in the export stream (internal; breaks ties between versions).
_OCCURRENCE = "_occurrence"
#: Columns that history rows carry on top of the table columns.
HISTORY_COLUMNS: dict[str, pl.DataType | type[pl.DataType]] = {
    "label_revision": pl.Utf8,
    "superseded_by": pl.Utf8,
}


class ExportFormatError(ValueError):
    """An export row does not have the Labelbox export shape; the message says where."""


@dataclass
class LabelTables:
    labels: pl.DataFrame
    objects: pl.DataFrame
    classifications: pl.DataFrame

    @classmethod
    def empty(cls) -> LabelTables:
        return cls(
            pl.DataFrame(schema=LABELS_SCHEMA),
            pl.DataFrame(schema=OBJECTS_SCHEMA),
            pl.DataFrame(schema=CLASSIFICATIONS_SCHEMA),
        )

    @classmethod
    def empty_history(cls) -> LabelTables:
        return cls(
            pl.DataFrame(schema=LABELS_SCHEMA | HISTORY_COLUMNS),
            pl.DataFrame(schema=OBJECTS_SCHEMA | HISTORY_COLUMNS),
            pl.DataFrame(schema=CLASSIFICATIONS_SCHEMA | HISTORY_COLUMNS),
        )

    def sorted(self) -> LabelTables:
        return LabelTables(
            self.labels.sort(["image_id", "label_id"]),
            self.objects.sort(["image_id", "label_id", "feature_id"], nulls_last=True),
            self.classifications.sort(
                ["image_id", "label_id", "parent_feature_id", "question", "answer"], nulls_last=True
            ),
        )


def _timestamp(text: Any) -> dt.datetime | None:
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def _answers(
    classification: Mapping[str, Any],
    label_id: str,
    image_id: str,
    project_id: str,
    parent: str | None,
) -> Iterable[dict[str, Any]]:
    question = classification.get("name") or classification.get("value")
    base = {
        "label_id": label_id,
        "image_id": image_id,
        "project_id": project_id,
        "parent_feature_id": parent,
        "question": question,
    }
    if "radio_answer" in classification:
        answer = classification["radio_answer"] or {}
        yield {**base, "answer": answer.get("name") or answer.get("value"), "answer_kind": "radio"}
        for nested in answer.get("classifications", []) or []:
            yield from _answers(nested, label_id, image_id, project_id, parent)
    elif "checklist_answers" in classification:
        for answer in classification.get("checklist_answers") or []:
            yield {
                **base,
                "answer": answer.get("name") or answer.get("value"),
                "answer_kind": "checklist",
            }
            for nested in answer.get("classifications", []) or []:
                yield from _answers(nested, label_id, image_id, project_id, parent)
    elif "text_answer" in classification:
        content = (classification.get("text_answer") or {}).get("content")
        # as typed: _parse_all scrubs it (once per distinct text)
        yield {**base, "answer": content, "answer_kind": "text"}


def scrub_label_text(text: Any) -> str | None:
    """A labeler's typed answer (a free-text question, a comment) as it may be kept in the
    research zone: scrubbed like report text (names in any script, phones, ids, dates,
    addresses; :func:`cadbusi_assets.deid.text.scrub_free_text`). Labelers see de-identified
    images only, but they type what they like ("compare with Mrs X's 2021 scan").

    >>> scrub_label_text("call 555-867-5309")
    'call [phone]'
    >>> scrub_label_text(None) is None
    True
    """
    if text is None:
        return None
    from cadbusi_assets.deid.text import scrub_free_text  # heavy: word lists

    return scrub_free_text(str(text))


#: ``project_details.workflow_status`` values Labelbox exports (a data row's place in the
#: project's review workflow); any other text is stored as :data:`OTHER`
WORKFLOW_STATUSES: tuple[str, ...] = ("TO_LABEL", "IN_REVIEW", "IN_REWORK", "DONE")
#: statuses whose labels a reviewer rejected (sent back to the labeler): not lesion masks
REJECTED_WORKFLOW_STATUSES: tuple[str, ...] = ("IN_REWORK",)
#: ``annotation_kind`` values of image objects in a Labelbox export; any other text is
#: stored as :data:`OTHER`
ANNOTATION_KINDS: tuple[str, ...] = (
    "ImageBoundingBox",
    "ImagePolygon",
    "ImagePoint",
    "ImagePolyline",
    "ImageSegmentationMask",
)
#: what a workflow status or annotation kind outside its vocabulary is stored as
OTHER = "other"


def _closed(value: Any, vocabulary: Sequence[str]) -> str | None:
    """``value`` as the vocabulary's spelling (case, spaces, ``-`` / ``_`` ignored), else
    :data:`OTHER`; None stays None. Never the text as typed."""
    if value is None:
        return None
    if not isinstance(value, str):
        return OTHER
    key = "".join(c for c in value.lower() if c.isalnum())
    for known in vocabulary:
        if key == "".join(c for c in known.lower() if c.isalnum()):
            return known
    return OTHER


def workflow_status(value: Any) -> str | None:
    """A data row's ``workflow_status`` as stored: one of :data:`WORKFLOW_STATUSES`, else
    :data:`OTHER` (a hand-made export may carry anything there).

    >>> workflow_status("In Rework"), workflow_status("DONE - called Mrs X"), workflow_status(None)
    ('IN_REWORK', 'other', None)
    """
    return _closed(value, WORKFLOW_STATUSES)


def annotation_kind(value: Any) -> str | None:
    """An object's ``annotation_kind`` as stored: one of :data:`ANNOTATION_KINDS`, else
    :data:`OTHER`.

    >>> annotation_kind("ImageBoundingBox"), annotation_kind("ImageBoundingBox 555-867-5309")
    ('ImageBoundingBox', 'other')
    """
    return _closed(value, ANNOTATION_KINDS)


def scrub_label_fields(
    labels: pl.DataFrame, objects: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Stored ``labels`` / ``objects`` tables with the fields a person types in Labelbox made
    safe: ``project_name`` scrubbed like typed text (:func:`scrub_label_text`),
    ``workflow_status`` and ``kind`` closed to their vocabularies (:func:`workflow_status`,
    :func:`annotation_kind`). Doing it again changes nothing."""

    def closed(frame: pl.DataFrame, column: str, to: Callable[[Any], str | None]) -> pl.DataFrame:
        if column not in frame.columns or frame.height == 0:
            return frame
        values = frame[column].cast(pl.Utf8).unique().drop_nulls().to_list()
        mapping = {v: to(v) for v in values}
        return frame.with_columns(
            pl.col(column).cast(pl.Utf8).replace_strict(mapping, default=None, return_dtype=pl.Utf8)
        )

    labels = closed(labels, "project_name", scrub_label_text)
    labels = closed(labels, "workflow_status", workflow_status)
    objects = closed(objects, "kind", annotation_kind)
    return labels, objects


def scrub_text_answers(classifications: pl.DataFrame) -> pl.DataFrame:
    """``classifications`` with every text answer through :func:`scrub_label_text` (for label
    tables written before typed text was scrubbed; scrubbing scrubbed text changes nothing)."""
    if classifications.height == 0 or "answer_kind" not in classifications.columns:
        return classifications
    is_text = pl.col("answer_kind") == "text"
    texts = classifications.filter(is_text)["answer"].unique().drop_nulls().to_list()
    if not texts:
        return classifications
    scrubbed = {text: scrub_label_text(text) for text in texts}
    return classifications.with_columns(
        answer=pl.when(is_text).then(pl.col("answer").replace(scrubbed)).otherwise(pl.col("answer"))
    )


def _number(value: Any, where: str) -> float:
    """``value`` as a float, or :class:`ExportFormatError` naming ``where`` (never the value:
    a field typed by hand may hold anything)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ExportFormatError(f"{where} is not a number")
    try:
        return float(value)
    except ValueError:
        raise ExportFormatError(f"{where} is not a number") from None


def _geometry(obj: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "bbox_left": None,
        "bbox_top": None,
        "bbox_width": None,
        "bbox_height": None,
        "points": None,
        "mask_url": None,
        "mask_color": None,
        "mask_path": None,
        "mask_sha256": None,
    }
    if box := obj.get("bounding_box"):
        if not isinstance(box, Mapping) or not {"left", "top", "width", "height"} <= set(box):
            raise ExportFormatError("a bounding_box without left, top, width and height")
        out.update(
            {
                f"bbox_{side}": _number(box[side], f"bounding_box.{side}")
                for side in ("left", "top", "width", "height")
            }
        )
    elif polygon := obj.get("polygon") or obj.get("line"):
        if not isinstance(polygon, list) or not all(isinstance(p, Mapping) for p in polygon):
            raise ExportFormatError("a polygon or line that is not a list of points")
        out["points"] = [
            [_number(p.get("x"), "polygon point x"), _number(p.get("y"), "polygon point y")]
            for p in polygon
        ]
    elif point := obj.get("point"):
        if not isinstance(point, Mapping):
            raise ExportFormatError("a point without x and y")
        out["points"] = [[_number(point.get("x"), "point x"), _number(point.get("y"), "point y")]]
    elif mask := obj.get("composite_mask") or obj.get("mask"):
        if not isinstance(mask, Mapping):
            raise ExportFormatError("a mask without url")
        # no tokens (query string) and no data: payload in the table; the label ingestion
        # fetches the mask from the URL as exported (see :mod:`.masks`)
        out["mask_url"] = safe_mask_url(mask.get("url"))
        if "color_rgb" in mask:
            colour = mask["color_rgb"]
            if not isinstance(colour, list) or len(colour) != 3:
                raise ExportFormatError("a mask color_rgb that is not three numbers")
            out["mask_color"] = [int(_number(c, "mask color_rgb")) for c in colour]
    return out


def _text(value: Any) -> str | None:
    """An id or name field as text (an export may carry numbers); None stays None."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise ExportFormatError("an id or name that is not text")


#: This platform's image ids (:func:`~cadbusi_assets.identity.pseudonyms.image_id_for`).
_IMAGE_ID = re.compile(r"[0-9a-f]{24}")


def _made_by_hand(row: Mapping[str, Any]) -> bool:
    """A data row with no global key whose external id is not an image id of this platform
    (a data row made by hand in Labelbox, its file name maybe the patient's): its labels are
    never read, so the name is never stored (this platform's data rows carry their image id
    as global key)."""
    data_row = row.get("data_row")
    if not isinstance(data_row, Mapping) or data_row.get("global_key"):
        return False
    external = data_row.get("external_id")  # (none at all: a format error, named by row)
    return isinstance(external, str) and bool(external) and not _IMAGE_ID.fullmatch(external)


def labels_made_by_hand(rows: Iterable[Mapping[str, Any]]) -> set[str]:
    """The label ids of ``rows`` that belong to hand-made data rows (:func:`_made_by_hand`;
    a label exported in several versions counts once)."""
    ids: set[str] = set()
    for row in rows:
        if isinstance(row, Mapping) and _made_by_hand(row):
            for project in (row.get("projects") or {}).values():
                if isinstance(project, Mapping):
                    for label in project.get("labels") or []:
                        if isinstance(label, Mapping):
                            ids.add(str(label.get("id")))
    return ids


def _parse_all(
    rows: Iterable[Mapping[str, Any]], annotator: Callable[[str], str] | None = None
) -> LabelTables:
    """Every label entry of the export stream, numbered by position (``_occurrence``).

    A row that does not have the export shape is an :class:`ExportFormatError` naming the row
    (and the label id when it has one), never a value of the row."""
    labels: list[dict[str, Any]] = []
    objects: list[dict[str, Any]] = []
    classifications: list[dict[str, Any]] = []
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, Mapping):
            raise ExportFormatError(
                f"export row {number} is a JSON {type(row).__name__}, not an object (one export "
                "row per line)"
            )
        if _made_by_hand(row):
            continue
        parsed = _parse_row(row, number, len(labels), annotator)
        labels += parsed.labels
        objects += parsed.objects
        classifications += parsed.classifications
    scrubbed: dict[str, str | None] = {}
    for answer in classifications:
        text = answer["answer"]
        if answer["answer_kind"] == "text" and text is not None:
            if text not in scrubbed:
                scrubbed[text] = scrub_label_text(text)
            answer["answer"] = scrubbed[text]
    names: dict[str, str | None] = {}
    for label in labels:  # named by whoever set the project up: scrubbed like typed text
        name = label["project_name"]
        if name is not None:
            if name not in names:
                names[name] = scrub_label_text(name)
            label["project_name"] = names[name]
    occurrence_column: dict[str, pl.DataType | type[pl.DataType]] = {_OCCURRENCE: pl.Int64}
    return LabelTables(
        pl.DataFrame(labels, schema=LABELS_SCHEMA | occurrence_column, orient="row"),
        pl.DataFrame(objects, schema=OBJECTS_SCHEMA | occurrence_column, orient="row"),
        pl.DataFrame(
            classifications, schema=CLASSIFICATIONS_SCHEMA | occurrence_column, orient="row"
        ),
    )


@dataclass
class _RowParts:
    labels: list[dict[str, Any]]
    objects: list[dict[str, Any]]
    classifications: list[dict[str, Any]]


def check_export_row(row: Any, number: int = 1) -> None:
    """:class:`ExportFormatError` (naming row ``number``) when ``row`` is not an export row
    this module can read; nothing otherwise."""
    if not isinstance(row, Mapping):
        raise ExportFormatError(
            f"export row {number} is a JSON {type(row).__name__}, not an object (one export row "
            "per line)"
        )
    _parse_row(row, number, 0)


def _parse_row(
    row: Mapping[str, Any],
    number: int,
    first_occurrence: int,
    annotator: Callable[[str], str] | None = None,
) -> _RowParts:
    out = _RowParts([], [], [])
    data_row = row.get("data_row")
    if not isinstance(data_row, Mapping) or "id" not in data_row:
        raise ExportFormatError(f"export row {number} has no data_row.id")
    try:
        image_id = _text(data_row.get("global_key") or data_row.get("external_id"))
        data_row_id = _text(data_row["id"])
    except ExportFormatError as exc:
        raise ExportFormatError(f"export row {number}: {exc}") from None
    if not image_id:
        raise ExportFormatError(f"export row {number} has neither global_key nor external_id")
    projects = row.get("projects") or {}
    if not isinstance(projects, Mapping):
        raise ExportFormatError(f"export row {number}: projects is not an object")
    for project_id, project in projects.items():
        if not isinstance(project, Mapping) or not isinstance(project.get("labels") or [], list):
            raise ExportFormatError(f"export row {number}: a project without a labels list")
        details = project.get("project_details") or {}
        for label in project.get("labels") or []:
            label_id = label.get("id") if isinstance(label, Mapping) else None
            if not label_id or not isinstance(label_id, str):
                raise ExportFormatError(f"export row {number}: a label without id")
            try:
                _parse_label(
                    out,
                    label,
                    label_id,
                    data_row_id,
                    image_id,
                    str(project_id),
                    project,
                    details if isinstance(details, Mapping) else {},
                    first_occurrence + len(out.labels),
                    annotator,
                )
            except ExportFormatError as exc:
                raise ExportFormatError(f"export row {number}, label {label_id}: {exc}") from None
            except (AttributeError, KeyError, TypeError, ValueError) as exc:
                # the exception's text may quote the row: only its kind is named
                raise ExportFormatError(
                    f"export row {number}, label {label_id}: not in the export shape "
                    f"({type(exc).__name__})"
                ) from None
    return out


def _parse_label(
    out: _RowParts,
    label: Mapping[str, Any],
    label_id: str,
    data_row_id: str | None,
    image_id: str,
    project_id: str,
    project: Mapping[str, Any],
    details: Mapping[str, Any],
    occurrence: int,
    annotator: Callable[[str], str] | None = None,
) -> None:
    label_details = label.get("label_details") or {}
    created_by = label_details.get("created_by")
    seconds = (label.get("performance_details") or {}).get("seconds_to_create")
    labels = [
        {
            "label_id": label_id,
            "data_row_id": data_row_id,
            "image_id": image_id,
            "project_id": project_id,
            "project_name": _text(project.get("name")),
            "workflow_status": workflow_status(details.get("workflow_status")),
            "created_at": _timestamp(label_details.get("created_at")),
            "updated_at": _timestamp(
                label_details.get("updated_at") or label_details.get("created_at")
            ),
            "annotator_hash": annotator(str(created_by)) if annotator and created_by else None,
            "seconds_to_create": None
            if seconds is None
            else _number(seconds, "performance_details.seconds_to_create"),
            _OCCURRENCE: occurrence,
        }
    ]
    objects: list[dict[str, Any]] = []
    classifications: list[dict[str, Any]] = []
    annotations = label.get("annotations") or {}
    for obj in annotations.get("objects") or []:
        feature_id = _text(obj.get("feature_id"))
        objects.append(
            {
                "label_id": label_id,
                "image_id": image_id,
                "project_id": project_id,
                "feature_id": feature_id,
                "name": _text(obj.get("name") or obj.get("value")),
                "kind": annotation_kind(obj.get("annotation_kind")),
                **_geometry(obj),
                _OCCURRENCE: occurrence,
            }
        )
        for nested in obj.get("classifications") or []:
            classifications.extend(
                {**answer, _OCCURRENCE: occurrence}
                for answer in _answers(nested, label_id, image_id, project_id, feature_id)
            )
    for classification in annotations.get("classifications") or []:
        classifications.extend(
            {**answer, _OCCURRENCE: occurrence}
            for answer in _answers(classification, label_id, image_id, project_id, None)
        )
    for answer in classifications:
        answer["question"] = _text(answer["question"])
        answer["answer"] = _text(answer["answer"])
    # appended only when the whole label parsed: a bad label leaves nothing half-read
    out.labels += labels
    out.objects += objects
    out.classifications += classifications


def label_revisions(tables: LabelTables, keys: Sequence[str] = ("label_id",)) -> pl.DataFrame:
    """``keys`` + ``label_revision``: a content hash of each label version (its label row,
    objects and answers; the same content gives the same revision on any machine)."""
    keys = list(keys)

    def encoded(frame: pl.DataFrame, name: str) -> pl.DataFrame:
        content = [c for c in frame.columns if c not in keys]
        return (
            frame.select(
                *keys,
                pl.struct(content).struct.json_encode().alias(name),
            )
            .group_by(keys)
            .agg(pl.col(name).sort().str.join("\n"))
        )

    return (
        encoded(tables.labels, "labels_json")
        .join(encoded(tables.objects, "objects_json"), on=keys, how="left")
        .join(encoded(tables.classifications, "answers_json"), on=keys, how="left")
        .select(
            *keys,
            label_revision=pl.concat_str(
                pl.col("labels_json"),
                pl.col("objects_json").fill_null(""),
                pl.col("answers_json").fill_null(""),
                separator="\x1e",
            ).map_elements(
                lambda text: "rev-" + hashlib.sha256(text.encode()).hexdigest()[:16],
                return_dtype=pl.Utf8,
            ),
        )
        .sort(keys)
    )


@dataclass
class ParsedExport:
    """The current label set of an export and the label versions it superseded."""

    current: LabelTables
    #: Label versions that lost to a newer version of the same label id in the same export
    #: stream; every table has ``label_revision`` and ``superseded_by`` (the winner's revision).
    superseded: LabelTables


def parse_export(
    rows: Iterable[Mapping[str, Any]], annotator: Callable[[str], str] | None = None
) -> ParsedExport:
    """Normalize export rows (data rows without a global key fall back to the external id
    when it is an image id of this platform; others are hand-made and left out);
    one version per label id is current: the latest ``updated_at``, then the last one read.
    ``annotator`` turns the labeler's e-mail into its pseudonym
    (:func:`.annotators.annotator_function`); without it ``annotator_hash`` is null.

    >>> def row(answer):
    ...     label = {"id": "l1", "annotations": {"classifications": [
    ...         {"name": "has_calipers", "radio_answer": {"name": answer}}]}}
    ...     return {"data_row": {"id": "dr1", "global_key": "img1"},
    ...             "projects": {"p1": {"labels": [label]}}}
    >>> parsed = parse_export([row("yes"), row("no")])  # the same label in two exports
    >>> parsed.current.classifications["answer"].to_list()
    ['no']
    >>> parsed.superseded.classifications["answer"].to_list()
    ['yes']
    """
    everything = _parse_all(rows, annotator)
    keys = ["label_id", _OCCURRENCE]
    winners = (
        everything.labels.sort(["label_id", "updated_at", _OCCURRENCE], nulls_last=False)
        .group_by("label_id", maintain_order=True)
        .last()
        .select(keys)
    )

    def split(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        return frame.join(winners, on=keys, how="semi"), frame.join(winners, on=keys, how="anti")

    (labels, old_labels), (objects, old_objects), (answers, old_answers) = (
        split(everything.labels),
        split(everything.objects),
        split(everything.classifications),
    )
    current = LabelTables(
        labels.drop(_OCCURRENCE), objects.drop(_OCCURRENCE), answers.drop(_OCCURRENCE)
    ).sorted()
    if old_labels.height == 0:
        return ParsedExport(current, LabelTables.empty_history())
    losers = LabelTables(old_labels, old_objects, old_answers)
    revisions = (
        label_revisions(losers, keys)
        .sort(keys)
        .unique(["label_id", "label_revision"], keep="first", maintain_order=True)
        .join(
            label_revisions(current).rename({"label_revision": "superseded_by"}),
            on="label_id",
            how="left",
        )
        # the winner's own content read again (the same export file twice): not superseded
        .filter(pl.col("label_revision") != pl.col("superseded_by").fill_null(""))
    )

    def annotate(frame: pl.DataFrame) -> pl.DataFrame:
        # inner join: one copy of each superseded revision (its first occurrence)
        return frame.join(revisions, on=keys, how="inner").drop(_OCCURRENCE)

    superseded = LabelTables(annotate(old_labels), annotate(old_objects), annotate(old_answers))
    return ParsedExport(current, superseded.sorted())


def concat_history(parts: Sequence[LabelTables]) -> LabelTables:
    """History tables (with ``label_revision``) concatenated, each (label id, revision) once:
    the first part that has it wins, with all its objects and answers."""
    parts = [LabelTables.empty_history(), *parts]
    keys = ["label_id", "label_revision"]

    def tagged(name: str) -> pl.DataFrame:
        return pl.concat(
            [
                getattr(part, name).with_columns(_part=pl.lit(i, pl.Int32))
                for i, part in enumerate(parts)
            ],
            how="diagonal_relaxed",
        )

    labels = tagged("labels")
    first = labels.group_by(keys).agg(pl.col("_part").min())
    take = [*keys, "_part"]

    def pick(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.join(first, on=take, how="semi").drop("_part")

    return LabelTables(
        pick(labels), pick(tagged("objects")), pick(tagged("classifications"))
    ).sorted()


def parse_export_rows(
    rows: Iterable[Mapping[str, Any]], annotator: Callable[[str], str] | None = None
) -> LabelTables:
    """The current label set of export rows: one row per label id (see :func:`parse_export`)."""
    return parse_export(rows, annotator).current


def merge_label_tables(previous: LabelTables, new: LabelTables) -> LabelTables:
    """Upsert by (data row, label): a label present in ``new`` replaces the previous version
    when its ``updated_at`` is not older; labels not in ``new`` are kept (incremental exports).
    """
    if previous.labels.height == 0:
        return new.sorted()
    winners = (
        pl.concat(
            [
                previous.labels.with_columns(_from_new=pl.lit(False)),
                new.labels.with_columns(_from_new=pl.lit(True)),
            ],
            how="vertical_relaxed",
        )
        .sort(["label_id", "updated_at", "_from_new"], nulls_last=False)
        .group_by("label_id", maintain_order=True)
        .last()
    )
    from_new = set(winners.filter(pl.col("_from_new"))["label_id"].to_list())
    labels = winners.drop("_from_new")

    def pick(old: pl.DataFrame, fresh: pl.DataFrame) -> pl.DataFrame:
        return pl.concat(
            [
                old.filter(~pl.col("label_id").is_in(list(from_new))),
                fresh.filter(pl.col("label_id").is_in(list(from_new))),
            ],
            how="vertical_relaxed",
        )

    return LabelTables(
        labels,
        pick(previous.objects, new.objects),
        pick(previous.classifications, new.classifications),
    ).sorted()


def label_set_version(tables: LabelTables) -> str:
    """Content hash of the label tables: same labels → same version, on any machine."""
    digest = hashlib.sha256()
    for name, frame in (
        ("labels", tables.labels.drop("annotator_hash", strict=False)),
        ("objects", tables.objects),
        ("classifications", tables.classifications),
    ):
        digest.update(name.encode())
        digest.update(json.dumps(frame.to_dicts(), sort_keys=True, default=str).encode())
    return "labels-" + digest.hexdigest()[:16]
