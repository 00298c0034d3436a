"""PACS fixtures: a synthetic folder PACS (here) and a real Orthanc (integration tests)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pytest

from cadbusi_assets.identity import Pseudonymizer
from cadbusi_assets.pacs.synthetic import synthetic_uid, synthetic_us_instance
from cadbusi_assets_tests.support import TEST_KEY


@pytest.fixture
def pseudonymizer() -> Pseudonymizer:
    return Pseudonymizer(TEST_KEY)


@dataclass
class FolderStudies:
    """A folder PACS on disk with known content (all synthetic)."""

    root: Path
    complete: str = synthetic_uid(10)  # 3 instances, one in a sub-folder
    with_corrupt: str = synthetic_uid(20)  # 2 instances + 1 unreadable file
    empty: str = synthetic_uid(30)  # folder without files
    missing: str = synthetic_uid(40)  # no folder at all
    accessions: dict[str, str] = field(default_factory=dict)

    def cohort(self, *uids: str) -> pl.DataFrame:
        uids = uids or (self.complete, self.with_corrupt, self.empty, self.missing)
        return pl.DataFrame(
            {
                "study_instance_uid": list(uids),
                "accession_number": [self.accessions.get(u, "ACC-" + u[-2:]) for u in uids],
            }
        )

    def add_instance(self, study: str, n: int, *, subfolder: str = "", seed: int = 0) -> Path:
        folder = self.root / study / subfolder if subfolder else self.root / study
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"IM{n:04d}.dcm"
        path.write_bytes(
            synthetic_us_instance(
                study,
                study + ".1",
                study + f".1.{n}",
                rows=16,
                columns=24,
                accession_number=self.accessions.get(study, "ACC-" + study[-2:]),
                study_date=dt.date(2024, 3, 5),
                instance_number=n,
                seed=n + seed,
            )
        )
        return path


@pytest.fixture
def folder_studies(tmp_path: Path) -> FolderStudies:
    studies = FolderStudies(root=tmp_path / "pacs")
    studies.root.mkdir()
    studies.add_instance(studies.complete, 1)
    studies.add_instance(studies.complete, 2)
    studies.add_instance(studies.complete, 3, subfolder="cine")
    studies.add_instance(studies.with_corrupt, 1)
    studies.add_instance(studies.with_corrupt, 2)
    (studies.root / studies.with_corrupt / "IM0003.dcm").write_bytes(b"DICM? not really" * 10)
    (studies.root / studies.empty).mkdir()
    return studies
