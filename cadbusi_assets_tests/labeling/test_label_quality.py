"""Label quality at ingestion: objects of a class the ontology does not know, and answers that
contradict the image's own annotation (image_features)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from cadbusi_assets.exports.lesion_masks import label_lesion_geometry
from cadbusi_assets.labeling import FolderLabelSource
from cadbusi_assets.labeling.ontology import OntologySpec, ToolSpec
from cadbusi_assets.labeling.quality import image_disagreements, image_readings
from cadbusi_assets.stages.analysis import FEATURES_TABLE
from cadbusi_assets.stages.labeling import LABELS_DIR, ingest_labels
from cadbusi_assets.storage import open_zone, write_partition_table
from cadbusi_assets_tests.builders import export_row

BOX = {"left": 10.0, "top": 20.0, "width": 30.0, "height": 40.0}


def _box(feature_id: str, name: str | None) -> dict:
    obj: dict = {"feature_id": feature_id, "bounding_box": dict(BOX)}
    if name is not None:
        obj["name"] = name
    return obj


def _row(image_id: str, label_id: str, objects: list[dict], answers: list[dict]) -> dict:
    row = export_row(image_id, label_id)
    annotations = row["projects"]["proj-1"]["labels"][0]["annotations"]
    annotations["objects"] = objects
    annotations["classifications"] = answers
    return row


def _radio(question: str, answer: str) -> dict:
    return {"name": question, "radio_answer": {"name": answer}}


def _ingest(tmp_path: Path, rows: list[dict], **kwargs):
    folder = tmp_path / "lb" / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "a.ndjson").write_text("".join(json.dumps(r) + "\n" for r in rows))
    zone = kwargs.pop("zone", None) or open_zone(tmp_path / "research", "research")
    return zone, ingest_labels(zone, FolderLabelSource(tmp_path / "lb"), **kwargs)


def _everything_shown(report) -> str:
    tables = "\n".join(
        str(v) for t in report.tables.values() for c in t.columns for v in t[c].to_list()
    )
    return "\n".join(report.problems) + "\n" + tables + "\n" + "\n".join(report.counts)


def test_a_misspelt_lesion_class_is_drawn_and_an_unknown_one_is_reported_without_its_text(
    tmp_path,
):
    """Before: ``"lesion "`` (a trailing space) was stored and never drawn in a lesion mask,
    and a class of no ontology tool was stored silently; nothing was counted or reported."""
    rows = [
        _row("img-a", "lb-a", [_box("f1", "lesion ")], []),
        _row("img-b", "lb-b", [_box("f2", "LESION_Mask")], []),
        _row("img-c", "lb-c", [_box("f3", "Quackenbush nodule"), _box("f4", None)], []),
        _row("img-d", "lb-d", [_box("f5", "lesion")], []),
    ]
    zone, report = _ingest(tmp_path, rows)
    assert report.counts["object_class_normalised"] == 2
    assert report.counts["label_objects_of_unknown_class"] == 2
    objects = zone.read_parquet(*LABELS_DIR, "objects.parquet")
    names = dict(objects.select("feature_id", "name").iter_rows())
    assert names["f1"] == "lesion" and names["f2"] == "lesion_mask"
    # the misspelt lesion is drawn now; the unknown class is kept as exported, not drawn
    drawn = set(label_lesion_geometry(objects)["image_id"].to_list())
    assert drawn == {"img-a", "img-b", "img-d"}
    # kept, scrubbed like typed text: no name reaches the label tables (nor the catalog)
    assert names["f3"] == "[NAME] nodule"
    stored = "\n".join(
        str(v)
        for path in (tmp_path / "research").rglob("*.parquet")
        for frame in [pl.read_parquet(path)]
        for c in frame.columns
        if frame[c].dtype == pl.Utf8
        for v in frame[c].to_list()
    )
    assert "Quackenbush" not in stored
    table = report.tables["unknown_object_classes"]
    assert table.select("label_id", "object_index", "feature_id", "class").rows() == [
        ("lb-c", 0, "f3", "[unknown class]"),
        ("lb-c", 1, "f4", "[unknown class]"),
    ]
    assert sorted(table["problem"].to_list()) == [
        "class not in the ontology",
        "object without a class name",
    ]
    assert len([p for p in report.problems if "label objects" in p]) == 2
    assert "Quackenbush" not in _everything_shown(report)


def test_reingesting_normalised_classes_is_stable(tmp_path):
    """The stored set has the normalised class: the same export again is no new version and
    puts nothing into history."""
    rows = [_row("img-a", "lb-a", [_box("f1", "Lesion "), _box("f2", "outline")], [])]
    zone, first = _ingest(tmp_path, rows)
    _, again = _ingest(tmp_path, rows, zone=zone)
    assert first.counts["object_class_normalised"] == 1
    assert again.counts["new_version"] == 0
    assert again.counts["superseded_label_versions_kept"] == 0


def test_a_label_set_stored_before_the_check_moves_no_raw_class_into_history(tmp_path):
    """A current set written before the check (a raw ``"Lesion "``, an unscrubbed unknown
    class): the same labels again are not new revisions, and history gets nothing."""
    rows = [_row("img-a", "lb-a", [_box("f1", "lesion"), _box("f2", "outline")], [])]
    zone, _ = _ingest(tmp_path, rows)
    path = tmp_path / "research" / "labels" / "labelbox" / "objects.parquet"
    legacy = pl.read_parquet(path).with_columns(
        name=pl.col("name").replace({"lesion": "Lesion ", "outline": "Hortensia Quackenbush"})
    )
    legacy.write_parquet(path)
    raw = [_row("img-a", "lb-a", [_box("f1", "Lesion "), _box("f2", "Hortensia Quackenbush")], [])]
    _, again = _ingest(tmp_path, raw, zone=zone)
    assert again.counts["superseded_label_versions_kept"] == 0
    history = tmp_path / "research" / "labels" / "labelbox" / "history" / "objects.parquet"
    assert pl.read_parquet(history).height == 0
    assert sorted(pl.read_parquet(path)["name"].to_list()) == ["[NAME]", "lesion"]


def test_the_configured_ontology_decides_which_classes_are_known(tmp_path):
    """A project whose ontology names a ``nodule`` tool: ``Nodule`` is that tool, the built-in
    ``lesion`` names are still read by the lesion masks, ``outline`` is unknown."""
    spec = OntologySpec("custom", (ToolSpec("nodule", "rectangle"),), ())
    rows = [_row("img-a", "lb-a", [_box("f1", "Nodule"), _box("f2", "lesion")], [])]
    rows.append(_row("img-b", "lb-b", [_box("f3", "outline")], []))
    zone, report = _ingest(tmp_path, rows, ontology=spec)
    assert report.counts["object_class_normalised"] == 1
    assert report.counts["label_objects_of_unknown_class"] == 1
    assert report.tables["unknown_object_classes"]["feature_id"].to_list() == ["f3"]
    objects = zone.read_parquet(*LABELS_DIR, "objects.parquet")
    assert sorted(objects["name"].to_list()) == ["lesion", "nodule", "outline"]


def test_clean_labels_report_no_quality_problem(tmp_path):
    rows = [_row("img-a", "lb-a", [_box("f1", "lesion")], [_radio("laterality", "left")])]
    _, report = _ingest(tmp_path, rows)
    assert report.counts["label_objects_of_unknown_class"] == 0
    assert report.counts["object_class_normalised"] == 0
    assert report.counts["labels_laterality_disagrees_with_image"] == 0
    assert report.problems == []


def test_a_laterality_or_clock_answer_against_the_images_annotation_is_reported_not_changed(
    tmp_path,
):
    """Before: a label saying ``left`` on an image annotated ``R`` was stored and counted like
    any other; nothing compared the two."""
    zone = open_zone(tmp_path / "research", "research")
    features = pl.DataFrame(
        {
            "image_id": ["img-a", "img-b", "img-c", "img-c", "img-d"],
            "laterality": ["R", "LEFT", "L", "R", None],
            "clock_position": ["10:00", "2:10", None, None, "11:30"],
            "exclusion_reason": [None] * 5,
        }
    )
    write_partition_table(zone, FEATURES_TABLE, "b1", features)
    rows = [
        # contradicts the side and the clock
        _row("img-a", "lb-a", [], [_radio("laterality", "left"), _radio("clock", "2:00")]),
        # agrees (2:30 is within half an hour of 2:10)
        _row("img-b", "lb-b", [], [_radio("laterality", "left"), _radio("clock", "2:30")]),
        # the image's rows disagree with each other: not compared
        _row("img-c", "lb-c", [], [_radio("laterality", "right")]),
        # the image has a clock only; 12:00 is within half an hour of 11:30 across the dial
        _row("img-d", "lb-d", [], [_radio("laterality", "left"), _radio("clock", "12:00")]),
    ]
    _, report = _ingest(tmp_path, rows, zone=zone)
    assert report.counts["labels_laterality_disagrees_with_image"] == 1
    assert report.counts["labels_clock_disagrees_with_image"] == 1
    assert report.tables["image_disagreements"].rows() == [
        ("lb-a", "img-a", "clock", "2:00", "10:00"),
        ("lb-a", "img-a", "laterality", "LEFT", "RIGHT"),
    ]
    assert sum("otherwise than the image" in p for p in report.problems) == 2
    stored = zone.read_parquet(*LABELS_DIR, "classifications.parquet")
    answer = stored.filter((pl.col("label_id") == "lb-a") & (pl.col("question") == "laterality"))
    assert answer["answer"].to_list() == ["left"]  # the label is kept as answered


def test_a_nested_laterality_answer_is_compared_and_a_quadrant_clock_is_not():
    classifications = pl.DataFrame(
        {
            "label_id": ["lb-1", "lb-1"],
            "image_id": ["img-1", "img-1"],
            "parent_feature_id": ["f-box", None],
            "question": ["Laterality ", "clock"],
            "answer": ["Right", "3:00"],
        }
    )
    readings = image_readings(
        pl.DataFrame({"image_id": ["img-1"], "laterality": ["lt"], "clock_position": ["UOQ"]})
    )
    assert image_disagreements(classifications, readings).rows() == [
        ("lb-1", "img-1", "laterality", "RIGHT", "LEFT")
    ]
