"""One frame in, one features row out: field of view, darkness, Doppler, calipers, OCR fields.

The OCR text itself never enters the row (it may hold names or numbers burned into the
image): only the fields parsed from it (laterality, orientation, clock position, nipple
distance, body area) do.

>>> import numpy as np
>>> frame = np.zeros((300, 400), np.uint8)
>>> frame[50:251, 80:321] = np.random.default_rng(1).integers(40, 200, (201, 241))
>>> row = analyze_frame(frame, [], ocr=False).as_row()
>>> row["crop_x0"], row["crop_y1"], row["fov_shape"], row["has_calipers"], row["is_doppler"]
(80, 250, 'rectangle', False, False)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import polars as pl

from cadbusi_assets.dicom import UltrasoundRegion
from cadbusi_assets.ultrasound.annotations import parse_annotation
from cadbusi_assets.ultrasound.calipers import CaliperDetection, detect_calipers, search_box
from cadbusi_assets.ultrasound.doppler import colour_share, is_doppler
from cadbusi_assets.ultrasound.fov import (
    FieldOfView,
    find_field_of_view,
    image_regions,
    main_region,
)
from cadbusi_assets.ultrasound.ocr import FrameText, find_text_lines, read_frame_text
from cadbusi_assets.ultrasound.overlay import CHROMA_LEVEL, ColourMaps, chroma, to_grey
from cadbusi_assets.ultrasound.quality import darkness
from cadbusi_assets.ultrasound.twins import image_signature

_BOX = pl.List(pl.Int64)

#: Columns of :meth:`FrameAnalysis.as_row`, typed as the ``image_features`` table stores them
#: (the stage registry, :mod:`cadbusi_assets.stages.tables`, builds that table's schema on it).
FEATURES_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "frame": pl.Int32(),
    "height": pl.Int64(),
    "width": pl.Int64(),
    "region_count": pl.Int64(),
    "region_x0": pl.Int64(),
    "region_y0": pl.Int64(),
    "region_x1": pl.Int64(),
    "region_y1": pl.Int64(),
    "crop_x0": pl.Int64(),
    "crop_y0": pl.Int64(),
    "crop_x1": pl.Int64(),
    "crop_y1": pl.Int64(),
    "fov_shape": pl.String(),
    "fov_source": pl.String(),
    "fov_polygon": pl.List(_BOX),
    "debris_boxes": pl.List(_BOX),
    "has_calipers": pl.Boolean(),
    "caliper_points": pl.List(_BOX),
    "caliper_scores": pl.List(pl.Float64()),
    "caliper_confidence": pl.Float64(),
    "is_doppler": pl.Boolean(),
    "colour_share": pl.Float64(),
    "darkness": pl.Float64(),
    "is_grey": pl.Boolean(),
    "ocr_laterality": pl.String(),
    "laterality": pl.String(),
    "orientation": pl.String(),
    "clock_position": pl.String(),
    "nipple_distance_cm": pl.Float64(),
    "body_area": pl.String(),
    "signature": pl.List(pl.Int64()),
}


@dataclass
class OcrFields:
    text: str | None = None  # PHI until parsed: kept in memory, never in a row
    laterality: str | None = None
    orientation: str | None = None
    clock_position: str | None = None
    nipple_distance_cm: float | None = None
    body_area: str | None = None
    boxes: list[tuple[int, int, int, int]] = field(default_factory=list)


@dataclass
class FrameAnalysis:
    """Everything measured on one frame; :meth:`as_row` flattens it for the features table."""

    frame: int
    height: int
    width: int
    region_count: int
    region: UltrasoundRegion | None
    fov: FieldOfView
    calipers: CaliperDetection
    is_doppler: bool
    colour_share: float
    darkness: float | None
    is_grey: bool
    signature: np.ndarray
    ocr: OcrFields = field(default_factory=OcrFields)
    laterality: str | None = None
    debris_boxes: list[tuple[int, int, int, int]] = field(default_factory=list)

    @property
    def crop_box(self) -> tuple[int, int, int, int] | None:
        return self.fov.box

    def as_row(self) -> dict[str, Any]:
        box = self.fov.box
        region = self.region
        return {
            "frame": self.frame,
            "height": self.height,
            "width": self.width,
            "region_count": self.region_count,
            "region_x0": region.x0 if region else None,
            "region_y0": region.y0 if region else None,
            "region_x1": region.x1 if region else None,
            "region_y1": region.y1 if region else None,
            "crop_x0": box[0] if box else None,
            "crop_y0": box[1] if box else None,
            "crop_x1": box[2] if box else None,
            "crop_y1": box[3] if box else None,
            "fov_shape": self.fov.shape,
            "fov_source": self.fov.source,
            "fov_polygon": [list(p) for p in self.fov.polygon],
            "debris_boxes": [list(b) for b in self.debris_boxes],
            "has_calipers": self.calipers.has_calipers,
            "caliper_points": [list(p) for p in self.calipers.points],
            "caliper_scores": list(self.calipers.scores),
            "caliper_confidence": self.calipers.confidence,
            "is_doppler": self.is_doppler,
            "colour_share": self.colour_share,
            "darkness": self.darkness,
            "is_grey": self.is_grey,
            "ocr_laterality": self.ocr.laterality,
            "laterality": self.laterality,
            "orientation": self.ocr.orientation,
            "clock_position": self.ocr.clock_position,
            "nipple_distance_cm": self.ocr.nipple_distance_cm,
            "body_area": self.ocr.body_area,
            "signature": self.signature.tolist(),
        }


def features_frame(
    rows: Sequence[dict[str, Any]], extra: dict[str, pl.DataType | type[pl.DataType]] | None = None
) -> pl.DataFrame:
    """A typed frame from :meth:`FrameAnalysis.as_row` dicts (plus ``extra`` columns)."""
    schema = {**(extra or {}), **FEATURES_SCHEMA}
    return pl.DataFrame(list(rows), schema=schema, strict=False)


def normalize_laterality(value: str | None) -> str | None:
    """'L', 'lt', 'Left' -> 'LEFT'; 'R'... -> 'RIGHT'; 'B', 'bilat' -> 'BILATERAL'; else None."""
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in ("l", "lt", "left"):
        return "LEFT"
    if text in ("r", "rt", "right"):
        return "RIGHT"
    if text in ("b", "bi", "bilat", "bilateral", "both"):
        return "BILATERAL"
    return None


def resolve_laterality(ocr_laterality: str | None, study_laterality: str | None) -> str | None:
    """The study's side wins for a one-sided study; a bilateral study keeps the OCR side."""
    study = normalize_laterality(study_laterality)
    if study in ("LEFT", "RIGHT"):
        return study
    side = normalize_laterality(ocr_laterality)
    return side if side in ("LEFT", "RIGHT") else None


def _intersects(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def debris_boxes(
    frame: np.ndarray,
    crop: tuple[int, int, int, int],
    text_boxes: Sequence[tuple[int, int, int, int]],
    caliper_points: Sequence[tuple[int, int]],
    doppler: bool,
    maps: ColourMaps | None = None,
) -> list[tuple[int, int, int, int]]:
    """UI elements inside the crop box: text lines, and coloured marks that are not calipers
    (colour blobs are flow on Doppler frames, so only text counts there)."""
    found = [box for box in text_boxes if _intersects(box, crop)]
    if frame.ndim == 3 and not doppler:
        x0, y0, x1, y1 = crop
        crop_chroma = (
            chroma(frame[y0 : y1 + 1, x0 : x1 + 1])
            if maps is None
            else maps.chroma[y0 : y1 + 1, x0 : x1 + 1]
        )
        # uint8 0/1 of the clearly coloured pixels (:func:`.overlay.coloured_pixels`)
        _, coloured = cv2.threshold(crop_chroma, CHROMA_LEVEL - 1, 1, cv2.THRESH_BINARY)
        for px, py in caliper_points:  # the marks themselves are not debris
            cx, cy = px - x0, py - y0
            coloured[max(0, cy - 24) : cy + 25, max(0, cx - 24) : cx + 25] = 0
        if cv2.countNonZero(coloured):
            near = cv2.dilate(coloured, np.ones((5, 5), np.uint8))
            contours, _ = cv2.findContours(near, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            for contour in contours:
                x, y, w, h = cv2.boundingRect(contour)
                if max(w, h) >= 8:
                    found.append((x + x0, y + y0, x + x0 + w - 1, y + y0 + h - 1))
    return sorted(set(found), key=lambda b: (b[1], b[0]))


def _colour_maps(
    frame: np.ndarray, box: tuple[int, int, int, int] | None
) -> tuple[ColourMaps | None, bool]:
    """The frame's :class:`~.overlay.ColourMaps` (None for a grey ``(H, W)`` frame) and
    whether no pixel of the frame is coloured (chroma 0 everywhere). With ``box`` (inclusive
    ``x0, y0, x1, y1``) the maps are computed inside the box alone (zeros elsewhere: only
    for readers that look inside it; each pixel's values are its own channels'), and the
    rest of the frame only while no coloured pixel is found."""
    if frame.ndim == 2:
        return None, True
    if box is None:
        maps = ColourMaps.of(frame)
        return maps, cv2.countNonZero(maps.chroma) == 0
    x0, y0, x1, y1 = box
    inner = ColourMaps.of(frame[y0 : y1 + 1, x0 : x1 + 1])
    chroma_map = np.zeros(frame.shape[:2], np.uint8)
    high = np.zeros(frame.shape[:2], np.uint8)
    chroma_map[y0 : y1 + 1, x0 : x1 + 1] = inner.chroma
    high[y0 : y1 + 1, x0 : x1 + 1] = inner.high
    coloured = cv2.countNonZero(inner.chroma) > 0
    bands = (frame[:y0], frame[y1 + 1 :], frame[y0 : y1 + 1, :x0], frame[y0 : y1 + 1, x1 + 1 :])
    for band in bands:
        if coloured:
            break
        coloured = band.size > 0 and cv2.countNonZero(ColourMaps.of(band).chroma) > 0
    return ColourMaps(chroma_map, high), not coloured


def analyze_frame(
    frame: np.ndarray,
    regions: Sequence[UltrasoundRegion],
    *,
    ocr: bool = True,
    study_laterality: str | None = None,
    frame_index: int = 0,
    reading: FrameText | None = None,
) -> FrameAnalysis:
    """Analyse one de-identified uint8 frame (grey ``(H, W)`` or RGB ``(H, W, 3)``).

    Text lines are searched inside the main US region (the whole frame when there is none)
    and, with ``ocr``, read as the de-identification's verification reads them (the learned
    reader for lines it reads confidently as the screen's own words, tesseract for the rest:
    :func:`~.ocr.read_frame_text` with its vocabulary gate; :class:`~.ocr.TesseractUnavailable`
    when tesseract is not installed); ``reading`` (:func:`~.ocr.read_frame_text` of this frame, for example the
    one the de-identification's verification made) is used instead of reading again.
    ``study_laterality`` (LEFT/RIGHT/BILATERAL) overrides the OCR side for one-sided studies.
    """
    if frame.dtype != np.uint8 or frame.ndim not in (2, 3):
        raise ValueError("analyze_frame needs a uint8 (H, W) or (H, W, 3) frame")
    height, width = frame.shape[:2]
    grey = to_grey(frame)
    fov = find_field_of_view(grey, regions)
    # Chroma and brightest channel where they are read (the caliper search's box; the whole
    # frame for the text-line search) and whether any pixel of the frame is coloured
    text_search = reading is None and not ocr
    maps, is_grey = _colour_maps(
        frame, None if fov.box is None or text_search else search_box(fov.box, frame.shape)
    )
    work, maps = (grey, None) if is_grey else (frame, maps)  # R=G=B: one channel is enough
    fov_mask = fov.mask(height, width)
    if fov.box is not None:
        dark = darkness(grey, fov.box, fov_mask)
        share = 0.0 if is_grey else colour_share(frame, fov.box, fov_mask, maps)
        doppler = (not is_grey) and is_doppler(frame, fov.box, fov_mask, share=share)
        # The whole crop is searched: a mark on the black corners of a fan is in the export too.
        calipers = detect_calipers(work, fov.box, grey=grey, maps=maps)
    else:
        dark, share, doppler, calipers = None, 0.0, False, CaliperDetection()
    region = main_region(regions)
    area = region.box if region else None
    if reading is not None:
        reading = reading.within(area)
        text_boxes = reading.boxes
    elif ocr:
        # the reading the de-identification's verification makes: the learned reader for the
        # screen's own words, tesseract for the rest (one reading, whoever reads)
        # the whole frame, then the area: the lines the one pass's reading finds (found in
        # an area alone, a line at its edge is cut elsewhere and can read differently)
        reading = read_frame_text(work, vocabulary_gate=True).within(area)
        text_boxes = reading.boxes
    else:
        # (the RGB frame's brightest channel is maps.high, computed already: 1 ms a frame)
        text_boxes = find_text_lines(work, area=area, maps=maps)
    ocr_fields = OcrFields(boxes=list(text_boxes))
    if reading is not None and reading.lines:
        text = reading.text or None
        parsed = parse_annotation(text)
        ocr_fields = OcrFields(
            text=text,
            laterality=parsed.laterality,
            orientation=parsed.orientation,
            clock_position=parsed.clock_position,
            nipple_distance_cm=parsed.nipple_distance_cm,
            body_area=parsed.body_area,
            boxes=list(text_boxes),
        )
    debris = (
        debris_boxes(work, fov.box, text_boxes, calipers.points, doppler, maps) if fov.box else []
    )
    return FrameAnalysis(
        frame=frame_index,
        height=height,
        width=width,
        region_count=len(image_regions(regions)),
        region=region,
        fov=fov,
        calipers=calipers,
        is_doppler=doppler,
        colour_share=round(share, 5),
        darkness=dark,
        is_grey=is_grey,
        signature=image_signature(grey, fov.box),
        ocr=ocr_fields,
        laterality=resolve_laterality(ocr_fields.laterality, study_laterality),
        debris_boxes=debris,
    )
