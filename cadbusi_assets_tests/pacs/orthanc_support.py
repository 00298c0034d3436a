"""Helpers shared by the Orthanc retrieval tests (``test_orthanc_retrieval.py``,
``test_orthanc_faults.py``): the study date they retrieve, a PACS whose fetches are counted, the
cohort table ``retrieve_studies`` takes, and the DICOM files a zone holds. Moved out of
``test_orthanc_retrieval.py`` so that no test module imports another."""

from __future__ import annotations

from typing import BinaryIO

import polars as pl

from cadbusi_assets.pacs import InstanceRef, Pacs

#: The study date every retrieval test stores under.
PARTITION = "2024-03-05"


class Counting:
    """Any Pacs, with its fetches counted."""

    def __init__(self, pacs: Pacs) -> None:
        self.pacs = pacs
        self.name = pacs.name
        self.fetched: list[str | None] = []

    def list_instances(self, study_instance_uid: str) -> list[InstanceRef]:
        return self.pacs.list_instances(study_instance_uid)

    def fetch(self, ref: InstanceRef, dest: BinaryIO) -> int:
        self.fetched.append(ref.sop_instance_uid)
        return self.pacs.fetch(ref, dest)

    def close(self) -> None:
        self.pacs.close()


def study_cohort(*uids: str) -> pl.DataFrame:
    """The cohort of ``uids``, each with accession ``ACC``."""
    return pl.DataFrame({"study_instance_uid": list(uids), "accession_number": ["ACC"] * len(uids)})


def zone_files(zone) -> set[str]:
    """The zone's DICOM files (temporary ones included), relative to the zone."""
    return {zone.relative(p) for p in zone.iter_files("dicom", include_temporary=True)}


def retrieve_study(uri: str, study: str, tmp_path, pseudonymizer, partition: str, **options):
    """``retrieve_studies`` of one study from the PACS ``uri`` (10 s timeout, one attempt)
    into a raw zone under ``tmp_path``: (zone, result)."""
    from cadbusi_assets.pacs import open_pacs, retrieve_studies
    from cadbusi_assets.storage import open_zone

    zone = open_zone(tmp_path / "raw", name="raw")
    pacs = open_pacs(uri, timeout=10, **options)
    try:
        result = retrieve_studies(
            pacs, study_cohort(study), zone, partition, pseudonymizer, retries=1
        )
    finally:
        pacs.close()
    return zone, result
