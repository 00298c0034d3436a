"""What a DIMSE PACS can send that must not fill our disk or stay in the temporary folder.

pynetdicom writes each arriving data set to a temporary file with no size limit
(``STORE_RECV_CHUNKED_DATASET``), and leaves that file (raw PHI) in the system temporary
folder when the association ends before the data set is complete. Against a real Orthanc on
127.0.0.1, by C-GET and C-MOVE: an instance over ``max_instance_bytes`` is cut while it
arrives, recorded failed without retries and never stored; its neighbour is stored; nothing
is left in the temporary folder, and neither is anything of an instance whose PACS dropped
the connection mid data set. And a C-FIND answer without end is cut at
``max_find_results``.
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

import polars as pl
import pytest

from cadbusi_assets.pacs import open_pacs, retrieve_studies
from cadbusi_assets.pacs.base import PacsError
from cadbusi_assets.pacs.dimse import DEFAULT_MAX_INSTANCE_BYTES
from cadbusi_assets.storage import open_zone
from cadbusi_assets_tests.support import free_port

from .faults import proxied_dimse
from .orthanc_support import study_cohort, zone_files

PARTITION = "2024-03-05"
CAP = 256 * 1024  # max_instance_bytes of these tests


@pytest.fixture
def temp_folder(tmp_path, monkeypatch) -> Path:
    """The system temporary folder of this test (where pynetdicom spools data sets)."""
    folder = tmp_path / "system-tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _study_with_a_large_instance(orthanc_studies) -> tuple[str, str, str]:
    """A study of one small instance (32 x 48) and one of 1024 x 768 RGB (2.4 MB)."""
    study = orthanc_studies.new_study(series=1, instances=1)
    small = f"{study}.1.1"
    orthanc_studies.add(study, 1, 2, rows=768, columns=1024)
    return study, small, f"{study}.1.2"


def _retrieve(uri: str, study: str, tmp_path: Path, pseudonymizer, *, retries: int, **options):
    """(raw zone, retrieval result) of ``study`` from the PACS at ``uri``, one at a time."""
    zone = open_zone(tmp_path / "raw", name="raw")
    pacs = open_pacs(uri, timeout=10, **options)
    try:
        result = retrieve_studies(
            pacs,
            study_cohort(study),
            zone,
            PARTITION,
            pseudonymizer,
            retries=retries,
            backoff_seconds=0.01,
            concurrency=1,
        )
    finally:
        pacs.close()
    return zone, result


@pytest.mark.parametrize("mode", ["get", "move"])
@pytest.mark.parametrize("level", ["image", "series"])
def test_an_instance_over_the_cap_is_cut_while_it_arrives(
    mode,
    level,
    orthanc_studies,
    dimse_get_uri,
    dimse_move_uri,
    temp_folder,
    tmp_path,
    pseudonymizer,
):
    study, small, large = _study_with_a_large_instance(orthanc_studies)
    uri = dimse_get_uri if mode == "get" else dimse_move_uri
    zone, result = _retrieve(
        uri, study, tmp_path, pseudonymizer, retries=2, level=level, max_instance_bytes=CAP
    )
    rows = {r["sop_instance_uid"]: r for r in result.instances.iter_rows(named=True)}
    assert rows[small]["status"] == "stored"
    assert (rows[large]["status"], rows[large]["reason"], rows[large]["attempts"]) == (
        "failed",
        f"instance larger than max_instance_bytes ({CAP} bytes)",
        1,
    )
    assert zone_files(zone) == {rows[small]["raw_path"]}
    assert sorted(temp_folder.rglob("*")) == []  # no partial data set left behind


def test_a_data_set_cut_by_the_pacs_leaves_no_file_behind(
    orthanc, orthanc_studies, dimse_get_uri, temp_folder, tmp_path, pseudonymizer
):
    """The PACS drops the connection 1 MB into a 2.4 MB data set: the attempt fails and
    pynetdicom's partial file (raw PHI) is removed (it stayed in the temporary folder)."""
    study, _, _ = _study_with_a_large_instance(orthanc_studies)
    proxy, uri = proxied_dimse(orthanc, dimse_get_uri)
    proxy.cut_after = 1 << 20  # bytes from the PACS, then the connection drops
    try:
        _, result = _retrieve(uri, study, tmp_path, pseudonymizer, retries=1, level="image")
    finally:
        proxy.close()
    failed = result.instances.filter(pl.col("status") == "failed")
    assert failed.height >= 1
    assert sorted(temp_folder.rglob("*")) == []


def test_the_dimse_cap_defaults_to_2_gib_and_is_a_uri_option():
    pacs = open_pacs("dimse://PACS@127.0.0.1:9?mode=get")
    assert pacs.max_instance_bytes == DEFAULT_MAX_INSTANCE_BYTES == 2 * 1024**3  # type: ignore[attr-defined]
    pacs = open_pacs("dimse://PACS@127.0.0.1:9?mode=get&max_instance_bytes=1000")
    assert pacs.max_instance_bytes == 1000  # type: ignore[attr-defined]
    with pytest.raises(PacsError, match="max_instance_bytes"):
        open_pacs("dimse://PACS@127.0.0.1:9?mode=get&max_instance_bytes=0")


class EndlessFindScp:
    """A Query/Retrieve SCP on 127.0.0.1 whose C-FIND answers match after match without end
    (a misbehaving PACS), counting what it sent."""

    def __init__(self) -> None:
        from pydicom.dataset import Dataset
        from pynetdicom import AE, evt
        from pynetdicom.sop_class import (
            StudyRootQueryRetrieveInformationModelFind,
            StudyRootQueryRetrieveInformationModelGet,
        )

        self.sent = 0
        self.stop = threading.Event()

        def answer(event):
            asked = event.identifier
            while not self.stop.is_set() and self.sent < 2_000_000:
                match = Dataset()
                match.QueryRetrieveLevel = asked.QueryRetrieveLevel
                match.StudyInstanceUID = asked.StudyInstanceUID or "1.2.3"
                match.SeriesInstanceUID = f"1.2.3.{self.sent}"
                match.SOPInstanceUID = f"1.2.3.{self.sent}.1"
                self.sent += 1
                yield 0xFF00, match
            yield 0x0000, None

        ae = AE("ENDLESS")
        ae.add_supported_context(StudyRootQueryRetrieveInformationModelFind)
        ae.add_supported_context(StudyRootQueryRetrieveInformationModelGet)
        self.port = free_port()
        self.server = ae.start_server(
            ("127.0.0.1", self.port), block=False, evt_handlers=[(evt.EVT_C_FIND, answer)]
        )

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()


def test_an_endless_c_find_answer_is_cut_at_max_find_results(tmp_path, pseudonymizer):
    """Every match of a C-FIND answer was kept in memory until the PACS said it was done:
    one that never did grew the worker without end."""
    scp = EndlessFindScp()
    zone = open_zone(tmp_path / "raw", name="raw")
    pacs = open_pacs(
        f"dimse://ENDLESS@127.0.0.1:{scp.port}?calling_aet=CADBUSI&mode=get",
        timeout=10,
        max_find_results=500,
    )
    done: dict = {}

    def run() -> None:
        try:
            done["result"] = retrieve_studies(
                pacs,
                study_cohort("1.2.3"),
                zone,
                PARTITION,
                pseudonymizer,
                retries=2,
                backoff_seconds=0.01,
            )
        except BaseException as exc:  # reported below
            done["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(60)
    try:
        if thread.is_alive():
            pytest.fail(f"the listing still ran after 60 s ({scp.sent:,} matches sent)")
    finally:
        scp.close()
        pacs.close()
    if "error" in done:
        raise done["error"]
    study = done["result"].studies.to_dicts()[0]
    assert study["complete"] is False
    assert study["reason"] == (
        "instance listing failed after 1 attempt: "
        "C-FIND answered more than max_find_results (500) matches"
    )
    assert scp.sent < 5_000  # aborted soon after the cap
    assert zone_files(zone) == set()
