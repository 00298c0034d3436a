"""The demo "folder PACS": ``<root>/<StudyInstanceUID>/**/<file>``.

The folder name is the StudyInstanceUID. Every regular file below it belongs to that study,
readable DICOM or not (hidden files such as ``.DS_Store`` are ignored), so an unreadable file is
still retrieved and later quarantined with a reason instead of vanishing silently.

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> (root / "1.2.3").mkdir()
>>> _ = (root / "1.2.3" / "a.dcm").write_bytes(b"not dicom")
>>> pacs = FolderPacs(root)
>>> [ref.source for ref in pacs.list_instances("1.2.3")]
['1.2.3/a.dcm']
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import BinaryIO

from cadbusi_assets.dicom import DicomReadError, read_dataset
from cadbusi_assets.pacs.base import (
    InstanceRef,
    NotFoundError,
    PacsError,
    StudyMatch,
    StudyNotFoundError,
    TransientError,
)

_STUDY_FOLDER_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._\-]*$")
_CHUNK = 1 << 20


class FolderPacs:
    """A read-only folder of studies. Thread-safe (no shared state)."""

    def __init__(self, root: str | os.PathLike[str], *, window: str | None = None) -> None:
        self.window = window or None
        self.root = Path(root).expanduser().resolve()
        if not self.root.is_dir():
            raise PacsError(
                "The folder PACS root does not exist or is not a folder "
                f"({self.root}). Point the PACS URI at the folder that holds one sub-folder per "
                "StudyInstanceUID, e.g. folder:///data/pacs."
            )
        self.name = "folder"

    def __repr__(self) -> str:
        return f"FolderPacs({self.root})"

    def _study_dir(self, study_instance_uid: str) -> Path:
        uid = study_instance_uid.strip()
        if not _STUDY_FOLDER_RE.match(uid) or uid in {".", ".."}:
            raise StudyNotFoundError("study not found in PACS (not a valid folder name)")
        return self.root / uid

    def list_instances(self, study_instance_uid: str) -> list[InstanceRef]:
        folder = self._study_dir(study_instance_uid)
        if not folder.is_dir():
            raise StudyNotFoundError()
        refs: list[InstanceRef] = []
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for filename in sorted(filenames):
                if filename.startswith("."):
                    continue
                path = Path(dirpath) / filename
                if not path.is_file():
                    continue
                refs.append(
                    InstanceRef(
                        study_instance_uid=study_instance_uid.strip(),
                        series_instance_uid=None,
                        sop_instance_uid=None,
                        source=path.relative_to(self.root).as_posix(),
                    )
                )
        return refs

    def fetch(self, ref: InstanceRef, dest: BinaryIO) -> int:
        path = (self.root / ref.source).resolve()
        if not path.is_relative_to(self.root):
            raise NotFoundError("file outside the folder PACS")
        try:
            with open(path, "rb") as handle:
                written = 0
                while block := handle.read(_CHUNK):
                    dest.write(block)
                    written += len(block)
                return written
        except FileNotFoundError:
            raise NotFoundError("file no longer in the folder PACS") from None
        except OSError as exc:
            raise TransientError(f"I/O error reading the folder PACS ({exc.errno})") from None

    def search_studies(
        self, study_date: str, study_time: str | None = None, *, limit: int | None = None
    ) -> list[StudyMatch]:
        """Studies whose first readable file has a StudyDate (and StudyTime) in range."""
        low, high = _date_range(study_date)
        matches: list[StudyMatch] = []
        for folder in sorted(p for p in self.root.iterdir() if p.is_dir()):
            header = _first_header(folder)
            if header is None:
                continue
            date = _parse_da(str(header.get("StudyDate", "") or ""))
            if date is None or not (low <= date <= high):
                continue
            time_text = str(header.get("StudyTime", "") or "")
            if study_time and not _time_in_range(time_text, study_time):
                continue
            matches.append(
                StudyMatch(
                    study_instance_uid=folder.name,
                    accession_number=str(header.get("AccessionNumber", "") or "") or None,
                    study_date=date,
                    study_time=time_text or None,
                    modalities=str(header.get("Modality", "") or "") or None,
                    patient_id=str(header.get("PatientID", "") or "") or None,
                )
            )
            if limit is not None and len(matches) >= limit:
                break
        return matches

    def check(self) -> None:
        """Raise :class:`PacsError` unless the root folder is still readable."""
        if not os.access(self.root, os.R_OK | os.X_OK) or not self.root.is_dir():
            raise PacsError(f"The folder PACS root {self.root} is no longer readable.")

    def close(self) -> None:
        return None


def _first_header(folder: Path):
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            try:
                return read_dataset(path, stop_before_pixels=True)
            except DicomReadError:
                continue
    return None


def _parse_da(text: str) -> dt.date | None:
    try:
        return dt.datetime.strptime(text.strip()[:8], "%Y%m%d").date()
    except ValueError:
        return None


def _date_range(study_date: str) -> tuple[dt.date, dt.date]:
    low_text, _, high_text = study_date.partition("-")
    low = _parse_da(low_text) or dt.date.min
    high = _parse_da(high_text) if high_text else low
    return low, high or dt.date.max


def _time_in_range(value: str, time_range: str) -> bool:
    low, _, high = time_range.partition("-")
    digits = value.split(".")[0].ljust(6, "0")
    return (low or "000000") <= digits <= (high or "235959")
