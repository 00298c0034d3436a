"""Three small faults an adversary noted in session 37: a label export file present twice
counted as superseded label versions, a one-line export file with a byte-order mark and no
trailing newline reported as cut off, and two builds of the same export key sharing one
staging folder in the research zone."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

import cadbusi_assets.exports.build as export_build
from cadbusi_assets.exports import ExportConfig, build_export
from cadbusi_assets.exports.build import SUMS_FILE, ExportExistsError
from cadbusi_assets.identity import Pseudonymizer
from cadbusi_assets.labeling import FolderLabelSource
from cadbusi_assets.stages.labeling import ingest_labels
from cadbusi_assets.storage import open_zone
from cadbusi_assets_tests.builders import export_row
from cadbusi_assets_tests.exports.conftest import synthetic_catalog, write_zone
from cadbusi_assets_tests.support import TEST_KEY

LINEAGE = {"label_set_version": None, "code_version": "0.1.0"}
KEY = "2026-12-01"


def _write_export(folder: Path, name: str, rows: list[dict]) -> None:
    path = folder / "exports" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _rows(n: int) -> list[dict]:
    return [export_row(f"img-{i}", f"lb-{i}") for i in range(n)]


# 1. the same export file under two names -----------------------------------------------


def test_the_same_export_file_twice_supersedes_nothing(tmp_path: Path):
    """Before: ten labels read twice reported label_versions_superseded_in_this_export=10."""
    folder = tmp_path / "lb"
    zone = open_zone(tmp_path / "research", "research")
    _write_export(folder, "export.ndjson", _rows(10))
    shutil.copyfile(folder / "exports" / "export.ndjson", folder / "exports" / "copy.ndjson")
    report = ingest_labels(zone, FolderLabelSource(folder), pseudonymizer=Pseudonymizer(TEST_KEY))
    assert report.counts["labels"] == 10
    assert report.counts["label_versions_superseded_in_this_export"] == 0
    assert report.counts["superseded_label_versions_kept"] == 0


def test_a_real_relabel_beside_a_duplicate_file_is_still_counted_once(tmp_path: Path):
    folder = tmp_path / "lb"
    zone = open_zone(tmp_path / "research", "research")
    _write_export(folder, "a.ndjson", _rows(3))
    shutil.copyfile(folder / "exports" / "a.ndjson", folder / "exports" / "a-copy.ndjson")
    relabel = export_row("img-0", "lb-0", updated="2026-03-05T09:00:00.000+00:00", answer="no")
    _write_export(folder, "b.ndjson", [relabel])
    report = ingest_labels(zone, FolderLabelSource(folder), pseudonymizer=Pseudonymizer(TEST_KEY))
    assert report.counts["labels"] == 3
    assert report.counts["label_versions_superseded_in_this_export"] == 1
    assert report.counts["superseded_label_versions_kept"] == 1


# 2. a byte-order mark without a trailing newline ---------------------------------------


def _skip_reason(folder: Path, data: bytes) -> str:
    path = folder / "exports" / "bom.ndjson"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    source = FolderLabelSource(folder)
    assert list(source.export_rows()) == []
    ((name, reason),) = source.skipped_files
    assert name == "bom.ndjson"
    return reason


def test_a_bom_file_without_a_trailing_newline_gets_the_bom_reason(tmp_path: Path):
    line = json.dumps(export_row()).encode()
    with_newline = _skip_reason(tmp_path / "a", b"\xef\xbb\xbf" + line + b"\n")
    without = _skip_reason(tmp_path / "b", b"\xef\xbb\xbf" + line)
    assert "BOM" in with_newline
    assert without == with_newline
    assert "read again when it changes" not in without


def test_a_cut_off_last_line_without_a_bom_keeps_its_reason(tmp_path: Path):
    line = json.dumps(export_row()).encode()
    reason = _skip_reason(tmp_path, line[: len(line) // 2])
    assert "read again when it changes" in reason


# 3. two builds of the same key ---------------------------------------------------------


def _age(folder: Path, seconds: float) -> None:
    then = time.time() - seconds
    for path in [*folder.rglob("*"), folder]:
        os.utime(path, (then, then))


def test_another_builds_fresh_staging_folder_is_left_alone_and_a_stale_one_removed(
    tmp_path: Path, monkeypatch
):
    """Before: every build staged in ``exports/.<key>.staging`` and removed what was there,
    another build's folder in use included."""
    zone = write_zone(tmp_path / "research", synthetic_catalog())
    exports = zone.local_path("exports")
    exports.mkdir(parents=True, exist_ok=True)
    fresh_shared = exports / f".{KEY}.staging"  # an earlier version's build, running now
    fresh_own = exports / f".{KEY}.staging-x"  # another build, running now
    stale = exports / f".{KEY}.staging-killed"  # a build killed two hours ago
    other_key = exports / ".2026-12-02.staging-old"
    for folder in (fresh_shared, fresh_own, stale, other_key):
        (folder / "images").mkdir(parents=True)
        (folder / "images" / "a.png").write_bytes(b"x")
    _age(stale, 2 * 3600)
    _age(other_key, 2 * 3600)
    used: list[str] = []
    real_copytree = shutil.copytree

    def recording(src, dst, *args, **kwargs):
        if Path(dst).parent == exports:
            used.append(Path(dst).name)
        return real_copytree(src, dst, *args, **kwargs)

    monkeypatch.setattr(export_build.shutil, "copytree", recording)
    report = build_export(zone, ExportConfig(key=KEY), LINEAGE, workers=1)
    assert not report.already_existed
    assert (exports / KEY / SUMS_FILE).is_file()
    assert (fresh_shared / "images" / "a.png").is_file()
    assert (fresh_own / "images" / "a.png").is_file()
    assert not stale.exists()
    assert other_key.exists()  # another key's folders are its own build's business
    (name,) = used
    assert name.startswith(f".{KEY}.staging-") and len(name) > len(f".{KEY}.staging-") + 8
    assert not (exports / name).exists()


def _finished_meanwhile(tmp_path: Path, monkeypatch, change: bool):
    """Build ``KEY`` once, take it away, and put it back just before the next build's rename
    (the other build finished first); ``change``: a file of it differs."""
    zone = write_zone(tmp_path / "research", synthetic_catalog())
    first = build_export(zone, ExportConfig(key=KEY), LINEAGE, workers=1)
    target = zone.local_path("exports", KEY)
    other = tmp_path / "other-build"
    shutil.move(target, other)
    if change:
        (other / SUMS_FILE).write_text((other / SUMS_FILE).read_text() + "0" * 64 + "  x\n")
    real_copytree = shutil.copytree

    def then_the_other_finishes(src, dst, *args, **kwargs):
        out = real_copytree(src, dst, *args, **kwargs)
        if Path(dst).name.startswith(f".{KEY}.staging") and not target.exists():
            shutil.move(other, target)
        return out

    monkeypatch.setattr(export_build.shutil, "copytree", then_the_other_finishes)
    return zone, first, target


def test_an_identical_export_finished_first_by_another_build_already_existed(
    tmp_path: Path, monkeypatch
):
    """Before: the rename onto the other build's export raised a raw OSError."""
    zone, first, target = _finished_meanwhile(tmp_path, monkeypatch, change=False)
    again = build_export(zone, ExportConfig(key=KEY), LINEAGE, workers=1)
    assert again.already_existed and again.digest == first.digest
    assert (target / SUMS_FILE).is_file()
    assert not [p.name for p in target.parent.iterdir() if ".staging" in p.name]


def test_a_different_export_finished_first_by_another_build_is_refused(tmp_path: Path, monkeypatch):
    zone, _first, target = _finished_meanwhile(tmp_path, monkeypatch, change=True)
    kept = (tmp_path / "other-build" / SUMS_FILE).read_text()
    with pytest.raises(ExportExistsError, match="already exists with different content"):
        build_export(zone, ExportConfig(key=KEY), LINEAGE, workers=1)
    assert (target / SUMS_FILE).read_text() == kept  # the other build's export untouched
    assert not [p.name for p in target.parent.iterdir() if ".staging" in p.name]
