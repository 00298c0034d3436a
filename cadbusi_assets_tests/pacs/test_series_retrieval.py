"""Retrieval by series against a real Orthanc (DICOMweb, DIMSE C-MOVE and C-GET): a series a
run fetches whole comes in one request (WADO-RS series, SERIES-level C-MOVE / C-GET;
``level=series``, the default) instead of one request per instance, with the same files
stored; what the series request did not bring is asked for alone, and its failure is recorded
per instance as before."""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl
import pytest

from cadbusi_assets.pacs import PacsError, open_pacs, retrieve_studies
from cadbusi_assets.storage import open_zone
from cadbusi_assets_tests.pacs.faults import proxied_dimse
from cadbusi_assets_tests.pacs.orthanc_support import PARTITION, study_cohort, zone_files

pytestmark = pytest.mark.integration


@pytest.fixture(params=["dicomweb", "dimse_move", "dimse_get"])
def pacs_uri(request) -> str:
    return request.getfixturevalue(f"{request.param}_uri")


def _by_image(uri: str) -> str:
    return uri + ("&" if "?" in uri else "?") + "level=image"


def _stored(zone, result) -> dict[str, bytes]:
    return {
        row["sop_instance_uid"]: zone.read_bytes(*row["raw_path"].split("/"))
        for row in result.instances.iter_rows(named=True)
        if row["status"] == "stored"
    }


def _series_folders() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("cadbusi-series-*"))


def _retrieve(uri, studies, root, pseudonymizer, **kwargs):
    pacs = open_pacs(uri)
    zone = open_zone(root, name="raw")
    try:
        result = retrieve_studies(
            pacs, study_cohort(*studies), zone, PARTITION, pseudonymizer, **kwargs
        )
        return result, dict(pacs.requests), zone  # type: ignore[attr-defined]
    finally:
        pacs.close()


def test_a_series_fetched_whole_is_one_request_with_the_same_files(
    pacs_uri, orthanc_studies, tmp_path, pseudonymizer
):
    two_series = orthanc_studies.new_study(series=2, instances=4)
    single = orthanc_studies.new_study(series=1, instances=1)
    before = _series_folders()

    by_series, requests, zone = _retrieve(
        pacs_uri, [two_series, single], tmp_path / "series", pseudonymizer, concurrency=4
    )
    assert requests == {"series": 2, "image": 1}  # a one-instance series is asked for alone
    assert set(by_series.instances["status"]) == {"stored"}
    assert by_series.instances.height == 9
    assert zone_files(zone) == set(by_series.instances["raw_path"])
    # every instance held for its fetch was taken: nothing left in the zone's staging or in
    # the system's temporary folder
    assert sorted(zone.relative(p) for p in zone.iter_files(include_temporary=True)) == sorted(
        zone.relative(p) for p in zone.iter_files()
    )
    assert not [p for p in (tmp_path / "series").rglob("*") if p.is_dir() and ".staging" in p.name]
    assert _series_folders() == before

    by_image, requests, image_zone = _retrieve(
        _by_image(pacs_uri), [two_series, single], tmp_path / "image", pseudonymizer
    )
    assert requests == {"series": 0, "image": 9}
    assert _stored(zone, by_series) == _stored(image_zone, by_image)
    assert (
        by_series.instances.drop("attempts")
        .sort("raw_path")
        .equals(by_image.instances.drop("attempts").sort("raw_path"))
    )


def test_a_rerun_asks_for_the_missing_instance_alone(
    pacs_uri, orthanc_studies, tmp_path, pseudonymizer
):
    study = orthanc_studies.new_study(series=1, instances=4)
    first, _, zone = _retrieve(pacs_uri, [study], tmp_path / "raw", pseudonymizer)
    lost = first.instances.sort("raw_path").row(0, named=True)
    zone.delete(*lost["raw_path"].split("/"))
    # what a run killed during a series retrieval leaves in the zone's staging
    dead = tmp_path / "raw" / "dicom" / PARTITION / ".staging-dead.tmp"
    dead.mkdir()
    (dead / ".held-x.tmp").write_bytes(b"DICM")

    pacs = open_pacs(pacs_uri)
    try:
        second = retrieve_studies(
            pacs, study_cohort(study), zone, PARTITION, pseudonymizer, previous=first.instances
        )
        requests = dict(pacs.requests)  # type: ignore[attr-defined]
    finally:
        pacs.close()
    assert requests == {"series": 0, "image": 1}  # not the whole series again
    assert not dead.exists()  # the next run of the date cleans it
    assert second.studies["complete"].to_list() == [True]
    assert zone_files(zone) == set(second.instances["raw_path"])


def _with_one_gone(uri, orthanc, orthanc_studies, root, pseudonymizer):
    """Retrieval of a 5-instance study one of whose instances is deleted from the PACS right
    after the listing: (the gone instance's row, the others' statuses, requests, complete)."""
    study = orthanc_studies.new_study(series=1, instances=5)
    held = orthanc_studies.files(study)
    gone = orthanc.find_instances(study)[0]
    gone_sop = next(sop for sop, data in held.items() if data == orthanc.instance_file(gone))

    def delete_after_listing(message: str) -> None:
        if message.startswith("listed"):
            orthanc.delete_instance(gone)

    result, requests, zone = _retrieve(
        uri, [study], root, pseudonymizer, progress=delete_after_listing
    )
    rows = {r["sop_instance_uid"]: r for r in result.instances.iter_rows(named=True)}
    others = [r["status"] for sop, r in sorted(rows.items()) if sop != gone_sop]
    stored = set(result.instances.filter(pl.col("status") == "stored")["raw_path"])
    assert zone_files(zone) == stored
    return rows[gone_sop], others, requests, result.studies["complete"].to_list()


def test_an_instance_the_series_request_did_not_bring_is_asked_for_alone(
    pacs_uri, orthanc, orthanc_studies, tmp_path, pseudonymizer
):
    """An instance gone from the PACS between listing and retrieval: the series request
    brings the others, the instance is asked for alone and recorded as failed with the reason
    a per-instance retrieval records."""
    gone, others, requests, complete = _with_one_gone(
        pacs_uri, orthanc, orthanc_studies, tmp_path / "series", pseudonymizer
    )
    assert requests == {"series": 1, "image": 1}
    assert others == ["stored"] * 4
    assert complete == [False]
    alone, others, requests, _ = _with_one_gone(
        _by_image(pacs_uri), orthanc, orthanc_studies, tmp_path / "image", pseudonymizer
    )
    assert requests == {"series": 0, "image": 5}
    assert (gone["status"], gone["reason"], gone["attempts"]) == (
        "failed",
        alone["reason"],
        alone["attempts"],
    )
    assert gone["reason"]


def test_an_unknown_level_is_a_clear_error(pacs_uri):
    with pytest.raises(PacsError, match="level=series or image"):
        open_pacs(_by_image(pacs_uri).replace("level=image", "level=study"))


def test_a_pacs_that_dies_during_the_series_request(
    orthanc, orthanc_studies, dimse_move_uri, tmp_path, pseudonymizer
):
    """The PACS goes away as the series request starts: every instance is then asked for
    alone, fails with the association's reason and is recorded; nothing half-received is
    stored or left in the staging; the next run, the PACS back, fetches the series whole."""
    study = orthanc_studies.new_study(series=1, instances=4)
    proxy, uri = proxied_dimse(orthanc, dimse_move_uri)
    zone = open_zone(tmp_path / "raw", name="raw")

    def die_after_listing(message: str) -> None:
        if message.startswith("listed"):
            proxy.kill()

    pacs = open_pacs(uri, timeout=5)
    try:
        first = retrieve_studies(
            pacs,
            study_cohort(study),
            zone,
            PARTITION,
            pseudonymizer,
            concurrency=2,
            retries=2,
            backoff_seconds=0.01,
            progress=die_after_listing,
        )
        assert pacs.requests["series"] == 1  # type: ignore[attr-defined]
        assert set(first.instances["status"]) == {"failed"}
        assert all(r.startswith("association") for r in first.instances["reason"])
        assert not list(zone.iter_files("dicom", include_temporary=True))

        proxy.revive()
        pacs.requests.update(series=0, image=0)  # type: ignore[attr-defined]
        second = retrieve_studies(
            pacs, study_cohort(study), zone, PARTITION, pseudonymizer, previous=first.instances
        )
        assert pacs.requests == {"series": 1, "image": 0}  # type: ignore[attr-defined]
    finally:
        pacs.close()
        proxy.close()
    assert second.studies["complete"].to_list() == [True]
    assert zone_files(zone) == set(second.instances["raw_path"])
