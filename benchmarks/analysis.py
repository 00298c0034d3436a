"""Accuracy and speed benchmarks of the ultrasound analysis (numbers, never assertions).

* :func:`run_accuracy_benchmark` generates a fresh demo cohort (a seed the tests never use),
  de-identifies the frames the simple way (rows above the US regions blanked), analyses every
  frame (every ``frame_step``-th of a cine) and compares with the ground truth: crop-box IoU,
  caliper image precision/recall and point error, OCR field accuracy, Doppler
  precision/recall, twin pairs, and inpainting PSNR against the clean frame over the crop
  and inside the true caliper mask (with OpenCV TELEA on the true mask as the reference).
  It also renders a contact sheet of the detectors on the real ultrasound files of
  ``deid-data`` and ``pydicom-data`` (no labels: for a person to judge).
* :func:`run_text_benchmark` measures text detection and reading on the held-out screen
  generator (:mod:`cadbusi_demo.screens_heldout`), per layout family, for the tuning
  families and for the held-out families: text-box recall, false boxes per frame, annotation
  fields read, de-identification OCR verification ms/frame; printed beside the same figures
  measured before the shared detector (:data:`TEXT_BEFORE`).
* :func:`run_speed_benchmark` times the whole chain on 1024x768 demo frames in one process
  (CPU time, so "per core"): read + decode -> features (with and without OCR) -> inpaint ->
  PNG, with the share of every stage.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import statistics
import tempfile
import time
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import polars as pl
from PIL import Image, ImageDraw

from cadbusi_assets.dicom import iter_frames, read_dataset, ultrasound_regions
from cadbusi_assets.parallel import parallel_map
from cadbusi_assets.ultrasound.analysis import analyze_frame
from cadbusi_assets.ultrasound.inpaint import inpaint_calipers
from cadbusi_assets.ultrasound.ocr import engine as ocr_engine
from cadbusi_assets.ultrasound.ocr import read_boxes
from cadbusi_assets.ultrasound.overlay import to_grey
from cadbusi_assets.ultrasound.png import encode_png
from cadbusi_assets.ultrasound.preview import preview_png
from cadbusi_assets.ultrasound.twins import find_twins

#: Seeds of the benchmark corpora; the tests use other seeds.
ACCURACY_SEED = 20261122
SPEED_SEED = 20261123
#: A detected point within this many pixels of a true one is a hit.
POINT_TOLERANCE = 5.0
OCR_FIELDS = ("laterality", "orientation", "clock_position", "nipple_distance_cm", "body_area")
TARGETS = {
    "crop_iou_median": 0.97,
    "crop_iou_worst": 0.90,
    "caliper_precision": 0.98,
    "caliper_recall": 0.97,
    "caliper_point_error_median_px": 2.0,
    "ocr_field_accuracy": 0.95,
    "psnr_crop_db": 40.0,
    "psnr_mask_db": 20.0,
    "images_per_s_per_core": 30.0,
}


def generate_corpus(
    out_dir: Path, seed: int, days: int, studies_per_day: tuple[int, int] = (2, 4)
) -> Path:
    """A demo cohort for the benchmark (the demo generator is deterministic per seed)."""
    from cadbusi_demo import DemoConfig, generate_demo_cohort

    config = DemoConfig(
        start=dt.date(2026, 9, 1), days=days, studies_per_day=studies_per_day, seed=seed
    )
    generate_demo_cohort(out_dir, config)
    return Path(out_dir)


def blank_header(frame: np.ndarray, regions: Iterable[Any]) -> np.ndarray:
    """Zero the rows above the US regions (what de-identification does to the PHI band)."""
    tops = [r.y0 for r in regions]
    if not tops:
        return frame
    out = frame.copy()
    out[: min(tops)] = 0
    return out


def box_iou(a: Iterable[int], b: Iterable[int]) -> float:
    ax0, ay0, ax1, ay1 = a
    bx0, by0, bx1, by1 = b
    iw = max(0, min(ax1, bx1) - max(ax0, bx0) + 1)
    ih = max(0, min(ay1, by1) - max(ay0, by0) + 1)
    inter = iw * ih
    union = (ax1 - ax0 + 1) * (ay1 - ay0 + 1) + (bx1 - bx0 + 1) * (by1 - by0 + 1) - inter
    return inter / union if union else 0.0


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)) if a.size else 0.0
    return 99.0 if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def true_caliper_mask(shape: tuple[int, int], truth: dict[str, Any]) -> np.ndarray:
    """Every pixel the demo generator drew for the calipers (glyphs and dotted lines)."""
    from cadbusi_demo.overlays import dotted_line_pixels, glyph_pixels

    mask = np.zeros(shape, bool)
    size, stroke, style = (
        truth["caliper_size_px"],
        truth["caliper_stroke_px"],
        truth["caliper_style"],
    )
    parts = [glyph_pixels(x, y, style, size, stroke) for x, y in truth["caliper_points"]]
    parts += [
        dotted_line_pixels((ax, ay), (bx, by), size // 2 + 4)
        for ax, ay, bx, by in truth["caliper_lines"]
    ]
    for ys, xs in parts:
        keep = (ys >= 0) & (ys < shape[0]) & (xs >= 0) & (xs < shape[1])
        mask[ys[keep], xs[keep]] = True
    return mask


def match_points(found: list[list[int]], truth: list[list[int]]) -> list[float]:
    """Greedy nearest matching; the errors (px) of the matched pairs."""
    pairs = sorted(
        (math.hypot(f[0] - t[0], f[1] - t[1]), i, j)
        for i, f in enumerate(found)
        for j, t in enumerate(truth)
    )
    used_f, used_t, errors = set(), set(), []
    for distance, i, j in pairs:
        if distance > POINT_TOLERANCE or i in used_f or j in used_t:
            continue
        used_f.add(i)
        used_t.add(j)
        errors.append(distance)
    return errors


@dataclass(frozen=True)
class _FileJob:
    dicom: str
    truth: str
    clean_dir: str
    frame_step: int
    ocr: bool


def _evaluate_file(job: _FileJob) -> list[dict[str, Any]]:
    truth = json.loads(Path(job.truth).read_text())
    ds = read_dataset(job.dicom)
    regions = ultrasound_regions(ds)
    by_index = {f["index"]: f for f in truth["frames"]}
    records = []
    for index, raw in iter_frames(ds, step=job.frame_step):
        frame = blank_header(raw, regions)
        gt = by_index[index]
        started = time.process_time()
        analysis = analyze_frame(frame, regions, ocr=job.ocr, frame_index=index)
        elapsed = time.process_time() - started
        row = analysis.as_row()
        record: dict[str, Any] = {
            "image_id": f"{truth['sop_instance_uid']}_f{index}",
            "sop": truth["sop_instance_uid"],
            "study_key": truth["study_instance_uid"],
            "layout": truth["layout"],
            "encoding": truth["transfer_syntax"],
            "dual": truth["is_dual_view"],
            "cine": truth["is_cine"],
            "seconds": elapsed,
            "crop_iou": box_iou(analysis.fov.box, gt["crop_box"]) if analysis.fov.box else 0.0,
            "shape_ok": row["fov_shape"] == gt["fov_shape"],
            "gt_calipers": bool(gt["has_calipers"]),
            "has_calipers": bool(row["has_calipers"]),
            "gt_points": len(gt["caliper_points"]),
            "found_points": len(row["caliper_points"]),
            "point_errors": match_points(row["caliper_points"], gt["caliper_points"]),
            "gt_doppler": bool(gt["is_doppler"]),
            "is_doppler": bool(row["is_doppler"]),
            "twin_of": gt.get("twin_of"),
            "clean_twin": gt.get("clean_twin_sop_instance_uid"),
            "signature": row["signature"],
            "crop_x0": row["crop_x0"],
            "crop_y0": row["crop_y0"],
            "crop_x1": row["crop_x1"],
            "crop_y1": row["crop_y1"],
            "exclusion_multiple_regions": row["region_count"] > 1,
        }
        if job.ocr:
            found = {
                "laterality": row["ocr_laterality"],
                "orientation": row["orientation"],
                "clock_position": row["clock_position"],
                "nipple_distance_cm": row["nipple_distance_cm"],
                "body_area": row["body_area"],
            }
            expected = {field: gt[field] for field in OCR_FIELDS}
            if gt["laterality"] is not None:
                expected["laterality"] = str(gt["laterality"]).upper()
            record["ocr_ok"] = {field: found[field] == expected[field] for field in OCR_FIELDS}
            record["ocr_wrong"] = {
                f: (found[f], expected[f]) for f in OCR_FIELDS if found[f] != expected[f]
            }
        clean_path = Path(job.clean_dir) / f"{truth['sop_instance_uid']}_f{index}.png"
        if gt["has_calipers"] and clean_path.exists():
            clean = to_grey(np.asarray(Image.open(clean_path).convert("RGB")))
            true_mask = true_caliper_mask(clean.shape, gt)
            x0, y0, x1, y1 = gt["crop_box"]
            crop = (slice(y0, y1 + 1), slice(x0, x1 + 1))
            ours, our_mask = inpaint_calipers(frame, row["caliper_points"])
            ours_grey = to_grey(ours)
            telea, _ = inpaint_calipers(frame, gt["caliper_points"], method="telea", mask=true_mask)
            ours_true, _ = inpaint_calipers(frame, gt["caliper_points"], mask=true_mask)
            untouched = to_grey(frame)
            record.update(
                psnr_crop=psnr(ours_grey[crop], clean[crop]),
                psnr_mask=psnr(ours_grey[true_mask], clean[true_mask]),
                psnr_crop_telea_true_mask=psnr(to_grey(telea)[crop], clean[crop]),
                psnr_mask_telea_true_mask=psnr(to_grey(telea)[true_mask], clean[true_mask]),
                psnr_mask_ours_true_mask=psnr(to_grey(ours_true)[true_mask], clean[true_mask]),
                psnr_crop_before=psnr(untouched[crop], clean[crop]),
                psnr_mask_before=psnr(untouched[true_mask], clean[true_mask]),
                mask_pixels=int(our_mask.sum()),
                true_mask_pixels=int(true_mask.sum()),
                true_mask_covered=float(our_mask[true_mask].mean()) if true_mask.any() else 1.0,
            )
        records.append(record)
    return records


def _ratio(numerator: int, denominator: int) -> float:
    return round(numerator / denominator, 4) if denominator else float("nan")


def _summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    ious = [r["crop_iou"] for r in records]
    single = [r for r in records if not r["dual"]]
    tp = sum(r["gt_calipers"] and r["has_calipers"] for r in records)
    fp = sum((not r["gt_calipers"]) and r["has_calipers"] for r in records)
    fn = sum(r["gt_calipers"] and not r["has_calipers"] for r in records)
    errors = [e for r in records for e in r["point_errors"]]
    matched = len(errors)
    found_points = sum(r["found_points"] for r in records)
    gt_points = sum(r["gt_points"] for r in records)
    dtp = sum(r["gt_doppler"] and r["is_doppler"] for r in records)
    dfp = sum((not r["gt_doppler"]) and r["is_doppler"] for r in records)
    dfn = sum(r["gt_doppler"] and not r["is_doppler"] for r in records)
    out: dict[str, Any] = {
        "frames": len(records),
        "files": len({r["sop"] for r in records}),
        "crop_iou_median": round(statistics.median(ious), 4),
        "crop_iou_worst": round(min(ious), 4),
        "crop_iou_worst_single_view": round(min(r["crop_iou"] for r in single), 4)
        if single
        else None,
        "fov_shape_accuracy": _ratio(sum(r["shape_ok"] for r in records), len(records)),
        "caliper_images": tp + fn,
        "caliper_precision": _ratio(tp, tp + fp),
        "caliper_recall": _ratio(tp, tp + fn),
        "caliper_point_precision": _ratio(matched, found_points),
        "caliper_point_recall": _ratio(matched, gt_points),
        "caliper_point_error_median_px": round(statistics.median(errors), 3) if errors else None,
        "caliper_point_error_p95_px": round(float(np.percentile(errors, 95)), 3)
        if errors
        else None,
        "doppler_images": dtp + dfn,
        "doppler_precision": _ratio(dtp, dtp + dfp),
        "doppler_recall": _ratio(dtp, dtp + dfn),
        "analysis_ms_per_frame_median": round(
            1000 * statistics.median(r["seconds"] for r in records), 2
        ),
    }
    if records and "ocr_ok" in records[0]:
        per_field = {
            f: _ratio(sum(r["ocr_ok"][f] for r in records), len(records)) for f in OCR_FIELDS
        }
        out["ocr_field_accuracy_by_field"] = per_field
        out["ocr_field_accuracy"] = _ratio(
            sum(sum(r["ocr_ok"].values()) for r in records), len(records) * len(OCR_FIELDS)
        )
        wrong = [r["ocr_wrong"] for r in records if r["ocr_wrong"]]
        out["ocr_examples_wrong"] = wrong[:5]
    inpainted = [r for r in records if "psnr_crop" in r]
    if inpainted:
        for key in (
            "psnr_crop",
            "psnr_mask",
            "psnr_crop_telea_true_mask",
            "psnr_mask_telea_true_mask",
            "psnr_mask_ours_true_mask",
            "psnr_crop_before",
            "psnr_mask_before",
        ):
            out[f"{key}_db"] = round(statistics.mean(r[key] for r in inpainted), 2)
        out["psnr_mask_worst_db"] = round(min(r["psnr_mask"] for r in inpainted), 2)
        out["inpainted_frames"] = len(inpainted)
        out["true_mask_covered"] = round(
            statistics.mean(r["true_mask_covered"] for r in inpainted), 4
        )
        out["mask_to_true_mask_ratio"] = round(
            sum(r["mask_pixels"] for r in inpainted)
            / max(1, sum(r["true_mask_pixels"] for r in inpainted)),
            2,
        )
    twins_truth = {
        (f"{r['sop']}_f0", f"{r['clean_twin']}_f0")
        for r in records
        if r["clean_twin"] and r["gt_calipers"]
    }
    table = pl.DataFrame(
        [
            {
                k: r[k]
                for k in (
                    "image_id",
                    "study_key",
                    "has_calipers",
                    "signature",
                    "crop_x0",
                    "crop_y0",
                    "crop_x1",
                    "crop_y1",
                )
            }
            for r in records
        ]
    )
    found_pairs = {(a, b) for a, b, _ in find_twins(table).iter_rows()}
    out["twin_pairs"] = len(twins_truth)
    out["twin_precision"] = _ratio(len(found_pairs & twins_truth), len(found_pairs))
    out["twin_recall"] = _ratio(len(found_pairs & twins_truth), len(twins_truth))
    by_layout: dict[str, list[float]] = defaultdict(list)
    for r in records:
        by_layout[r["layout"]].append(r["crop_iou"])
    out["crop_iou_median_by_layout"] = {
        k: round(statistics.median(v), 4) for k, v in sorted(by_layout.items())
    }
    return out


def real_ultrasound_files() -> list[tuple[str, Path]]:
    """The real US test files of deid-data (cines unzipped to a temp folder) and pydicom-data."""
    from pydicom.data import get_testdata_file

    files: list[tuple[str, Path]] = []
    try:
        import deid_data

        folder = Path(deid_data.__file__).parent / "data" / "ultrasounds"
        unzip_to = Path(tempfile.gettempdir()) / "cadbusi-deid-data-cines"
        for zipped in sorted(folder.glob("*.zip")):
            with zipfile.ZipFile(zipped) as archive:
                for name in archive.namelist():
                    if name.endswith(".dcm") and not (unzip_to / name).exists():
                        archive.extract(name, unzip_to)
                    if name.endswith(".dcm"):
                        files.append((f"deid-data/{Path(name).name}", unzip_to / name))
        files += [(f"deid-data/{p.name}", p) for p in sorted(folder.glob("*.dcm"))]
    except ImportError:
        pass
    for name in (
        "US1_UNCR.dcm",
        "OBXXXX1A.dcm",
        "gdcm-US-ALOKA-16.dcm",
        "color3d_jpeg_baseline.dcm",
        "JPGLosslessP14SV1_1s_1f_8b.dcm",
        "examples_ybr_color.dcm",
    ):
        path = get_testdata_file(name, download=False)
        if path:
            files.append((f"pydicom-data/{name}", Path(path)))
    return files


def contact_sheet(
    files: list[tuple[str, Path]], out_png: Path, ocr: bool = True, columns: int = 3
) -> Path:
    """Detections on real files (crop, FOV, calipers, debris | inpainted), one tile each."""
    tiles = []
    for label, path in files:
        ds = read_dataset(path)
        regions = ultrasound_regions(ds)
        _, frame = next(iter_frames(ds, indices=[0]))
        analysis = analyze_frame(frame, regions, ocr=ocr)
        inpainted, _ = inpaint_calipers(frame, analysis.calipers.points)
        picture = Image.open(
            __import__("io").BytesIO(preview_png(frame, analysis, inpainted))
        ).convert("RGB")
        row = analysis.as_row()
        lines = [
            f"{label}  {frame.shape[1]}x{frame.shape[0]}  regions={len(regions)}",
            f"crop={analysis.fov.box} {row['fov_shape']} ({row['fov_source']}) dark={row['darkness']}",
            f"calipers={len(row['caliper_points'])} conf={row['caliper_confidence']:.2f} doppler={row['is_doppler']}",
            f"side={row['ocr_laterality']} clock={row['clock_position']} dist={row['nipple_distance_cm']} "
            f"orient={row['orientation']} area={row['body_area']}",
        ]
        tile = Image.new("RGB", (picture.width, picture.height + 14 * len(lines) + 6), (24, 24, 24))
        tile.paste(picture, (0, 0))
        draw = ImageDraw.Draw(tile)
        for k, text in enumerate(lines):
            draw.text((4, picture.height + 3 + 14 * k), text, fill=(235, 235, 235))
        tiles.append(tile)
    width = max(t.width for t in tiles) if tiles else 1
    rows = [tiles[i : i + columns] for i in range(0, len(tiles), columns)]
    height = sum(max(t.height for t in r) for r in rows) if rows else 1
    sheet = Image.new("RGB", (width * columns, height), (0, 0, 0))
    y = 0
    for r in rows:
        for k, tile in enumerate(r):
            sheet.paste(tile, (k * width, y))
        y += max(t.height for t in r)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out_png, format="PNG", compress_level=1)
    return out_png


def run_accuracy_benchmark(
    seed: int = ACCURACY_SEED,
    days: int = 10,
    *,
    out_dir: Path | None = None,
    frame_step: int = 5,
    ocr: bool = True,
    workers: int | None = None,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Detector accuracy against the demo ground truth, plus the real-file contact sheet."""
    work = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="cadbusi-us-bench-"))
    corpus = work / "corpus"
    started = time.perf_counter()
    generate_corpus(corpus, seed, days)
    echo(
        f"demo corpus (seed {seed}, {days} days) in {time.perf_counter() - started:.0f} s: {corpus}"
    )
    truth_dir = corpus / "ground_truth"
    jobs = []
    for truth_path in sorted(truth_dir.glob("*.json")):
        truth = json.loads(truth_path.read_text())
        dicom = corpus / "pacs" / truth["study_instance_uid"] / f"{truth['sop_instance_uid']}.dcm"
        jobs.append(
            _FileJob(str(dicom), str(truth_path), str(truth_dir / "clean"), frame_step, ocr)
        )
    started = time.perf_counter()
    records = [r for rs in parallel_map(_evaluate_file, jobs, workers=workers) for r in rs]
    echo(
        f"analysed {len(records)} frames of {len(jobs)} files in {time.perf_counter() - started:.0f} s"
    )
    results = _summarize(records)
    results.update(seed=seed, days=days, frame_step=frame_step)
    sheet = contact_sheet(real_ultrasound_files(), work / "real_files_contact_sheet.png", ocr=ocr)
    results["contact_sheet"] = str(sheet)
    return results


def _speed_corpus(corpus: Path, seed: int, n: int) -> tuple[list[Path], int]:
    """At least ``n`` single-frame 1024x768 files (more demo days until there are)."""
    days = max(2, n // 20)
    while True:
        generate_corpus(corpus, seed, days, studies_per_day=(4, 6))
        files = []
        for truth_path in sorted((corpus / "ground_truth").glob("*.json")):
            truth = json.loads(truth_path.read_text())
            if truth["columns"] == 1024 and truth["rows"] == 768 and not truth["is_cine"]:
                study, sop = truth["study_instance_uid"], truth["sop_instance_uid"]
                files.append(corpus / "pacs" / study / f"{sop}.dcm")
        if len(files) >= n or days >= 256:
            return files[:n], days
        days *= 2


def run_speed_benchmark(
    n: int = 200,
    *,
    seed: int = SPEED_SEED,
    out_dir: Path | None = None,
    ocr: bool = True,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """CPU time per stage on ``n`` 1024x768 single-frame demo images, one process, one
    OpenCV thread (so the figure is per core): read + decode, features (FOV, darkness,
    Doppler, calipers, text lines), OCR of the text lines, inpainting of caliper frames, and
    the PNG of the field-of-view crop (grey unless Doppler). Every image is new to the OCR
    cache except for UI text repeated across a device's screens, as in production."""
    import os

    work = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="cadbusi-us-speed-"))
    files, days = _speed_corpus(work / "corpus", seed, n)
    echo(f"speed corpus: {len(files)} single-frame 1024x768 files ({days} demo days, seed {seed})")
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    stages = ("read+decode", "features", "ocr", "inpaint", "png")
    totals = dict.fromkeys(stages, 0.0)
    calipers = png_bytes = 0
    full_frame_png = 0.0
    try:
        # Warm-up on another seed's frame: imports, OpenCV kernels, the tesseract engine.
        warm = work / "warm-up"
        generate_corpus(warm, seed + 1, 1, studies_per_day=(1, 1))
        for path in sorted((warm / "pacs").rglob("*.dcm"))[:2]:
            ds = read_dataset(path)
            regions = ultrasound_regions(ds)
            _, frame = next(iter_frames(ds))
            analyze_frame(blank_header(frame, regions), regions, ocr=ocr)
        load = os.getloadavg()[0]
        reader = ocr_engine()
        hits, misses = reader.hits, reader.misses
        wall = time.perf_counter()
        for path in files:
            t0 = time.process_time()
            ds = read_dataset(path)
            regions = ultrasound_regions(ds)
            _, frame = next(iter_frames(ds))
            frame = blank_header(frame, regions)
            t1 = time.process_time()
            analysis = analyze_frame(frame, regions, ocr=False)
            t2 = time.process_time()
            if ocr and analysis.ocr.boxes:
                read_boxes(frame, analysis.ocr.boxes)
            t3 = time.process_time()
            out = frame
            if analysis.calipers.has_calipers:
                out, _ = inpaint_calipers(frame, analysis.calipers.points)
                calipers += 1
            t4 = time.process_time()
            x0, y0, x1, y1 = analysis.fov.box or (0, 0, frame.shape[1] - 1, frame.shape[0] - 1)
            tolerance = 0 if analysis.is_doppler else PNG_GREY_TOLERANCE
            png_bytes += len(encode_png(out[y0 : y1 + 1, x0 : x1 + 1], grey_tolerance=tolerance))
            t5 = time.process_time()
            for stage, seconds in zip(
                stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4), strict=True
            ):
                totals[stage] += seconds
            t6 = time.process_time()
            encode_png(out, grey_tolerance=tolerance)
            full_frame_png += time.process_time() - t6
        wall = time.perf_counter() - wall
        hits, misses = reader.hits - hits, reader.misses - misses
    finally:
        cv2.setNumThreads(threads)
    cpu = sum(totals.values())
    count = len(files)
    return {
        "images": count,
        "with_calipers": calipers,
        "ocr": ocr,
        "images_per_s_per_core": round(count / cpu, 1) if cpu else None,
        "images_per_s_per_core_without_ocr": round(count / (cpu - totals["ocr"]), 1)
        if cpu
        else None,
        "cpu_ms_per_image": round(1000 * cpu / count, 2),
        "stage_ms_per_image": {k: round(1000 * v / count, 2) for k, v in totals.items()},
        "stage_share": {k: round(v / cpu, 3) for k, v in totals.items()} if cpu else {},
        "png_kb_per_image": round(png_bytes / count / 1024, 1),
        "full_frame_png_ms_per_image": round(1000 * full_frame_png / count, 2),
        "ocr_reads_per_image": round(misses / count, 2),
        "ocr_cache_hit_rate": round(hits / (hits + misses), 3) if hits + misses else None,
        "wall_images_per_s": round(count / wall, 1),
        "load_average_at_start": round(load, 2),
    }


#: Chroma noise that JPEG leaves on grey pixels; within it a frame is written as grey PNG.
PNG_GREY_TOLERANCE = 12


def format_report(
    accuracy: dict[str, Any] | None = None, speed: dict[str, Any] | None = None
) -> str:
    """Figures against the issue's targets, one per line."""
    merged = {**(accuracy or {}), **(speed or {})}
    lines = [
        "ultrasound analysis benchmark",
        "figure                                   value     target",
    ]
    for key, target in TARGETS.items():
        if key in merged:
            value = merged[key]
            ok = value is not None and not (isinstance(value, float) and math.isnan(value))
            lower_is_better = key.endswith("_px")
            passed = ok and (value <= target if lower_is_better else value >= target)
            mark = "ok" if passed else "MISSED"
            lines.append(
                f"{key:40s} {value!s:>9} {'<=' if lower_is_better else '>='} {target}  {mark}"
            )
    for key, value in merged.items():
        if key not in TARGETS:
            lines.append(f"{key:40s} {json.dumps(value, default=str)}")
    return "\n".join(lines)


#: :func:`run_text_benchmark`'s figures measured with the same code on commit 99b1fc3 (the
#: annotation reader's own detector and the de-identification's, before they were shared),
#: 12 frames per family (seed TEXT_SEED), on the shared 2-core development machine under a
#: load average of about 8 (CPU milliseconds; compare with a run made on the same machine).
TEXT_BEFORE: dict[str, dict[str, Any]] = {
    "ge_logiq": {
        "frames": 12,
        "recall_annotation_detector": 1.0,
        "false_per_frame_annotation_detector": 7.167,
        "recall_deid_detector": 1.0,
        "false_per_frame_deid_detector": 40.167,
        "annotation_fields_read": 0.94,
        "detect_ms_median": 4.3,
        "verify_ms_raw_median": 454.1,
        "verify_ms_cleaned_median": 410.9,
        "verify_ms_cleaned_mean": 383.8,
    },
    "philips_epiq": {
        "frames": 12,
        "recall_annotation_detector": 1.0,
        "false_per_frame_annotation_detector": 7.667,
        "recall_deid_detector": 1.0,
        "false_per_frame_deid_detector": 37.0,
        "annotation_fields_read": 0.9375,
        "detect_ms_median": 5.4,
        "verify_ms_raw_median": 366.8,
        "verify_ms_cleaned_median": 323.5,
        "verify_ms_cleaned_mean": 330.5,
    },
    "siemens_s2000": {
        "frames": 12,
        "recall_annotation_detector": 0.69,
        "false_per_frame_annotation_detector": 2.667,
        "recall_deid_detector": 1.0,
        "false_per_frame_deid_detector": 17.5,
        "annotation_fields_read": 0.7708,
        "detect_ms_median": 3.0,
        "verify_ms_raw_median": 253.3,
        "verify_ms_cleaned_median": 192.3,
        "verify_ms_cleaned_mean": 181.0,
    },
    "canon_aplio": {
        "frames": 12,
        "recall_annotation_detector": 1.0,
        "false_per_frame_annotation_detector": 6.417,
        "recall_deid_detector": 1.0,
        "false_per_frame_deid_detector": 39.75,
        "annotation_fields_read": 1.0,
        "detect_ms_median": 3.7,
        "verify_ms_raw_median": 468.1,
        "verify_ms_cleaned_median": 411.7,
        "verify_ms_cleaned_mean": 386.6,
    },
    "samsung_rs": {
        "frames": 12,
        "recall_annotation_detector": 1.0,
        "false_per_frame_annotation_detector": 7.0,
        "recall_deid_detector": 0.9672,
        "false_per_frame_deid_detector": 42.75,
        "annotation_fields_read": 0.98,
        "detect_ms_median": 5.7,
        "verify_ms_raw_median": 419.3,
        "verify_ms_cleaned_median": 333.7,
        "verify_ms_cleaned_mean": 382.6,
    },
    "sonosite_edge": {
        "frames": 12,
        "recall_annotation_detector": 0.713,
        "false_per_frame_annotation_detector": 1.917,
        "recall_deid_detector": 1.0,
        "false_per_frame_deid_detector": 9.5,
        "annotation_fields_read": 0.7115,
        "detect_ms_median": 2.8,
        "verify_ms_raw_median": 180.7,
        "verify_ms_cleaned_median": 118.0,
        "verify_ms_cleaned_mean": 117.1,
    },
    "mindray_dc": {
        "frames": 12,
        "recall_annotation_detector": 0.9837,
        "false_per_frame_annotation_detector": 11.0,
        "recall_deid_detector": 0.9837,
        "false_per_frame_deid_detector": 52.0,
        "annotation_fields_read": 0.9388,
        "detect_ms_median": 5.3,
        "verify_ms_raw_median": 600.8,
        "verify_ms_cleaned_median": 546.0,
        "verify_ms_cleaned_mean": 537.3,
    },
    "tuning": {
        "frames": 36,
        "recall_annotation_detector": 0.9109,
        "false_per_frame_annotation_detector": 5.833,
        "recall_deid_detector": 1.0,
        "false_per_frame_deid_detector": 31.556,
        "annotation_fields_read": 0.8836,
        "detect_ms_median": 4.1,
        "verify_ms_raw_median": 357.3,
        "verify_ms_cleaned_median": 294.6,
        "verify_ms_cleaned_mean": 298.4,
    },
    "held_out": {
        "frames": 48,
        "recall_annotation_detector": 0.9286,
        "false_per_frame_annotation_detector": 6.583,
        "recall_deid_detector": 0.987,
        "false_per_frame_deid_detector": 36.0,
        "annotation_fields_read": 0.9045,
        "detect_ms_median": 4.4,
        "verify_ms_raw_median": 381.2,
        "verify_ms_cleaned_median": 301.1,
        "verify_ms_cleaned_mean": 355.9,
    },
}


def run_text_benchmark(
    frames_per_family: int = 20, seed: int | None = None, echo: Callable[[str], None] = print
) -> dict[str, Any]:
    """Text detection and reading per layout family and for the held-out families (see
    :mod:`benchmarks.textlines`), printed after the figures measured before
    the shared detector; returns ``{"after": ..., "before": TEXT_BEFORE}``."""
    from benchmarks.textlines import (
        TEXT_SEED,
        format_text_report,
    )
    from benchmarks.textlines import (
        run_text_benchmark as measure,
    )

    after = measure(frames_per_family, TEXT_SEED if seed is None else seed)
    if TEXT_BEFORE:
        echo("before (commit 99b1fc3):")
        echo(format_text_report(TEXT_BEFORE))
    echo("after:")
    echo(format_text_report(after))
    return {"after": after, "before": TEXT_BEFORE}
