"""Crop, calipers and inpainting on the domain-randomized screens (:mod:`cadbusi_demo.screens_heldout`).

``python -m benchmarks.screens --frames N`` renders ``N`` frames of every family and prints,
per family, for the tuning families together and for the held-out families together:

* **crop IoU** median and worst: :func:`~cadbusi_assets.ultrasound.analysis.analyze_frame`'s
  crop box against the box of the generator's field-of-view mask. On dual views (two images
  side by side) the generator's mask holds both images, and so does its box: the analysis
  crop is compared with the box around *all* the images of the frame (the crop that keeps
  every pixel of ultrasound);
* **calipers** precision and recall (a found point matches a true mark centre within
  :data:`POINT_TOLERANCE` px, greedy nearest first) and the median and max point error of
  the matched points; ``frames_false`` counts frames with 0 true calipers where some were
  found;
* **inpainting** PSNR (inpainted frame against the generator's clean frame, grey levels) over
  the true crop box and inside the true caliper mask. Text is not the caliper inpainting's
  job: pixels the generator changed that are not calipers (text, a result box's backing) are
  left out of the crop figure. The true caliper mask is the generator's ``caliper_mask`` when
  it has one, else every changed pixel outside the text boxes that is not black. JPEG frames are compared
  against the clean (never compressed) frame too, so their PSNR includes the JPEG loss.
  ``dB@true`` is the median PSNR inside the mask when the generator's own caliper points are
  inpainted instead of the found ones: the mask and the fill alone, without the marks the
  detector missed;
* **speed**: frames/s on one core (OpenCV and torch limited to one thread) of
  ``analyze_frame(ocr=False)`` plus :func:`~cadbusi_assets.ultrasound.inpaint.inpaint_frames`
  of the found points, the best of several repeats over the first frames of each family;
  and the same as the one pass runs it (``cadbusi deidentify --analyze``, the
  ``imaging_step`` asset), where the analysis is given the de-identification verification's
  reading of the frame and finds no text lines of its own (the reading's time is the
  verification's figure, :mod:`benchmarks.textlines` ``--ocr``).
  ``--parts`` prints instead the CPU ms/frame of that path and of its parts
  (:data:`PARTS`: the caliper detection and its heat map, refiner, coloured marks, template
  scoring, hollow marks, marks on colour maps, learned points and pair splitting, the text
  lines, the field of view, the inpainting masks and fill), one thread, the best of
  :data:`SPEED_REPEATS` repeats each, for the tuning and the held-out frames apart;
  ``--parts --one-pass`` the same as the one pass runs it (the verification's reading
  given, made before the clock starts: no text lines).

Numbers only: nothing here asserts. :data:`SCREENS_BEFORE` keeps the figures measured before
the work on caliper styles, :data:`SCREENS_BEFORE_SESSION2` those before the caliper speed-up
and recall work of the second session (both printed first for comparison).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import math
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import cv2
import numpy as np

#: A found point within this distance (px) of a true mark centre matches it.
POINT_TOLERANCE = 5.0
#: Frames per family timed for the speed figure, and repeats (the best one counts).
SPEED_FRAMES = 4
SPEED_REPEATS = 3


#: ``--frames 10 --seed 0`` with the detectors of commit 4110737 (template '+'/'x' detector,
#: single-view crop, '+'/'x' stroke-model inpainting masks) on the generator of h-gen commit
#: 4d37f50 (19 families, every caliper style, dual views, Doppler, elastography, JPEG).
#: Speed on a loaded 2-core machine (the same run gave 7.9 frames/s for the new detectors;
#: back to back on the same 76 frames: 14.0 before, 8.0 after).
SCREENS_BEFORE = """\
family            IoU med  IoU min     true    found     prec   recall  err med  err max 0-cal FP  dB crop      min  dB mask      min
ge_logiq (T)        0.995    0.473       26        3    1.000    0.115     0.00     0.00        0     40.7     33.7     10.2      4.4
philips_epiq (T)    0.998    0.443       36       15    1.000    0.417     0.00     0.00        0     42.8     34.0     10.7      3.4
siemens_s2000 (T)    0.997    0.464       32       16    1.000    0.500     0.00     1.00        0     37.1     29.9      8.9      4.3
ge_voluson (T)      0.570    0.000       36       20    1.000    0.556     0.00     1.00        0     40.5     33.9     13.4      9.4
philips_iu22 (T)    0.991    0.395       28       14    1.000    0.500     0.00     1.00        0     38.1     29.8      8.5      4.5
canon_aplio (H)     0.996    0.369       38       16    1.000    0.421     0.00     0.00        0     38.5     31.8      8.0      4.7
samsung_rs (H)      1.000    0.381       26       10    1.000    0.385     0.00     0.00        0     41.7     32.0     12.1      2.3
sonosite_edge (H)    0.997    0.959       22        3    1.000    0.136     0.00     0.00        0     46.5     36.8     10.3      5.8
mindray_dc (H)      1.000    0.420       28       12    1.000    0.429     0.00     0.00        0     42.0     28.2      8.1      3.8
philips_affiniti (H)    0.998    0.963       20        6    1.000    0.300     0.00     1.00        0     37.9     30.8     11.0      4.2
philips_cx50 (H)    0.995    0.461       24        6    1.000    0.250     0.00     1.00        0     34.9     28.4      8.3      2.5
siemens_sequoia (H)    0.998    0.441       40        8    1.000    0.200     0.00     0.00        0     39.4     31.6      9.7      4.9
siemens_juniper (H)    0.488    0.398       24       11    1.000    0.458     0.00     0.00        0     38.7     31.4     10.8      4.3
supersonic_aixplorer (H)    0.436    0.424       30        6    1.000    0.200     0.00     0.00        0     43.5     31.2      9.9      5.7
hitachi_aloka (H)    0.997    0.467       44       11    1.000    0.250     0.00     0.00        0     36.0     27.8      9.1      1.5
esaote (H)          0.983    0.352       18        6    1.000    0.333     0.00     0.00        0     38.8     37.2     11.6      7.7
bk (H)              0.995    0.976       32        4    1.000    0.125     0.00     1.00        0     41.8     34.8     11.5      2.2
terason (H)         0.653    0.447       40        6    1.000    0.150     0.00     0.00        0     40.1     30.2      8.9      3.5
sonosite_px (H)     0.995    0.477       20        3    1.000    0.150     0.00     0.00        0     46.0     37.5      9.1      4.4
TUNING              0.995    0.000      158       68    1.000    0.430     0.00     1.00        0     40.2     29.8      9.5      3.4
HELDOUT             0.995    0.352      406      108    1.000    0.266     0.00     1.00        0     40.0     27.8      9.4      1.5
analysis (no OCR) + inpainting, one core: 13.8 frames/s"""
#: ``--frames 10 --seed 0`` at commit aa54f6f, before the caliper speed-up and the work on
#: caliper recall of the second session (same generator as the run after it). Speed on a
#: heavily loaded 2-core machine (load average about 8): not comparable with other runs.
SCREENS_BEFORE_SESSION2 = """\
family            IoU med  IoU min     true    found     prec   recall  err med  err max 0-cal FP  dB crop      min  dB mask      min
ge_logiq (T)        0.995    0.995       12       11    1.000    0.917     0.00     1.00        0     61.9     37.6     20.6     13.8
philips_epiq (T)    1.000    0.973       36       32    0.969    0.861     0.00     0.00        0     58.1     32.9     20.3      3.4
siemens_s2000 (T)    0.997    0.995       32       29    1.000    0.906     0.00     0.00        0     48.3     31.0     21.8      6.6
ge_voluson (T)      0.995    0.993       42       39    1.000    0.929     0.00     0.00        0     47.9     33.9     21.8     10.2
philips_iu22 (T)    0.998    0.982       28       19    1.000    0.679     0.00     1.00        0     39.3     30.4     16.9      6.4
canon_aplio (H)     0.997    0.985       34       26    1.000    0.765     0.00     1.00        0     41.3     34.6     15.4      8.7
samsung_rs (H)      1.000    0.995       24       21    0.952    0.833     0.00     1.00        0     51.8     40.2     18.0     15.2
sonosite_edge (H)    0.997    0.959       16       10    1.000    0.625     0.00     0.00        0     58.4     38.5     12.8      9.6
mindray_dc (H)      1.000    0.995       26       12    1.000    0.462     0.00     0.00        0     51.5     23.7     14.8      3.8
philips_affiniti (H)    0.998    0.963       20       12    1.000    0.600     0.00     1.00        0     37.9     30.8     11.3      4.2
philips_cx50 (H)    0.996    0.959       36       18    1.000    0.500     0.00     3.00        0     33.3     29.3     11.4      4.7
siemens_sequoia (H)    0.999    0.997       36       33    0.939    0.861     0.00     0.00        0     46.4     27.1     18.0      5.8
siemens_juniper (H)    0.997    0.961       32       28    1.000    0.875     0.00     1.00        0     45.6     31.4     18.8      4.5
supersonic_aixplorer (H)    0.997    0.960       30       15    1.000    0.500     0.00     0.00        0     43.9     31.6     16.8      9.9
hitachi_aloka (H)    0.997    0.973       40       22    1.000    0.550     0.00     1.41        0     32.9     20.6      9.6      3.9
esaote (H)          0.996    0.956       20       17    1.000    0.850     0.00     1.00        0     38.6     37.1     17.3     15.2
bk (H)              0.995    0.976       22       15    1.000    0.682     0.00     1.00        0     55.6     34.6     15.7      2.2
terason (H)         0.989    0.944       44       28    0.964    0.614     0.00     0.00        0     33.5     29.7     12.7      5.0
sonosite_px (H)     0.995    0.995       32       27    1.000    0.844     0.00     0.00        0     55.3     38.1     19.6     14.5
TUNING              0.997    0.973      150      130    0.992    0.860     0.00     1.00        0     50.4     30.4     21.3      3.4
HELDOUT             0.997    0.944      412      284    0.986    0.680     0.00     3.00        0     43.0     20.6     16.7      2.2
analysis (no OCR) + inpainting, one core: 1.9 frames/s"""
#: ``--frames 20 --seed 0`` at commit 4110737 on the first generator (7 families, '+'/'x'
#: marks only; its caliper mask was every changed pixel outside the text boxes).
SCREENS_BEFORE_FIRST_GENERATOR = """\
family            IoU med  IoU min     true    found     prec   recall  err med  err max 0-cal FP  dB crop      min  dB mask      min
ge_logiq (T)        0.996    0.995       30       28    1.000    0.933     0.00     0.00        0     68.2     47.0     26.9      8.5
philips_epiq (T)    1.000    0.977       36       33    1.000    0.917     0.00     0.00        0     63.3     45.8     25.6      9.2
siemens_s2000 (T)    0.998    0.967       26       24    1.000    0.923     0.00     0.00        0     63.8     46.0     25.0      8.7
canon_aplio (H)     1.000    0.985       40       36    1.000    0.900     0.00     0.00        0     60.3     43.1     21.0      9.5
samsung_rs (H)      1.000    0.995       26       22    1.000    0.846     0.00     0.00        0     82.6     45.6     22.9      8.7
sonosite_edge (H)    0.992    0.964       18       17    1.000    0.944     0.00     0.00        0     99.0     40.5     19.9      8.7
mindray_dc (H)      0.997    0.972       34       32    1.000    0.941     0.00     0.00        0     62.4     41.4     24.0     12.3
TUNING              0.997    0.967       92       85    1.000    0.924     0.00     0.00        0     64.5     45.8     25.4      8.5
HELDOUT             0.997    0.964      118      107    1.000    0.907     0.00     0.00        0     65.0     40.5     23.1      8.7
analysis (no OCR) + inpainting, one core: 13.0 frames/s"""


def box_of(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


def box_iou(a: Sequence[int] | None, b: Sequence[int] | None) -> float:
    if a is None or b is None:
        return 0.0
    ax0, ay0, ax1, ay1 = a
    bx0, by0, bx1, by1 = b
    iw = max(0, min(ax1, bx1) - max(ax0, bx0) + 1)
    ih = max(0, min(ay1, by1) - max(ay0, by0) + 1)
    inter = iw * ih
    union = (ax1 - ax0 + 1) * (ay1 - ay0 + 1) + (bx1 - bx0 + 1) * (by1 - by0 + 1) - inter
    return inter / union if union else 0.0


def psnr(a: np.ndarray, b: np.ndarray) -> float | None:
    """PSNR (dB) of two equal-size pixel sets; 99 when identical, None when empty."""
    if a.size == 0:
        return None
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def matched_pairs(
    found: Sequence[Sequence[int]],
    truth: Sequence[Sequence[int]],
    tolerance: float = POINT_TOLERANCE,
) -> list[tuple[int, int, float]]:
    """Greedy nearest matching within ``tolerance``: ``(found index, true index, error px)``
    of each matched pair, nearest first."""
    pairs = sorted(
        (math.hypot(f[0] - t[0], f[1] - t[1]), i, j)
        for i, f in enumerate(found)
        for j, t in enumerate(truth)
    )
    used_f: set[int] = set()
    used_t: set[int] = set()
    out = []
    for distance, i, j in pairs:
        if distance > tolerance or i in used_f or j in used_t:
            continue
        used_f.add(i)
        used_t.add(j)
        out.append((i, j, distance))
    return out


def match_points(
    found: Sequence[Sequence[int]],
    truth: Sequence[Sequence[int]],
    tolerance: float = POINT_TOLERANCE,
) -> list[float]:
    """Greedy nearest matching within ``tolerance``; the errors (px) of the matched pairs."""
    return [distance for _, _, distance in matched_pairs(found, truth, tolerance)]


def error_summary(errors: Sequence[float], within: float = 2.0) -> dict[str, float]:
    """The matched points' errors (px) summed up: ``count``, ``median``, ``p95``, ``p99``
    (numpy's linear percentiles), ``max`` and the share ``within`` px (``within_share``;
    1.0 when nothing matched).

    >>> error_summary([0.0, 0.0, 1.0, 3.0])
    {'count': 4, 'median': 0.5, 'p95': 2.7, 'p99': 2.94, 'max': 3.0, 'within_share': 0.75}
    """
    if not len(errors):
        return {"count": 0, "median": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0, "within_share": 1.0}
    e = np.asarray(errors, np.float64)
    return {
        "count": int(e.size),
        "median": round(float(np.median(e)), 2),
        "p95": round(float(np.percentile(e, 95)), 2),
        "p99": round(float(np.percentile(e, 99)), 2),
        "max": round(float(e.max()), 2),
        "within_share": round(float((e <= within).mean()), 4),
    }


def text_mask(screen: Any, shape: tuple[int, int], grow: int = 4) -> np.ndarray:
    """The generator's text boxes, grown by ``grow`` px (a result box's backing included)."""
    mask = np.zeros(shape, bool)
    for t in screen.texts:
        x0, y0, x1, y1 = t.box
        mask[max(0, y0 - grow) : y1 + grow + 1, max(0, x0 - grow) : x1 + grow + 1] = True
    return mask


def true_caliper_mask(screen: Any) -> np.ndarray:
    """The generator's ``caliper_mask`` when it has one, else every pixel the generator
    changed (frame against clean) outside the text boxes."""
    given = getattr(screen, "caliper_mask", None)
    if given is not None:
        return np.asarray(given, bool)
    changed = np.any(screen.frame != screen.clean, axis=2)
    backing = np.all(screen.frame == 0, axis=2)  # a result box's black backing
    return changed & ~backing & ~text_mask(screen, changed.shape)


def _grey(frame: np.ndarray) -> np.ndarray:
    return frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


def evaluate_screen(screen: Any) -> dict[str, Any]:
    """The figures of one generator frame (see the module docstring)."""
    from cadbusi_assets.ultrasound.analysis import analyze_frame
    from cadbusi_assets.ultrasound.inpaint import inpaint_frames

    frame = screen.frame
    analysis = analyze_frame(frame, [], ocr=False)
    truth_box = box_of(screen.fov_mask)
    found = [tuple(p) for p in analysis.calipers.points]
    truth = [tuple(p) for p in screen.calipers]
    errors = match_points(found, truth)
    (out, _mask), (out_true, _) = inpaint_frames([frame, frame], [found, truth])
    caliper_true = true_caliper_mask(screen)
    changed = np.any(frame != screen.clean, axis=2)
    # Text, measurement panels and the like are not the caliper inpainting's job. On a JPEG
    # frame every pixel changed: there the generator's text boxes and panels are left out.
    others = text_mask(screen, changed.shape, grow=2)
    for x0, y0, x1, y1 in getattr(screen, "panels", []):
        others[y0 : y1 + 1, x0 : x1 + 1] = True
    if getattr(screen, "jpeg_quality", None) is None:
        others |= changed & ~caliper_true
    others = cv2.dilate(others.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    others &= ~caliper_true
    region = np.zeros(changed.shape, bool)
    if truth_box is not None:
        x0, y0, x1, y1 = truth_box
        region[y0 : y1 + 1, x0 : x1 + 1] = True
    region &= ~others
    grey_out, grey_clean = _grey(out), _grey(screen.clean)
    grey_true = _grey(out_true)
    return {
        "family": screen.family,
        "seed": screen.seed,
        "style": " ".join(
            [
                getattr(screen, "caliper_style", ""),
                *(
                    flag
                    for flag in ("dual", "doppler", "elastography", "zoom")
                    if getattr(screen, flag, False)
                ),
                *(["jpeg"] if getattr(screen, "jpeg_quality", None) is not None else []),
                *([f"fan:{screen.fan}"] if getattr(screen, "fan", "") else []),
            ]
        ).strip(),
        "colour": str(getattr(screen, "caliper_colour", None)),
        "iou": box_iou(analysis.fov.box, truth_box),
        "found": len(found),
        "truth": len(truth),
        "matched": len(errors),
        "errors": errors,
        "psnr_crop": psnr(grey_out[region], grey_clean[region]),
        "psnr_mask": psnr(grey_out[caliper_true], grey_clean[caliper_true]),
        "psnr_mask_true_points": psnr(grey_true[caliper_true], grey_clean[caliper_true]),
    }


def _median(values: Sequence[float]) -> float | None:
    return round(float(np.median(values)), 4) if values else None


def summarize(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    ious = [r["iou"] for r in records]
    found = sum(r["found"] for r in records)
    truth = sum(r["truth"] for r in records)
    matched = sum(r["matched"] for r in records)
    errors = [e for r in records for e in r["errors"]]
    crop = [r["psnr_crop"] for r in records if r["psnr_crop"] is not None]
    inside = [r["psnr_mask"] for r in records if r["psnr_mask"] is not None]
    at_true = [
        r["psnr_mask_true_points"] for r in records if r.get("psnr_mask_true_points") is not None
    ]
    return {
        "frames": len(records),
        "iou_median": _median(ious),
        "iou_worst": round(min(ious), 4) if ious else None,
        "calipers_true": truth,
        "calipers_found": found,
        "precision": round(matched / found, 4) if found else 1.0,
        "recall": round(matched / truth, 4) if truth else 1.0,
        "error_median_px": _median(errors),
        "error_max_px": round(max(errors), 2) if errors else None,
        "frames_false": sum(1 for r in records if r["truth"] == 0 and r["found"] > 0),
        "psnr_crop_median": _median(crop),
        "psnr_crop_worst": round(min(crop), 2) if crop else None,
        "psnr_mask_median": _median(inside),
        "psnr_mask_worst": round(min(inside), 2) if inside else None,
        "psnr_mask_true_points_median": _median(at_true),
    }


def by_style(records: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Caliper figures per style element (glyph, size, decoration, colour) and per screen
    element (dual view, Doppler, elastography, zoom box, JPEG, fan shape) of the frames."""
    tokens: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        for token in [*r["style"].split(), f"colour {r['colour']}"]:
            tokens.setdefault(token, []).append(r)
    out = {}
    for token, rs in sorted(tokens.items()):
        figures = summarize(rs)
        out[token] = {
            k: figures[k]
            for k in (
                "frames",
                "iou_worst",
                "calipers_true",
                "precision",
                "recall",
                "error_max_px",
                "frames_false",
                "psnr_mask_median",
                "psnr_mask_worst",
            )
        }
    return out


def measure_speed(
    screens: Sequence[Any], repeats: int = SPEED_REPEATS, one_pass: bool = False
) -> float:
    """Best-of-``repeats`` frames/s of analysis (no OCR) plus inpainting, one thread.
    ``one_pass``: the analysis as the one pass runs it (``cadbusi deidentify --analyze``,
    the ``imaging_step`` asset): given the de-identification verification's reading of the
    frame (:func:`~cadbusi_assets.ultrasound.ocr.read_frame_text`, made before the clock
    starts: its time is the verification's), it finds no text lines of its own."""
    import torch

    from cadbusi_assets.ultrasound.analysis import analyze_frame
    from cadbusi_assets.ultrasound.inpaint import inpaint_frames
    from cadbusi_assets.ultrasound.ocr import read_frame_text

    readings = [
        read_frame_text(screen.frame, vocabulary_gate=True) if one_pass else None
        for screen in screens
    ]
    threads, torch_threads = cv2.getNumThreads(), torch.get_num_threads()
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    try:
        best = math.inf
        for _ in range(repeats):
            start = time.perf_counter()
            for screen, reading in zip(screens, readings, strict=True):
                result = analyze_frame(screen.frame, [], ocr=False, reading=reading)
                inpaint_frames([screen.frame], [result.calipers.points])
            best = min(best, time.perf_counter() - start)
    finally:
        cv2.setNumThreads(threads)
        torch.set_num_threads(torch_threads)
    return round(len(screens) / best, 1) if best > 0 else 0.0


#: The parts timed by ``--parts``: (module, attribute, name). A part called inside another
#: counts in both (the caliper detection holds the heat map, the refiner, ...).
PARTS = (
    ("cadbusi_assets.ultrasound.analysis", "detect_calipers", "calipers (all)"),
    ("cadbusi_assets.ultrasound.calipers", "colour_marks", "calipers.colour_marks"),
    ("cadbusi_assets.ultrasound.calipers", "_score", "calipers._score"),
    ("cadbusi_assets.ultrasound.calipers", "smeared_marks", "calipers.smeared_marks"),
    ("cadbusi_assets.ultrasound.calipers", "hollow_marks", "calipers.hollow_marks"),
    ("cadbusi_assets.ultrasound.calipers", "map_marks", "calipers.map_marks"),
    ("cadbusi_assets.ultrasound.calipers", "_net_marks", "calipers._net_marks (learned)"),
    ("cadbusi_assets.ultrasound.calipers", "_split_pairs", "calipers._split_pairs"),
    ("cadbusi_assets.ultrasound.caliper_net", "CaliperNet.find", "heat map (find)"),
    ("cadbusi_assets.ultrasound.caliper_net", "CaliperNet.refine", "refiner"),
    ("cadbusi_assets.ultrasound.analysis", "find_text_lines", "text lines"),
    ("cadbusi_assets.ultrasound.analysis", "find_field_of_view", "field of view"),
    ("cadbusi_assets.ultrasound.inpaint", "caliper_masks", "inpainting masks"),
    ("cadbusi_assets.ultrasound.inpaint", "_hollow_fill", "inpainting masks: hollow marks"),
    ("cadbusi_assets.ultrasound.inpaint", "_estimates", "inpainting fill"),
)


@contextlib.contextmanager
def _timed_parts(spent: defaultdict[str, float]) -> Iterator[None]:
    """:data:`PARTS` wrapped, for the time of the block, to add their CPU seconds to ``spent``."""
    import importlib

    undo = []
    for module_name, attribute, name in PARTS:
        owner: Any = importlib.import_module(module_name)
        *path, leaf = attribute.split(".")
        for step in path:
            owner = getattr(owner, step)
        original = getattr(owner, leaf)

        def timed(*args: Any, _f: Any = original, _name: str = name, **kwargs: Any) -> Any:
            start = time.process_time()
            try:
                return _f(*args, **kwargs)
            finally:
                spent[_name] += time.process_time() - start

        setattr(owner, leaf, functools.wraps(original)(timed))
        undo.append((owner, leaf, original))
    try:
        yield
    finally:
        for owner, leaf, original in reversed(undo):
            setattr(owner, leaf, original)


def measure_parts(
    screens: Sequence[Any], repeats: int = SPEED_REPEATS, one_pass: bool = False
) -> dict[str, float]:
    """CPU ms/frame of analysis (no OCR) plus inpainting (``"total"``) and of each of
    :data:`PARTS`, one thread, the best of ``repeats`` for each. ``one_pass``: the analysis
    as the one pass runs it (given the verification's reading, made before the clock starts:
    no text lines of its own), as :func:`measure_speed` times it."""
    import torch

    from cadbusi_assets.ultrasound import analysis, inpaint
    from cadbusi_assets.ultrasound.ocr import read_frame_text

    readings = [
        read_frame_text(screen.frame, vocabulary_gate=True) if one_pass else None
        for screen in screens
    ]
    threads, torch_threads = cv2.getNumThreads(), torch.get_num_threads()
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    best: dict[str, float] = {}
    try:
        for _ in range(repeats):
            spent: defaultdict[str, float] = defaultdict(float)
            with _timed_parts(spent):
                start = time.process_time()
                for screen, reading in zip(screens, readings, strict=True):
                    result = analysis.analyze_frame(screen.frame, [], ocr=False, reading=reading)
                    inpaint.inpaint_frames([screen.frame], [result.calipers.points])
                spent["total"] = time.process_time() - start
            for name, seconds in spent.items():
                best[name] = min(best.get(name, math.inf), seconds)
    finally:
        cv2.setNumThreads(threads)
        torch.set_num_threads(torch_threads)
    return {name: round(1000 * s / max(1, len(screens)), 2) for name, s in best.items()}


def run_parts_benchmark(
    frames: int = SPEED_FRAMES,
    seed: int = 0,
    echo: Callable[[str], None] = print,
    one_pass: bool = False,
) -> dict[str, dict[str, float]]:
    """:func:`measure_parts` on ``frames`` frames of every tuning family, then of every
    held-out family; printed, returned."""
    from cadbusi_demo import screens_heldout as gen

    out = {}
    path = "one pass (the reading given)" if one_pass else "standalone"
    for group, families in (("TUNING", gen.TUNING_FAMILIES), ("HELDOUT", gen.HELDOUT_FAMILIES)):
        screens = [gen.render_screen(f, seed + k) for f in families for k in range(frames)]
        out[group] = measure_parts(screens, one_pass=one_pass)
        echo(
            f"{group}: {len(screens)} frames, {path}, CPU ms/frame, one thread,"
            f" best of {SPEED_REPEATS}"
        )
        for name, ms in sorted(out[group].items(), key=lambda item: -item[1]):
            echo(f"  {name:<24}{ms:8.2f}")
    return out


def run_screens_benchmark(
    frames: int = 20, seed: int = 0, echo: Callable[[str], None] = print
) -> dict[str, Any]:
    """The figures per family, for the tuning and the held-out families; printed, returned."""
    from cadbusi_demo import screens_heldout as gen

    per_family: dict[str, dict[str, Any]] = {}
    records: dict[str, list[dict[str, Any]]] = {}
    speed_screens = []
    families = [*gen.TUNING_FAMILIES, *gen.HELDOUT_FAMILIES]
    families += [f for f in gen.FAMILIES if f not in families]
    for family in families:
        screens = [gen.render_screen(family, seed + k) for k in range(frames)]
        records[family] = [evaluate_screen(s) for s in screens]
        per_family[family] = summarize(records[family])
        speed_screens += screens[:SPEED_FRAMES]
    groups = {
        "TUNING": [r for f in gen.TUNING_FAMILIES for r in records.get(f, [])],
        "HELDOUT": [r for f in gen.HELDOUT_FAMILIES for r in records.get(f, [])],
    }
    result: dict[str, Any] = {
        "frames_per_family": frames,
        "seed": seed,
        "point_tolerance_px": POINT_TOLERANCE,
        "families": per_family,
        "groups": {name: summarize(rs) for name, rs in groups.items()},
        "styles": {name: by_style(rs) for name, rs in groups.items()},
        "frames_per_s_one_core": measure_speed(speed_screens),
        "frames_per_s_one_core_one_pass": measure_speed(speed_screens, one_pass=True),
        "tuning_families": list(gen.TUNING_FAMILIES),
        "heldout_families": list(gen.HELDOUT_FAMILIES),
    }
    echo("before (detectors of commit 4110737, generator 4d37f50, --frames 10 --seed 0):")
    echo(SCREENS_BEFORE)
    echo("before the second session's caliper work (commit aa54f6f, --frames 10 --seed 0):")
    echo(SCREENS_BEFORE_SESSION2)
    echo("now:")
    echo(format_report(result))
    return result


_COLUMNS = (
    ("iou_median", "IoU med", "{:.3f}"),
    ("iou_worst", "IoU min", "{:.3f}"),
    ("calipers_true", "true", "{}"),
    ("calipers_found", "found", "{}"),
    ("precision", "prec", "{:.3f}"),
    ("recall", "recall", "{:.3f}"),
    ("error_median_px", "err med", "{:.2f}"),
    ("error_max_px", "err max", "{:.2f}"),
    ("frames_false", "0-cal FP", "{}"),
    ("psnr_crop_median", "dB crop", "{:.1f}"),
    ("psnr_crop_worst", "min", "{:.1f}"),
    ("psnr_mask_median", "dB mask", "{:.1f}"),
    ("psnr_mask_worst", "min", "{:.1f}"),
    ("psnr_mask_true_points_median", "dB@true", "{:.1f}"),
)


def format_report(result: dict[str, Any]) -> str:
    header = f"{'family':<16}" + "".join(f"{title:>9}" for _, title, _ in _COLUMNS)
    lines = [header]

    def row(name: str, figures: dict[str, Any]) -> str:
        cells = []
        for key, _, fmt in _COLUMNS:
            value = figures.get(key)
            cells.append(f"{'-' if value is None else fmt.format(value):>9}")
        return f"{name:<16}" + "".join(cells)

    tuning, heldout = result["tuning_families"], result["heldout_families"]
    for name, figures in result["families"].items():
        tag = "T" if name in tuning else "H" if name in heldout else "?"
        lines.append(row(f"{name} ({tag})", figures))
    for name, figures in result["groups"].items():
        lines.append(row(name, figures))
    for group, styles in result.get("styles", {}).items():
        lines.append(f"{group} by caliper style element:")
        for token, f in styles.items():
            lines.append(
                f"  {token:<22} frames {f['frames']:>4} IoU min {f['iou_worst']:.3f}"
                f" true {f['calipers_true']:>4}"
                f" prec {f['precision']:.3f} recall {f['recall']:.3f}"
                f" err max {'-' if f['error_max_px'] is None else f['error_max_px']}"
                f" 0-cal FP {f['frames_false']}"
                f" dB mask {'-' if f['psnr_mask_median'] is None else f['psnr_mask_median']}"
                f" / {'-' if f['psnr_mask_worst'] is None else f['psnr_mask_worst']}"
            )
    lines.append(
        f"analysis (no OCR) + inpainting, one core: {result['frames_per_s_one_core']} frames/s"
    )
    if "frames_per_s_one_core_one_pass" in result:
        lines.append(
            "the same in the one pass (text lines from the verification's reading): "
            f"{result['frames_per_s_one_core_one_pass']} frames/s"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.screens", description=__doc__)
    parser.add_argument("--frames", type=int, default=20, help="frames per family")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--parts", action="store_true", help="CPU ms/frame of the speed path and its parts only"
    )
    parser.add_argument(
        "--one-pass",
        action="store_true",
        help="with --parts: the analysis as the one pass runs it (the verification's reading given)",
    )
    args = parser.parse_args(argv)
    if args.parts:
        run_parts_benchmark(args.frames, args.seed, one_pass=args.one_pass)
    else:
        run_screens_benchmark(args.frames, args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
