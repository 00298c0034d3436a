import json

import polars as pl
import pytest

from cadbusi_assets.labeling import label_set_version, merge_label_tables, parse_export_rows
from cadbusi_assets.labeling.ndjson import ExportFormatError
from cadbusi_assets_tests.builders import export_row


def test_parse_all_annotation_shapes():
    tables = parse_export_rows([export_row()])
    assert tables.labels.select("label_id", "image_id", "workflow_status").row(0) == (
        "lb-1",
        "img-1",
        "DONE",
    )
    assert tables.labels["annotator_hash"][0] != "radiologist1@example.org"
    kinds = dict(tables.objects.select("name", "kind").iter_rows())
    assert kinds == {
        "lesion": "ImageBoundingBox",
        "outline": "ImagePolygon",
        "mask": "ImageSegmentationMask",
    }
    box = tables.objects.filter(pl.col("name") == "lesion").row(0, named=True)
    assert (box["bbox_left"], box["bbox_top"], box["bbox_width"], box["bbox_height"]) == (
        318.0,
        212.0,
        141.0,
        96.0,
    )
    assert tables.objects.filter(pl.col("name") == "outline")["points"][0].to_list() == [
        [1.0, 2.0],
        [3.0, 4.0],
        [5.0, 1.0],
    ]
    answers = set(tables.classifications.select("question", "answer", "answer_kind").iter_rows())
    assert answers == {
        ("has_calipers", "yes", "radio"),
        ("features", "shadowing", "checklist"),
        ("features", "mass", "checklist"),
        ("comment", "oval mass", "text"),
        ("margin", "spiculated", "radio"),
    }
    nested = tables.classifications.filter(pl.col("question") == "margin")
    assert nested["parent_feature_id"][0] == "f-box"


def test_rows_without_keys_are_rejected_with_position():
    with pytest.raises(ExportFormatError, match="row 2"):
        parse_export_rows([export_row(), {"data_row": {"id": "x"}}])


def test_version_is_content_addressed():
    a = parse_export_rows([export_row("a"), export_row("b", "lb-2")])
    b = parse_export_rows([export_row("b", "lb-2"), export_row("a")])
    assert label_set_version(a) == label_set_version(b)
    c = parse_export_rows([export_row("a", answer="no"), export_row("b", "lb-2")])
    assert label_set_version(c) != label_set_version(a)


def test_incremental_merge_keeps_old_and_takes_newer_versions():
    old = parse_export_rows([export_row("a", "lb-1", answer="yes"), export_row("b", "lb-2")])
    newer = parse_export_rows(
        [export_row("a", "lb-1", updated="2026-04-01T00:00:00+00:00", answer="no")]
    )
    merged = merge_label_tables(old, newer)
    assert merged.labels.height == 2
    answer = merged.classifications.filter(
        (pl.col("label_id") == "lb-1") & (pl.col("question") == "has_calipers")
    )["answer"].to_list()
    assert answer == ["no"]
    stale = parse_export_rows(
        [export_row("a", "lb-1", updated="2020-01-01T00:00:00+00:00", answer="maybe")]
    )
    assert merge_label_tables(merged, stale).classifications.filter(
        (pl.col("label_id") == "lb-1") & (pl.col("question") == "has_calipers")
    )["answer"].to_list() == ["no"]


def test_round_trip_through_json_text():
    text = json.dumps(export_row())
    assert parse_export_rows([json.loads(text)]).labels.height == 1
