"""retrieve_studies on the folder PACS: manifests, re-runs, changes, failures, determinism."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from pathlib import Path
from typing import BinaryIO

import polars as pl
import pytest

from cadbusi_assets.pacs import (
    INSTANCE_SCHEMA,
    STUDY_SCHEMA,
    InstanceRef,
    OutsideWindowError,
    PacsError,
    TransientError,
    retrieve_studies,
)
from cadbusi_assets.pacs.folder import FolderPacs
from cadbusi_assets.storage import open_zone

from .conftest import FolderStudies

PARTITION = "2024-03-05"


class CountingPacs(FolderPacs):
    """The real folder PACS, counting fetches and optionally failing some of them."""

    def __init__(self, root: Path, *, fail_times: int = 0, fail_sources: set[str] | None = None):
        super().__init__(root)
        self.fetched: list[str] = []
        self.fail_times = fail_times
        self.fail_sources = fail_sources
        self.failures: dict[str, int] = {}
        self.list_fails: set[str] = set()

    def list_instances(self, study_instance_uid: str) -> list[InstanceRef]:
        if study_instance_uid in self.list_fails:
            raise TransientError("HTTP 503")
        return super().list_instances(study_instance_uid)

    def fetch(self, ref: InstanceRef, dest: BinaryIO) -> int:
        if self.fail_sources is None or ref.source in self.fail_sources:
            seen = self.failures.get(ref.source, 0)
            if seen < self.fail_times:
                self.failures[ref.source] = seen + 1
                dest.write(b"partial bytes that must never reach the zone")
                raise TransientError("HTTP 503")
        self.fetched.append(ref.source)
        return super().fetch(ref, dest)


def _run(pacs, studies: FolderStudies, zone, pseudonymizer, **kwargs):
    return retrieve_studies(
        pacs,
        kwargs.pop("cohort", None) if "cohort" in kwargs else studies.cohort(),
        zone,
        PARTITION,
        pseudonymizer,
        backoff_seconds=0,
        **kwargs,
    )


def _zone_files(zone) -> set[str]:
    return {zone.relative(p) for p in zone.iter_files("dicom", include_temporary=True)}


def _study(result, uid: str) -> dict:
    rows = result.studies.filter(pl.col("study_instance_uid") == uid).to_dicts()
    assert len(rows) == 1
    return rows[0]


def test_first_run_stores_every_file_once_and_reports_each_study(
    folder_studies, tmp_path, pseudonymizer
):
    zone = open_zone(tmp_path / "raw", name="raw")
    pacs = CountingPacs(folder_studies.root)
    result = _run(pacs, folder_studies, zone, pseudonymizer)

    assert dict(result.instances.schema) == INSTANCE_SCHEMA
    assert dict(result.studies.schema) == STUDY_SCHEMA
    assert result.instances.height == 6
    assert set(result.instances["status"]) == {"stored"}
    assert len(pacs.fetched) == 6

    complete = _study(result, folder_studies.complete)
    assert (complete["expected"], complete["stored"], complete["failed"]) == (3, 3, 0)
    assert complete["complete"] is True and complete["reason"] is None
    assert complete["study_key"] == pseudonymizer.raw_key("study", folder_studies.complete)

    corrupt = _study(result, folder_studies.with_corrupt)
    assert (corrupt["expected"], corrupt["stored"], corrupt["complete"]) == (3, 3, True)

    empty = _study(result, folder_studies.empty)
    assert (empty["expected"], empty["complete"]) == (0, False)
    assert empty["reason"] == "study has no instances in PACS"

    missing = _study(result, folder_studies.missing)
    assert (missing["expected"], missing["stored"], missing["complete"]) == (0, 0, False)
    assert missing["reason"] == "study not found in PACS"
    assert not result.complete

    # the zone holds exactly the manifest's files, byte-identical to the PACS files
    assert _zone_files(zone) == set(result.instances["raw_path"])
    sources = {
        hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder_studies.root.rglob("*")
        if p.is_file()
    }
    assert set(result.instances["sha256"]) == sources
    for row in result.instances.iter_rows(named=True):
        data = zone.read_bytes(*row["raw_path"].split("/"))
        assert hashlib.sha256(data).hexdigest() == row["sha256"]
        assert len(data) == row["size_bytes"]
        assert row["attempts"] == 1


def test_paths_are_opaque_keys(folder_studies, tmp_path, pseudonymizer):
    zone = open_zone(tmp_path / "raw", name="raw")
    result = _run(FolderPacs(folder_studies.root), folder_studies, zone, pseudonymizer)
    readable = result.instances.filter(pl.col("reason").is_null())
    for row in readable.iter_rows(named=True):
        assert row["instance_key"] == pseudonymizer.raw_key("instance", row["sop_instance_uid"])
        assert row["raw_path"] == (
            f"dicom/{PARTITION}/{row['study_key']}/{row['instance_key']}.dcm"
        )
    for path in _zone_files(zone):
        assert "1.2.826" not in path and "ACC" not in path
        assert all(len(part) == 32 for part in path.split("/")[2:3])


def test_unreadable_file_is_stored_under_its_content_key_with_a_reason(
    folder_studies, tmp_path, pseudonymizer
):
    zone = open_zone(tmp_path / "raw", name="raw")
    result = _run(FolderPacs(folder_studies.root), folder_studies, zone, pseudonymizer)
    bad = result.instances.filter(pl.col("reason").is_not_null()).to_dicts()
    assert len(bad) == 1
    content = (folder_studies.root / folder_studies.with_corrupt / "IM0003.dcm").read_bytes()
    digest = hashlib.sha256(content).hexdigest()
    assert bad[0]["status"] == "stored"
    assert bad[0]["instance_key"] == pseudonymizer.raw_key("file", digest)
    assert bad[0]["sop_instance_uid"] is None
    assert bad[0]["reason"].startswith("not readable as DICOM")
    assert zone.read_bytes(*bad[0]["raw_path"].split("/")) == content


def test_same_input_and_key_give_the_same_paths_and_manifests(
    folder_studies, tmp_path, pseudonymizer
):
    first = _run(
        FolderPacs(folder_studies.root),
        folder_studies,
        open_zone(tmp_path / "a", name="raw"),
        pseudonymizer,
        concurrency=1,
    )
    second = _run(
        FolderPacs(folder_studies.root),
        folder_studies,
        open_zone(tmp_path / "b", name="raw"),
        pseudonymizer,
        concurrency=4,
    )
    assert first.instances.equals(second.instances)
    assert first.studies.equals(second.studies)


def test_rerun_fetches_nothing_and_keeps_every_file(folder_studies, tmp_path, pseudonymizer):
    zone = open_zone(tmp_path / "raw", name="raw")
    first = _run(FolderPacs(folder_studies.root), folder_studies, zone, pseudonymizer)
    pacs = CountingPacs(folder_studies.root)
    second = _run(pacs, folder_studies, zone, pseudonymizer, previous=first.instances)
    assert pacs.fetched == []
    assert set(second.instances["status"]) == {"already_present"}
    assert set(second.instances["attempts"]) == {0}
    assert second.instances.drop("status", "attempts").equals(
        first.instances.drop("status", "attempts")
    )
    assert second.studies.equals(first.studies)
    assert _zone_files(zone) == set(first.instances["raw_path"])


def test_changed_study_deletes_removed_and_fetches_added_instances(
    folder_studies, tmp_path, pseudonymizer
):
    zone = open_zone(tmp_path / "raw", name="raw")
    first = _run(FolderPacs(folder_studies.root), folder_studies, zone, pseudonymizer)
    removed = first.instances.filter(
        pl.col("sop_instance_uid") == folder_studies.complete + ".1.2"
    )["raw_path"][0]
    (folder_studies.root / folder_studies.complete / "IM0002.dcm").unlink()
    folder_studies.add_instance(folder_studies.complete, 4)

    pacs = CountingPacs(folder_studies.root)
    second = _run(pacs, folder_studies, zone, pseudonymizer, previous=first.instances)

    assert pacs.fetched == [f"{folder_studies.complete}/IM0004.dcm"]
    assert removed not in set(second.instances["raw_path"])
    assert not zone.exists(*removed.split("/"))
    added = second.instances.filter(pl.col("sop_instance_uid") == folder_studies.complete + ".1.4")
    assert added["status"].to_list() == ["stored"]
    study = _study(second, folder_studies.complete)
    assert (study["expected"], study["stored"], study["complete"]) == (3, 3, True)
    assert _zone_files(zone) == set(second.instances["raw_path"])


def test_study_dropped_from_the_cohort_is_deleted(folder_studies, tmp_path, pseudonymizer):
    zone = open_zone(tmp_path / "raw", name="raw")
    first = _run(FolderPacs(folder_studies.root), folder_studies, zone, pseudonymizer)
    second = _run(
        FolderPacs(folder_studies.root),
        folder_studies,
        zone,
        pseudonymizer,
        previous=first.instances,
        cohort=folder_studies.cohort(folder_studies.complete),
    )
    assert second.studies.height == 1
    assert _zone_files(zone) == set(second.instances["raw_path"])
    assert len(list((tmp_path / "raw" / "dicom" / PARTITION).iterdir())) == 1


def test_damaged_file_in_the_zone_is_fetched_again(folder_studies, tmp_path, pseudonymizer):
    zone = open_zone(tmp_path / "raw", name="raw")
    first = _run(FolderPacs(folder_studies.root), folder_studies, zone, pseudonymizer)
    row = first.instances.filter(pl.col("reason").is_null()).row(0, named=True)
    target = zone.local_path(*row["raw_path"].split("/"))
    original = target.read_bytes()
    target.write_bytes(original[:-1] + bytes([original[-1] ^ 0xFF]))  # same size, other bytes

    pacs = CountingPacs(folder_studies.root)
    second = _run(pacs, folder_studies, zone, pseudonymizer, previous=first.instances)
    assert len(pacs.fetched) == 1
    assert target.read_bytes() == original
    again = second.instances.filter(pl.col("instance_key") == row["instance_key"])
    assert again["status"].to_list() == ["stored"]


def test_transient_failures_are_retried_with_no_partial_file_left(
    folder_studies, tmp_path, pseudonymizer
):
    zone = open_zone(tmp_path / "raw", name="raw")
    pacs = CountingPacs(folder_studies.root, fail_times=2)
    result = _run(pacs, folder_studies, zone, pseudonymizer, retries=3)
    assert set(result.instances["status"]) == {"stored"}
    assert set(result.instances["attempts"]) == {3}
    assert _zone_files(zone) == set(result.instances["raw_path"])  # no staging leftovers


def test_instance_failing_after_all_attempts_is_reported_and_fetched_on_rerun(
    folder_studies, tmp_path, pseudonymizer
):
    zone = open_zone(tmp_path / "raw", name="raw")
    bad = {f"{folder_studies.complete}/IM0001.dcm", f"{folder_studies.complete}/cine/IM0003.dcm"}
    pacs = CountingPacs(folder_studies.root, fail_times=99, fail_sources=bad)
    first = _run(pacs, folder_studies, zone, pseudonymizer, retries=3)

    failed = first.instances.filter(pl.col("status") == "failed")
    assert failed.height == 2
    assert set(failed["reason"]) == {"HTTP 503"} and set(failed["attempts"]) == {3}
    assert failed["raw_path"].null_count() == 2
    study = _study(first, folder_studies.complete)
    assert (study["expected"], study["stored"], study["failed"]) == (3, 1, 2)
    assert study["complete"] is False
    assert study["reason"] == "2 instances failed after 3 attempts: HTTP 503"
    assert _zone_files(zone) == set(first.instances["raw_path"].drop_nulls())

    healthy = CountingPacs(folder_studies.root)
    second = _run(healthy, folder_studies, zone, pseudonymizer, previous=first.instances)
    assert sorted(healthy.fetched) == sorted(bad)
    assert _study(second, folder_studies.complete)["complete"] is True


def test_listing_failure_keeps_the_study_files(folder_studies, tmp_path, pseudonymizer):
    zone = open_zone(tmp_path / "raw", name="raw")
    first = _run(FolderPacs(folder_studies.root), folder_studies, zone, pseudonymizer)
    pacs = CountingPacs(folder_studies.root)
    pacs.list_fails.add(folder_studies.complete)
    second = _run(pacs, folder_studies, zone, pseudonymizer, previous=first.instances, retries=2)
    study = _study(second, folder_studies.complete)
    assert study["expected"] is None and study["complete"] is False
    assert study["reason"] == "instance listing failed after 2 attempts: HTTP 503"
    assert study["stored"] == 3
    assert _zone_files(zone) == set(first.instances["raw_path"])


def test_fatal_pacs_error_stops_the_run_without_deleting(folder_studies, tmp_path, pseudonymizer):
    zone = open_zone(tmp_path / "raw", name="raw")
    first = _run(FolderPacs(folder_studies.root), folder_studies, zone, pseudonymizer)

    class Refusing(FolderPacs):
        def list_instances(self, study_instance_uid):
            raise PacsError("The PACS refused our credentials (HTTP 401).")

    with pytest.raises(PacsError, match="credentials"):
        _run(Refusing(folder_studies.root), folder_studies, zone, pseudonymizer)
    assert _zone_files(zone) == set(first.instances["raw_path"])


def test_duplicate_files_are_stored_once_and_conflicts_kept_apart(
    folder_studies, tmp_path, pseudonymizer
):
    study = folder_studies.root / folder_studies.complete
    (study / "copy-of-IM0001.dcm").write_bytes((study / "IM0001.dcm").read_bytes())
    # same SOP Instance UID, different pixels
    folder_studies.add_instance(folder_studies.complete, 2, subfolder="other", seed=7)
    zone = open_zone(tmp_path / "raw", name="raw")
    result = _run(
        FolderPacs(folder_studies.root),
        folder_studies,
        zone,
        pseudonymizer,
        cohort=folder_studies.cohort(folder_studies.complete),
    )
    sops = result.instances["sop_instance_uid"].to_list()
    assert sops.count(folder_studies.complete + ".1.1") == 1
    assert sops.count(folder_studies.complete + ".1.2") == 2
    conflict = result.instances.filter(pl.col("reason").is_not_null()).to_dicts()
    assert len(conflict) == 1
    assert conflict[0]["reason"] == "duplicate SOP Instance UID with different content"
    assert conflict[0]["instance_key"] == pseudonymizer.raw_key("file", conflict[0]["sha256"])
    # the first file in path order keeps the instance key
    owner = result.instances.filter(
        pl.col("instance_key")
        == pseudonymizer.raw_key("instance", folder_studies.complete + ".1.2")
    )
    assert owner["sha256"][0] == hashlib.sha256((study / "IM0002.dcm").read_bytes()).hexdigest()
    assert _zone_files(zone) == set(result.instances["raw_path"])


def test_outside_the_window_the_run_fails_clearly(folder_studies, tmp_path, pseudonymizer):
    zone = open_zone(tmp_path / "raw", name="raw")
    with pytest.raises(OutsideWindowError, match="20:00-06:00"):
        _run(
            FolderPacs(folder_studies.root),
            folder_studies,
            zone,
            pseudonymizer,
            window="20:00-06:00",
            clock=lambda: dt.datetime(2026, 1, 5, 12, 0),
        )
    assert _zone_files(zone) == set()


def test_window_wait_sleeps_until_it_opens(folder_studies, tmp_path, pseudonymizer):
    slept: list[float] = []
    times = iter([dt.datetime(2026, 1, 5, 19, 59, 30)] + [dt.datetime(2026, 1, 5, 21, 0)] * 1000)
    result = _run(
        FolderPacs(folder_studies.root, window="20:00-06:00"),
        folder_studies,
        open_zone(tmp_path / "raw", name="raw"),
        pseudonymizer,
        window_wait=True,
        clock=lambda: next(times),
        sleep=slept.append,
    )
    assert slept == [30.0]
    assert result.instances.height == 6


def test_window_closing_mid_run_marks_the_rest_failed(folder_studies, tmp_path, pseudonymizer):
    calls = {"n": 0}

    def clock() -> dt.datetime:
        calls["n"] += 1  # 1 start check + 4 listings + 2 fetches inside the window
        inside = calls["n"] <= 7
        return dt.datetime(2026, 1, 5, 5, 59) if inside else dt.datetime(2026, 1, 5, 6, 1)

    zone = open_zone(tmp_path / "raw", name="raw")
    first = _run(
        FolderPacs(folder_studies.root),
        folder_studies,
        zone,
        pseudonymizer,
        window="20:00-06:00",
        clock=clock,
        concurrency=1,
    )
    failed = first.instances.filter(pl.col("status") == "failed")
    assert failed.height == 4
    assert set(failed["reason"]) == {"retrieval window 20:00-06:00 closed"}
    assert set(failed["attempts"]) == {0}
    second = _run(
        FolderPacs(folder_studies.root),
        folder_studies,
        zone,
        pseudonymizer,
        previous=first.instances,
    )
    assert second.instances.filter(pl.col("status") == "stored").height == 4
    assert second.instances.filter(pl.col("status") == "already_present").height == 2


def test_no_identifier_in_logs_or_progress(folder_studies, tmp_path, pseudonymizer, caplog):
    messages: list[str] = []
    pacs = CountingPacs(
        folder_studies.root, fail_times=9, fail_sources={f"{folder_studies.complete}/IM0001.dcm"}
    )
    with caplog.at_level(logging.DEBUG, logger="cadbusi_assets"):
        result = _run(
            pacs,
            folder_studies,
            open_zone(tmp_path / "raw", name="raw"),
            pseudonymizer,
            progress=messages.append,
        )
    text = "\n".join(messages + [r.getMessage() for r in caplog.records])
    text += "\n".join(str(r) for r in result.studies["reason"].drop_nulls())
    text += "\n".join(str(r) for r in result.instances["reason"].drop_nulls())
    assert messages and "instances processed" in text
    for secret in ("1.2.826", "ACC-", "SYNTH", "IM000"):
        assert secret not in text


def test_invalid_partition_and_cohort_are_refused(folder_studies, tmp_path, pseudonymizer):
    zone = open_zone(tmp_path / "raw", name="raw")
    pacs = FolderPacs(folder_studies.root)
    with pytest.raises(Exception, match="Invalid"):
        retrieve_studies(pacs, folder_studies.cohort(), zone, "../x", pseudonymizer)
    with pytest.raises(ValueError, match="accession_number"):
        retrieve_studies(
            pacs, pl.DataFrame({"study_instance_uid": ["1.2"]}), zone, PARTITION, pseudonymizer
        )
