"""Independent re-checks of a de-identified file (what ``cadbusi verify`` runs per file).

Findings name the check and the element path or frame, never a value.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from cadbusi_assets.deid.engine import is_instance_uid
from cadbusi_assets.deid.errors import DeidentificationError
from cadbusi_assets.deid.identifiers import OriginalIdentifiers
from cadbusi_assets.deid.profile import DEFAULT_PROFILE
from cadbusi_assets.deid.scan import (
    find_identifiers_in_dataset,
    find_identifiers_in_file_bytes,
    iter_elements,
)
from cadbusi_assets.deid.text import scrub_text
from cadbusi_assets.dicom import (
    DecodeError,
    DicomReadError,
    iter_frames,
    quiet_pydicom,
    read_dataset,
)

_DESCRIPTOR_VRS = {"LO", "SH", "ST", "LT", "UT", "UC"}
_ALLOWED_PN = {"", "ANONYMIZED"}


def _values(value: object) -> list[str]:
    if isinstance(value, MultiValue | list | tuple):
        return [str(v) for v in value if v not in (None, "")]
    return [] if value in (None, "") else [str(value)]


def structural_findings(ds: Dataset) -> list[str]:
    """Bookkeeping, private/overlay groups, names, UIDs and descriptor patterns."""
    findings = []
    if str(ds.get("PatientIdentityRemoved", "")).upper() != "YES":
        findings.append("PatientIdentityRemoved is not YES")
    if str(ds.get("BurnedInAnnotation", "")).upper() != "NO":
        findings.append("BurnedInAnnotation is not NO (pixels not cleaned)")
    for path, elem in iter_elements(ds):
        tag = elem.tag
        top = path.split("[")[0].split(".")[-1]
        if tag.is_private:
            findings.append(f"{path}: private element")
            continue
        if tag.group & 0xFF00 in (0x5000, 0x6000) and tag.group % 2 == 0:
            findings.append(f"{path}: overlay or curve group")
            continue
        values = _values(elem.value) if elem.VR != "SQ" else []
        if elem.VR == "PN" and any(v.upper() not in _ALLOWED_PN for v in values):
            findings.append(f"{path}: person name")
        elif elem.VR == "UI" and not path.startswith("file_meta.Implementation"):
            if any(is_instance_uid(elem.keyword, v) and not v.startswith("2.25.") for v in values):
                findings.append(f"{path}: UID not remapped")
        elif (
            elem.VR in _DESCRIPTOR_VRS
            and top not in {"DeidentificationMethod"}
            and DEFAULT_PROFILE.action(int(tag)) == "C"
            and any(scrub_text(v) != v for v in values)
        ):
            findings.append(f"{path}: name, date or ID pattern in free text")
        if elem.keyword in {"PatientBirthDate", "PatientName"} and values:
            findings.append(f"{path}: not empty")
    return findings


def verify_file(path: Path, identifiers: OriginalIdentifiers, ocr: bool = False) -> list[str]:
    """All findings for one de-identified file (empty list: clean). pydicom's warnings and
    log records are captured (they quote header values)."""
    with quiet_pydicom():
        return _verify_file(path, identifiers, ocr)


def _verify_file(path: Path, identifiers: OriginalIdentifiers, ocr: bool) -> list[str]:
    try:
        data = Path(path).read_bytes()
        ds = read_dataset(data)
    except (OSError, DicomReadError) as exc:
        return [f"unreadable: {exc}"]
    findings = structural_findings(ds)
    findings += find_identifiers_in_dataset(ds, identifiers)
    findings += [
        f"file bytes: {kind}" for kind in find_identifiers_in_file_bytes(data, identifiers)
    ]
    if ocr and not identifiers.is_empty() and "PixelData" in ds:
        from cadbusi_assets.deid.ocr import (
            ocr_identifiers,
            tesseract_available,
            verification_frames,
        )

        if tesseract_available():
            try:
                # every frame decoded: the frames read are chosen by what they hold
                frames = np.stack([frame for _, frame in iter_frames(ds)])
                for index in verification_frames(frames):
                    kinds = ocr_identifiers(frames[index], identifiers)
                    findings += [f"pixels frame {index}: {kind}" for kind in kinds]
            except DecodeError as exc:
                findings.append(f"pixels undecodable: {exc}")
            except DeidentificationError as exc:  # OCR could not run: not verified
                findings.append(f"pixels not verified: {exc}")
        else:
            findings.append("OCR not run: tesseract is not installed")
    return findings
