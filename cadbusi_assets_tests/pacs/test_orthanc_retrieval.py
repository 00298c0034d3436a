"""retrieve_studies against a real Orthanc over DICOMweb, DIMSE C-MOVE and DIMSE C-GET."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging

import polars as pl
import pytest
from pydicom.dataset import Dataset

from cadbusi_assets.dicom import DecodeError, dataset_to_bytes, decode_frame, read_dataset
from cadbusi_assets.pacs import open_pacs, retrieve_studies
from cadbusi_assets.pacs.find import find_studies
from cadbusi_assets.pacs.synthetic import synthetic_uid, synthetic_us_instance
from cadbusi_assets.storage import open_zone
from cadbusi_assets_tests.pacs.orthanc_support import PARTITION, Counting, study_cohort, zone_files

pytestmark = pytest.mark.integration

PROTOCOLS = ["dicomweb", "dimse_move", "dimse_get"]


@pytest.fixture(params=PROTOCOLS)
def pacs_uri(request) -> str:
    return request.getfixturevalue(f"{request.param}_uri")


@pytest.fixture
def pacs(pacs_uri):
    opened = open_pacs(pacs_uri)
    yield opened
    opened.close()


def _without_meta(data: bytes) -> Dataset:
    return read_dataset(data)


def test_retrieval_matches_what_orthanc_holds(
    pacs, pacs_uri, orthanc_studies, tmp_path, pseudonymizer
):
    two_series = orthanc_studies.new_study(series=2, instances=2)
    one_series = orthanc_studies.new_study(series=1, instances=3)
    missing = synthetic_uid(999_999)
    zone = open_zone(tmp_path / "raw", name="raw")

    result = retrieve_studies(
        pacs, study_cohort(two_series, one_series, missing), zone, PARTITION, pseudonymizer
    )

    studies = {r["study_instance_uid"]: r for r in result.studies.iter_rows(named=True)}
    assert (studies[two_series]["expected"], studies[two_series]["complete"]) == (4, True)
    assert (studies[one_series]["expected"], studies[one_series]["complete"]) == (3, True)
    assert studies[missing]["reason"] == "study not found in PACS"
    assert set(result.instances["status"]) == {"stored"}
    assert zone_files(zone) == set(result.instances["raw_path"])

    for study in (two_series, one_series):
        held = orthanc_studies.files(study)
        rows = result.instances.filter(pl.col("study_instance_uid") == study)
        assert set(rows["sop_instance_uid"]) == set(held)
        for row in rows.iter_rows(named=True):
            stored = zone.read_bytes(*row["raw_path"].split("/"))
            assert hashlib.sha256(stored).hexdigest() == row["sha256"]
            original = held[row["sop_instance_uid"]]
            if pacs_uri.startswith("dicomweb"):
                assert stored == original  # WADO-RS with transfer-syntax=* is byte-exact
            else:  # DIMSE rewrites the file meta header; the data set is the same
                assert _without_meta(stored) == _without_meta(original)
            assert row["series_instance_uid"] == row["sop_instance_uid"].rsplit(".", 1)[0]


def test_rerun_and_late_arrival(pacs, orthanc_studies, tmp_path, pseudonymizer):
    study = orthanc_studies.new_study(series=1, instances=3)
    zone = open_zone(tmp_path / "raw", name="raw")
    first = retrieve_studies(pacs, study_cohort(study), zone, PARTITION, pseudonymizer)

    counting = Counting(pacs)
    again = retrieve_studies(
        counting, study_cohort(study), zone, PARTITION, pseudonymizer, previous=first.instances
    )
    assert counting.fetched == []
    assert set(again.instances["status"]) == {"already_present"}

    orthanc_studies.add(study, 1, 4)  # a late arrival
    late = retrieve_studies(
        counting, study_cohort(study), zone, PARTITION, pseudonymizer, previous=again.instances
    )
    assert counting.fetched == [f"{study}.1.4"]
    assert late.studies["expected"].to_list() == [4]
    assert late.studies["complete"].to_list() == [True]
    assert zone_files(zone) == set(late.instances["raw_path"])


def test_corrupt_instance_is_stored_for_quarantine(
    pacs, orthanc, orthanc_studies, tmp_path, pseudonymizer
):
    study = orthanc_studies.new_study(series=1, instances=1)
    good = read_dataset(
        synthetic_us_instance(study, f"{study}.1", f"{study}.1.2", rows=32, columns=48)
    )
    good.PixelData = good.PixelData[:-500]  # pixel data shorter than Rows x Columns
    orthanc.upload(dataset_to_bytes(good))
    zone = open_zone(tmp_path / "raw", name="raw")
    result = retrieve_studies(pacs, study_cohort(study), zone, PARTITION, pseudonymizer)
    assert result.studies["complete"].to_list() == [True]
    row = result.instances.filter(pl.col("sop_instance_uid") == f"{study}.1.2").row(0, named=True)
    assert row["status"] == "stored"
    stored = read_dataset(zone.read_bytes(*row["raw_path"].split("/")))
    assert len(stored.PixelData) == 32 * 48 * 3 - 500  # kept exactly as the PACS holds it
    with pytest.raises(DecodeError):
        decode_frame(stored)  # de-identification quarantines it with this reason


def test_no_identifier_reaches_the_logs(pacs, orthanc_studies, tmp_path, pseudonymizer, caplog):
    study = orthanc_studies.new_study(series=1, instances=2)
    with caplog.at_level(logging.DEBUG):
        retrieve_studies(
            pacs,
            study_cohort(study),
            open_zone(tmp_path / "raw", name="raw"),
            PARTITION,
            pseudonymizer,
        )
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "1.2.826" not in text and "ACC" not in text


def test_find_studies_splits_a_capped_window(pacs, orthanc_studies):
    day = dt.date(2023, 7, 1 + ["dicomweb", "dimse-move", "dimse-get"].index(pacs.name))
    expected = {
        orthanc_studies.new_study(series=1, instances=1, study_date=day, study_time=t)
        for t in ("010000", "020000", "080000", "080500", "120000", "150000", "233000")
    }
    found = find_studies(pacs, day, day + dt.timedelta(days=1), max_results=3)
    assert set(found["study_instance_uid"]) == expected  # Orthanc caps each C-FIND/QIDO at 3
    assert found["study_date"].to_list() == [day] * 7
    assert found["study_time"].to_list() == sorted(found["study_time"].to_list())


def test_dimse_move_to_an_unregistered_destination_fails_every_instance(
    orthanc, orthanc_studies, pseudonymizer, tmp_path
):
    study = orthanc_studies.new_study(series=1, instances=2)
    pacs = open_pacs(
        f"dimse://{orthanc.aet}@127.0.0.1:{orthanc.dicom_port}",
        move_destination="NOBODY",
        store_port=0,
        store_bind="127.0.0.1",
    )
    try:
        result = retrieve_studies(
            pacs, study_cohort(study), open_zone(tmp_path, name="raw"), PARTITION, pseudonymizer
        )
    finally:
        pacs.close()
    # Orthanc answers 0xC000 (a standard PACS answers 0xA801, which stops the run: see
    # test_dimse_status_codes); either way nothing is silently "complete"
    assert result.studies["complete"].to_list() == [False]
    assert result.studies["reason"].to_list() == [
        "2 instances failed after 1 attempt: C-MOVE failed (status 0xC000)"
    ]


def test_fetch_streams_into_any_binary_file(pacs, orthanc_studies):
    study = orthanc_studies.new_study(series=1, instances=1)
    ref = pacs.list_instances(study)[0]
    buffer = io.BytesIO()
    written = pacs.fetch(ref, buffer)
    assert written == len(buffer.getvalue()) > 1000
    assert read_dataset(buffer.getvalue()).SOPInstanceUID == ref.sop_instance_uid


def test_dimse_short_listing_is_queried_again_then_reported(orthanc, orthanc_studies):
    """A C-FIND answer that lost a response (PACS or network) never passes as the full study."""
    from cadbusi_assets.pacs import TransientError
    from cadbusi_assets.pacs.dimse import DimsePacs

    class LosesAResponse(DimsePacs):
        def __init__(self, losses: int) -> None:
            super().__init__(orthanc.aet, "127.0.0.1", orthanc.dicom_port, mode="get")
            self.losses = losses
            self.listings = 0

        def _list_once(self, study_instance_uid):
            self.listings += 1
            found = super()._list_once(study_instance_uid)
            if self.losses:
                self.losses -= 1
                found.pop(sorted(found)[0])
            return found

    study = orthanc_studies.new_study(series=2, instances=2)
    once = LosesAResponse(losses=1)
    try:
        assert len(once.list_instances(study)) == 4 and once.listings == 2
    finally:
        once.close()
    always = LosesAResponse(losses=10)
    try:
        with pytest.raises(TransientError, match="listed 3 of the 4 instances"):
            always.list_instances(study)
    finally:
        always.close()
