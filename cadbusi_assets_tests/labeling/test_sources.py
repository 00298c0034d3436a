import json
import os

import polars as pl
import pytest

from cadbusi_assets.labeling import FolderLabelSource, LabelSourceError, open_label_source
from cadbusi_assets.labeling.sources import LabelboxSdkSource
from cadbusi_assets.stages.labeling import current_label_set_version, ingest_labels
from cadbusi_assets.storage import open_zone
from cadbusi_assets_tests.builders import export_row


def write_export(root, name, rows):
    folder = root / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_folder_cursor_detects_new_and_changed_exports(tmp_path):
    source = FolderLabelSource(tmp_path)
    changed, cursor = source.changes_since(None)
    assert not changed  # nothing exported yet
    write_export(tmp_path, "a.ndjson", [export_row("a")])
    changed, cursor = source.changes_since(cursor)
    assert changed
    assert source.changes_since(cursor) == (False, cursor)
    write_export(tmp_path, "a.ndjson", [export_row("a", answer="no")])
    changed, new_cursor = source.changes_since(cursor)
    assert changed and new_cursor != cursor
    assert [r["data_row"]["global_key"] for r in source.export_rows()] == ["a"]


def test_folder_bad_json_names_file_and_line(tmp_path):
    """A file with a broken line is skipped whole, named with the line (the other files are
    read: see test_adversarial_labels.py)."""
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "bad.ndjson").write_text(json.dumps(export_row("a")) + "\n{broken\n")
    source = FolderLabelSource(tmp_path)
    assert list(source.export_rows()) == []
    [(name, reason)] = source.skipped_files
    assert name == "bad.ndjson" and "bad.ndjson line 2 is not valid JSON" in reason


def test_a_line_nested_thousands_deep_skips_its_file_with_a_reason(tmp_path):
    """``{"a": [[[[…]]]]}`` 100,000 deep stopped the whole label import with Python's
    RecursionError (every other file's labels unread); now its file is skipped and named with
    the line and the reason, and the other files are read."""
    write_export(tmp_path, "good.ndjson", [export_row("a")])
    deep = '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}\n"
    (tmp_path / "exports" / "deep.ndjson").write_text(json.dumps(export_row("b")) + "\n" + deep)
    source = FolderLabelSource(tmp_path)
    assert [r["data_row"]["global_key"] for r in source.export_rows()] == ["a"]
    [(name, reason)] = source.skipped_files
    assert name == "deep.ndjson" and "line 2 nests too deep" in reason


def test_folder_outbox_is_deterministic_upsert(tmp_path):
    source = FolderLabelSource(tmp_path)
    rows = [
        {"global_key": "b", "row_data": "/x/b.png"},
        {"global_key": "a", "row_data": "/x/a.png"},
    ]
    assert source.send_data_rows("batch1", rows) == 2
    first = (tmp_path / "outbox" / "batch1.ndjson").read_bytes()
    source.send_data_rows("batch1", list(reversed(rows)))
    assert (tmp_path / "outbox" / "batch1.ndjson").read_bytes() == first
    assert [r["global_key"] for r in source.sent_data_rows()] == ["a", "b"]


def test_open_label_source_forms(tmp_path):
    assert isinstance(open_label_source(f"folder://{tmp_path}"), FolderLabelSource)
    assert isinstance(open_label_source(str(tmp_path)), FolderLabelSource)
    sdk = open_label_source("labelbox://cproj123?dataset_prefix=bus")
    assert isinstance(sdk, LabelboxSdkSource) and sdk.dataset_prefix == "bus"
    with pytest.raises(LabelSourceError, match="Unknown label source"):
        open_label_source("ftp://x")


def test_sdk_source_without_api_key_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("LABELBOX_API_KEY", raising=False)
    with pytest.raises(LabelSourceError, match="LABELBOX_API_KEY"):
        LabelboxSdkSource("proj").changes_since(None)


def _answers(frame, label_id):
    return frame.filter((pl.col("label_id") == label_id) & (pl.col("question") == "has_calipers"))[
        "answer"
    ].to_list()


def _set_mtime(root, name, seconds):
    os.utime(root / "exports" / name, ns=(seconds * 10**9, seconds * 10**9))


def test_second_export_relabelling_one_row_keeps_each_label_id_once(tmp_path):
    """Issue 9: a second export that relabels one data row doubled the label table (each
    label id twice, one with both answers). Now the newest export wins and the superseded
    answer is kept, with its version, in the history."""
    source = FolderLabelSource(tmp_path / "labelbox")
    zone = open_zone(tmp_path / "research", "research")
    rows = [export_row(f"img-{i}", f"lb-{i}") for i in range(4)]
    write_export(source.root, "export-1.ndjson", rows)
    _set_mtime(source.root, "export-1.ndjson", 1_800_000_000)
    ingest_labels(zone, source)
    first_version = current_label_set_version(zone)

    # the second (complete) export re-exports every row; img-2 was relabelled (same time stamp,
    # as a re-export from the app may carry), so the later export must win
    relabelled = [
        export_row(f"img-{i}", f"lb-{i}", answer="no" if i == 2 else "yes") for i in range(4)
    ]
    write_export(source.root, "export-0-later.ndjson", relabelled)  # sorts first by name
    _set_mtime(source.root, "export-0-later.ndjson", 1_800_000_100)
    report = ingest_labels(zone, source)
    second_version = current_label_set_version(zone)
    assert second_version != first_version

    labels = zone.read_parquet("labels", "labelbox", "labels.parquet")
    answers = zone.read_parquet("labels", "labelbox", "classifications.parquet")
    objects = zone.read_parquet("labels", "labelbox", "objects.parquet")
    assert labels.height == 4 and labels["label_id"].n_unique() == 4
    assert _answers(answers, "lb-2") == ["no"]
    assert _answers(answers, "lb-1") == ["yes"]
    assert objects.filter(pl.col("label_id") == "lb-2").height == 3  # not doubled
    assert report.counts["labels"] == 4

    history = zone.read_parquet("labels", "labelbox", "history", "labels.parquet")
    old = zone.read_parquet("labels", "labelbox", "history", "classifications.parquet")
    assert history["label_id"].to_list() == ["lb-2"]
    entry = history.row(0, named=True)
    assert entry["label_set_version"] == first_version  # the set where it was current
    assert entry["superseded_in"] == second_version
    assert entry["superseded_by"] and entry["superseded_by"] != entry["label_revision"]
    assert _answers(old, "lb-2") == ["yes"]

    # ingesting the same exports again changes nothing
    ingest_labels(zone, source)
    assert current_label_set_version(zone) == second_version
    again = zone.read_parquet("labels", "labelbox", "history", "labels.parquet")
    assert again.height == 1 and again["superseded_in"].to_list() == [second_version]


def test_newer_updated_at_wins_over_export_order(tmp_path):
    source = FolderLabelSource(tmp_path / "labelbox")
    zone = open_zone(tmp_path / "research", "research")
    newer = export_row("img-1", "lb-1", updated="2026-05-01T00:00:00+00:00", answer="no")
    older = export_row("img-1", "lb-1", updated="2026-04-01T00:00:00+00:00", answer="yes")
    write_export(source.root, "a.ndjson", [newer])
    _set_mtime(source.root, "a.ndjson", 1_800_000_000)
    write_export(source.root, "b.ndjson", [older])  # a stale export written later
    _set_mtime(source.root, "b.ndjson", 1_800_000_100)
    ingest_labels(zone, source)
    answers = zone.read_parquet("labels", "labelbox", "classifications.parquet")
    assert _answers(answers, "lb-1") == ["no"]
    history = zone.read_parquet("labels", "labelbox", "history", "classifications.parquet")
    assert _answers(history, "lb-1") == ["yes"]
    assert history["label_set_version"].null_count() == history.height  # never was current


def test_label_deleted_at_source_is_kept_in_history(tmp_path):
    source = FolderLabelSource(tmp_path / "labelbox")
    zone = open_zone(tmp_path / "research", "research")
    write_export(source.root, "a.ndjson", [export_row("a", "lb-1"), export_row("b", "lb-2")])
    ingest_labels(zone, source)
    write_export(source.root, "a.ndjson", [export_row("a", "lb-1")])
    # just written: it may still be being written (cut between two rows), so nothing is
    # deleted yet, and the report says so
    report = ingest_labels(zone, source)
    assert report.counts["label_deletions_deferred"] == 1
    assert report.counts["labels"] == 2
    assert not zone.exists("labels", "labelbox", "history", "labels.parquet") or (
        zone.read_parquet("labels", "labelbox", "history", "labels.parquet").height == 0
    )
    # the file stood still for the settle time: the deletion applies
    written = (source.root / "exports" / "a.ndjson").stat().st_mtime
    os.utime(source.root / "exports" / "a.ndjson", (written - 120, written - 120))
    report = ingest_labels(zone, source)
    assert report.counts["label_deletions_deferred"] == 0
    assert zone.read_parquet("labels", "labelbox", "labels.parquet")["label_id"].to_list() == [
        "lb-1"
    ]
    history = zone.read_parquet("labels", "labelbox", "history", "labels.parquet")
    assert history["label_id"].to_list() == ["lb-2"]
    assert history["superseded_by"].to_list() == [None]


def test_incremental_ingest_keeps_the_replaced_version_in_history(tmp_path):
    source = FolderLabelSource(tmp_path / "labelbox")
    zone = open_zone(tmp_path / "research", "research")
    write_export(source.root, "a.ndjson", [export_row("a", "lb-1"), export_row("b", "lb-2")])
    ingest_labels(zone, source)
    first_version = current_label_set_version(zone)
    newer = export_row("a", "lb-1", updated="2026-04-01T00:00:00+00:00", answer="no")
    write_export(source.root, "a.ndjson", [newer])  # an incremental export: only lb-1
    ingest_labels(zone, source, full=False)
    labels = zone.read_parquet("labels", "labelbox", "labels.parquet")
    answers = zone.read_parquet("labels", "labelbox", "classifications.parquet")
    assert sorted(labels["label_id"]) == ["lb-1", "lb-2"]
    assert _answers(answers, "lb-1") == ["no"]
    history = zone.read_parquet("labels", "labelbox", "history", "labels.parquet")
    assert history.select("label_id", "label_set_version").rows() == [("lb-1", first_version)]
