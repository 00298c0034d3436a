"""Retrieval by series (``level=series``) attacked the way a messy hospital PACS and a real
user would, against the real Orthanc: the same SOP Instance UID in two studies of the cohort,
an instance added to a series after the listing, refetch, one connection, a run killed in the
middle of a series, a large series."""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

import pytest

from cadbusi_assets.dicom import read_dataset
from cadbusi_assets.pacs import open_pacs, retrieve_studies
from cadbusi_assets.pacs.synthetic import synthetic_uid, synthetic_us_instance
from cadbusi_assets.storage import open_zone
from cadbusi_assets_tests.pacs.orthanc_support import PARTITION, study_cohort

pytestmark = pytest.mark.integration

_uids = itertools.count(7000)


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
        shared = synthetic_uid(next(_uids), 99)
        for _ in range(2):
            study = synthetic_uid(next(_uids))
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
