"""Fields of a Labelbox export that a person types and are not answers: the project's name, a
data row's ``workflow_status``, an object's ``annotation_kind``. Stored scrubbed or closed to
their vocabularies, in new ingestions and in label stores written before."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from cadbusi_assets.labeling import FolderLabelSource, ndjson
from cadbusi_assets.labeling.ndjson import OTHER, parse_export_rows
from cadbusi_assets.stages import labeling as stage
from cadbusi_assets.stages.labeling import ingest_labels
from cadbusi_assets.storage import open_zone
from cadbusi_assets_tests.builders import export_row

#: synthetic identifiers typed into Labelbox fields
TYPED = ("Hortensia Quackenbush", "48213377", "555-867-5309")


def _typed_row(image: str = "img-a", label: str = "lb-1", status: str | None = None) -> dict:
    row = export_row(image, label)
    project = row["projects"]["proj-1"]
    project["name"] = "Second read for Hortensia Quackenbush MRN 48213377"
    project["project_details"] = {
        "workflow_status": status or "DONE - called Hortensia Quackenbush 555-867-5309"
    }
    project["labels"][0]["annotations"]["objects"][0]["annotation_kind"] = (
        "ImageBoundingBox 555-867-5309"
    )
    return row


def _strings(folder: Path) -> str:
    """Every string cell of every parquet file under ``folder``."""
    out = []
    for path in sorted(folder.rglob("*.parquet")):
        frame = pl.read_parquet(path)
        for column, dtype in frame.schema.items():
            if dtype == pl.Utf8:
                out += [v for v in frame[column].to_list() if v]
    return "\n".join(out)


def _where(folder: Path, value: str) -> list[str]:
    return [
        p.relative_to(folder).as_posix()
        for p in sorted(folder.rglob("*.parquet"))
        if value in _strings_of(p)
    ]


def _strings_of(path: Path) -> str:
    frame = pl.read_parquet(path)
    return "\n".join(
        v for c, t in frame.schema.items() if t == pl.Utf8 for v in frame[c].to_list() if v
    )


def test_typed_project_name_status_and_kind_are_not_stored_as_typed():
    tables = parse_export_rows([_typed_row()])
    label = tables.labels.row(0, named=True)
    assert label["workflow_status"] == OTHER
    assert "Quackenbush" not in label["project_name"] and "48213377" not in label["project_name"]
    kinds = dict(tables.objects.select("feature_id", "kind").iter_rows())
    assert kinds == {"f-box": OTHER, "f-poly": "ImagePolygon", "f-mask": "ImageSegmentationMask"}


def test_labelbox_vocabulary_is_kept_in_its_own_spelling():
    rows = []
    for image, status in (("a", "DONE"), ("b", "in_rework"), ("c", "In Review"), ("d", None)):
        row = export_row(image, f"lb-{image}")
        row["projects"]["proj-1"]["project_details"] = {"workflow_status": status}
        rows.append(row)
    tables = parse_export_rows(rows)
    assert dict(tables.labels.select("image_id", "workflow_status").iter_rows()) == {
        "a": "DONE",
        "b": "IN_REWORK",
        "c": "IN_REVIEW",
        "d": None,
    }
    assert set(tables.objects["kind"].to_list()) == {
        "ImageBoundingBox",
        "ImagePolygon",
        "ImageSegmentationMask",
    }
    assert tables.labels["project_name"].to_list() == ["BUS lesions"] * 4


def test_a_store_written_before_is_rewritten_without_the_typed_fields(tmp_path, monkeypatch):
    """A label store written before these fields were scrubbed (its current set, history and
    snapshots under ``versions/``) is rewritten by the next ingestion."""
    folder = tmp_path / "lb"
    (folder / "exports").mkdir(parents=True)
    root = tmp_path / "research"
    zone = open_zone(root, "research")

    def export(name: str, rows: list[dict]) -> None:
        text = "".join(json.dumps(r) + "\n" for r in rows)
        (folder / "exports" / name).write_text(text, encoding="utf-8")

    with monkeypatch.context() as legacy:  # the code as it was: fields stored as typed
        legacy.setattr(ndjson, "workflow_status", lambda value: value)
        legacy.setattr(ndjson, "annotation_kind", lambda value: value)
        real_scrub = ndjson.scrub_label_text
        legacy.setattr(
            ndjson,
            "scrub_label_text",
            lambda text: text if text and text.startswith("Second read") else real_scrub(text),
        )
        legacy.setattr(stage, "migrate_label_store", lambda *a, **k: {"files_rewritten": 0})
        export("a.ndjson", [_typed_row()])
        ingest_labels(zone, FolderLabelSource(folder))
        relabelled = _typed_row()
        relabelled["projects"]["proj-1"]["labels"][0]["label_details"]["updated_at"] = (
            "2026-03-03T10:15:07.000+00:00"
        )
        export("b.ndjson", [relabelled])
        ingest_labels(zone, FolderLabelSource(folder))
    # the snapshots' markers as the code before wrote them
    old_marker = {"migration": "label-store: typed text scrubbed, annotator pseudonyms keyed"}
    for marker in (root / "labels" / "labelbox" / "versions").rglob(stage.SNAPSHOT_MARKER):
        marker.write_text(json.dumps(old_marker))
    before = _strings(root / "labels")
    assert all(value in before for value in TYPED)  # the legacy store holds them
    assert (root / "labels" / "labelbox" / "history" / "labels.parquet").exists()

    report = ingest_labels(zone, FolderLabelSource(folder))

    after = _strings(root / "labels")
    for value in TYPED:
        assert value not in after, (value, _where(root / "labels", value))
    assert len(list((root / "labels" / "labelbox" / "versions").iterdir())) >= 2
    assert report.counts["migration_label_fields_changed"] > 0
    labels = pl.read_parquet(root / "labels" / "labelbox" / "labels.parquet")
    assert labels["workflow_status"].to_list() == [OTHER]
    # a second run changes no byte of the store
    stamp = {p: p.read_bytes() for p in (root / "labels").rglob("*") if p.is_file()}
    again = ingest_labels(zone, FolderLabelSource(folder))
    assert again.counts["migration_files_rewritten"] == 0
    assert {p: p.read_bytes() for p in (root / "labels").rglob("*") if p.is_file()} == stamp
