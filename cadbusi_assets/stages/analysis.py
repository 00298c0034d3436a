"""Image analysis and inpainting stages over the de-identified images of one study date.

``image_features``: one row per image (field of view, calipers, Doppler, darkness, OCR fields,
quality, exclusion reason) plus caliper/clean twin pairs. ``inpainted_images``: a caliper-free
PNG for every image with calipers and no clean twin.

The same workers run behind ``cadbusi analyze`` (:func:`analyze_dicom_files`,
:func:`inpaint_images`): there the frames come from the DICOM files of a folder (every
``frame_step``-th frame, in the form the de-identification stores it as PNG, so that a
de-identified file gives the same features and inpainted PNG bytes both ways).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import Any, cast

import numpy as np
import polars as pl
from PIL import Image

from cadbusi_assets.dicom import (
    DecodeError,
    DicomReadError,
    UltrasoundRegion,
    iter_frames,
    number_of_frames,
    quiet_pydicom,
    read_dataset,
    ultrasound_regions,
)
from cadbusi_assets.parallel import parallel_map, resolve_workers
from cadbusi_assets.progress import tick
from cadbusi_assets.settings import require_compute, require_ocr
from cadbusi_assets.stages.deidentification import IMAGES_TABLE, STUDIES_TABLE, shard_path
from cadbusi_assets.stages.previews import inpainting_preview
from cadbusi_assets.stages.report import (
    MissingUpstream,
    PartitionReport,
    StageFailure,
    reason_counts,
)
from cadbusi_assets.stages.safety import guard_shrink
from cadbusi_assets.stages.tables import INPAINTED_SCHEMA, RESEARCH, write_table
from cadbusi_assets.storage import Zone, delete_partition_table, read_partition_table
from cadbusi_assets.storage.pending import (
    PendingWrites,
    begin_pending,
    record_pending,
    sweep_pending,
)
from cadbusi_assets.storage.tables import close_batch, listed_paths, open_batch
from cadbusi_assets.ultrasound import (
    analyze_frame,
    encode_png,
    exclusion_reasons,
    find_twins,
    image_signature,
)
from cadbusi_assets.ultrasound.analysis import normalize_laterality
from cadbusi_assets.ultrasound.inpaint import inpaint_frames
from cadbusi_assets.ultrasound.ocr import FrameText
from cadbusi_assets.ultrasound.overlay import chroma

FEATURES_TABLE = "image_features"
TWINS_TABLE = "twins"
INPAINTED_TABLE = "inpainted_images"
#: the writer name of the inpainting's records of files (:mod:`~cadbusi_assets.storage.pending`)
INPAINT_WRITER = "inpainted_images"


def load_png(zone: Zone, path: str) -> np.ndarray:
    with Image.open(io.BytesIO(zone.read_bytes(path))) as image:
        return np.asarray(image.convert("RGB") if image.mode not in ("L", "RGB") else image)


def stored_frame(frame: np.ndarray) -> np.ndarray:
    """A decoded frame as its PNG stores it (:func:`encode_png`): R=G=B frames as one channel."""
    if frame.ndim == 3 and frame.size and int(chroma(frame).max()) == 0:
        return np.ascontiguousarray(frame[..., 1])
    return frame


@dataclass(frozen=True)
class AnalysisTask:
    zone: Zone
    image_id: str
    png_path: str
    frame: int
    regions: tuple[tuple[int, int, int, int], ...]
    region_formats: tuple[int | None, ...]
    region_data_types: tuple[int | None, ...]
    ocr: bool
    study_laterality: str | None
    progress: str = ""


def _regions(task: AnalysisTask) -> list[UltrasoundRegion]:
    formats = task.region_formats or (None,) * len(task.regions)
    types = task.region_data_types or (None,) * len(task.regions)
    return [
        UltrasoundRegion(int(b[0]), int(b[1]), int(b[2]), int(b[3]), spatial_format=f, data_type=t)
        for b, f, t in zip(task.regions, formats, types, strict=False)
    ]


def features_row(
    frame: np.ndarray,
    regions: list[UltrasoundRegion],
    *,
    ocr: bool,
    study_laterality: str | None,
    index: int,
    reading: FrameText | None = None,
) -> dict[str, Any]:
    """One frame's ``image_features`` columns (the frame index is the caller's; ``reading``:
    the frame's text read already, see :func:`~cadbusi_assets.ultrasound.analyze_frame`)."""
    analysis = analyze_frame(
        frame,
        regions,
        ocr=ocr,
        study_laterality=study_laterality,
        frame_index=index,
        reading=reading if ocr else None,
    )
    row = analysis.as_row()
    row.pop("frame", None)
    crop = (row["crop_x0"], row["crop_y0"], row["crop_x1"], row["crop_y1"])
    row["signature"] = image_signature(frame, crop).astype(np.int16).ravel().tolist()
    return row


def analyze_one(task: AnalysisTask) -> dict[str, Any]:
    """Worker: one PNG of the research zone → its features row."""
    try:
        row = features_row(
            load_png(task.zone, task.png_path),
            _regions(task),
            ocr=task.ocr,
            study_laterality=task.study_laterality,
            index=task.frame,
        )
    finally:
        tick(task.progress)
    row["image_id"] = task.image_id
    return row


@dataclass(frozen=True)
class DicomAnalysisTask:
    zone: Zone
    path: str  # in ``zone``
    frame_step: int
    ocr: bool
    progress: str = ""


def dicom_image_id(path: str, frame: int) -> str:
    """``cadbusi analyze``'s image id: the file's path without suffix, and the frame.

    >>> dicom_image_id("s1/a.dcm", 4)
    's1/a_f4'
    """
    return f"{PurePosixPath(path).with_suffix('').as_posix()}_f{frame}"


def header_laterality(ds: Any) -> str | None:
    """The side a DICOM header names (``Laterality``, else ``ImageLaterality``), as LEFT,
    RIGHT or BILATERAL (:func:`~cadbusi_assets.ultrasound.analysis.normalize_laterality`):
    the study's side where no cohort says it (the commands)."""
    for keyword in ("Laterality", "ImageLaterality"):
        side = normalize_laterality(str(ds.get(keyword, "") or "").strip() or None)
        if side is not None:
            return side
    return None


def analyze_dicom_file(task: DicomAnalysisTask) -> list[dict[str, Any]]:
    """Worker: every ``frame_step``-th frame of one DICOM file → features rows; an unreadable
    file or undecodable pixel data → one row with its ``error``."""
    base: dict[str, Any] = {"source_path": task.path}
    try:
        with quiet_pydicom():
            ds = read_dataset(task.zone.read_bytes(task.path))
            regions = ultrasound_regions(ds)
            base.update(
                study_instance_uid=str(ds.get("StudyInstanceUID", "")) or None,
                sop_instance_uid=str(ds.get("SOPInstanceUID", "")) or None,
                number_of_frames=number_of_frames(ds),
                study_laterality=header_laterality(ds),
            )
            rows = []
            for index, frame in iter_frames(ds, step=task.frame_step):
                row = features_row(
                    stored_frame(frame),
                    regions,
                    ocr=task.ocr,
                    study_laterality=base["study_laterality"],
                    index=index,
                )
                rows.append(
                    {**base, "image_id": dicom_image_id(task.path, index), "frame": index, **row}
                )
            return rows
    except (DicomReadError, DecodeError) as exc:
        return [{**base, "error": str(exc)}]
    finally:
        tick(task.progress)


#: Columns of ``cadbusi analyze``'s features table in front of the features.
DICOM_COLUMNS: dict[str, pl.DataType | type[pl.DataType]] = {
    "source_path": pl.String(),
    "image_id": pl.String(),
    "study_instance_uid": pl.String(),
    "sop_instance_uid": pl.String(),
    "number_of_frames": pl.Int64(),
    "study_laterality": pl.String(),
    "error": pl.String(),
    "frame": pl.Int64(),
}


def analyze_dicom_files(
    zone: Zone,
    paths: Sequence[str],
    *,
    frame_step: int = 4,
    ocr: bool = True,
    workers: int | None = None,
    progress_path: str = "",
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Features of every ``frame_step``-th frame of DICOM files in ``zone`` (``cadbusi
    analyze``), and the caliper/clean twin pairs (files of one StudyInstanceUID).

    The features table is the ``image_features`` one keyed by :func:`dicom_image_id`, with
    :data:`DICOM_COLUMNS` in front; an unreadable file is one row with ``error`` and the
    exclusion reason ``unreadable``.
    """
    require_ocr(ocr)
    require_compute()
    tasks = [DicomAnalysisTask(zone, p, max(1, frame_step), ocr, progress_path) for p in paths]
    rows = [
        row
        for rows in parallel_map(analyze_dicom_file, tasks, workers=workers, min_items_per_worker=2)
        for row in rows
    ]
    found = pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame()
    front = pl.DataFrame(schema=DICOM_COLUMNS)
    features = pl.concat([front, found], how="diagonal_relaxed")
    features = features.select(
        *DICOM_COLUMNS, *[c for c in features.columns if c not in DICOM_COLUMNS]
    )
    features = exclusion_reasons(features).with_columns(
        pl.when(pl.col("error").is_not_null())
        .then(pl.lit("unreadable"))
        .otherwise(pl.col("exclusion_reason"))
        .alias("exclusion_reason")
    )
    readable = features.filter(pl.col("error").is_null())
    twins = _twins(readable, "study_instance_uid") if readable.height else _no_twins()
    return features.sort("source_path", "frame", nulls_last=True), twins


def _no_twins() -> pl.DataFrame:
    return pl.DataFrame(
        schema={"caliper_image_id": pl.Utf8, "clean_image_id": pl.Utf8, "distance": pl.Float64}
    )


def _twins(features: pl.DataFrame, study_key: str) -> pl.DataFrame:
    twins = find_twins(features.with_columns(study_key=pl.col(study_key)))
    return twins.sort("caliper_image_id") if twins.height else twins


def analyze_partition(
    research_zone: Zone,
    batch: str,
    *,
    ocr: bool = True,
    workers: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> PartitionReport:
    require_ocr(ocr)  # no silent OCR-off: a missing tesseract stops the run here
    require_compute()  # a wrong torch setting stops the run here, not in every file
    images = read_partition_table(research_zone, IMAGES_TABLE, batch)
    studies = read_partition_table(research_zone, STUDIES_TABLE, batch)
    if images is None:
        raise MissingUpstream("deidentified_images for this date is missing; materialize it first.")
    laterality = _laterality(studies)
    tasks = [
        AnalysisTask(
            research_zone,
            row["image_id"],
            row["png_path"],
            int(row["frame"]),
            tuple(tuple(b) for b in (row["regions"] or [])),
            tuple(row.get("region_formats") or ()),
            tuple(row.get("region_data_types") or ()),
            ocr,
            laterality.get(row["accession_pseudo"]),
        )
        for row in images.sort("image_id").iter_rows(named=True)
    ]
    if progress:
        progress(f"analysing {len(tasks)} images")
    rows = parallel_map(analyze_one, tasks, workers=workers, min_items_per_worker=4)
    features, twins = features_table(images, studies, rows)
    # two tables replaced one after the other: marked open in between, as in the one pass
    open_batch(research_zone, batch)
    report = write_features(research_zone, batch, features, twins, ocr=ocr)
    close_batch(research_zone, batch)
    return report


def _laterality(studies: pl.DataFrame | None) -> dict[str, str | None]:
    if studies is None or not studies.height:
        return {}
    return dict(studies.select("accession_pseudo", "study_laterality").iter_rows())


def features_table(
    images: pl.DataFrame, studies: pl.DataFrame | None, rows: Sequence[dict[str, Any]]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The ``image_features`` table of a date from its images table, its studies table and
    the per-image rows (:func:`analyze_one`), and the caliper/clean twins."""
    laterality = _laterality(studies)
    features = pl.DataFrame(list(rows), infer_schema_length=None) if rows else pl.DataFrame()
    if features.height:
        keys = images.select(
            "image_id", "instance_id", "frame", "accession_pseudo", "is_cine", "rows", "columns"
        )
        features = keys.join(features, on="image_id", how="left")
        features = features.join(
            pl.DataFrame(
                {
                    "accession_pseudo": list(laterality),
                    "study_laterality": list(laterality.values()),
                },
                schema={"accession_pseudo": pl.Utf8, "study_laterality": pl.Utf8},
            ),
            on="accession_pseudo",
            how="left",
        )
        features = exclusion_reasons(features).sort("image_id")
        twins = _twins(features, "accession_pseudo")
    else:
        twins = _no_twins()
    return features, twins


def write_features(
    research_zone: Zone, batch: str, features: pl.DataFrame, twins: pl.DataFrame, *, ocr: bool
) -> PartitionReport:
    """Write a date's ``image_features`` and ``twins`` tables; the partition report."""
    report = PartitionReport(batch)
    write_table(research_zone, RESEARCH, FEATURES_TABLE, batch, features)
    write_table(research_zone, RESEARCH, TWINS_TABLE, batch, twins)

    report.row_count = features.height
    report.count("images", features.height)
    report.count("ocr_ran", ocr)
    if features.height:
        report.count("with_calipers", int(features["has_calipers"].fill_null(False).sum()))
        report.count("doppler", int(features["is_doppler"].fill_null(False).sum()))
        report.count("excluded", int(features["exclusion_reason"].is_not_null().sum()))
        report.count("kept", int(features["exclusion_reason"].is_null().sum()))
        report.count(
            "median_darkness", float(cast("float | None", features["darkness"].median()) or 0.0)
        )
        for reason, n in reason_counts(features).items():
            report.count(f"excluded: {reason}", n)
    report.count("caliper_clean_twins", twins.height)
    return report


@dataclass(frozen=True)
class InpaintTask:
    zone: Zone
    image_id: str
    png_path: str  # the source frame: a PNG in ``zone``, or (with ``dicom_path``) ""
    caliper_points: tuple[tuple[int, int], ...]
    crop: tuple[int, int, int, int] | None
    is_doppler: bool
    method: str
    want_preview: bool
    dicom_path: str = ""  # or frame ``frame`` of this DICOM file in ``zone``
    frame: int = 0
    target: str = ""  # where the PNG goes (default ``inpainted/<id[:2]>/<image_id>.png``)
    target_zone: Zone | None = None  # default ``zone``
    progress: str = ""
    pixels: np.ndarray | None = None  # or the frame itself (as its PNG stores it)
    pending: PendingWrites | None = None  # where the chunk records its paths before writing


def _target(task: InpaintTask) -> str:
    return task.target or "/".join(shard_path("inpainted", task.image_id, ".png"))


def _source_frames(tasks: list[InpaintTask]) -> list[np.ndarray]:
    """The tasks' frames: PNGs read, DICOM files read and decoded once per file."""
    wanted: dict[str, list[int]] = {}
    for task in tasks:
        if task.dicom_path and task.pixels is None:
            wanted.setdefault(task.dicom_path, []).append(task.frame)
    decoded: dict[tuple[str, int], np.ndarray] = {}
    for path, indices in wanted.items():
        with quiet_pydicom():
            ds = read_dataset(tasks[0].zone.read_bytes(path))
            for index, frame in iter_frames(ds, indices=indices):
                decoded[(path, index)] = stored_frame(frame)
    return [
        task.pixels
        if task.pixels is not None
        else decoded[(task.dicom_path, task.frame)]
        if task.dicom_path
        else load_png(task.zone, task.png_path)
        for task in tasks
    ]


#: Frames per inpainting batch (one batched torch call, on the GPU when there is one).
INPAINT_BATCH_FRAMES = 32


def inpaint_chunk(tasks: list[InpaintTask]) -> list[dict[str, Any]]:
    """Inpaint a batch of images in one :func:`inpaint_frames` call, then write their PNGs."""
    if not tasks:
        return []
    try:
        frames = _source_frames(tasks)
        done = inpaint_frames(
            frames, [task.caliper_points for task in tasks], method=tasks[0].method
        )
        rows = []
        # every path of the chunk before its first byte (a killed pass leaves no file that
        # nothing names)
        record_pending(
            tasks[0].target_zone or tasks[0].zone,
            tasks[0].pending,
            f"inpainted-{tasks[0].image_id}",
            [_target(task) for task in tasks],
        )
        for task, frame, (inpainted, mask) in zip(tasks, frames, done, strict=True):
            # non-Doppler frames are stored grey even if the caliper tint left a few coloured
            # pixels
            png = encode_png(inpainted, grey_tolerance=0 if task.is_doppler else 12)
            path = _target(task)
            (task.target_zone or task.zone).write_bytes(tuple(path.split("/")), png)
            row: dict[str, Any] = {
                "image_id": task.image_id,
                "inpainted_path": path,
                "inpainted_sha256": hashlib.sha256(png).hexdigest(),
                "mask_pixels": int(mask.sum()),
                "method": "torch" if task.method == "auto" else task.method,
                "preview": None,
            }
            if task.want_preview:
                row["preview"] = inpainting_preview(
                    frame, inpainted, task.caliper_points, task.crop
                )
            rows.append(row)
        return rows
    finally:
        for task in tasks:
            tick(task.progress)


def inpaint_batches(
    tasks: list[InpaintTask], workers: int | None = None
) -> list[list[InpaintTask]]:
    """Consecutive batches of at most :data:`INPAINT_BATCH_FRAMES` tasks, at least one per
    worker when there are enough (the output does not depend on the batching)."""
    if len(tasks) < 8:
        return [tasks] if tasks else []
    size = min(INPAINT_BATCH_FRAMES, max(4, -(-len(tasks) // resolve_workers(workers))))
    return [tasks[i : i + size] for i in range(0, len(tasks), size)]


def inpaint_targets(features: pl.DataFrame, twins: pl.DataFrame | None) -> pl.DataFrame:
    """The images to inpaint: with calipers and no clean twin, by image id."""
    if not features.height:
        return features
    twinned = [] if twins is None or not twins.height else twins["caliper_image_id"].to_list()
    return (
        features.filter(pl.col("has_calipers").fill_null(False))
        .filter(~pl.col("image_id").is_in(twinned))
        .sort("image_id")
    )


def inpaint_tasks(
    zone: Zone,
    targets: pl.DataFrame,
    *,
    method: str = "auto",
    previews: int = 0,
    target_zone: Zone | None = None,
    progress_path: str = "",
) -> list[InpaintTask]:
    """One task per row of ``targets`` (from :func:`inpaint_targets`), its frame from the
    ``png_path`` column (a PNG in ``zone``) or from ``source_path`` and ``frame`` (a DICOM
    file in ``zone``); a ``target`` column says where each PNG goes (in ``target_zone``)."""
    from_png = "png_path" in targets.columns
    return [
        InpaintTask(
            zone,
            row["image_id"],
            row["png_path"] if from_png else "",
            cast(
                tuple[tuple[int, int], ...],
                tuple(tuple(int(v) for v in p) for p in (row["caliper_points"] or [])),
            ),
            (row["crop_x0"], row["crop_y0"], row["crop_x1"], row["crop_y1"])
            if row.get("crop_x0") is not None
            else None,
            bool(row.get("is_doppler")),
            method,
            i < previews,
            dicom_path="" if from_png else row["source_path"],
            frame=0 if from_png else int(row["frame"]),
            target=row.get("target") or "",
            target_zone=target_zone,
            progress=progress_path,
        )
        for i, row in enumerate(targets.iter_rows(named=True))
    ]


def inpaint_images(
    tasks: list[InpaintTask], workers: int | None = None
) -> tuple[pl.DataFrame, dict[str, bytes]]:
    """Inpaint ``tasks`` in batches over worker processes: the ``inpainted_images`` table
    (sorted by image id) and the previews the tasks asked for."""
    batches = inpaint_batches(tasks, workers)
    rows = [
        row
        for rows in parallel_map(inpaint_chunk, batches, workers=workers, min_items_per_worker=1)
        for row in rows
    ]
    previews = {
        f"inpainting_{i + 1}": r.pop("preview") for i, r in enumerate(rows) if r.get("preview")
    }
    for r in rows:
        r.pop("preview", None)
    table = pl.DataFrame(rows, schema=INPAINTED_SCHEMA, orient="row").sort("image_id")
    return table, previews


def inpaint_partition(
    research_zone: Zone,
    batch: str,
    *,
    method: str = "auto",
    workers: int | None = None,
    previews: int = 3,
    progress: Callable[[str], None] | None = None,
    allow_shrink: bool | None = None,
) -> PartitionReport:
    features = read_partition_table(research_zone, FEATURES_TABLE, batch)
    images = read_partition_table(research_zone, IMAGES_TABLE, batch)
    twins = read_partition_table(research_zone, TWINS_TABLE, batch)
    if features is None or images is None:
        raise MissingUpstream("image_features for this date is missing; materialize it first.")
    twinned = (
        set(twins["caliper_image_id"].to_list()) if twins is not None and twins.height else set()
    )
    targets = inpaint_targets(features, twins)
    if targets.height:
        targets = targets.join(images.select("image_id", "png_path"), on="image_id")
    tasks = inpaint_tasks(research_zone, targets, method=method, previews=previews)
    if progress:
        progress(f"inpainting {len(tasks)} images")
    # the shrink guard before the marker (a refused date is left as it was, not open); then the
    # PNGs are replaced in place before the table: marked open in between, as in the one pass
    try:
        guard_inpainting(research_zone, batch, len(tasks), allow_shrink=allow_shrink)
    except StageFailure:  # a killed pass's files go all the same
        sweep_inpainted(research_zone, begin_pending(batch, INPAINT_WRITER))
        raise
    open_batch(research_zone, batch)
    report = finish_inpainting(
        research_zone, batch, tasks, len(twinned), workers=workers, allow_shrink=allow_shrink
    )
    close_batch(research_zone, batch)
    return report


def guard_inpainting(
    research_zone: Zone,
    batch: str,
    planned: int,
    *,
    allow_shrink: bool | None = None,
    gone: frozenset[str] = frozenset(),
) -> pl.DataFrame | None:
    """Refuse (:class:`StageFailure`) a date whose ``planned`` inpainted images drop sharply
    against what its ``inpainted_images`` table holds (``allow_shrink``, default
    ``$CADBUSI_ALLOW_SHRINK``, accepts it); the table held, if any. Called before anything of
    the date is written: by :func:`finish_inpainting` before the first PNG, and by the one pass
    (:func:`~cadbusi_assets.stages.imaging.process_partition`) before the de-identification
    tables. The message is the date's failure reason, shown beside the real date: it never
    names the research batch. ``gone``: image ids that left the date upstream (behind the
    de-identification's guard: a study moved to another date); their inpainting does not
    count."""
    previous = read_partition_table(research_zone, INPAINTED_TABLE, batch)
    held = 0
    if previous is not None:
        held = previous.filter(~pl.col("image_id").is_in(sorted(gone))).height
    guard_shrink(
        "inpainted images",
        "this study date",
        held,
        planned,
        allow_shrink=allow_shrink,
        source="inpainting",
    )
    return previous


def sweep_inpainted(
    research_zone: Zone, pending: PendingWrites, report: PartitionReport | None = None
) -> None:
    """Delete the inpainted PNGs an earlier, interrupted inpainting of ``pending``'s batch wrote
    that no table lists (after this pass's table, or when a guard refused this pass), counted
    in ``report``."""
    removed = sweep_pending(
        research_zone,
        pending,
        lambda: listed_paths(research_zone, INPAINTED_TABLE, "inpainted_path"),
    )
    if removed and report is not None:
        report.count("interrupted_pass_files_removed", removed)


def finish_inpainting(
    research_zone: Zone,
    batch: str,
    tasks: list[InpaintTask],
    twinned: int,
    *,
    workers: int | None = None,
    allow_shrink: bool | None = None,
) -> PartitionReport:
    """Inpaint ``tasks``, write the date's ``inpainted_images`` table (after the shrink
    guard, :func:`guard_inpainting`, which runs before any PNG is written), delete stale PNGs
    and report (``twinned``: caliper images with a clean twin)."""
    # one row per task: a sharp drop fails before anything is replaced, written or deleted
    # (the de-identification ran before: an inpainted image whose image the date no longer
    # has left upstream, behind that stage's guard)
    now = read_partition_table(research_zone, IMAGES_TABLE, batch)
    held = read_partition_table(research_zone, INPAINTED_TABLE, batch)
    gone: frozenset[str] = frozenset()
    if now is not None and held is not None:
        gone = frozenset(set(held["image_id"].to_list()) - set(now["image_id"].to_list()))
    pending = begin_pending(batch, INPAINT_WRITER)
    try:
        previous = guard_inpainting(
            research_zone, batch, len(tasks), allow_shrink=allow_shrink, gone=gone
        )
    except StageFailure:
        sweep_inpainted(research_zone, pending)  # a killed pass's files go all the same
        raise
    tasks = [replace(task, pending=pending) for task in tasks]
    table, previews_out = inpaint_images(tasks, workers)
    write_table(research_zone, RESEARCH, INPAINTED_TABLE, batch, table)
    if read_partition_table(research_zone, IMAGES_TABLE, batch) is None:
        # the batch was purged meanwhile (a leak found by a de-identification holding another
        # lock): nothing of it may come back; the purge deletes the images table first
        for path in table["inpainted_path"].to_list():
            research_zone.delete(*path.split("/"))
        delete_partition_table(research_zone, INPAINTED_TABLE, batch)
        research_zone.delete(*pending.folder())
        raise StageFailure(
            "the date's images were removed while it was inpainted (a purge after a leak "
            "check); nothing of the inpainting was kept. Re-run the date from raw_dicom."
        )
    stale = 0
    if previous is not None and previous.height:
        keep = set(table["inpainted_path"].to_list())
        for path in previous["inpainted_path"].to_list():
            if path not in keep and research_zone.delete(path):
                stale += 1
    report = PartitionReport(batch, row_count=table.height)
    sweep_inpainted(research_zone, pending, report)
    report.count("inpainted", table.height)
    report.count("with_calipers_and_clean_twin", twinned)
    report.count("stale_files_removed", stale)
    report.previews.update(previews_out)
    return report
