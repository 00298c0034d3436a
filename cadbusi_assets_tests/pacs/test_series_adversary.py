"""Retrieval by series (``level=series``) attacked the way a messy hospital PACS and a real
user would, against the real Orthanc: the same SOP Instance UID in two studies of the cohort,
an instance added to a series after the listing, refetch, one connection, a run killed in the
middle of a series, a large series."""

from __future__ import annotations

import io
import itertools
import shutil
import tempfile
from pathlib import Path

import polars as pl
import pytest

from cadbusi_assets.dicom import read_dataset
from cadbusi_assets.pacs import open_pacs, retrieve_studies
from cadbusi_assets.pacs.synthetic import synthetic_uid, synthetic_us_instance
from cadbusi_assets.storage import open_zone
from cadbusi_assets_tests.pacs.faults import HttpFaultProxy
from cadbusi_assets_tests.pacs.orthanc_support import PARTITION, study_cohort, zone_files
from cadbusi_assets_tests.storage.conftest import BUCKET, fake_gcs  # noqa: F401

pytestmark = pytest.mark.integration

_uids = itertools.count(1)


def _uid(*more: int) -> str:
    """A fresh synthetic UID no other test module of the session's Orthanc uses."""
    return synthetic_uid(3131, next(_uids), *more)


@pytest.fixture(params=["dicomweb", "dimse_move", "dimse_get"])
def pacs_uri(request) -> str:
    return request.getfixturevalue(f"{request.param}_uri")


def _upload(orthanc, study: str, series: str, sop: str, number: int) -> None:
    orthanc.upload(
        synthetic_us_instance(
            study,
            series,
            sop,
            instance_number=number,
            seed=number,
            accession_number="ACC" + study.rsplit(".", 1)[-1],
        )
    )


def _identity_of_stored(zone, result) -> list[tuple[tuple[str, str], tuple[str, str]]]:
    """(row's study and SOP, the stored file's study and SOP) for every stored row."""
    out = []
    for row in result.instances.iter_rows(named=True):
        if row["status"] != "stored":
            continue
        ds = read_dataset(zone.read_bytes(*row["raw_path"].split("/")), stop_before_pixels=True)
        out.append(
            (
                (row["study_instance_uid"], row["sop_instance_uid"]),
                (str(ds.StudyInstanceUID), str(ds.SOPInstanceUID)),
            )
        )
    return out


def _no_staging_left(zone, root: Path) -> None:
    assert sorted(zone.relative(p) for p in zone.iter_files(include_temporary=True)) == sorted(
        zone.relative(p) for p in zone.iter_files()
    )
    assert not [p for p in root.rglob("*") if ".staging" in p.name or ".held" in p.name]


def _series_folders() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("cadbusi-series-*"))


@pytest.mark.parametrize("concurrency", [8])
def test_the_same_sop_instance_uid_in_two_studies_never_mixes_their_files(
    pacs_uri, concurrency, orthanc, tmp_path, pseudonymizer
):
    """Two studies whose series share one SOP Instance UID (a study sent again under a new
    Study Instance UID): both series are retrieved at the same time; every stored file is the
    one of its own study, and the shared instance is a conflict of one of them."""
    for attempt in range(6):
        studies = []
        shared = _uid(99)
        for _ in range(2):
            study = _uid()
            series = study + ".1"
            # the shared instance in the middle of both series
            for n in range(1, 4):
                sop = shared if n == 2 else f"{series}.{n}"
                _upload(orthanc, study, series, sop, n)
            studies.append(study)
        root = tmp_path / f"raw{attempt}"
        pacs = open_pacs(pacs_uri)
        zone = open_zone(root, name="raw")
        try:
            result = retrieve_studies(
                pacs,
                study_cohort(*studies),
                zone,
                PARTITION,
                pseudonymizer,
                concurrency=concurrency,
            )
        finally:
            pacs.close()
        pairs = _identity_of_stored(zone, result)
        assert len(pairs) == 5
        assert all(row == stored for row, stored in pairs)
        assert result.conflicts.height == 1
        _no_staging_left(zone, root)


def _new_series(orthanc, instances: int) -> str:
    study = _uid()
    for n in range(1, instances + 1):
        _upload(orthanc, study, study + ".1", f"{study}.1.{n}", n)
    return study


def test_an_instance_added_to_the_series_after_the_listing_is_left_to_the_next_run(
    pacs_uri, orthanc, tmp_path, pseudonymizer
):
    """The series answer then holds an instance nobody asked for: it is refused or dropped,
    never stored or held; the run completes with what it listed; the next run fetches the new
    instance alone."""
    study = _new_series(orthanc, 4)

    def add_after_listing(message: str) -> None:
        if message.startswith("listed"):
            _upload(orthanc, study, study + ".1", f"{study}.1.9", 9)

    before = _series_folders()
    pacs = open_pacs(pacs_uri)
    zone = open_zone(tmp_path / "raw", name="raw")
    try:
        first = retrieve_studies(
            pacs, study_cohort(study), zone, PARTITION, pseudonymizer, progress=add_after_listing
        )
        assert pacs.requests == {"series": 1, "image": 0}  # type: ignore[attr-defined]
        assert sorted(first.instances["sop_instance_uid"]) == [
            f"{study}.1.{n}" for n in range(1, 5)
        ]
        assert set(first.instances["status"]) == {"stored"}
        assert first.studies["complete"].to_list() == [True]
        assert zone_files(zone) == set(first.instances["raw_path"])
        pacs.requests.update(series=0, image=0)  # type: ignore[attr-defined]
        second = retrieve_studies(
            pacs, study_cohort(study), zone, PARTITION, pseudonymizer, previous=first.instances
        )
        assert pacs.requests == {"series": 0, "image": 1}  # type: ignore[attr-defined]
    finally:
        pacs.close()
    assert second.instances.height == 5
    assert all(row == stored for row, stored in _identity_of_stored(zone, second))
    assert zone_files(zone) == set(second.instances["raw_path"])
    _no_staging_left(zone, tmp_path / "raw")
    assert _series_folders() == before


def test_refetch_by_series_keeps_identical_files_and_asks_once(
    pacs_uri, orthanc, tmp_path, pseudonymizer
):
    study = _new_series(orthanc, 5)
    pacs = open_pacs(pacs_uri)
    zone = open_zone(tmp_path / "raw", name="raw")
    try:
        first = retrieve_studies(pacs, study_cohort(study), zone, PARTITION, pseudonymizer)
        files = {p: zone.read_bytes(*p.split("/")) for p in first.instances["raw_path"]}
        pacs.requests.update(series=0, image=0)  # type: ignore[attr-defined]
        again = retrieve_studies(
            pacs,
            study_cohort(study),
            zone,
            PARTITION,
            pseudonymizer,
            previous=first.instances,
            refetch=True,
        )
        assert pacs.requests == {"series": 1, "image": 0}  # type: ignore[attr-defined]
    finally:
        pacs.close()
    assert again.refetched.height == 5
    assert {p: zone.read_bytes(*p.split("/")) for p in again.instances["raw_path"]} == files
    assert zone_files(zone) == set(files)
    _no_staging_left(zone, tmp_path / "raw")


@pytest.mark.parametrize("concurrency", [1, 8])
def test_one_connection_and_many_workers_do_not_deadlock(
    pacs_uri, concurrency, orthanc, tmp_path, pseudonymizer
):
    """``max_connections=1``: the series request holds the only association (or HTTP slot)
    while its instances arrive; the other workers wait for it, not for a connection."""
    studies = [_new_series(orthanc, 6), _new_series(orthanc, 3), _new_series(orthanc, 1)]
    pacs = open_pacs(pacs_uri, max_connections=1, timeout=20)
    zone = open_zone(tmp_path / "raw", name="raw")
    try:
        result = retrieve_studies(
            pacs, study_cohort(*studies), zone, PARTITION, pseudonymizer, concurrency=concurrency
        )
        assert pacs.requests == {"series": 2, "image": 1}  # type: ignore[attr-defined]
    finally:
        pacs.close()
    assert set(result.instances["status"]) == {"stored"}
    assert result.instances.height == 10
    _no_staging_left(zone, tmp_path / "raw")


def test_on_an_object_store_held_files_leave_the_system_temp_folder(
    dimse_get_uri,
    orthanc,
    fake_gcs,  # noqa: F811
    tmp_path,
    monkeypatch,
    pseudonymizer,
):
    """An object-store raw zone stages in the system temporary folder (its process's folder
    there, :func:`~cadbusi_assets.storage.zones.process_staging`): the files a series
    request holds (raw PHI) are gone once taken, and those never taken (an instance whose SOP
    Instance UID another study of the cohort owns) are gone at close()."""
    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_tmp))
    shared = _uid(99)
    studies = []
    for _ in range(2):
        study = _uid()
        for n in range(1, 5):
            _upload(orthanc, study, study + ".1", shared if n == 4 else f"{study}.1.{n}", n)
        studies.append(study)
    seen: list[int] = []

    def watch(message: str) -> None:
        seen.append(len([p for p in system_tmp.rglob(".held-*")]))

    zone = open_zone(f"gs://{BUCKET}/{_uid()}", name="raw", **fake_gcs)
    pacs = open_pacs(dimse_get_uri)
    try:
        result = retrieve_studies(
            pacs,
            study_cohort(*studies),
            zone,
            PARTITION,
            pseudonymizer,
            progress=watch,
            concurrency=1,
        )
        assert pacs.requests == {"series": 2, "image": 0}  # type: ignore[attr-defined]
        assert max(seen) > 0  # held there while the run went on
        # only the instance nobody took (the other study owns its SOP Instance UID) is left
        assert len(list(system_tmp.rglob(".held-*"))) == 1
    finally:
        pacs.close()
    assert result.conflicts.height == 1
    assert result.instances.filter(pl.col("status") == "stored").height == 7
    assert not [p for p in system_tmp.rglob("*") if p.is_file()]


@pytest.mark.parametrize("mode", ["dimse_move", "dimse_get"])
@pytest.mark.parametrize("level", ["series", "image"])
def test_no_received_instance_is_left_in_the_system_temp_folder(
    mode, level, request, orthanc, tmp_path, monkeypatch, pseudonymizer
):
    """pynetdicom writes each received data set to a temporary file; after a C-STORE on our
    own association (C-GET) it never removed it: every instance stayed, whole, in /tmp."""
    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_tmp))
    study = _new_series(orthanc, 3)
    uri = request.getfixturevalue(f"{mode}_uri") + f"&level={level}"
    zone = open_zone(tmp_path / "raw", name="raw")
    pacs = open_pacs(uri)
    try:
        result = retrieve_studies(pacs, study_cohort(study), zone, PARTITION, pseudonymizer)
    finally:
        pacs.close()
    assert set(result.instances["status"]) == {"stored"}
    assert not list(system_tmp.rglob("*"))


_KILLED_RUN = """
import os, signal, sys
import cadbusi_assets
import polars as pl
from cadbusi_assets.identity import Pseudonymizer
from cadbusi_assets_tests.support import TEST_KEY
from cadbusi_assets.pacs import open_pacs, retrieve_studies
from cadbusi_assets.storage import open_zone
uri, root, partition, study = sys.argv[1:]

def die(message):
    if message.startswith("1/"):  # one instance stored, the others held
        os.kill(os.getpid(), signal.SIGKILL)

cohort = pl.DataFrame({"study_instance_uid": [study], "accession_number": ["ACC"]})
retrieve_studies(open_pacs(uri), cohort, open_zone(root, name="raw"), partition,
                 Pseudonymizer(TEST_KEY), concurrency=1, progress=die)
"""


def test_a_run_killed_during_a_series_leaves_nothing_a_listing_sees_and_the_next_run_cleans(
    dimse_move_uri, orthanc, tmp_path, pseudonymizer
):
    """SIGKILL while a series' instances are held in the zone's staging: they are never listed
    as files of the zone, and the next run of the date removes them and completes."""
    import os
    import signal
    import subprocess
    import sys

    study = _new_series(orthanc, 8)
    root = tmp_path / "raw"
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_RUN, dimse_move_uri, str(root), PARTITION, study],
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    held = list(root.rglob(".held-*.tmp"))
    assert len(held) == 7  # the series came whole; one instance was taken and stored
    zone = open_zone(root, name="raw")
    assert not [p for p in zone.iter_files() if ".staging" in str(p) or ".held" in p.name]

    pacs = open_pacs(dimse_move_uri)
    try:
        result = retrieve_studies(pacs, study_cohort(study), zone, PARTITION, pseudonymizer)
    finally:
        pacs.close()
    assert result.studies["complete"].to_list() == [True]
    assert result.instances.height == 8
    assert zone_files(zone) == set(result.instances["raw_path"])
    _no_staging_left(zone, root)


def test_a_large_series_held_files_go_as_they_are_taken(pacs_uri, orthanc, tmp_path, pseudonymizer):
    """200 instances in one series: one request; each held file is removed as soon as its
    fetch took it (the staging shrinks while the run goes on), nothing is left."""
    study = _new_series(orthanc, 200)
    root = tmp_path / "raw"
    held: dict[int, int] = {}

    def watch(message: str) -> None:
        if "/200 instances processed" in message:
            held[int(message.split("/")[0])] = len(list(root.rglob(".held-*.tmp")))

    pacs = open_pacs(pacs_uri)
    zone = open_zone(root, name="raw")
    try:
        result = retrieve_studies(
            pacs, study_cohort(study), zone, PARTITION, pseudonymizer, progress=watch
        )
        assert pacs.requests == {"series": 1, "image": 0}  # type: ignore[attr-defined]
    finally:
        pacs.close()
    assert result.instances.height == 200
    assert set(result.instances["status"]) == {"stored"}
    assert held and all(count <= 200 - done for done, count in held.items())
    assert held[200] == 0
    _no_staging_left(zone, root)


def test_held_files_removed_under_the_run_are_asked_for_alone(
    pacs_uri, orthanc, tmp_path, pseudonymizer
):
    """Another process cleaning the date's staging (a second run of the date started by hand,
    outside the stage lock) or a temp-folder reaper removes the held files while the run
    goes on: those instances are asked for alone, not failed."""
    study = _new_series(orthanc, 6)
    root = tmp_path / "raw"
    removed: list[Path] = []

    def reap(message: str) -> None:
        if message.startswith("1/") and not removed:
            removed.extend(root.rglob(".held-*.tmp"))
            for path in removed:
                path.unlink()

    pacs = open_pacs(pacs_uri)
    zone = open_zone(root, name="raw")
    try:
        result = retrieve_studies(
            pacs, study_cohort(study), zone, PARTITION, pseudonymizer, concurrency=1, progress=reap
        )
        assert pacs.requests == {"series": 1, "image": 5}  # type: ignore[attr-defined]
    finally:
        pacs.close()
    assert len(removed) == 5
    assert set(result.instances["status"]) == {"stored"}, result.instances["reason"].to_list()
    assert all(row == stored for row, stored in _identity_of_stored(zone, result))
    _no_staging_left(zone, root)


def test_one_instance_gone_and_one_added_since_the_listing(
    dimse_move_uri, orthanc, tmp_path, pseudonymizer
):
    """The series answer then brings as many instances as listed, one of them not asked
    for: the run does not wait for the one that will never come (it was waiting the full
    10 s grace for late C-STOREs), and asks for the gone one alone."""
    import time

    study = _new_series(orthanc, 4)
    gone = orthanc.find_instances(study)[0]

    def change_after_listing(message: str) -> None:
        if message.startswith("listed"):
            orthanc.delete_instance(gone)
            _upload(orthanc, study, study + ".1", f"{study}.1.9", 9)

    pacs = open_pacs(dimse_move_uri)
    zone = open_zone(tmp_path / "raw", name="raw")
    started = time.monotonic()
    try:
        result = retrieve_studies(
            pacs,
            study_cohort(study),
            zone,
            PARTITION,
            pseudonymizer,
            retries=1,
            progress=change_after_listing,
        )
        assert pacs.requests == {"series": 1, "image": 1}  # type: ignore[attr-defined]
    finally:
        pacs.close()
    assert time.monotonic() - started < 8
    assert sorted(result.instances["status"]) == ["failed", "stored", "stored", "stored"]
    _no_staging_left(zone, tmp_path / "raw")


@pytest.mark.parametrize(
    "fault",
    [
        "a part that is not DICOM",
        "a part of an instance nobody asked for",
        "parts of another series under the asked SOP Instance UIDs",
    ],
)
def test_a_bad_part_in_a_series_answer_is_asked_for_alone(fault, orthanc, tmp_path, pseudonymizer):
    """The WADO-RS series answer holds one bad part: it is dropped (never held or stored),
    its instance is asked for alone and stored byte-identical to the PACS's copy."""
    study = _new_series(orthanc, 4)
    series = study + ".1"
    proxy = HttpFaultProxy(orthanc.base_url)
    if fault == "a part that is not DICOM":
        proxy.rewrite(f"/series/{series}", b"DICM", b"XXXX")  # every part's magic
    elif fault.startswith("parts of another series"):
        # every part's Series Instance UID element (explicit VR little endian) ends .7, not .1
        data = orthanc.instance_file(orthanc.find_instances(study)[0])
        at = data.index(b"\x20\x00\x0e\x00UI")
        element = data[at : at + 8 + int.from_bytes(data[at + 6 : at + 8], "little")]
        other = element.replace(series.encode(), (series[:-1] + "7").encode())
        assert other != element
        proxy.rewrite(f"/series/{series}", element, other)
    else:  # SOP Instance UID .2 becomes .8 (same length: the part sizes stay right)
        proxy.rewrite(f"/series/{series}", f"{series}.2".encode(), f"{series}.8".encode())
    pacs = open_pacs(f"dicomweb+{proxy.url}/dicom-web")
    zone = open_zone(tmp_path / "raw", name="raw")
    try:
        result = retrieve_studies(pacs, study_cohort(study), zone, PARTITION, pseudonymizer)
        requests = dict(pacs.requests)  # type: ignore[attr-defined]
    finally:
        pacs.close()
        proxy.close()
    assert requests == {"series": 1, "image": 1 if fault.endswith("asked for") else 4}
    assert set(result.instances["status"]) == {"stored"}
    held = {
        sop: data
        for sop, data in (
            (str(read_dataset(d, stop_before_pixels=True).SOPInstanceUID), d)
            for d in (orthanc.instance_file(i) for i in orthanc.find_instances(study))
        )
    }
    for row in result.instances.iter_rows(named=True):
        assert zone.read_bytes(*row["raw_path"].split("/")) == held[row["sop_instance_uid"]]
    _no_staging_left(zone, tmp_path / "raw")


def test_a_series_planned_by_a_run_whose_window_closed_is_fetched_by_the_next_run(
    pacs_uri, orthanc, tmp_path, pseudonymizer
):
    """The retrieval window closes right after the listing: nothing is fetched, the planned
    series never started. The next run with the same PACS object (a long-lived client) plans
    it again and fetches it whole."""
    import datetime as dt

    study = _new_series(orthanc, 4)
    now = [dt.datetime(2024, 3, 5, 21, 0)]

    def close_after_listing(message: str) -> None:
        if message.startswith("listed"):
            now[0] = dt.datetime(2024, 3, 6, 7, 0)

    pacs = open_pacs(pacs_uri)
    zone = open_zone(tmp_path / "raw", name="raw")
    try:
        first = retrieve_studies(
            pacs,
            study_cohort(study),
            zone,
            PARTITION,
            pseudonymizer,
            window="20:00-06:00",
            clock=lambda: now[0],
            progress=close_after_listing,
        )
        assert set(first.instances["status"]) == {"failed"}
        assert pacs.requests == {"series": 0, "image": 0}  # type: ignore[attr-defined]
        second = retrieve_studies(
            pacs, study_cohort(study), zone, PARTITION, pseudonymizer, previous=first.instances
        )
        assert pacs.requests == {"series": 1, "image": 0}  # type: ignore[attr-defined]
    finally:
        pacs.close()
    assert set(second.instances["status"]) == {"stored"}, second.instances["reason"].to_list()
    _no_staging_left(zone, tmp_path / "raw")


def test_a_series_whose_staging_folder_is_gone_is_fetched_instance_by_instance(
    pacs_uri, orthanc_studies, tmp_path
):
    """The folder planned to hold a series is removed before the series request (a disk
    cleaner, a full disk): every instance still comes, asked for alone, byte-identical."""
    study = orthanc_studies.new_study(series=1, instances=3)
    held = orthanc_studies.files(study)
    pacs = open_pacs(pacs_uri)
    spool = tmp_path / "spool"
    try:
        refs = pacs.list_instances(study)
        pacs.plan_fetches(refs, spool=lambda: spool)  # type: ignore[attr-defined]
        shutil.rmtree(spool)
        for ref in refs:
            out = io.BytesIO()
            pacs.fetch(ref, out)
            stored, original = out.getvalue(), held[ref.sop_instance_uid]
            if pacs_uri.startswith("dicomweb"):
                assert stored == original
            else:  # DIMSE rewrites the file meta header
                assert read_dataset(stored) == read_dataset(original)
        requests = dict(pacs.requests)  # type: ignore[attr-defined]
    finally:
        pacs.close()
    assert requests == {"series": 1, "image": 3}
