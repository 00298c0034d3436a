"""Pixel cleaning for ultrasound and secondary capture: keep the image regions, blank the rest.

Every US/SC object is treated as having burned-in text, whatever ``BurnedInAnnotation``
says. The areas to keep come from ``SequenceOfUltrasoundRegions`` (clipped to the image;
regions that overhang the image by more than :data:`MAX_OVERHANG`, among them those of a
resized copy that the analysis scales to fit, or that cover nearly all of it are rejected
as absurd), else from a per-device rule (:mod:`cadbusi_assets.deid.devices`).
With neither, cleaning fails closed. The same mask is applied to every frame (vectorized).

>>> import numpy as np
>>> frames = np.full((2, 4, 6), 200, np.uint8)
>>> keep = keep_mask((4, 6), [(1, 1, 3, 2)])
>>> blank_outside(frames, keep)[0]
array([[  0,   0,   0,   0,   0,   0],
       [  0, 200, 200, 200,   0,   0],
       [  0, 200, 200, 200,   0,   0],
       [  0,   0,   0,   0,   0,   0]], dtype=uint8)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from pydicom.dataset import Dataset

from cadbusi_assets.deid.devices import match_device_rule
from cadbusi_assets.deid.errors import DeidentificationError
from cadbusi_assets.dicom import UltrasoundRegion, ultrasound_regions
from cadbusi_assets.dicom.regions import region_boxes

#: A region may stick out of the image by at most this fraction of the image size.
MAX_OVERHANG = 0.05
#: Regions that together cover more than this fraction of the image would keep the text bands.
MAX_KEPT_FRACTION = 0.97

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (inclusive)


@dataclass(frozen=True)
class PixelPlan:
    """Where to keep pixels, and why (no PHI)."""

    kept_regions: list[UltrasoundRegion]
    keep: np.ndarray  # (H, W) bool
    source: str  # "ultrasound regions" or "device rule <id>"

    @cached_property
    def blanked_mask(self) -> np.ndarray:
        return ~self.keep


def keep_mask(shape: tuple[int, int], boxes: list[Box]) -> np.ndarray:
    """``(H, W)`` bool mask, True inside any of the inclusive boxes."""
    keep = np.zeros(shape, dtype=bool)
    for x0, y0, x1, y1 in boxes:
        keep[max(0, y0) : y1 + 1, max(0, x0) : x1 + 1] = True
    return keep


#: More rectangles than this: blank with the boolean mask instead (the same pixels).
MAX_BLANK_RECTANGLES = 256


def blank_rectangles(keep: np.ndarray) -> list[tuple[int, int, int, int]] | None:
    """The pixels outside ``keep`` as ``(row0, row1, col0, col1)`` half-open rectangles
    (runs of identical rows, then runs of blanked columns), or ``None`` when there would be
    more than :data:`MAX_BLANK_RECTANGLES` (an irregular mask).

    >>> keep = keep_mask((4, 6), [(1, 1, 3, 2)])
    >>> blank_rectangles(keep)
    [(0, 1, 0, 6), (1, 3, 0, 1), (1, 3, 4, 6), (3, 4, 0, 6)]
    """
    rows = keep.shape[0]
    if rows == 0 or keep.shape[1] == 0:
        return []
    starts = [0, *(np.flatnonzero((keep[1:] != keep[:-1]).any(axis=1)) + 1).tolist()]
    out: list[tuple[int, int, int, int]] = []
    for r0, r1 in zip(starts, [*starts[1:], rows], strict=True):
        blanked = np.concatenate(([False], ~keep[r0], [False])).view(np.int8)
        edges = np.flatnonzero(np.diff(blanked)).tolist()
        out += [(r0, r1, c0, c1) for c0, c1 in zip(edges[::2], edges[1::2], strict=True)]
        if len(out) > MAX_BLANK_RECTANGLES:
            return None
    return out


def blank_outside(frames: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Set every pixel outside ``keep`` to 0 in all frames (in place; returns ``frames``).

    Blanks rectangles of rows and columns (slices: no boolean gather over every pixel)
    where the mask is made of a few boxes, as ultrasound regions and device rules are."""
    if keep.shape != frames.shape[1:3]:
        raise DeidentificationError("pixel mask does not match the frame size")
    rectangles = blank_rectangles(keep)
    if rectangles is None:
        frames[:, ~keep] = 0
    else:
        for r0, r1, c0, c1 in rectangles:
            frames[:, r0:r1, c0:c1] = 0
    return frames


def _overhangs(box: Box, rows: int, cols: int) -> bool:
    x0, y0, x1, y1 = box
    tol_x, tol_y = MAX_OVERHANG * cols, MAX_OVERHANG * rows
    return x0 < -tol_x or y0 < -tol_y or x1 > cols - 1 + tol_x or y1 > rows - 1 + tol_y


def usable_regions(ds: Dataset) -> tuple[list[UltrasoundRegion], list[str]]:
    """The regions safe to keep, and the reasons others were rejected (no PHI)."""
    rows, cols = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    rejected: list[str] = []
    overhanging = [b for b in region_boxes(ds) if _overhangs(b, rows, cols)]
    regions: list[UltrasoundRegion] = []
    for region in ultrasound_regions(ds):
        raw = [b for b in overhanging if _clip(b, rows, cols) == region.box]
        # A region scaled to fit a resized copy is the analysis' reading of the geometry,
        # not what the file declares: its corners move towards the origin, out of the
        # declared (clipped) box, so it may keep pixels never declared image. Fail closed.
        if raw or region.scale != 1.0:
            rejected.append("region lies outside the image (region metadata does not fit)")
            continue
        regions.append(region)
    if regions and rows and cols:
        kept = _fraction(keep_mask((rows, cols), [r.box for r in regions]))
        if kept > MAX_KEPT_FRACTION:
            rejected.append("regions cover the whole image (text bands would be kept)")
            regions = []
    return regions, rejected


def _clip(box: Box, rows: int, cols: int) -> Box:
    x0, y0, x1, y1 = box
    return (max(0, x0), max(0, y0), min(cols - 1, x1), min(rows - 1, y1))


#: Conversion Types (PS3.3 C.8.6.1) of a secondary capture that is a page, not a screen:
#: scanned document, scanned image, digitized film, drawing, synthetic image. No region
#: and no device rule (made for a scanner's screen) says where the text on it is: a GE
#: LOGIQ9 worksheet matched the LOGIQ9 rule, which blanks the screen's top band only.
PAGE_CONVERSION_TYPES = frozenset({"SD", "SI", "DF", "DRW", "SYN"})


def plan_pixel_cleaning(ds: Dataset) -> PixelPlan:
    """Decide what to keep; raises :class:`DeidentificationError` when nothing is safe."""
    rows, cols = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    if rows <= 0 or cols <= 0:
        raise DeidentificationError("image has no Rows/Columns")
    conversion = str(ds.get("ConversionType", "") or "").strip().upper()
    if conversion in PAGE_CONVERSION_TYPES:
        raise DeidentificationError(
            f"secondary capture of a page (Conversion Type {conversion}), not of a scanner's "
            "screen: burned-in text cannot be located, so the object is not released"
        )
    regions, rejected = usable_regions(ds)
    if regions:
        return PixelPlan(
            regions, keep_mask((rows, cols), [r.box for r in regions]), "ultrasound regions"
        )
    rule = match_device_rule(ds)
    if rule is not None:
        boxes = [_clip(b, rows, cols) for b in rule.boxes]
        if rule.mode == "keep":
            keep = keep_mask((rows, cols), boxes)
        else:
            keep = ~keep_mask((rows, cols), boxes)
        kept = [UltrasoundRegion(*b) for b in boxes] if rule.mode == "keep" else []
        return PixelPlan(kept, keep, f"device rule {rule.rule_id}")
    why = "; ".join(dict.fromkeys(rejected)) or "no SequenceOfUltrasoundRegions"
    raise DeidentificationError(
        f"no usable ultrasound region and no device rule for this scanner ({why}); "
        "burned-in text cannot be located, so the object is not released"
    )


def _fraction(mask: np.ndarray) -> float:
    """``float(mask.mean())`` of a boolean mask, ten times faster (the same float: both are
    the exact count divided by the size, rounded once).

    >>> _fraction(np.array([True, False, False]))
    0.3333333333333333
    """
    return int(np.count_nonzero(mask)) / mask.size


def describe(plan: PixelPlan, n_frames: int) -> str:
    """Human-readable summary without PHI."""
    blanked = 100.0 * _fraction(plan.blanked_mask)
    if plan.source == "ultrasound regions":
        n = len(plan.kept_regions)
        what = f"kept {n} ultrasound region{'s' if n != 1 else ''}"
    else:
        what = f"applied {plan.source}"
    frames = f" in {n_frames} frames" if n_frames > 1 else ""
    return f"{what}; blanked {blanked:.1f}% of pixels{frames}"
