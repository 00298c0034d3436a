import json

import pytest

from cadbusi_assets.labeling import FolderLabelSource, LabelSourceError, open_label_source
from cadbusi_assets.labeling.sources import LabelboxSdkSource
from cadbusi_assets_tests.labeling.test_ndjson import export_row


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
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "bad.ndjson").write_text('{"ok": 1}\n{broken\n')
    with pytest.raises(LabelSourceError, match=r"bad\.ndjson line 2"):
        list(FolderLabelSource(tmp_path).export_rows())


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
