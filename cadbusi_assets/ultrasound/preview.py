"""A small before/after picture for asset metadata: crop box, FOV outline, detections, fill.

Only the field-of-view crop (plus a few pixels) is drawn, never the rest of the frame, so the
header band cannot appear even on a frame that was not de-identified.

>>> import numpy as np
>>> from cadbusi_assets.ultrasound.analysis import analyze_frame
>>> frame = np.zeros((200, 260), np.uint8)
>>> frame[30:181, 40:221] = 90
>>> png = preview_png(frame, analyze_frame(frame, [], ocr=False))
>>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
True
"""

from __future__ import annotations

import cv2
import numpy as np

from cadbusi_assets.ultrasound.analysis import FrameAnalysis
from cadbusi_assets.ultrasound.png import encode_png

MARGIN = 6
PANEL_WIDTH = 320
CROP_COLOUR = (0, 255, 0)
FOV_COLOUR = (0, 200, 255)
CALIPER_COLOUR = (255, 0, 255)
DEBRIS_COLOUR = (255, 140, 0)


def _rgb(frame: np.ndarray) -> np.ndarray:
    return np.repeat(frame[..., None], 3, axis=2) if frame.ndim == 2 else frame.copy()


def preview_png(
    frame: np.ndarray, analysis: FrameAnalysis, inpainted: np.ndarray | None = None
) -> bytes:
    """PNG of the crop with its detections, and the inpainted crop beside it when given."""
    box = analysis.fov.box
    height, width = frame.shape[:2]
    if box is None:
        blank = np.zeros((PANEL_WIDTH // 2, PANEL_WIDTH, 3), np.uint8)
        return encode_png(blank)
    x0, y0 = max(0, box[0] - MARGIN), max(0, box[1] - MARGIN)
    x1, y1 = min(width - 1, box[2] + MARGIN), min(height - 1, box[3] + MARGIN)
    scale = PANEL_WIDTH / float(x1 - x0 + 1)

    def panel(source: np.ndarray, annotate: bool) -> np.ndarray:
        crop = _rgb(source[y0 : y1 + 1, x0 : x1 + 1])
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        if not annotate:
            return crop

        def at(x: float, y: float) -> tuple[int, int]:
            return round((x - x0) * scale), round((y - y0) * scale)

        cv2.rectangle(crop, at(box[0], box[1]), at(box[2], box[3]), CROP_COLOUR, 1)
        if analysis.fov.shape != "rectangle" and len(analysis.fov.polygon) >= 3:
            points = np.array([at(x, y) for x, y in analysis.fov.polygon], np.int32)
            cv2.polylines(crop, [points], True, FOV_COLOUR, 1)
        for bx0, by0, bx1, by1 in analysis.debris_boxes:
            cv2.rectangle(crop, at(bx0, by0), at(bx1, by1), DEBRIS_COLOUR, 1)
        for x, y in analysis.calipers.points:
            cv2.circle(crop, at(x, y), 6, CALIPER_COLOUR, 1, cv2.LINE_AA)
        return crop

    panels = [panel(frame, True)]
    if inpainted is not None:
        panels.append(np.full((panels[0].shape[0], 4, 3), 255, np.uint8))
        panels.append(panel(inpainted, False))
    return encode_png(np.ascontiguousarray(np.concatenate(panels, axis=1)))
