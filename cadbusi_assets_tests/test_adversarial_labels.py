"""Adversarial tests of the labels path: what labelers type, what export files look like, and
what geometry reaches the export (the labels half of the brief of 2026-12-06)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from cadbusi_assets.labeling import FolderLabelSource
from cadbusi_assets.labeling.ndjson import ExportFormatError
from cadbusi_assets.stages.labeling import current_label_set_version, ingest_labels
from cadbusi_assets.stages.report import StageFailure
from cadbusi_assets.storage import open_zone
from cadbusi_assets_tests.builders import export_row

#: synthetic identifiers a labeler might type into a comment (three scripts, phone, MRN, date,
#: address)
TYPED_PHI = (
    "Hortensia Quackenbush",
    "Иванова Мария",
    "فاطمة الزهراء",
    "555-867-5309",
    "48213377",
    "03/14/2021",
    "42 Baker Street",
)


def _with_comment(row: dict, text: str) -> dict:
    answers = row["projects"]["proj-1"]["labels"][0]["annotations"]["classifications"]
    for answer in answers:
        if "text_answer" in answer:
            answer["text_answer"]["content"] = text
    return row


def _write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / "exports" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _ndjson(rows: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def _strings_under(folder: Path) -> str:
    """Every string value of every Parquet table under ``folder``, one per line."""
    return "\n".join(_strings_under_file(p) for p in sorted(folder.rglob("*.parquet")))


def _strings_under_file(path: Path) -> str:
    frame = pl.read_parquet(path)
    out = [v for name, t in frame.schema.items() if t == pl.Utf8 for v in frame[name] if v]
    return "\n".join(out)


def test_typed_identifiers_in_a_comment_never_reach_the_label_tables_or_metadata(tmp_path):
    """Before: a labeler's comment was stored verbatim in ``classifications`` (and so in the
    catalog's ``label_classifications``) and listed in the run's ``answers`` metadata table."""
    comment = (
        "compare with Mrs Hortensia Quackenbush (Иванова Мария, فاطمة الزهراء) MRN 48213377, "
        "tel 555-867-5309, seen 03/14/2021, lives at 42 Baker Street"
    )
    first = _with_comment(export_row("img-a", "lb-1"), comment)
    relabelled = _with_comment(
        export_row("img-a", "lb-1", updated="2026-03-03T10:00:00.000+00:00"),
        "oval mass; Hortensia Quackenbush called on 555-867-5309",
    )
    _write(tmp_path / "lb", "a.ndjson", _ndjson([first, relabelled]))
    zone = open_zone(tmp_path / "research", "research")
    report = ingest_labels(zone, FolderLabelSource(tmp_path / "lb"))
    stored = _strings_under(tmp_path / "research" / "labels")
    metadata = "\n".join([*report.problems, *(str(t.to_dicts()) for t in report.tables.values())])
    for value in TYPED_PHI:
        assert value not in stored, value
        assert value not in metadata, value
    answers = pl.read_parquet(
        tmp_path / "research" / "labels" / "labelbox" / "classifications.parquet"
    )
    text = answers.filter(pl.col("answer_kind") == "text")["answer"].to_list()
    assert text and "oval mass" in text[0]  # the clinical words stay
    assert report.counts["text_answers"] == 1


def _answer(zone_root: Path, label_id: str) -> list[str]:
    answers = pl.read_parquet(zone_root / "labels" / "labelbox" / "classifications.parquet")
    return answers.filter(
        (pl.col("label_id") == label_id) & (pl.col("question") == "has_calipers")
    )["answer"].to_list()


_BAD_FILES: dict[str, bytes] = {
    "not_utf8": _ndjson([export_row("img-b", "lb-2")])
    .replace("oval", "ov\u00e1l")
    .encode("latin-1"),
    "json_array": json.dumps([export_row("img-b", "lb-2")]).encode(),
    "cut_mid_line": _ndjson([export_row("img-b", "lb-2"), export_row("img-c", "lb-3")])[
        :-60
    ].encode(),
    "zero_bytes": b"",
    "box_without_width": _ndjson([export_row("img-b", "lb-2")])
    .replace(', "width": 141.0', "")
    .encode(),
}


@pytest.mark.parametrize("kind", sorted(_BAD_FILES))
def test_one_unreadable_export_file_neither_blocks_the_others_nor_deletes_its_labels(
    tmp_path, kind
):
    """Before: a file that was not UTF-8, a JSON array, a box without width or a file cut while
    being written stopped the whole ingestion (UnicodeDecodeError, AttributeError, KeyError:
    no file named), and an empty file took its labels out of the current set."""
    folder = tmp_path / "lb"
    zone = open_zone(tmp_path / "research", "research")
    _write(folder, "a.ndjson", _ndjson([export_row("img-a", "lb-1")]))
    _write(folder, "b.ndjson", _ndjson([export_row("img-b", "lb-2")]))
    ingest_labels(zone, FolderLabelSource(folder))
    relabel = export_row("img-a", "lb-1", updated="2026-03-04T00:00:00.000+00:00", answer="no")
    _write(folder, "a.ndjson", _ndjson([relabel]))
    _write(folder, "b.ndjson", _BAD_FILES[kind])
    report = ingest_labels(zone, FolderLabelSource(folder))
    assert _answer(tmp_path / "research", "lb-1") == ["no"]  # the good file was read
    assert _answer(tmp_path / "research", "lb-2") == ["yes"]  # the bad file's label stays
    assert report.counts["export_files_skipped"] == 1
    assert any("b.ndjson" in p for p in report.problems)
    assert not any("oval" in p or "img-b" in p for p in report.problems)  # no content


def test_a_typed_value_in_a_geometry_field_stops_with_a_reason_that_does_not_quote_it(tmp_path):
    """Before: ``float("Hortensia Quackenbush")`` raised a ValueError quoting the value."""
    row = export_row("img-a", "lb-1")
    row["projects"]["proj-1"]["labels"][0]["annotations"]["objects"][0]["bounding_box"]["left"] = (
        "Hortensia Quackenbush"
    )

    class Source:
        name = "sdk-like"

        def export_rows(self, since=None):
            yield row

    zone = open_zone(tmp_path / "research", "research")
    with pytest.raises(ExportFormatError) as caught:
        ingest_labels(zone, Source())  # type: ignore[arg-type]
    message = str(caught.value)
    assert "lb-1" in message and "bounding_box.left" in message
    assert "Quackenbush" not in message
    assert not (tmp_path / "research" / "labels").exists()  # nothing written


def test_a_full_export_that_empties_the_label_set_is_refused_before_writing(tmp_path):
    """Before: an export with none of the labels (a failed download) moved the whole current
    set into history; an export cut then had no labels."""
    folder = tmp_path / "lb"
    zone = open_zone(tmp_path / "research", "research")
    rows = [export_row(f"img-{i}", f"lb-{i}") for i in range(4)]
    _write(folder, "a.ndjson", _ndjson(rows))
    ingest_labels(zone, FolderLabelSource(folder))
    before = current_label_set_version(zone)
    no_labels = export_row("img-0", "lb-0")
    no_labels["projects"]["proj-1"]["labels"] = []
    _write(folder, "a.ndjson", _ndjson([no_labels]))
    # a complete file (it stood still long enough: settle_seconds=0)
    with pytest.raises(StageFailure, match="CADBUSI_ALLOW_SHRINK") as caught:
        ingest_labels(zone, FolderLabelSource(folder, settle_seconds=0), allow_shrink=False)
    assert "img-" not in str(caught.value)
    assert current_label_set_version(zone) == before
    report = ingest_labels(zone, FolderLabelSource(folder, settle_seconds=0), allow_shrink=True)
    assert report.counts["labels"] == 0
    history = pl.read_parquet(
        tmp_path / "research" / "labels" / "labelbox" / "history" / "labels.parquet"
    )
    assert sorted(history["label_id"].to_list()) == [f"lb-{i}" for i in range(4)]


def _box(feature_id: str, left: float, top: float, width: float, height: float) -> dict:
    return {
        "feature_id": feature_id,
        "name": "lesion_box",
        "bounding_box": {"left": left, "top": top, "width": width, "height": height},
    }


def test_nan_negative_and_absurd_boxes_are_left_out_of_the_export_with_a_reason(tmp_path):
    """Before: one NaN (or 1e30) lesion box made every export fail ("conversion from f64 to
    i64 failed"); a box of negative width or a two-point polygon was dropped silently. Also: a
    typed comment never reaches the export (manifest, shards, card, lineage)."""
    from cadbusi_assets.exports import ExportConfig, build_export
    from cadbusi_assets_tests.builders import annotator_export_row
    from cadbusi_assets_tests.exports.conftest import synthetic_catalog, write_zone

    catalog = synthetic_catalog(8, 2)
    zone = write_zone(tmp_path / "research", catalog)
    nan_image, negative, absurd, good = catalog["image_id"].to_list()[:4]
    two_points = {
        "feature_id": "f-poly",
        "name": "lesion",
        "polygon": [{"x": 1, "y": 2}, {"x": 3, "y": 4}],
    }
    commented = annotator_export_row(good, "lb-4", [_box("f-box", 12.0, 22.0, 4.0, 3.0)])
    commented["projects"]["p"]["labels"][0]["annotations"]["classifications"] = [
        {"name": "comment", "text_answer": {"content": "Hortensia Quackenbush 555-867-5309"}}
    ]
    rows = [
        annotator_export_row(nan_image, "lb-1", [_box("f-box", float("nan"), 22.0, 4.0, 3.0)]),
        annotator_export_row(negative, "lb-2", [_box("f-box", 12.0, 22.0, -4.0, 3.0), two_points]),
        annotator_export_row(absurd, "lb-3", [_box("f-box", 12.0, 22.0, 1e30, 3.0)]),
        commented,
    ]
    _write(tmp_path / "lb", "e.ndjson", "".join(json.dumps(r) + "\n" for r in rows))
    ingested = ingest_labels(zone, FolderLabelSource(tmp_path / "lb"))
    assert ingested.counts["lesion_objects_left_out_of_masks"] == 4
    assert sum("left out" in p for p in ingested.problems) == 4
    report = build_export(zone, ExportConfig(key="k1"), {"label_set_version": "ls"}, workers=1)
    folder = zone.local_path("exports", report.key)
    manifest = pl.read_parquet(folder / "manifest.parquet")
    source = dict(manifest.select("image_id", "lesion_mask_source").iter_rows())
    assert source[good] == "labelbox"
    assert all(source.get(i) != "labelbox" for i in (nan_image, negative, absurd))
    exported = _strings_under(folder) + "".join(
        p.read_text() for p in folder.rglob("*") if p.suffix in (".md", ".json")
    )
    assert "Quackenbush" not in exported and "867-5309" not in exported


def test_labels_of_images_never_sent_are_left_out_with_a_count_and_no_id(tmp_path):
    """Before: a data row made by hand in Labelbox (no global key; its external id a file name
    holding the patient's name), or an image of a rotated key, became a label row whose
    image_id was that name, in the label tables and the catalog."""
    from cadbusi_assets.storage import write_partition_table

    zone = open_zone(tmp_path / "research", "research")
    write_partition_table(
        zone,
        "labelbox_data_rows",
        "batch-1",
        pl.DataFrame({"global_key": ["img-a"], "external_id": ["img-a"], "row_data": ["x"]}),
    )
    by_hand = export_row("img-x", "lb-2")
    by_hand["data_row"] = {"id": "dr-x", "external_id": "Quackenbush_Hortensia_US_2021.png"}
    old_key = export_row("0123abcd-old-key", "lb-3")
    relabelled_by_hand = export_row("img-x", "lb-2", updated="2026-03-05T00:00:00.000+00:00")
    relabelled_by_hand["data_row"] = by_hand["data_row"]
    rows = [export_row("img-a", "lb-1"), by_hand, old_key, relabelled_by_hand]
    _write(tmp_path / "lb", "a.ndjson", _ndjson(rows))
    report = ingest_labels(zone, FolderLabelSource(tmp_path / "lb"))
    assert report.counts["labels"] == 1 and report.counts["labels_for_images_not_sent"] == 2
    stored = _strings_under(tmp_path / "research" / "labels")
    assert "Quackenbush" not in stored and "old-key" not in stored
    assert not any("Quackenbush" in p or "old-key" in p for p in report.problems)


def test_through_the_real_sdk_typed_text_is_scrubbed_and_an_emptied_project_is_refused(
    tmp_path, monkeypatch
):
    """The real labelbox SDK against the fake endpoint: a comment typed in Labelbox is scrubbed
    on the way in, and a project that suddenly exports nothing (labels cleared, a wrong project
    behind the same id) does not empty the label set."""
    from cadbusi_assets.labeling import open_label_source
    from cadbusi_assets_tests.labeling.fake_labelbox import running_fake

    for fake in running_fake():
        fake.add_project("proj-1")
        for i in range(4):
            row = _with_comment(export_row(f"img-{i}", f"lb-{i}"), "Hortensia Quackenbush")
            fake.label_row("proj-1", row, "2026-03-02T10:15:07+00:00")
        monkeypatch.setenv("LABELBOX_API_KEY", fake.api_key)
        monkeypatch.setenv("LABELBOX_ENDPOINT", fake.endpoint)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        source = open_label_source("labelbox://proj-1?dataset_prefix=bus")
        source.rate_limit_backoff_s = 0.0  # type: ignore[attr-defined]
        zone = open_zone(tmp_path / "research", "research")
        assert ingest_labels(zone, source).counts["labels"] == 4
        assert "Quackenbush" not in _strings_under(tmp_path / "research" / "labels")
        before = current_label_set_version(zone)
        fake._project_rows["proj-1"].clear()
        with pytest.raises(StageFailure, match="refusing to delete"):
            ingest_labels(zone, source, allow_shrink=False)
        assert current_label_set_version(zone) == before


def test_the_same_export_key_cut_again_after_a_relabel_is_refused_and_left_as_it_was(tmp_path):
    """Holds (no fix): the first test where only the label set changes between two builds of
    one key (test_cli's conflict comes from a whole demo re-run)."""
    from cadbusi_assets.exports import ExportConfig, ExportExistsError, build_export
    from cadbusi_assets_tests.builders import annotator_export_row
    from cadbusi_assets_tests.exports.conftest import synthetic_catalog, write_zone

    def tree_digest(root: Path) -> dict[str, bytes]:
        return {str(p): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    catalog = synthetic_catalog(8, 2)
    zone = write_zone(tmp_path / "research", catalog)
    image = catalog["image_id"][0]
    folder = tmp_path / "lb"
    _write(
        folder,
        "e.ndjson",
        _ndjson([annotator_export_row(image, "lb-1", [_box("f", 12.0, 22.0, 4.0, 3.0)])]),
    )
    ingest_labels(zone, FolderLabelSource(folder))
    build_export(zone, ExportConfig(key="k1"), {"label_set_version": "ls"}, workers=1)
    before = tree_digest(tmp_path / "research" / "exports")
    moved = annotator_export_row(image, "lb-1", [_box("f", 14.0, 24.0, 6.0, 5.0)])
    moved["projects"]["p"]["labels"][0]["label_details"]["updated_at"] = "2026-03-01T00:00:00Z"
    _write(folder, "f.ndjson", _ndjson([moved]))
    ingest_labels(zone, FolderLabelSource(folder))
    with pytest.raises(ExportExistsError, match="new key"):
        build_export(zone, ExportConfig(key="k1"), {"label_set_version": "ls"}, workers=1)
    assert tree_digest(tmp_path / "research" / "exports") == before


def test_a_label_set_stored_before_scrubbing_does_not_move_its_typed_text_into_history(
    tmp_path, monkeypatch
):
    """A research zone whose label tables were written before typed text was scrubbed: the
    next ingestion must not keep the unscrubbed answer as a superseded version in history."""
    from cadbusi_assets.labeling import ndjson

    folder = tmp_path / "lb"
    zone = open_zone(tmp_path / "research", "research")
    _write(
        folder, "a.ndjson", _ndjson([_with_comment(export_row("img-a"), "Hortensia Quackenbush")])
    )
    with monkeypatch.context() as legacy:
        legacy.setattr(ndjson, "scrub_label_text", lambda text: text)
        ingest_labels(zone, FolderLabelSource(folder))
    assert "Quackenbush" in _strings_under(tmp_path / "research" / "labels" / "labelbox")
    ingest_labels(zone, FolderLabelSource(folder))
    for table in ("labels", "classifications"):
        for part in ("", "history/"):
            path = tmp_path / "research" / "labels" / "labelbox" / f"{part}{table}.parquet"
            assert "Quackenbush" not in _strings_under_file(path), path


def test_an_image_withdrawn_after_it_was_sent_stays_on_record_and_its_labels_leave(tmp_path):
    """Before: a re-run after an image was quarantined or excluded rewrote ``labelbox_data_rows``
    without it: Labelbox still held the data row (sending deletes nothing there) but the record
    of it was gone and nobody was told; its labels stayed in the current set."""
    from cadbusi_assets.stages import analysis, labeling
    from cadbusi_assets.stages.deidentification import IMAGES_TABLE
    from cadbusi_assets.storage import read_partition_table, write_partition_table

    zone = open_zone(tmp_path / "research", "research")
    source = FolderLabelSource(tmp_path / "lb", settle_seconds=0)  # complete files
    names = ["img-a", "img-b", "img-c"]
    write_partition_table(
        zone,
        IMAGES_TABLE,
        "b1",
        pl.DataFrame({"image_id": names, "png_path": [f"images/{n}.png" for n in names]}),
    )

    def features(reasons: list[str | None]) -> None:
        frame = pl.DataFrame({"image_id": names, "exclusion_reason": reasons})
        write_partition_table(zone, analysis.FEATURES_TABLE, "b1", frame)

    features([None, None, None])
    labeling.send_data_rows(zone, source, "b1")
    _write(tmp_path / "lb", "a.ndjson", _ndjson([export_row(n, f"lb-{n}") for n in names]))
    assert ingest_labels(zone, source).counts["labels"] == 3

    features([None, "quarantined", None])
    report = labeling.send_data_rows(zone, source, "b1")
    table = read_partition_table(zone, labeling.DATA_ROWS_TABLE, "b1")
    assert table is not None
    assert dict(table.select("global_key", labeling.WITHDRAWN).iter_rows()) == {
        "img-a": False,
        "img-b": True,
        "img-c": False,
    }
    assert report.counts["data_rows_withdrawn"] == 1
    assert any("Labelbox still holds" in p for p in report.problems)
    assert not any("img-b" in p for p in report.problems)
    again = labeling.send_data_rows(zone, source, "b1")  # the record is not a shrink
    assert again.counts["data_rows_withdrawn"] == 1
    ingested = ingest_labels(zone, source)
    assert ingested.counts["labels"] == 2 and ingested.counts["labels_for_images_not_sent"] == 1
