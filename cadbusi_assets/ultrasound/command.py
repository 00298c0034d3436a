"""``cadbusi analyze INPUT OUTPUT``: features of every frame of a folder of DICOM files.

Writes ``OUTPUT/features.parquet`` (one row per analysed frame, plus one row per unreadable
file with its ``exclusion_reason``) and ``OUTPUT/inpainted/<file stem>_f<frame>.png`` for
every frame with calipers and no clean twin. Files are analysed in parallel processes
(:func:`cadbusi_assets.parallel.parallel_map`) and counted on a progress bar (stderr,
terminals only); twins are paired across the whole folder. OCR of the burned-in annotation is
on unless ``ocr=False`` (``--no-ocr``): without tesseract the command stops with the install
command instead of silently reading no text. Inpainting runs in batches of frames through
:func:`cadbusi_assets.ultrasound.inpaint.inpaint_frames`, the same call as the
``inpainted_images`` asset (torch, on CUDA when present, else the CPU).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from cadbusi_assets.dicom import (
    DecodeError,
    DicomReadError,
    iter_frames,
    number_of_frames,
    read_dataset,
    ultrasound_regions,
)
from cadbusi_assets.parallel import parallel_map, resolve_workers
from cadbusi_assets.progress import ProgressBar, tick
from cadbusi_assets.settings import tesseract_problem
from cadbusi_assets.ultrasound.analysis import analyze_frame, features_frame
from cadbusi_assets.ultrasound.inpaint import inpaint_frames
from cadbusi_assets.ultrasound.png import encode_png
from cadbusi_assets.ultrasound.quality import exclusion_reasons
from cadbusi_assets.ultrasound.twins import find_twins

#: Columns the command adds in front of :data:`~.analysis.FEATURES_SCHEMA`.
COMMAND_COLUMNS: dict[str, pl.DataType | type[pl.DataType]] = {
    "source_path": pl.String(),
    "image_id": pl.String(),
    "study_instance_uid": pl.String(),
    "sop_instance_uid": pl.String(),
    "number_of_frames": pl.Int32(),
    "study_laterality": pl.String(),
    "error": pl.String(),
}


@dataclass(frozen=True)
class _Task:
    path: str
    relative: str
    frame_step: int
    ocr: bool
    progress: str = ""


def dicom_files(input_dir: Path) -> list[Path]:
    """Every regular file under ``input_dir`` that starts like DICOM (preamble + 'DICM')."""
    found = []
    for path in sorted(p for p in input_dir.rglob("*") if p.is_file()):
        try:
            with path.open("rb") as handle:
                head = handle.read(132)
        except OSError:
            continue
        if head[128:132] == b"DICM" or path.suffix.lower() == ".dcm":
            found.append(path)
    return found


def _image_id(relative: str, frame: int) -> str:
    return f"{Path(relative).with_suffix('').as_posix()}_f{frame}"


def _analyze_file(task: _Task) -> list[dict[str, Any]]:
    try:
        return _analyze(task)
    finally:
        tick(task.progress)


def _analyze(task: _Task) -> list[dict[str, Any]]:
    base: dict[str, Any] = {"source_path": task.relative}
    try:
        ds = read_dataset(task.path)
        regions = ultrasound_regions(ds)
        base.update(
            study_instance_uid=str(ds.get("StudyInstanceUID", "")) or None,
            sop_instance_uid=str(ds.get("SOPInstanceUID", "")) or None,
            number_of_frames=number_of_frames(ds),
            study_laterality=str(ds.get("Laterality", "")).strip() or None,
        )
        rows = []
        for index, frame in iter_frames(ds, step=task.frame_step):
            analysis = analyze_frame(
                frame,
                regions,
                ocr=task.ocr,
                study_laterality=base["study_laterality"],
                frame_index=index,
            )
            rows.append({**base, "image_id": _image_id(task.relative, index), **analysis.as_row()})
        return rows
    except (DicomReadError, DecodeError) as exc:
        return [{**base, "error": str(exc)}]


#: Frames per inpainting batch (one batched torch call, on the GPU when there is one).
INPAINT_BATCH_FRAMES = 32

#: A file and the frames of it to inpaint: ``(path, [(frame index, points, PNG name)])``.
_FileFrames = tuple[str, list[tuple[int, list[list[int]], str]]]


def _inpaint_files(job: tuple[list[_FileFrames], str, str]) -> list[str]:
    """Decode the wanted frames of a group of files, inpaint them in one batch, write PNGs."""
    files, out_dir, progress = job
    frames, points, names = [], [], []
    try:
        for path, wanted_frames in files:
            wanted = {index: (pts, name) for index, pts, name in wanted_frames}
            for index, frame in iter_frames(read_dataset(path), indices=sorted(wanted)):
                frames.append(frame)
                points.append(wanted[index][0])
                names.append(wanted[index][1])
        written = []
        for (inpainted, _), name in zip(inpaint_frames(frames, points), names, strict=True):
            (Path(out_dir) / name).write_bytes(encode_png(inpainted))
            written.append(name)
        return written
    finally:
        for _ in range(sum(len(wanted_frames) for _, wanted_frames in files)):
            tick(progress)


def _frame_batches(
    by_file: dict[str, list[tuple[int, list[list[int]], str]]], input_dir: Path, workers: int
) -> list[list[_FileFrames]]:
    """Consecutive groups of files with at most ``size`` frames to inpaint, ``size`` at most
    :data:`INPAINT_BATCH_FRAMES` and small enough to give every worker a group (a cine with
    more frames is split). The output does not depend on the grouping."""
    total = sum(len(frames) for frames in by_file.values())
    size = min(INPAINT_BATCH_FRAMES, max(4, -(-total // max(1, workers))))
    batches: list[list[_FileFrames]] = []
    count = size
    for source, frames in by_file.items():
        for start in range(0, len(frames), size):
            piece = frames[start : start + size]
            if count + len(piece) > size:
                batches.append([])
                count = 0
            batches[-1].append((str(input_dir / source), piece))
            count += len(piece)
    return batches


def analyze_command(
    input_dir: Path,
    output_dir: Path,
    *,
    jobs: int | None = None,
    frame_step: int = 1,
    ocr: bool = True,
    echo: Callable[[str], None] = print,
) -> int:
    """Analyse every DICOM file under ``input_dir``; returns a process exit code."""
    started = time.perf_counter()
    input_dir, output_dir = Path(input_dir), Path(output_dir)
    if not input_dir.is_dir():
        echo(f"error: {input_dir} is not a folder")
        return 2
    files = dicom_files(input_dir)
    if not files:
        echo(f"error: no DICOM files under {input_dir}")
        return 1
    if ocr:
        problem = tesseract_problem()
        if problem:
            echo(f"error: OCR of the annotations is on, but {problem} (or --no-ocr)")
            return 2
    echo(
        f"analysing {len(files)} files (every {max(1, frame_step)}. frame, OCR {'on' if ocr else 'off'})"
    )
    with ProgressBar(len(files), "analysing") as bar:
        tasks = [
            _Task(str(p), p.relative_to(input_dir).as_posix(), max(1, frame_step), ocr, bar.path)
            for p in files
        ]
        rows = [
            row
            for rows in parallel_map(_analyze_file, tasks, workers=jobs, min_items_per_worker=2)
            for row in rows
        ]
    features = features_frame(rows, extra=COMMAND_COLUMNS)
    features = exclusion_reasons(features).with_columns(
        pl.when(pl.col("error").is_not_null())
        .then(pl.lit("unreadable"))
        .otherwise(pl.col("exclusion_reason"))
        .alias("exclusion_reason")
    )
    twins = find_twins(
        features.filter(pl.col("error").is_null()).with_columns(
            pl.col("study_instance_uid").alias("study_key")
        )
    )
    features = features.join(
        twins.select(
            pl.col("caliper_image_id").alias("image_id"),
            pl.col("clean_image_id").alias("clean_twin_image_id"),
            pl.col("distance").alias("twin_distance"),
        ),
        on="image_id",
        how="left",
    )
    inpainted_dir = output_dir / "inpainted"
    inpainted_dir.mkdir(parents=True, exist_ok=True)
    to_inpaint = features.filter(
        pl.col("has_calipers").fill_null(False) & pl.col("clean_twin_image_id").is_null()
    ).select("source_path", "frame", "caliper_points", "image_id")
    by_file: dict[str, list[tuple[int, list[list[int]], str]]] = {}
    paths: dict[str, str] = {}
    for source, frame, points, image_id in to_inpaint.iter_rows():
        name = f"{Path(source).stem}_f{frame}.png"
        by_file.setdefault(source, []).append((frame, points, name))
        paths[image_id] = f"inpainted/{name}"
    with ProgressBar(to_inpaint.height, "inpainting") as bar:
        batches = _frame_batches(by_file, input_dir, resolve_workers(jobs))
        written = [
            name
            for names in parallel_map(
                _inpaint_files,
                [(files, str(inpainted_dir), bar.path) for files in batches],
                workers=jobs,
                min_items_per_worker=1,
            )
            for name in names
        ]
    features = features.with_columns(
        pl.col("image_id")
        .replace_strict(paths, default=None, return_dtype=pl.String)
        .alias("inpainted_path")
    )
    output_dir.mkdir(parents=True, exist_ok=True)
    features.write_parquet(output_dir / "features.parquet")
    analysed = features.filter(pl.col("error").is_null())
    unreadable = features.height - analysed.height
    kept = analysed.filter(pl.col("exclusion_reason").is_null()).height
    echo(
        f"{analysed.height} frames from {len(files) - unreadable} files"
        f" ({unreadable} unreadable): {int(analysed['has_calipers'].sum() or 0)} with calipers,"
        f" {twins.height} clean twins, {len(written)} inpainted,"
        f" {int(analysed['is_doppler'].sum() or 0)} Doppler, {kept} kept"
        f" in {time.perf_counter() - started:.1f} s"
    )
    echo(f"wrote {output_dir / 'features.parquet'} and {inpainted_dir}/")
    return 0
