"""Files an interrupted pass wrote that no table lists leave the research zone at the date's next
pass (the strict expected failure of ``test_adversary_runs_s38b`` before: the images of
patients who withdrew consent after a killed run stayed for good, named by nothing).

A killed pass is what :func:`~cadbusi_assets.stages.deidentification.deidentify_files` leaves
when it returns and nothing after it runs: files and their write-ahead records, no table."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from cadbusi_assets.stages import StageFailure, analysis, imaging, retrieval
from cadbusi_assets.stages import deidentification as deid
from cadbusi_assets.stages.purge import purge_research_batch
from cadbusi_assets.storage import open_zone, read_partition_table, write_partition_table
from cadbusi_assets.storage.pending import (
    PENDING_DIR,
    begin_pending,
    pending_batches,
    record_pending,
)
from cadbusi_assets_tests.builders import DEMO_DAY, one_day_demo, raw_zone_like_raw_dicom
from cadbusi_assets_tests.support import time_limit

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    return one_day_demo(tmp_path_factory.mktemp("interrupted"), seed=5)


def _zones(tmp_path: Path, pacs: Path):
    raw = raw_zone_like_raw_dicom(tmp_path, pacs)
    return raw, open_zone(str(tmp_path / "research"), "research").ensure()


def _files(zone) -> set[str]:
    return {
        zone.relative(p)
        for p in zone.iter_files()
        if p.name.endswith((".png", ".dcm")) and not zone.relative(p).startswith(PENDING_DIR)
    }


def _listed(zone, batch: str) -> set[str]:
    listed: set[str] = set()
    for table, column in (
        (deid.IMAGES_TABLE, "png_path"),
        (deid.INSTANCES_TABLE, "dicom_path"),
        (analysis.INPAINTED_TABLE, "inpainted_path"),
    ):
        frame = read_partition_table(zone, table, batch)
        if frame is not None:
            listed |= set(frame[column].to_list())
    return listed


def _killed_pass(raw, research, pseudonymizer) -> set[str]:
    """What a pass killed after its workers and before its tables leaves: its files."""
    inputs, _ = deid.partition_inputs(raw, DEMO_DAY)
    pending = begin_pending(pseudonymizer.batch_name(DEMO_DAY), deid.WRITER)
    deid.deidentify_files(
        raw, research, inputs, pseudonymizer, verify_ocr=False, workers=1, pending=pending
    )
    return _files(research)


def _drop_a_study(raw) -> None:
    """The date's raw manifest without its first study (the patient withdrew consent: the
    retrieval's re-run removes the study's instances)."""
    manifest = read_partition_table(raw, retrieval.INSTANCES_TABLE, DEMO_DAY)
    assert manifest is not None
    first = sorted(manifest["study_instance_uid"].to_list())[0]
    kept = manifest.filter(pl.col("study_instance_uid") != first)
    assert 0 < kept.height < manifest.height
    write_partition_table(raw, retrieval.INSTANCES_TABLE, DEMO_DAY, kept)


def test_the_one_pass_removes_what_a_killed_pass_wrote_of_a_study_gone_since(tmp_path, cohort):
    pacs, pseudonymizer = cohort
    raw, research = _zones(tmp_path, pacs)
    batch = pseudonymizer.batch_name(DEMO_DAY)
    written = _killed_pass(raw, research, pseudonymizer)
    assert written and pending_batches(research) == {batch}
    _drop_a_study(raw)
    with time_limit(600, "the one pass"):
        result = imaging.process_partition(
            raw, research, pseudonymizer, DEMO_DAY, ocr=False, workers=1, previews=0
        )
    listed = _listed(research, batch)
    assert listed and _files(research) == listed, "a file no table lists stays"
    gone = written - listed
    assert gone, "the dropped study had files"
    assert result.deidentification.report.counts["interrupted_pass_files_removed"] == len(gone)
    assert pending_batches(research) == set()


def test_the_de_identification_alone_removes_them_too(tmp_path, cohort):
    pacs, pseudonymizer = cohort
    raw, research = _zones(tmp_path, pacs)
    written = _killed_pass(raw, research, pseudonymizer)
    _drop_a_study(raw)
    with time_limit(600, "the de-identification"):
        deid.deidentify_partition(
            raw, research, pseudonymizer, DEMO_DAY, verify_ocr=False, workers=1, previews=0
        )
    listed = _listed(research, pseudonymizer.batch_name(DEMO_DAY))
    assert _files(research) == listed and written - listed
    assert pending_batches(research) == set()


def test_a_pass_the_shrink_guard_refuses_removes_them_and_changes_nothing_stored(tmp_path, cohort):
    """A date re-run that the shrink guard refuses keeps its stored tables and their files, and
    still removes what an interrupted pass left unlisted (and leaves no record to re-read)."""
    pacs, pseudonymizer = cohort
    raw, research = _zones(tmp_path, pacs)
    batch = pseudonymizer.batch_name(DEMO_DAY)
    with time_limit(600, "a first pass"):
        imaging.process_partition(
            raw, research, pseudonymizer, DEMO_DAY, ocr=False, workers=1, previews=0
        )
    stored = _listed(research, batch)
    assert _files(research) == stored
    orphan = "images/zz/ffffffffffffffffffffffff.png"
    record_pending(research, begin_pending(batch, deid.WRITER), "x", [orphan])
    research.write_bytes(tuple(orphan.split("/")), b"left by a killed pass")
    manifest = read_partition_table(raw, retrieval.INSTANCES_TABLE, DEMO_DAY)
    assert manifest is not None and manifest.height > 2
    for path in manifest["raw_path"].to_list()[1:]:  # unreadable now: a sharp drop
        raw.write_bytes(tuple(path.split("/")), b"not DICOM")
    with time_limit(600, "a refused pass"), pytest.raises(StageFailure):
        imaging.process_partition(
            raw, research, pseudonymizer, DEMO_DAY, ocr=False, workers=1, previews=0
        )
    assert _files(research) == stored == _listed(research, batch)
    assert pending_batches(research) == set()


def test_the_inpainting_removes_what_its_killed_pass_wrote(tmp_path, cohort):
    pacs, pseudonymizer = cohort
    raw, research = _zones(tmp_path, pacs)
    batch = pseudonymizer.batch_name(DEMO_DAY)
    with time_limit(600, "a first pass"):
        imaging.process_partition(
            raw, research, pseudonymizer, DEMO_DAY, ocr=False, workers=1, previews=0
        )
    orphan = "inpainted/zz/ffffffffffffffffffffffff.png"
    other_writer = "images/zz/eeeeeeeeeeeeeeeeeeeeeeee.png"
    record_pending(research, begin_pending(batch, analysis.INPAINT_WRITER), "c", [orphan])
    record_pending(research, begin_pending(batch, deid.WRITER), "i", [other_writer])
    for path in (orphan, other_writer):
        research.write_bytes(tuple(path.split("/")), b"left by a killed pass")
    with time_limit(600, "the inpainting"):
        report = analysis.inpaint_partition(research, batch, workers=1, previews=0)
    assert not research.exists(*orphan.split("/"))
    assert report.counts["interrupted_pass_files_removed"] == 1
    # the de-identification's record is its own sweep's (the inpainting holds another lock)
    assert research.exists(*other_writer.split("/")) and pending_batches(research) == {batch}


def test_a_purge_removes_what_an_interrupted_pass_of_the_batch_wrote(tmp_path, cohort):
    pacs, pseudonymizer = cohort
    raw, research = _zones(tmp_path, pacs)
    written = _killed_pass(raw, research, pseudonymizer)
    assert written
    purged = purge_research_batch(research, pseudonymizer.batch_name(DEMO_DAY))
    assert purged.files == len(written)
    assert _files(research) == set() and pending_batches(research) == set()
