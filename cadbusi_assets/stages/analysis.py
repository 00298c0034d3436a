"""Image analysis and inpainting stages over the de-identified images of one study date.

``image_features``: one row per image (field of view, calipers, Doppler, darkness, OCR fields,
quality, exclusion reason) plus caliper/clean twin pairs. ``inpainted_images``: a caliper-free
PNG for every image with calipers and no clean twin.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import polars as pl
from PIL import Image

from cadbusi_assets.dicom import UltrasoundRegion
from cadbusi_assets.parallel import parallel_map, resolve_workers
from cadbusi_assets.settings import require_ocr
from cadbusi_assets.stages.deidentification import IMAGES_TABLE, STUDIES_TABLE, shard_path
from cadbusi_assets.stages.previews import inpainting_preview
from cadbusi_assets.stages.report import PartitionReport, reason_counts
from cadbusi_assets.stages.safety import guard_shrink
from cadbusi_assets.storage import Zone, read_partition_table, write_partition_table
from cadbusi_assets.ultrasound import (
    analyze_frame,
    encode_png,
    exclusion_reasons,
    find_twins,
    image_signature,
)
from cadbusi_assets.ultrasound.inpaint import inpaint_frames

FEATURES_TABLE = "image_features"
TWINS_TABLE = "twins"
INPAINTED_TABLE = "inpainted_images"


def load_png(zone: Zone, path: str) -> np.ndarray:
    with Image.open(io.BytesIO(zone.read_bytes(path))) as image:
        return np.asarray(image.convert("RGB") if image.mode not in ("L", "RGB") else image)


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


def _regions(task: AnalysisTask) -> list[UltrasoundRegion]:
    formats = task.region_formats or (None,) * len(task.regions)
    types = task.region_data_types or (None,) * len(task.regions)
    return [
        UltrasoundRegion(int(b[0]), int(b[1]), int(b[2]), int(b[3]), spatial_format=f, data_type=t)
        for b, f, t in zip(task.regions, formats, types, strict=False)
    ]


def analyze_one(task: AnalysisTask) -> dict[str, Any]:
    frame = load_png(task.zone, task.png_path)
    analysis = analyze_frame(
        frame,
        _regions(task),
        ocr=task.ocr,
        study_laterality=task.study_laterality,
        frame_index=task.frame,
    )
    row = analysis.as_row()
    row.pop("frame", None)  # the images table already has it
    crop = (row["crop_x0"], row["crop_y0"], row["crop_x1"], row["crop_y1"])
    row["signature"] = image_signature(frame, crop).astype(np.int16).ravel().tolist()
    row["image_id"] = task.image_id
    return row


def analyze_partition(
    research_zone: Zone,
    batch: str,
    *,
    ocr: bool = True,
    workers: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> PartitionReport:
    require_ocr(ocr)  # no silent OCR-off: a missing tesseract stops the run here
    images = read_partition_table(research_zone, IMAGES_TABLE, batch)
    studies = read_partition_table(research_zone, STUDIES_TABLE, batch)
    if images is None:
        raise FileNotFoundError(
            "deidentified_images for this date is missing; materialize it first."
        )
    laterality = {}
    if studies is not None and studies.height:
        laterality = dict(studies.select("accession_pseudo", "study_laterality").iter_rows())
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
    features = pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame()
    report = PartitionReport(batch)
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
        twins = find_twins(features.with_columns(study_key=pl.col("accession_pseudo")))
    else:
        twins = pl.DataFrame(
            schema={"caliper_image_id": pl.Utf8, "clean_image_id": pl.Utf8, "distance": pl.Float64}
        )
    twins = twins.sort("caliper_image_id") if twins.height else twins
    write_partition_table(research_zone, FEATURES_TABLE, batch, features)
    write_partition_table(research_zone, TWINS_TABLE, batch, twins)

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
    png_path: str
    caliper_points: tuple[tuple[int, int], ...]
    crop: tuple[int, int, int, int] | None
    is_doppler: bool
    method: str
    want_preview: bool


#: Frames per inpainting batch (one batched torch call, on the GPU when there is one).
INPAINT_BATCH_FRAMES = 32


def inpaint_chunk(tasks: list[InpaintTask]) -> list[dict[str, Any]]:
    """Inpaint a batch of images in one :func:`inpaint_frames` call, then write their PNGs."""
    if not tasks:
        return []
    frames = [load_png(task.zone, task.png_path) for task in tasks]
    done = inpaint_frames(frames, [task.caliper_points for task in tasks], method=tasks[0].method)
    rows = []
    for task, frame, (inpainted, mask) in zip(tasks, frames, done, strict=True):
        # non-Doppler frames are stored grey even if the caliper tint left a few coloured pixels
        png = encode_png(inpainted, grey_tolerance=0 if task.is_doppler else 12)
        path = shard_path("inpainted", task.image_id, ".png")
        task.zone.write_bytes(path, png)
        row: dict[str, Any] = {
            "image_id": task.image_id,
            "inpainted_path": "/".join(path),
            "inpainted_sha256": hashlib.sha256(png).hexdigest(),
            "mask_pixels": int(mask.sum()),
            "method": "torch" if task.method == "auto" else task.method,
            "preview": None,
        }
        if task.want_preview:
            row["preview"] = inpainting_preview(frame, inpainted, task.caliper_points, task.crop)
        rows.append(row)
    return rows


def inpaint_batches(
    tasks: list[InpaintTask], workers: int | None = None
) -> list[list[InpaintTask]]:
    """Consecutive batches of at most :data:`INPAINT_BATCH_FRAMES` tasks, at least one per
    worker when there are enough (the output does not depend on the batching)."""
    if len(tasks) < 8:
        return [tasks] if tasks else []
    size = min(INPAINT_BATCH_FRAMES, max(4, -(-len(tasks) // resolve_workers(workers))))
    return [tasks[i : i + size] for i in range(0, len(tasks), size)]


def inpaint_partition(
    research_zone: Zone,
    batch: str,
    *,
    method: str = "auto",
    workers: int | None = None,
    previews: int = 3,
    progress: Callable[[str], None] | None = None,
) -> PartitionReport:
    features = read_partition_table(research_zone, FEATURES_TABLE, batch)
    images = read_partition_table(research_zone, IMAGES_TABLE, batch)
    twins = read_partition_table(research_zone, TWINS_TABLE, batch)
    if features is None or images is None:
        raise FileNotFoundError("image_features for this date is missing; materialize it first.")
    twinned = (
        set(twins["caliper_image_id"].to_list()) if twins is not None and twins.height else set()
    )
    targets = (
        features.filter(pl.col("has_calipers").fill_null(False))
        .filter(~pl.col("image_id").is_in(list(twinned)))
        .join(images.select("image_id", "png_path"), on="image_id")
        .sort("image_id")
        if features.height
        else features
    )
    tasks = [
        InpaintTask(
            research_zone,
            row["image_id"],
            row["png_path"],
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
        )
        for i, row in enumerate(targets.iter_rows(named=True))
    ]
    if progress:
        progress(f"inpainting {len(tasks)} images")
    batches = inpaint_batches(tasks, workers)
    rows = [
        row
        for rows in parallel_map(inpaint_chunk, batches, workers=workers, min_items_per_worker=1)
        for row in rows
    ]
    previews_out = {
        f"inpainting_{i + 1}": r.pop("preview") for i, r in enumerate(rows) if r.get("preview")
    }
    for r in rows:
        r.pop("preview", None)
    table = pl.DataFrame(
        rows,
        schema={
            "image_id": pl.Utf8,
            "inpainted_path": pl.Utf8,
            "inpainted_sha256": pl.Utf8,
            "mask_pixels": pl.Int64,
            "method": pl.Utf8,
        },
        orient="row",
    ).sort("image_id")
    previous = read_partition_table(research_zone, INPAINTED_TABLE, batch)
    guard_shrink(  # a sharp drop fails before anything is replaced or deleted
        "inpainted images",
        batch,
        0 if previous is None else previous.height,
        table.height,
        source="inpainting",
    )
    write_partition_table(research_zone, INPAINTED_TABLE, batch, table)
    stale = 0
    if previous is not None and previous.height:
        keep = set(table["inpainted_path"].to_list())
        for path in previous["inpainted_path"].to_list():
            if path not in keep and research_zone.delete(path):
                stale += 1
    report = PartitionReport(batch, row_count=table.height)
    report.count("inpainted", table.height)
    report.count("with_calipers_and_clean_twin", len(twinned))
    report.count("stale_files_removed", stale)
    report.previews.update(previews_out)
    return report
