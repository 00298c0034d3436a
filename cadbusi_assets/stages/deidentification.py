"""De-identification stage: raw instances of one study date → research zone.

For every retrieved instance a worker process reads the raw file, de-identifies header and
pixels (:mod:`cadbusi_assets.deid`), and writes

* ``dicom/<id[:2]>/<instance_id>.dcm`` — the de-identified DICOM (uncompressed, lossless),
* ``images/<id[:2]>/<image_id>.png`` — one PNG per kept frame (every ``frame_step``-th of a cine),

or a quarantine row with the reason. The day's tables ``instances``, ``images``, ``quarantine``
and ``studies`` (pseudonymized study rows with scrubbed report text) replace the previous ones,
and files of the previous version that are no longer produced are deleted.

Research tables carry pseudonymous keys only: no raw-zone path (``dicom/<study date>/…`` would
give each patient's date shift away next to ``study_date_shifted``), no real date. What links
a pseudonym back to its original (patient, accession, study UID, instance → raw path, batch →
study date) is written to the raw zone only (:data:`LINKS_TABLE`), with the raw paths of
quarantined instances (:data:`RAW_QUARANTINE_TABLE`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import polars as pl

from cadbusi_assets.deid import (
    DeidentificationError,
    DeidentifiedObject,
    OriginalIdentifiers,
    deidentify_dataset,
    find_identifiers_in_text,
    get_profile,
)
from cadbusi_assets.deid.identifiers import name_parts, names_share_a_part
from cadbusi_assets.deid.scan import find_identifiers_in_file_bytes
from cadbusi_assets.dicom import (
    DecodeError,
    DicomLimitError,
    DicomReadError,
    dataset_to_parts,
    quiet_pydicom,
    read_dataset,
)
from cadbusi_assets.identity import Pseudonymizer, image_id_for, instance_id_for
from cadbusi_assets.identity.optout import (
    OPT_OUT_REASON,
    OptOutError,
    load_opt_out_from_env,
    normalize_patient_id,
    opted_out_expr,
)
from cadbusi_assets.identity.reidentify import LINKS_TABLE, pseudonym_links
from cadbusi_assets.parallel import parallel_map
from cadbusi_assets.progress import tick
from cadbusi_assets.records import scrub_report_text
from cadbusi_assets.settings import require_ocr
from cadbusi_assets.stages.previews import deidentification_preview
from cadbusi_assets.stages.report import (
    MissingUpstream,
    PartitionReport,
    StageFailure,
    reason_counts,
)
from cadbusi_assets.stages.safety import guard_accessions, guard_shrink
from cadbusi_assets.stages.tables import (
    IMAGE_SCHEMA,
    INSTANCE_SCHEMA,
    QUARANTINE_SCHEMA,
    RAW,
    RAW_QUARANTINE_SCHEMA,
    RESEARCH,
    STUDIES_SCHEMA,
    write_table,
)
from cadbusi_assets.storage import (
    Zone,
    read_all_partition_tables,
    read_partition_table,
)
from cadbusi_assets.storage.pending import (
    PendingWrites,
    begin_pending,
    record_pending,
    sweep_pending,
)
from cadbusi_assets.storage.tables import close_batch, listed_paths, open_batch
from cadbusi_assets.ultrasound import encode_png

INSTANCES_TABLE = "instances"
IMAGES_TABLE = "images"
QUARANTINE_TABLE = "quarantine"
STUDIES_TABLE = "studies"
#: Raw zone: quarantined instances with their raw paths (never in the research zone).
RAW_QUARANTINE_TABLE = "deidentification_quarantine"


def shard_path(folder: str, key: str, suffix: str) -> tuple[str, str, str]:
    """``(folder, key[:2], key + suffix)``: spreads files over 256 sub-folders."""
    return (folder, key[:2], f"{key}{suffix}")


#: Where the files of an instance go: ``shard`` (the research zone: ``dicom/<id[:2]>/…`` and
#: ``images/<id[:2]>/…``), ``flat`` (every file in the output root) or ``study`` (patient /
#: study / series folders of pseudonyms); the names are the same in every layout.
LAYOUTS = ("shard", "flat", "study")

#: Reason of an input whose SOP Instance UID an earlier input (in input order) already had.
DUPLICATE_REASON = "same SOP Instance UID as an earlier input"
#: Reason of an instance whose header names another patient than the warehouse row of its study
#: (ids compared as the opt-out list compares them: padding, letter case, leading zeros aside).
MISFILED_REASON = "PatientID in the DICOM header does not match the warehouse record of the study"
#: The header's PatientID is the warehouse's, its PatientName another person's (no name part
#: in common, accents, letter case, order and script aside): two hospitals' patients under one
#: id, or a mis-keyed id; released, it would join another person's images to the patient.
OTHER_NAME_REASON = (
    "PatientName in the DICOM header shares no name part with the warehouse patient of its "
    "PatientID (another person under the same id)"
)
#: Reason of an instance with the same pixels (every kept frame) as another instance of the same
#: pseudonymous patient on the same study date: a PACS re-sent it under new UIDs. The copy kept is
#: the one of the smallest instance id (whatever the input order); across dates the catalog resolves
#: the copies the same way (``catalog.build.resent_copies``).
RESENT_REASON = "same pixels as another instance of the same patient (re-sent under new UIDs)"


def output_path(layout: str, folder: str, key: str, suffix: str, result) -> tuple[str, ...]:
    """The zone path of one output file (``result``: the de-identification result)."""
    if layout == "flat":
        return (f"{key}{suffix}",)
    if layout == "study":
        return (
            result.pseudo_patient_id,
            result.pseudo_study_uid,
            result.pseudo_series_uid,
            f"{key}{suffix}",
        )
    return shard_path(folder, key, suffix)


@dataclass(frozen=True)
class DeidInput:
    """One raw file to de-identify: its path in the raw zone and an opaque key."""

    raw_path: str
    raw_instance_key: str
    expected_patient_id: str | None = None
    study_identifiers: OriginalIdentifiers = field(default_factory=OriginalIdentifiers)


@dataclass(frozen=True)
class DeidTask:
    raw_zone: Zone
    research_zone: Zone
    raw_path: str
    raw_instance_key: str
    pseudonymizer: Pseudonymizer
    profile: str
    frame_step: int
    verify_ocr: bool
    expected_patient_id: str | None
    study_identifiers: OriginalIdentifiers
    want_preview: bool = False
    layout: str = "shard"
    progress: str = ""  # a progress-bar file the worker ticks (cadbusi_assets.progress)
    pending: PendingWrites | None = None  # where the worker records its paths before writing
    withdrawn: frozenset[str] = frozenset()  # normalized ids on the opt-out list


@dataclass
class DeidOutcome:
    raw_instance_key: str
    instance: dict[str, Any] | None = None
    images: list[dict[str, Any]] = field(default_factory=list)
    quarantine: dict[str, Any] | None = None
    preview: bytes | None = None
    original_identifiers: OriginalIdentifiers | None = None
    seconds: float = 0.0
    duplicate_of: str = ""  # a duplicate: the DICOM path of the earlier input's instance

    @property
    def status(self) -> str:
        """``ok``, ``quarantined`` or ``duplicate``."""
        if self.instance is not None:
            return "ok"
        if self.quarantine is not None and self.quarantine["reason"] in (
            DUPLICATE_REASON,
            RESENT_REASON,
        ):
            return "duplicate"
        return "quarantined"


def _text(ds, keyword: str) -> str | None:
    value = ds.get(keyword)
    return None if value in (None, "") else str(value)


def _float(ds, keyword: str) -> float | None:
    try:
        value = ds.get(keyword)
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _study_accession_pseudo(task: DeidTask) -> str | None:
    """The accession pseudonym of the warehouse's study of the task's instance, if known."""
    accessions = task.study_identifiers.accession_numbers
    return task.pseudonymizer.accession_number(accessions[0]) if accessions else None


def _quarantine(task: DeidTask, reason: str, accession_pseudo: str | None = None) -> DeidOutcome:
    return DeidOutcome(
        task.raw_instance_key,
        quarantine={
            "raw_instance_key": task.raw_instance_key,
            "accession_pseudo": accession_pseudo,
            "stage": "deidentify",
            "reason": reason,
        },
    )


#: A hook that checks a de-identified object before anything is written (the one-pass stage
#: reads the verification frames itself): a quarantine reason, or None when it passes.
Verifier = Callable[[DeidentifiedObject], "str | None"]


def deidentify_one(task: DeidTask) -> DeidOutcome:
    """Worker: one raw instance → de-identified DICOM + PNG frames, or a quarantine row.

    pydicom's warnings and log records are captured (they quote header values), and an
    unexpected error is quarantined by its type only (its message may quote a value).
    """
    return deidentify_one_with(task)[0]


def deidentify_one_with(
    task: DeidTask, verify: Verifier | None = None
) -> tuple[DeidOutcome, DeidentifiedObject | None]:
    """:func:`deidentify_one`, and the de-identified object (its cleaned frames) when the
    instance was written. With ``verify``, the OCR verification is the hook's (run on the
    cleaned object before anything is written) instead of :func:`deidentify_dataset`'s."""
    started = time.perf_counter()
    result: DeidentifiedObject | None = None
    with quiet_pydicom():
        try:
            outcome, result = _deidentify_one(task, verify)
        except OSError:
            raise  # storage trouble stops the partition (its message names no header value)
        except MemoryError:
            outcome = _quarantine(task, "out of memory while de-identifying")
        except Exception as exc:  # fail closed; the message may quote a header value
            kind = type(exc).__name__
            outcome = _quarantine(task, f"unexpected error during de-identification ({kind})")
        finally:
            tick(task.progress)
    outcome.seconds = round(time.perf_counter() - started, 4)
    return outcome, (result if outcome.instance is not None else None)


def _another_persons_name(ds, identifiers: OriginalIdentifiers) -> bool:
    """Whether the header names a person the warehouse's patient of the study is not: both
    names known and no name part in common (an empty header name, or a study whose patient
    the warehouse does not name, is not judged)."""
    header_name = str(ds.get("PatientName", "") or "").strip()
    known = [n for n in identifiers.patient_names if str(n).strip()]
    if not header_name or not known or not name_parts(header_name):
        return False
    return not any(names_share_a_part(header_name, name) for name in known)


def _deidentify_one(
    task: DeidTask, verify: Verifier | None = None
) -> tuple[DeidOutcome, DeidentifiedObject | None]:
    try:
        data = task.raw_zone.read_bytes(task.raw_path)
    except OSError as exc:
        return _quarantine(task, f"raw file unreadable ({type(exc).__name__})"), None
    try:
        ds = read_dataset(data)
    except DicomLimitError as exc:
        return _quarantine(task, f"resource limit: {exc}"), None
    except DicomReadError as exc:
        return _quarantine(task, f"corrupt DICOM: {exc}"), None
    header_patient = str(ds.get("PatientID", "") or "").strip()
    expected = (task.expected_patient_id or "").strip()
    identifiers = task.study_identifiers
    if expected and header_patient and header_patient != expected:
        if normalize_patient_id(header_patient) != normalize_patient_id(expected):
            # a mis-filed study: named with the study's accession pseudonym (never the ids)
            return _quarantine(task, MISFILED_REASON, _study_accession_pseudo(task)), None
        # the warehouse's id in another spelling (zero-padded, another letter case): the
        # study's patient, under the warehouse's spelling so that the images and the study
        # row share one pseudonym; the header's spelling stays an identifier to scrub
        identifiers = replace(identifiers, patient_ids=(*identifiers.patient_ids, header_patient))
        ds.PatientID = header_patient = expected
    if task.withdrawn and normalize_patient_id(header_patient) in task.withdrawn:
        return _quarantine(task, OPT_OUT_REASON), None  # before anything is written
    if _another_persons_name(ds, identifiers):
        return _quarantine(task, OTHER_NAME_REASON, _study_accession_pseudo(task)), None
    if not header_patient and task.expected_patient_id:
        # a file without PatientID of a study the warehouse knows: its patient's pseudonym and
        # date shift, not the empty id's (one pseudonym for such files of every patient, which
        # no opt-out or per-patient split could follow)
        ds.PatientID = task.expected_patient_id
    try:
        result = deidentify_dataset(
            ds,
            task.pseudonymizer,
            get_profile(task.profile),
            verify_ocr=task.verify_ocr and verify is None,
            extra_identifiers=identifiers,
        )
        refused = verify(result) if verify is not None else None
    except DeidentificationError as exc:
        return _quarantine(task, f"de-identification refused: {exc}"), None
    except DecodeError as exc:
        return _quarantine(task, f"pixel data cannot be decoded: {exc}"), None
    if refused is not None:
        return _quarantine(task, f"de-identification refused: {refused}"), None
    return _write_instance(task, ds, result), result


def png_is_colour(png: bytes) -> bool:
    """Whether a PNG of :func:`~cadbusi_assets.ultrasound.encode_png` is a colour one: its
    IHDR colour type (byte 25: 0 grey, 2 RGB; always 8 bits), what
    ``Image.open(io.BytesIO(png)).mode != "L"`` answers without Pillow parsing the file
    (~0.1-0.3 ms a PNG; a test compares the two).

    >>> from cadbusi_assets.ultrasound import encode_png
    >>> png_is_colour(encode_png(np.zeros((2, 2), np.uint8)))
    False
    """
    return png[25] != 0


def _write_instance(task: DeidTask, ds, result: DeidentifiedObject) -> DeidOutcome:
    """Write one de-identified object (DICOM and the kept frames' PNGs): its outcome."""
    out = result.dataset
    n_frames = int(result.frames.shape[0])
    instance_id = instance_id_for(result.pseudo_sop_uid)
    # the file in pieces (header, pixel element header, pixels), written and hashed in turn:
    # no joined copy of the pixels
    dicom_parts = dataset_to_parts(out)
    dicom_path = output_path(task.layout, "dicom", instance_id, ".dcm", result)
    step = max(1, task.frame_step)
    kept = [
        (index, image_id_for(result.pseudo_sop_uid, index))
        for index in range(0, n_frames, step if n_frames > 1 else 1)
    ]
    png_paths = [output_path(task.layout, "images", i, ".png", result) for _, i in kept]
    # every path before the first byte: a pass killed from here leaves no file nothing names
    record_pending(
        task.research_zone,
        task.pending,
        instance_id,
        ["/".join(dicom_path), *("/".join(p) for p in png_paths)],
    )
    task.research_zone.write_chunks(dicom_path, dicom_parts)
    dicom_sha256 = hashlib.sha256()
    for part in dicom_parts:
        dicom_sha256.update(part)

    regions = [[int(r.x0), int(r.y0), int(r.x1), int(r.y1)] for r in result.kept_regions]
    first = result.kept_regions[0] if result.kept_regions else None
    common = {
        "instance_id": instance_id,
        "n_frames": n_frames,
        "is_cine": n_frames > 1,
        "accession_pseudo": result.pseudo_accession_number,
        "patient_pseudo": result.pseudo_patient_id,
        "study_uid_pseudo": result.pseudo_study_uid,
        "series_uid_pseudo": result.pseudo_series_uid,
        "sop_uid_pseudo": result.pseudo_sop_uid,
        "study_date_shifted": result.study_date_shifted,
        "manufacturer": _text(out, "Manufacturer"),
        "model": _text(out, "ManufacturerModelName"),
        "rows": int(out.Rows),
        "columns": int(out.Columns),
        "photometric_original": _text(ds, "PhotometricInterpretation"),
        "transfer_syntax_original": str(getattr(ds.file_meta, "TransferSyntaxUID", "") or ""),
        "regions": regions,
        "region_formats": [r.spatial_format for r in result.kept_regions],
        "region_data_types": [r.data_type for r in result.kept_regions],
        "region_count": len(regions),
        "physical_delta_x_cm": first.physical_delta_x if first else None,
        "physical_delta_y_cm": first.physical_delta_y if first else None,
        "image_laterality": _text(out, "ImageLaterality") or _text(out, "Laterality"),
        "dicom_path": "/".join(dicom_path),
    }
    images: list[dict[str, Any]] = []
    for (index, image_id), png_path in zip(kept, png_paths, strict=True):
        frame = result.frames[index]
        png = encode_png(frame)
        task.research_zone.write_bytes(png_path, png)
        images.append(
            {
                **common,
                "image_id": image_id,
                "frame": index,
                "is_colour": png_is_colour(png),
                "png_path": "/".join(png_path),
                "png_sha256": hashlib.sha256(png).hexdigest(),
            }
        )
    preview = None
    if task.want_preview:
        preview = deidentification_preview(result.frames[0], result.blanked_mask)
    instance_row = {
        "instance_id": instance_id,
        "raw_instance_key": task.raw_instance_key,
        "accession_pseudo": result.pseudo_accession_number,
        "sop_uid_pseudo": result.pseudo_sop_uid,
        "sop_class_uid": _text(out, "SOPClassUID"),
        "n_frames": n_frames,
        "frames_kept": len(images),
        "dicom_path": "/".join(dicom_path),
        "dicom_sha256": dicom_sha256.hexdigest(),
        "pixel_cleaning": result.pixel_cleaning,
        "blanked_fraction": (  # float(mask.mean()), ten times faster (the same float)
            int(np.count_nonzero(result.blanked_mask)) / result.blanked_mask.size
            if result.blanked_mask.size
            else 0.0
        ),
        "profile": task.profile,
    }
    return DeidOutcome(
        task.raw_instance_key,
        instance=instance_row,
        images=images,
        preview=preview,
        original_identifiers=result.identifiers,
    )


def _study_identifiers(row: dict[str, Any]) -> OriginalIdentifiers:
    names = tuple(n for n in [row.get("patient_name")] if n)
    birth = row.get("birth_date")
    return OriginalIdentifiers(
        patient_names=names,
        patient_ids=tuple(x for x in [row.get("patient_id")] if x),
        accession_numbers=tuple(x for x in [row.get("accession_number")] if x),
        birth_dates=(birth,) if isinstance(birth, dt.date) else (),
        other=(),
    )


def _age_years(birth: dt.date | None, on: dt.date | None) -> int | None:
    if birth is None or on is None:
        return None
    years = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    return min(years, 90)  # HIPAA: ages over 89 are aggregated


def pseudonymized_studies(cohort: pl.DataFrame, pseudonymizer: Pseudonymizer) -> pl.DataFrame:
    """Research-zone study rows: pseudonyms, shifted dates, scrubbed report text, age."""
    rows = []
    for row in cohort.iter_rows(named=True):
        mrn = row["patient_id"]
        shift = pseudonymizer.date_shift_days(mrn)
        identifiers = [x for x in (row.get("patient_name"), mrn, row.get("accession_number")) if x]
        exam_date = row.get("exam_date")
        rows.append(
            {
                "accession_pseudo": pseudonymizer.accession_number(row["accession_number"]),
                "patient_pseudo": pseudonymizer.patient_id(mrn),
                "study_uid_pseudo": pseudonymizer.uid(row["study_instance_uid"]),
                "study_date_shifted": exam_date + dt.timedelta(days=shift) if exam_date else None,
                "age_years": _age_years(row.get("birth_date"), exam_date),
                "exam_description": scrub_report_text(
                    row.get("exam_description"),
                    identifiers=identifiers,
                    date_shift_days=shift,
                    unknown_are_names=False,  # a descriptor: product and code words stay
                ),
                "study_laterality": row.get("study_laterality"),
                "birads": row.get("birads"),
                "is_biopsy": row.get("is_biopsy"),
                "findings": scrub_report_text(
                    row.get("findings"), identifiers=identifiers, date_shift_days=shift
                ),
                "impression": scrub_report_text(
                    row.get("impression"), identifiers=identifiers, date_shift_days=shift
                ),
            }
        )
    return pl.DataFrame(rows, schema=STUDIES_SCHEMA, orient="row").sort("accession_pseudo")


def _frame(
    rows: Sequence[dict[str, Any]], schema: dict[str, pl.DataType | type[pl.DataType]], key: str
) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=schema, orient="row").sort(key)


def _delete_stale(
    zone: Zone, previous: pl.DataFrame | None, current: pl.DataFrame, column: str, table: str
) -> int:
    if previous is None or previous.height == 0 or column not in previous.columns:
        return 0
    keep = set(current[column].to_list()) if current.height else set()
    if any(p and p not in keep for p in previous[column].to_list()):
        # never delete a file that another batch's table still lists (a shared instance)
        everything = read_all_partition_tables(zone, table)
        if everything is not None and column in everything.columns:
            keep |= set(everything[column].drop_nulls().to_list())
    removed = 0
    for path in previous[column].to_list():
        if path and path not in keep and zone.delete(path):
            removed += 1
    return removed


@dataclass
class DeidFiles:
    """What :func:`deidentify_files` did: one outcome per input (input order) and the tables."""

    outcomes: list[DeidOutcome]
    instances: pl.DataFrame
    images: pl.DataFrame
    quarantine: pl.DataFrame


def deidentify_files(
    raw_zone: Zone,
    research_zone: Zone,
    inputs: Sequence[DeidInput],
    pseudonymizer: Pseudonymizer,
    *,
    profile: str = "research-breast-us",
    frame_step: int = 4,
    verify_ocr: bool = True,
    workers: int | None = None,
    previews: int = 0,
    layout: str = "shard",
    progress_path: str = "",
    pending: PendingWrites | None = None,
) -> DeidFiles:
    """De-identify ``inputs`` (raw-zone paths) in worker processes into ``research_zone``.

    Every worker reads, decodes, cleans and writes one instance (DICOM and PNG frames, see
    :func:`deidentify_one`). An input whose SOP Instance UID an earlier input already had is a
    duplicate (quarantine reason :data:`DUPLICATE_REASON`); the files are the first one's. The
    same function runs behind the ``deidentified_images`` asset (:func:`deidentify_partition`)
    and ``cadbusi deidentify``.
    """
    tasks = deid_tasks(
        raw_zone,
        research_zone,
        inputs,
        pseudonymizer,
        profile=profile,
        frame_step=frame_step,
        verify_ocr=verify_ocr,
        previews=previews,
        layout=layout,
        progress_path=progress_path,
        pending=pending,
    )
    outcomes = parallel_map(deidentify_one, tasks, workers=workers, min_items_per_worker=2)
    return deid_files(_without_duplicates(tasks, outcomes))


def deid_tasks(
    raw_zone: Zone,
    research_zone: Zone,
    inputs: Sequence[DeidInput],
    pseudonymizer: Pseudonymizer,
    *,
    profile: str = "research-breast-us",
    frame_step: int = 4,
    verify_ocr: bool = True,
    previews: int = 0,
    layout: str = "shard",
    progress_path: str = "",
    pending: PendingWrites | None = None,
    withdrawn: frozenset[str] | None = None,
) -> list[DeidTask]:
    """One :class:`DeidTask` per input (see :func:`deidentify_files`)."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}")
    withdrawn = opt_out_now() if withdrawn is None else withdrawn
    return [
        DeidTask(
            raw_zone=raw_zone,
            research_zone=research_zone,
            raw_path=item.raw_path,
            raw_instance_key=item.raw_instance_key,
            pseudonymizer=pseudonymizer,
            profile=profile,
            frame_step=frame_step,
            verify_ocr=verify_ocr,
            expected_patient_id=item.expected_patient_id,
            study_identifiers=item.study_identifiers,
            want_preview=i < previews,
            layout=layout,
            progress=progress_path,
            pending=pending,
            withdrawn=withdrawn,
        )
        for i, item in enumerate(inputs)
    ]


def deid_files(outcomes: list[DeidOutcome]) -> DeidFiles:
    """The tables of the outcomes (duplicates resolved, input order)."""
    return DeidFiles(
        outcomes=outcomes,
        instances=_frame(
            [o.instance for o in outcomes if o.instance], INSTANCE_SCHEMA, "instance_id"
        ),
        images=_frame([img for o in outcomes for img in o.images], IMAGE_SCHEMA, "image_id"),
        quarantine=_frame(
            [o.quarantine for o in outcomes if o.quarantine], QUARANTINE_SCHEMA, "raw_instance_key"
        ),
    )


def _without_duplicates(
    tasks: list[DeidTask],
    outcomes: Sequence[DeidOutcome],
    rerun: Callable[[DeidTask], DeidOutcome] = deidentify_one,
) -> list[DeidOutcome]:
    """Later inputs with an earlier input's instance id become duplicates; where their files
    differ from the first one's (workers write in any order), the first one is written again
    (by ``rerun``, the worker that made the outcomes)."""
    first: dict[str, int] = {}
    rewrite: set[int] = set()
    out = list(outcomes)
    for index, outcome in enumerate(outcomes):
        if outcome.instance is None:
            continue
        instance_id = outcome.instance["instance_id"]
        if instance_id not in first:
            first[instance_id] = index
            continue
        kept = outcomes[first[instance_id]]
        assert kept.instance is not None
        digests = [img["png_sha256"] for img in outcome.images]
        if outcome.instance["dicom_sha256"] != kept.instance["dicom_sha256"] or digests != [
            img["png_sha256"] for img in kept.images
        ]:
            rewrite.add(first[instance_id])
        duplicate = _quarantine(
            tasks[index], DUPLICATE_REASON, outcome.instance["accession_pseudo"]
        )
        duplicate.seconds = outcome.seconds
        duplicate.duplicate_of = kept.instance["dicom_path"]
        out[index] = duplicate
    for index in sorted(rewrite):
        seconds = out[index].seconds
        out[index] = rerun(replace(tasks[index], progress=""))
        out[index].seconds += seconds
    return out


def without_resent(research_zone: Zone, outcomes: Sequence[DeidOutcome]) -> list[DeidOutcome]:
    """A study date's outcomes (SOP duplicates resolved) with the instances that have the same
    pseudonymous patient and the same kept frames' pixels (PNG digests) as another one: all but
    the smallest instance id become duplicates (:data:`RESENT_REASON`), and the files this run
    wrote for them are deleted unless a stored table of the zone lists them (nothing stored is
    deleted here; a re-run replacing its date's tables deletes what they no longer list).

    The assets' passes only (the catalog's pixel-hash check needs it); ``cadbusi deidentify``
    on a folder keeps every input."""
    groups: dict[tuple[str, tuple[str, ...]], list[int]] = {}
    for index, outcome in enumerate(outcomes):
        if outcome.instance is None or not outcome.images:
            continue
        patient = outcome.images[0]["patient_pseudo"]
        if not patient:
            continue
        digests = tuple(img["png_sha256"] for img in outcome.images)
        groups.setdefault((patient, digests), []).append(index)
    out = list(outcomes)
    listed: dict[str, set[str]] | None = None
    for indexes in groups.values():
        if len(indexes) < 2:
            continue
        by_id = sorted(indexes, key=lambda i: out[i].instance["instance_id"])  # type: ignore[index]
        kept = out[by_id[0]].instance
        assert kept is not None
        for index in by_id[1:]:
            copy = out[index]
            assert copy.instance is not None
            if listed is None:
                listed = listed_files(research_zone)
            for column, path in [("dicom_path", copy.instance["dicom_path"])] + [
                ("png_path", img["png_path"]) for img in copy.images
            ]:
                if path and path not in listed[column]:
                    research_zone.delete(path)
            duplicate = DeidOutcome(
                copy.raw_instance_key,
                quarantine={
                    "raw_instance_key": copy.raw_instance_key,
                    "accession_pseudo": copy.instance["accession_pseudo"],
                    "stage": "deidentify",
                    "reason": RESENT_REASON,
                },
            )
            duplicate.seconds = copy.seconds
            duplicate.duplicate_of = kept["dicom_path"]
            out[index] = duplicate
    return out


def listed_files(zone: Zone) -> dict[str, set[str]]:
    """Every file path the zone's stored ``images`` and ``instances`` tables list (open
    batches included)."""
    return {
        column: listed_paths(zone, table, column)
        for table, column in ((IMAGES_TABLE, "png_path"), (INSTANCES_TABLE, "dicom_path"))
    }


@dataclass
class DeidPartitionResult:
    report: PartitionReport
    identifiers: OriginalIdentifiers  # for the blocking leak check (never logged)


def deidentify_partition(
    raw_zone: Zone,
    research_zone: Zone,
    pseudonymizer: Pseudonymizer,
    day: str,
    *,
    profile: str = "research-breast-us",
    frame_step: int = 4,
    verify_ocr: bool = True,
    workers: int | None = None,
    previews: int = 3,
    progress: Callable[[str], None] | None = None,
    allow_shrink: bool | None = None,
    after_deidentification: Callable[[DeidPartitionResult], None] | None = None,
) -> DeidPartitionResult:
    """De-identify one study date on its own (the ``deidentified_images`` asset alone), with
    the one pass's guards (:func:`~cadbusi_assets.stages.imaging.process_partition`): the
    shrink and accession checks before anything of the date is written, and the batch marked
    open while its tables are replaced, ``after_deidentification`` (the leak check) included,
    so a pass stopped in between leaves the date out of the catalog until it is re-run."""
    require_ocr(verify_ocr)  # no silent OCR-off: a missing tesseract stops the run here
    opted_out: list[str] = []
    inputs, cohort = partition_inputs(raw_zone, day, opted_out)
    if progress:
        progress(f"{day}: de-identifying {len(inputs)} instances")
    batch = pseudonymizer.batch_name(day)
    pending = begin_pending(batch, WRITER)
    done = deidentify_files(
        raw_zone,
        research_zone,
        inputs,
        pseudonymizer,
        profile=profile,
        frame_step=frame_step,
        verify_ocr=verify_ocr,
        workers=workers,
        previews=previews,
        pending=pending,
    )
    done = deid_files(without_resent(research_zone, done.outcomes))
    try:  # a refused date keeps exactly the files its tables list
        guard_accessions(
            day,
            done.images,
            pseudonymized_studies(cohort, pseudonymizer),
            read_partition_table(research_zone, IMAGES_TABLE, batch),
            read_partition_table(research_zone, STUDIES_TABLE, batch),
            allow_shrink=allow_shrink,
        )
        guard_partition(
            research_zone,
            batch,
            day,
            done.instances.height,
            allow_shrink=allow_shrink,
            gone=gone_upstream(raw_zone, day, inputs),
        )
    except StageFailure:
        discard_unlisted_files(research_zone, batch, done)
        sweep_files(research_zone, pending)
        raise
    with batch_opened(research_zone, batch, done):
        result = finish_partition(
            raw_zone,
            research_zone,
            pseudonymizer,
            day,
            inputs,
            cohort,
            done,
            verify_ocr=verify_ocr,
            allow_shrink=allow_shrink,
        )
    count_opted_out(result.report, opted_out)
    if after_deidentification is not None:
        after_deidentification(result)
    close_batch(research_zone, batch)
    sweep_files(research_zone, pending, result.report)
    return result


def first_pass(research_zone: Zone, batch: str) -> bool:
    """No pass of ``batch`` wrote its tables before (not even one cut short)."""
    return read_partition_table(research_zone, INSTANCES_TABLE, batch) is None


@contextlib.contextmanager
def batch_opened(research_zone: Zone, batch: str, done: DeidFiles) -> Iterator[None]:
    """Around :func:`finish_partition`: the batch is marked open while the date's tables are
    replaced one after the other (a pass that stops before the last one, killed, a failed
    write, a leak found, leaves it open and the catalog leaves it out until the date is
    re-run). When the pass refuses a date none of whose files could be de-identified (every
    one quarantined, with its reason) on the batch's first pass, the tables it wrote are the
    whole batch (empty, and the quarantine): the batch is closed. Before, the marker stayed
    open, and ``interrupted_study_dates_sensor`` took the refusal for a killed run: it re-ran
    the date up to three times "a run stopped in the middle of this date (killed)". A batch
    with an earlier pass keeps its marker (its other tables are that pass's)."""
    first = first_pass(research_zone, batch)
    open_batch(research_zone, batch)
    try:
        yield
    except StageFailure:
        if first and done.instances.height == 0:
            close_batch(research_zone, batch)
        raise


def count_opted_out(report: PartitionReport, opted_out: Sequence[str]) -> None:
    """Count the instances left out for the opt-out list read at this pass (the raw zone's
    report: nothing left out silently)."""
    if opted_out:
        report.count(f"instances_left_out: {OPT_OUT_REASON}", len(opted_out))


#: the writer name of the de-identification's records of files (:mod:`~cadbusi_assets.storage.pending`)
WRITER = "deidentified_images"


def sweep_files(
    research_zone: Zone, pending: PendingWrites, report: PartitionReport | None = None
) -> None:
    """Once the date's tables are written, or a guard refused the pass and its own new files
    were discarded (:func:`discard_unlisted_files`): delete the files an earlier, interrupted
    pass of the date wrote that no table lists (a patient who withdrew consent meanwhile, an
    instance the date no longer has), counted in ``report``."""
    removed = sweep_pending(
        research_zone,
        pending,
        lambda: set().union(*listed_files(research_zone).values()),
    )
    if removed and report is not None:
        report.count("interrupted_pass_files_removed", removed)


def opt_out_now(day: str = "") -> frozenset[str]:
    """The opt-out list as it is now (``$CADBUSI_OPT_OUT_FILE``, normalized ids); a configured
    list that cannot be read is a :class:`StageFailure` (``day``: the date it stops)."""
    try:
        return load_opt_out_from_env()
    except OptOutError as exc:  # its message names the setting, never an id
        where = f"{day}: " if day else ""
        raise StageFailure(f"{where}{exc}; nothing was written") from None


def partition_inputs(
    raw_zone: Zone, day: str, opted_out: list[str] | None = None
) -> tuple[list[DeidInput], pl.DataFrame]:
    """The stored instances of a study date (by raw path) and the day's resolved cohort,
    without the patients on the opt-out list (``$CADBUSI_OPT_OUT_FILE``, read now: a patient
    who withdrew after the date's cohort was made, and a re-run that starts after the cohort,
    as the sensors' re-runs of interrupted dates do; their raw keys appended to
    ``opted_out``). Their instances count as gone upstream, so the shrink guard lets them go,
    and the date's tables and files drop them."""
    # here, not at the top: the retrieval stage imports the warehouse adapters (sqlglot) and the
    # PACS clients, which `cadbusi deidentify` and its workers never use
    from cadbusi_assets.stages.retrieval import CONFLICTS_TABLE, resolved_cohort
    from cadbusi_assets.stages.retrieval import INSTANCES_TABLE as RETRIEVAL_INSTANCES

    manifest = read_partition_table(raw_zone, RETRIEVAL_INSTANCES, day)
    cohort = resolved_cohort(raw_zone, day)  # StudyInstanceUIDs found by PACS lookups included
    if manifest is None or cohort is None:
        raise MissingUpstream(f"raw_dicom for {day} is missing; materialize it first.")
    stored = manifest.filter(pl.col("status") != "failed").sort("raw_path")
    # a study another date holds (the warehouse lists the exam on both: the first to store it
    # owns it) is that date's: its row in this date's studies table too made the catalog's
    # unique study keys fail, and every export with it
    conflicts = read_partition_table(raw_zone, CONFLICTS_TABLE, day)
    if conflicts is not None and conflicts.height and "owner_partition" in conflicts.columns:
        held_here = set(stored["study_instance_uid"].drop_nulls().to_list())
        elsewhere = set(
            conflicts.filter(pl.col("owner_partition") != day)["study_instance_uid"]
            .drop_nulls()
            .to_list()
        )
        cohort = cohort.filter(~pl.col("study_instance_uid").is_in(list(elsewhere - held_here)))
    withdrawn = opt_out_now(day)
    left_out: set[str] = set()
    if withdrawn:  # a study with any row of a withdrawn patient goes whole
        flagged = opted_out_expr(withdrawn)
        left_out = set(cohort.filter(flagged)["study_instance_uid"].drop_nulls().to_list())
        cohort = cohort.filter(~flagged)
    by_study = {row["study_instance_uid"]: row for row in cohort.iter_rows(named=True)}
    inputs = []
    for row in stored.iter_rows(named=True):
        if row["study_instance_uid"] in left_out:
            if opted_out is not None:
                opted_out.append(row["instance_key"])
            continue
        study = by_study.get(row["study_instance_uid"], {})
        inputs.append(
            DeidInput(
                raw_path=row["raw_path"],
                raw_instance_key=row["instance_key"],
                expected_patient_id=study.get("patient_id"),
                study_identifiers=_study_identifiers(study),
            )
        )
    return inputs, cohort


def gone_upstream(raw_zone: Zone, day: str, inputs: Sequence[DeidInput]) -> frozenset[str]:
    """The research instance ids of the date's previous pass whose raw instance the retrieval
    no longer holds (it removed it with its reason, behind its own guard: the study left the
    date's cohort, the warehouse moved it to another date): a drop the de-identification does
    not refuse a second time."""
    links = read_partition_table(raw_zone, LINKS_TABLE, day)
    if links is None or links.height == 0:
        return frozenset()
    present = {task.raw_path for task in inputs}
    rows = links.filter(pl.col("kind") == "instance").select("pseudonym", "original")
    return frozenset(i for i, path in rows.iter_rows() if path not in present)


def guard_partition(
    research_zone: Zone,
    batch: str,
    day: str,
    planned: int,
    *,
    allow_shrink: bool | None = None,
    gone: frozenset[str] = frozenset(),
) -> pl.DataFrame | None:
    """Refuse (:class:`StageFailure`) a date whose ``planned`` de-identified instances drop
    sharply against what its ``deidentified_instances`` table holds, less the instances
    ``gone`` upstream (:func:`gone_upstream`; a study moved to a later date in a ranged run
    was refused here, its images then found on both dates); ``allow_shrink``, default
    ``$CADBUSI_ALLOW_SHRINK``, accepts it. The table held, if any."""
    previous = read_partition_table(research_zone, INSTANCES_TABLE, batch)
    held = 0
    if previous is not None:
        held = previous.filter(~pl.col("instance_id").is_in(sorted(gone))).height
    guard_shrink(
        "de-identified instances",
        day,
        held,
        planned,
        allow_shrink=allow_shrink,
        source="de-identification",
    )
    return previous


def discard_unlisted_files(research_zone: Zone, batch: str, done: DeidFiles) -> int:
    """Delete the files a refused pass wrote that the date's stored tables do not list (a new
    instance's DICOM file and PNGs): the research zone keeps exactly what its tables name.
    Files the tables list stay (the pass wrote them again, the same bytes for the same input)."""
    removed = 0
    for table, column, written in (
        (IMAGES_TABLE, "png_path", done.images),
        (INSTANCES_TABLE, "dicom_path", done.instances),
    ):
        stored = read_partition_table(research_zone, table, batch)
        listed = set() if stored is None else set(stored[column].drop_nulls().to_list())
        for path in written[column].drop_nulls().to_list() if written.height else []:
            if path not in listed:
                removed += int(research_zone.delete(path))
    return removed


def finish_partition(
    raw_zone: Zone,
    research_zone: Zone,
    pseudonymizer: Pseudonymizer,
    day: str,
    inputs: Sequence[DeidInput],
    cohort: pl.DataFrame,
    done: DeidFiles,
    *,
    verify_ocr: bool,
    allow_shrink: bool | None = None,
) -> DeidPartitionResult:
    """Write the day's tables (raw links and quarantine, research instances, images,
    quarantine, studies), delete stale files and report."""
    outcomes, instances, images, quarantine = (
        done.outcomes,
        done.instances,
        done.images,
        done.quarantine,
    )
    batch = pseudonymizer.batch_name(day)
    previous_images = read_partition_table(research_zone, IMAGES_TABLE, batch)
    # a sharp drop fails before anything is replaced or deleted, the raw zone's links and
    # quarantine of the date included (they describe the research batch that stays)
    previous_instances = guard_partition(
        research_zone,
        batch,
        day,
        instances.height,
        allow_shrink=allow_shrink,
        gone=gone_upstream(raw_zone, day, inputs),
    )
    studies = pseudonymized_studies(cohort, pseudonymizer)
    raw_paths = {t.raw_instance_key: t.raw_path for t in inputs}
    raw_quarantine = quarantine.with_columns(
        pl.col("raw_instance_key")
        .replace_strict(raw_paths, default=None, return_dtype=pl.Utf8)
        .alias("raw_path")
    ).select(list(RAW_QUARANTINE_SCHEMA))
    links = pseudonym_links(
        pseudonymizer,
        day,
        patients=cohort["patient_id"].drop_nulls().to_list(),
        accessions=cohort["accession_number"].drop_nulls().to_list(),
        study_uids=cohort["study_instance_uid"].drop_nulls().to_list(),
        instances=[
            (i, raw_paths.get(k))
            for i, k in instances.select("instance_id", "raw_instance_key").iter_rows()
        ],
        raw_instances=list(raw_paths.items()),
    )
    write_table(raw_zone, RAW, LINKS_TABLE, day, links)
    write_table(raw_zone, RAW, RAW_QUARANTINE_TABLE, day, raw_quarantine)

    write_table(research_zone, RESEARCH, INSTANCES_TABLE, batch, instances)
    write_table(research_zone, RESEARCH, IMAGES_TABLE, batch, images)
    write_table(research_zone, RESEARCH, QUARANTINE_TABLE, batch, quarantine)
    write_table(research_zone, RESEARCH, STUDIES_TABLE, batch, studies)
    stale = _delete_stale(research_zone, previous_images, images, "png_path", IMAGES_TABLE)
    stale += _delete_stale(
        research_zone, previous_instances, instances, "dicom_path", INSTANCES_TABLE
    )

    identifiers = OriginalIdentifiers((), (), (), (), ())
    for row in cohort.iter_rows(named=True):
        identifiers = identifiers.merge(_study_identifiers(row))
    for outcome in outcomes:
        if outcome.original_identifiers is not None:
            identifiers = identifiers.merge(outcome.original_identifiers)

    report = PartitionReport(day, row_count=images.height)
    report.count("instances_in", len(inputs))
    report.count("ocr_ran", verify_ocr)
    report.count("instances_deidentified", instances.height)
    report.count("instances_quarantined", quarantine.height)
    report.count("images", images.height)
    report.count("cine_instances", int(instances.filter(pl.col("n_frames") > 1).height))
    report.count("studies", studies.height)
    report.count("stale_files_removed", stale)
    for reason, n in reason_counts(quarantine, "reason").items():
        report.count(f"quarantined: {reason}", n)
    if quarantine.height:
        # reasons and counts only: an instance key here would tie a research batch's quarantine
        # rows to this (real-date) partition; the raw paths are in the raw zone's table
        report.tables["quarantine"] = (
            quarantine.group_by("stage", "reason").len("instances").sort("stage", "reason")
        )
    for i, outcome in enumerate(o for o in outcomes if o.preview):
        report.previews[f"deidentification_{i + 1}"] = outcome.preview  # type: ignore[assignment]
    if inputs and instances.height == 0:
        report.failed = True
        raise StageFailure(
            f"{day}: none of the {len(inputs)} instances could be de-identified "
            f"({'; '.join(f'{n}× {r}' for r, n in reason_counts(quarantine, 'reason').items())})"
        )
    return DeidPartitionResult(report=report, identifiers=identifiers)


def scan_partition_for_identifiers(
    research_zone: Zone, batch: str, identifiers: OriginalIdentifiers
) -> list[str]:
    """Look for the study's own identifiers in everything a batch wrote to the research zone.

    Scans every de-identified DICOM file (bytes), the PNG file names and every text value of the
    day's research tables. Returns findings as ``"<where>: <kind>"`` (never the value).
    """
    findings: list[str] = []
    for table in (INSTANCES_TABLE, IMAGES_TABLE, QUARANTINE_TABLE, STUDIES_TABLE):
        frame = read_partition_table(research_zone, table, batch)
        if frame is None:
            continue
        for column, dtype in frame.schema.items():
            if dtype not in (pl.Utf8, pl.String):
                continue
            text = "\n".join(v for v in frame[column].to_list() if v)
            for kind in find_identifiers_in_text(text, identifiers):
                findings.append(f"table {table}.{column}: {kind}")
    instances = read_partition_table(research_zone, INSTANCES_TABLE, batch)
    for path in [] if instances is None else instances["dicom_path"].to_list():
        for kind in find_identifiers_in_file_bytes(research_zone.read_bytes(path), identifiers):
            # no file name: it is a research pseudonym, and this message is shown beside the
            # real study date (the date is purged now, but a re-run mints the same names)
            findings.append(f"de-identified DICOM headers: {kind}")
    images = read_partition_table(research_zone, IMAGES_TABLE, batch)
    names = "\n".join([] if images is None else images["png_path"].to_list())
    for kind in find_identifiers_in_text(names, identifiers):
        findings.append(f"file names: {kind}")
    return sorted(set(findings))


def purge_batch(research_zone: Zone, batch: str) -> int:
    """Delete everything one batch wrote to the research zone (files and tables)."""
    from cadbusi_assets.storage import delete_partition_table

    removed = 0
    for table, column in ((IMAGES_TABLE, "png_path"), (INSTANCES_TABLE, "dicom_path")):
        frame = read_partition_table(research_zone, table, batch)
        for path in [] if frame is None else frame[column].to_list():
            removed += int(research_zone.delete(path))
    for table in (INSTANCES_TABLE, IMAGES_TABLE, QUARANTINE_TABLE, STUDIES_TABLE):
        delete_partition_table(research_zone, table, batch)
    return removed
