"""Synthetic data builders shared by several test modules (no fixtures here; see conftest.py).

Moved here from the test modules that first wrote them, so that no test module imports another
(``test_layout.py`` checks it): warehouse fakes and rows (from ``stages/test_data_safety.py``),
folder-PACS instances and cohorts (``stages/test_data_safety.py``, ``test_adversarial_runs_2.py``,
``stages/test_resent_images.py``), the raw zone ``raw_dicom`` leaves for the demo date
(``stages/test_cli_matches_assets.py``) and Labelbox export rows (``labeling/test_ndjson.py``,
``exports/test_annotator_masks.py``). Everything is synthetic: invented people, UIDs from the
2.25 test root.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from cadbusi_assets.dicom import read_dataset
from cadbusi_assets.pacs.synthetic import synthetic_us_instance
from cadbusi_assets.records.schemas import (
    EXAM_COUNTS_SCHEMA,
    PATHOLOGY_SCHEMA,
    PATIENTS_SCHEMA,
    RADIOLOGY_SCHEMA,
    SPECIMEN_COUNTS_SCHEMA,
)
from cadbusi_assets.stages import records, retrieval
from cadbusi_assets.storage import open_zone, write_partition_table

#: Two consecutive study dates of the synthetic runs.
DAY_A = "2024-03-05"
DAY_B = "2024-03-06"
#: The date of the demo cohort that :func:`raw_zone_like_raw_dicom` lays out.
DEMO_DAY = "2026-09-01"
#: The side of the synthetic research zone's square images (``exports/conftest.py``).
ANNOTATOR_IMAGE_SIZE = 64


# -- a warehouse whose answer the test can change ---------------------------------------------
class FakeWarehouse:
    """In-memory warehouse with the documented schemas (the rows can be swapped between runs)."""

    def __init__(self, radiology: pl.DataFrame, patients: pl.DataFrame | None = None) -> None:
        self.radiology = radiology
        self.pathology = pl.DataFrame(schema=PATHOLOGY_SCHEMA)
        self.patients_frame = patients if patients is not None else synthetic_patients()

    def radiology_exams(self, start: dt.date, end: dt.date) -> pl.DataFrame:
        return self.radiology.filter(pl.col("exam_date").is_between(start, end))

    def pathology_specimens(self, start: dt.date, end: dt.date) -> pl.DataFrame:
        return self.pathology.filter(pl.col("specimen_date").is_between(start, end))

    def patients(self, patient_ids: Sequence[str]) -> pl.DataFrame:
        assert all(isinstance(p, str) for p in patient_ids)
        return self.patients_frame.filter(pl.col("patient_id").is_in(list(patient_ids)))

    def exam_counts(self, start: dt.date, end: dt.date) -> pl.DataFrame:
        return pl.DataFrame(schema=EXAM_COUNTS_SCHEMA)

    def specimen_counts(self, start: dt.date, end: dt.date) -> pl.DataFrame:
        return pl.DataFrame(schema=SPECIMEN_COUNTS_SCHEMA)

    def radiology_history(
        self, patient_ids: Sequence[str], start: dt.date, end: dt.date
    ) -> pl.DataFrame:
        ids = [p for p in patient_ids if p is not None]
        return self.radiology.filter(
            pl.col("patient_id").is_in(ids) & pl.col("exam_date").is_between(start, end)
        )

    def accession_exams(self, accession_numbers: Sequence[str]) -> pl.DataFrame:
        return self.radiology.filter(pl.col("accession_number").is_in(list(accession_numbers)))

    def close(self) -> None:
        return None


def synthetic_patients() -> pl.DataFrame:
    """The two invented patients behind :func:`exam_row` (``SYN-P1``, ``SYN-P2``)."""
    return pl.DataFrame(
        [
            ("SYN-P1", "TESTER^ALPHA", dt.date(1970, 1, 2), "F"),
            ("SYN-P2", "TESTER^BETA", dt.date(1980, 3, 4), "F"),
        ],
        schema=PATIENTS_SCHEMA,
        orient="row",
    )


def exam_row(accession: str, day: str, uid: str | None, **extra) -> dict:
    """One radiology exam row of patient ``SYN-P1`` on ``day`` (a final benign left-breast
    ultrasound report); ``extra`` overrides any column."""
    row = {
        "accession_number": accession,
        "patient_id": "SYN-P1",
        "encounter_id": None,
        "exam_date": dt.date.fromisoformat(day),
        "exam_datetime": dt.datetime.fromisoformat(day + "T10:00:00"),
        "modality": "US",
        "exam_description": "US BREAST LEFT",
        "laterality": "LEFT",
        "report_text": "FINDINGS: Simple cyst.\nIMPRESSION: BI-RADS 2 - Benign",
        "report_status": "FINAL",
        "study_instance_uid": uid,
        "site": "MAIN",
        "radiologist": "RAD1",
    }
    row.update(extra)
    return row


def radiology_table(rows: list[dict]) -> pl.DataFrame:
    """``rows`` (from :func:`exam_row`) as a table in the warehouse's radiology schema."""
    return pl.DataFrame(
        [{c: r.get(c) for c in RADIOLOGY_SCHEMA} for r in rows],
        schema=RADIOLOGY_SCHEMA,
        orient="row",
    )


# -- a folder PACS and the raw zone's cohort ---------------------------------------------------
def add_instance(
    root: Path, study: str, n: int, *, sop: str | None = None, day: str = DAY_A
) -> Path:
    """A small (8 x 8) synthetic ultrasound instance ``n`` of ``study`` in a folder PACS under
    ``root`` (``root/study/IMnnnn.dcm``), its pixels drawn from seed ``n``."""
    folder = root / study
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"IM{n:04d}.dcm"
    path.write_bytes(
        synthetic_us_instance(
            study,
            study + ".1",
            sop or f"{study}.1.{n}",
            rows=8,
            columns=8,
            study_date=dt.date.fromisoformat(day),
            instance_number=n,
            seed=n,
        )
    )
    return path


def add_imaged(root: Path, study: str, n: int, *, sop: str | None = None, day: str) -> Path:
    """A larger instance with an ultrasound region, so that it can be de-identified."""
    import pydicom
    from pydicom.dataset import Dataset

    path = add_instance(root, study, n, sop=sop, day=day)
    data = synthetic_us_instance(
        study,
        study + ".1",
        sop or f"{study}.1.{n}",
        rows=48,
        columns=64,
        study_date=dt.date.fromisoformat(day),
        instance_number=n,
        seed=n,
    )
    ds = pydicom.dcmread(__import__("io").BytesIO(data))
    item = Dataset()
    item.RegionLocationMinX0, item.RegionLocationMinY0 = 4, 4
    item.RegionLocationMaxX1, item.RegionLocationMaxY1 = 59, 43
    item.RegionSpatialFormat, item.RegionDataType = 1, 1
    item.PhysicalDeltaX = item.PhysicalDeltaY = 0.01
    ds.SequenceOfUltrasoundRegions = [item]
    ds.save_as(path, enforce_file_format=True)
    return path


def write_cohort(raw, day: str, uids: list[str]) -> None:
    """The date's cohort table in the raw zone: ``uids`` with accessions ``SYNACC0``.. of one
    synthetic patient."""
    write_partition_table(
        raw,
        records.COHORT_TABLE,
        day,
        pl.DataFrame(
            {
                "study_instance_uid": uids,
                "accession_number": [f"SYNACC{i}" for i in range(len(uids))],
                "patient_id": ["SYNTH-PATIENT"] * len(uids),
            },
            schema={
                "study_instance_uid": pl.Utf8,
                "accession_number": pl.Utf8,
                "patient_id": pl.Utf8,
            },
        ),
    )


def write_cohort_with_accession(raw, day: str, study: str, accession: str) -> None:
    """The date's cohort: one study whose warehouse accession is ``accession`` (the synthetic
    DICOM carries ``SYNTH0001``)."""
    write_partition_table(
        raw,
        records.COHORT_TABLE,
        day,
        pl.DataFrame(
            {
                "study_instance_uid": [study],
                "accession_number": [accession],
                "patient_id": ["SYNTH-PATIENT"],
            },
            schema={
                "study_instance_uid": pl.Utf8,
                "accession_number": pl.Utf8,
                "patient_id": pl.Utf8,
            },
        ),
    )


def file_digests(root: Path) -> dict[str, str]:
    """Every file under ``root`` (its POSIX path relative to ``root``) with its SHA-256."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def resend_instance(root: Path, study: str, n: int, sop: str, *, day: str) -> None:
    """Instance ``n``'s pixels (seed ``n``) again under SOP Instance UID ``sop``, in a file of
    its own."""
    folder = root / study
    kept = {p: p.read_bytes() for p in folder.glob("*.dcm")} if folder.exists() else {}
    copy = add_imaged(root, study, n, sop=sop, day=day)
    data = copy.read_bytes()
    for path, content in kept.items():
        path.write_bytes(content)
    (folder / f"RESENT{n:04d}_{sop[-6:]}.dcm").write_bytes(data)
    if copy not in kept:
        copy.unlink()


def set_accession(folder: Path, accession: str) -> None:
    """Rewrite the Accession Number of every DICOM file in ``folder``."""
    import pydicom

    for path in folder.glob("*.dcm"):
        ds = pydicom.dcmread(path)
        ds.AccessionNumber = accession
        ds.save_as(path, enforce_file_format=True)


def raw_zone_like_raw_dicom(root: Path, pacs: Path):
    """The raw zone ``raw_dicom`` leaves for DEMO_DAY: the files, the manifest and the cohort."""
    raw = open_zone(root / "raw", "raw").ensure()
    manifest, studies = [], {}
    sides: dict[str, set[str]] = {}
    for n, path in enumerate(sorted(p for p in pacs.rglob("*") if p.is_file())):
        raw_path = f"dicom/{DEMO_DAY}/{n:04d}.dcm"
        raw.copy_file_in(path, tuple(raw_path.split("/")))
        header = read_dataset(path, stop_before_pixels=True)
        uid = str(header.StudyInstanceUID)
        manifest.append(
            {
                "status": "stored",
                "raw_path": raw_path,
                "instance_key": f"{n:04d}",
                "study_instance_uid": uid,
            }
        )
        studies[uid] = {
            "study_instance_uid": uid,
            "accession_number": str(header.get("AccessionNumber", "")) or None,
            "patient_id": str(header.get("PatientID", "")) or None,
        }
        side = {"L": "LEFT", "R": "RIGHT"}.get(str(header.get("ImageLaterality", "")))
        sides.setdefault(uid, set()).update([side] if side else [])
    for uid, named in sides.items():  # the warehouse's side: the one the images name, or both
        studies[uid]["study_laterality"] = (
            None if not named else named.pop() if len(named) == 1 else "BILATERAL"
        )
    write_partition_table(raw, retrieval.INSTANCES_TABLE, DEMO_DAY, pl.DataFrame(manifest))
    write_partition_table(raw, records.COHORT_TABLE, DEMO_DAY, pl.DataFrame(list(studies.values())))
    return raw


# -- Labelbox export rows ---------------------------------------------------------------------
def export_row(
    image_id="img-1", label_id="lb-1", updated="2026-03-02T10:15:07.000+00:00", answer="yes"
):
    """A synthetic row in the Labelbox export v2 shape (integrations.md section 1.2)."""
    return {
        "data_row": {"id": f"dr-{image_id}", "global_key": image_id, "external_id": image_id},
        "media_attributes": {"height": 600, "width": 800, "mime_type": "image/png"},
        "projects": {
            "proj-1": {
                "name": "BUS lesions",
                "labels": [
                    {
                        "id": label_id,
                        "label_details": {
                            "created_at": "2026-03-02T10:01:12.000+00:00",
                            "updated_at": updated,
                            "created_by": "radiologist1@example.org",
                        },
                        "performance_details": {"seconds_to_create": 188},
                        "annotations": {
                            "objects": [
                                {
                                    "feature_id": "f-box",
                                    "name": "lesion",
                                    "annotation_kind": "ImageBoundingBox",
                                    "bounding_box": {
                                        "top": 212.0,
                                        "left": 318.0,
                                        "height": 96.0,
                                        "width": 141.0,
                                    },
                                    "classifications": [
                                        {
                                            "name": "margin",
                                            "radio_answer": {
                                                "name": "spiculated",
                                                "classifications": [],
                                            },
                                        }
                                    ],
                                },
                                {
                                    "feature_id": "f-poly",
                                    "name": "outline",
                                    "annotation_kind": "ImagePolygon",
                                    "polygon": [
                                        {"x": 1, "y": 2},
                                        {"x": 3, "y": 4},
                                        {"x": 5, "y": 1},
                                    ],
                                },
                                {
                                    "feature_id": "f-mask",
                                    "name": "mask",
                                    "annotation_kind": "ImageSegmentationMask",
                                    "composite_mask": {
                                        "url": "https://example.invalid/m/1",
                                        "color_rgb": [1, 2, 3],
                                    },
                                },
                            ],
                            "classifications": [
                                {"name": "has_calipers", "radio_answer": {"name": answer}},
                                {
                                    "name": "features",
                                    "checklist_answers": [{"name": "shadowing"}, {"name": "mass"}],
                                },
                                {"name": "comment", "text_answer": {"content": "oval mass"}},
                            ],
                        },
                    }
                ],
                "project_details": {"workflow_status": "DONE"},
            }
        },
    }


def annotator_export_row(image_id: str, label_id: str, objects: list[dict]) -> dict:
    """A minimal Labelbox export row of one label with ``objects`` on one
    :data:`ANNOTATOR_IMAGE_SIZE`-square image of the synthetic research zone."""
    return {
        "data_row": {"id": f"dr-{image_id}", "global_key": image_id},
        "media_attributes": {
            "width": ANNOTATOR_IMAGE_SIZE,
            "height": ANNOTATOR_IMAGE_SIZE,
            "mime_type": "image/png",
        },
        "projects": {
            "p": {
                "labels": [
                    {
                        "id": label_id,
                        "label_details": {"updated_at": "2026-02-01T00:00:00.000+00:00"},
                        "annotations": {"objects": objects, "classifications": []},
                    }
                ]
            }
        },
    }


def one_day_demo(root: Path, seed: int, studies: tuple[int, int] = (3, 3)):
    """A demo cohort of DEMO_DAY under ``root/cohort`` and a new key under ``root/secrets``:
    ``(the cohort's PACS folder, the key's Pseudonymizer)``."""
    from cadbusi_assets.identity import Pseudonymizer, generate_key_file, load_key
    from cadbusi_assets_tests.support import time_limit
    from cadbusi_demo import DemoConfig, generate_demo_cohort

    with time_limit(300, "a demo cohort"):
        generate_demo_cohort(
            root / "cohort",
            DemoConfig(
                start=dt.date.fromisoformat(DEMO_DAY), days=1, studies_per_day=studies, seed=seed
            ),
        )
    key_file = generate_key_file(root / "secrets" / "pseudonym.key")
    return root / "cohort" / "pacs", Pseudonymizer(load_key(key_file))


def opt_out_product_env(tmp_path: Path):
    """A demo date (DEMO_DAY, 3-4 studies) and the product's settings for it, with an empty
    opt-out file (OCR off, one worker, the Dagster instance written): ``(env, key file,
    opt-out file)``."""
    from cadbusi_assets.identity import generate_key_file
    from cadbusi_assets_tests.defs.services import product_env, write_instance_yaml
    from cadbusi_assets_tests.support import time_limit
    from cadbusi_demo import DemoConfig, generate_demo_cohort

    with time_limit(120, "a demo cohort"):
        generate_demo_cohort(
            tmp_path / "cohort",
            DemoConfig(
                start=dt.date.fromisoformat(DEMO_DAY),
                days=1,
                studies_per_day=(3, 4),
                seed=11,
                workers=1,
            ),
        )
    key = generate_key_file(tmp_path / "secrets" / "pseudonym.key")
    opt_out = tmp_path / "opt_out.txt"
    opt_out.write_text("")
    env = product_env(
        tmp_path / "state",
        tmp_path / "cohort",
        key,
        CADBUSI_OCR="0",
        CADBUSI_WORKERS="1",
        CADBUSI_OPT_OUT_FILE=str(opt_out),
    )
    write_instance_yaml(env)
    return env, key, opt_out
