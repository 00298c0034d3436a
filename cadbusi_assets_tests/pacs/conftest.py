"""PACS fixtures: a synthetic folder PACS (here) and a real Orthanc (integration tests)."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pytest

from cadbusi_assets.dicom import read_dataset
from cadbusi_assets.pacs.orthanc_server import INSTALL_HINT, OrthancServer
from cadbusi_assets.pacs.synthetic import synthetic_uid, synthetic_us_instance
from cadbusi_assets_tests.support import free_port, require_tool


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


# -- a real Orthanc (integration tests) ------------------------------------------------------


class OrthancStudies:
    """Uploads synthetic studies with fresh UIDs into the session's Orthanc."""

    def __init__(self, server: OrthancServer) -> None:
        self.server = server
        self._next = itertools.count(1000)

    def new_study(
        self,
        series: int = 1,
        instances: int = 3,
        *,
        rows: int = 32,
        columns: int = 48,
        study_date: dt.date = dt.date(2024, 3, 5),
        study_time: str = "101500",
    ) -> str:
        study = synthetic_uid(next(self._next))
        for s in range(1, series + 1):
            for i in range(1, instances + 1):
                self.add(
                    study,
                    s,
                    i,
                    rows=rows,
                    columns=columns,
                    study_date=study_date,
                    study_time=study_time,
                )
        return study

    def add(self, study: str, series: int, number: int, **kwargs) -> str:
        data = synthetic_us_instance(
            study,
            f"{study}.{series}",
            f"{study}.{series}.{number}",
            instance_number=number,
            seed=number * 31 + series,
            accession_number="ACC" + study.rsplit(".", 1)[-1],
            **kwargs,
        )
        return self.server.upload(data)

    def files(self, study: str) -> dict[str, bytes]:
        """SOP Instance UID -> the file Orthanc holds."""
        out = {}
        for orthanc_id in self.server.find_instances(study):
            data = self.server.instance_file(orthanc_id)
            out[str(read_dataset(data, stop_before_pixels=True).SOPInstanceUID)] = data
        return out


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory) -> OrthancServer:
    require_tool("Orthanc", INSTALL_HINT)
    server = OrthancServer(tmp_path_factory.mktemp("orthanc"), limit_find_results=3)
    server.start()
    yield server
    server.stop(graceful=False)


@pytest.fixture(scope="session")
def orthanc_studies(orthanc) -> OrthancStudies:
    return OrthancStudies(orthanc)


@pytest.fixture
def dicomweb_uri(orthanc) -> str:
    return "dicomweb+" + orthanc.dicomweb_url


@pytest.fixture
def dimse_move_uri(orthanc) -> str:
    """A C-MOVE URI whose Storage SCP port is registered in Orthanc as AE CADBUSI."""
    port = free_port()
    orthanc.add_modality("cadbusi", "CADBUSI", "127.0.0.1", port)
    return (
        f"dimse://{orthanc.aet}@127.0.0.1:{orthanc.dicom_port}"
        f"?calling_aet=CADBUSI&move_destination=CADBUSI&store_port={port}"
        "&store_bind=127.0.0.1&mode=move"
    )


@pytest.fixture
def dimse_get_uri(orthanc) -> str:
    return f"dimse://{orthanc.aet}@127.0.0.1:{orthanc.dicom_port}?calling_aet=CADBUSI&mode=get"
