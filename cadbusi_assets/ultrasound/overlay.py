"""Pixels drawn over the ultrasound image by the scanner: colour marks and bright thin strokes.

Shared by the caliper detector, the inpainting mask and the debris finder.

>>> import numpy as np
>>> rgb = np.zeros((20, 20, 3), np.uint8); rgb[5, 2:15] = (255, 255, 0)
>>> int(overlay_candidates(rgb)[5].sum())
13
"""

from __future__ import annotations

import cv2
import numpy as np

#: Max minus min channel at or above this marks a coloured (non-grey) pixel.
CHROMA_LEVEL = 40
#: A white stroke is at least this bright ...
WHITE_LEVEL = 150
#: ... and this much brighter than its 15x15 neighbourhood mean.
WHITE_CONTRAST = 40
#: Saturated pixels count whatever their neighbourhood.
SATURATED_LEVEL = 235
#: A coloured mark pixel is at least this bright (yellow, green, cyan marks are).
COLOUR_MARK_LEVEL = 120


def to_grey(frame: np.ndarray) -> np.ndarray:
    """Grey ``(H, W)`` uint8 view or copy of a grey or RGB frame."""
    if frame.ndim == 2:
        return frame
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


def chroma(rgb: np.ndarray) -> np.ndarray:
    """Max minus min over the channels (0 for a grey pixel), uint8."""
    if rgb.ndim == 2:
        return np.zeros(rgb.shape, np.uint8)
    high = cv2.max(cv2.max(rgb[..., 0], rgb[..., 1]), rgb[..., 2])
    low = cv2.min(cv2.min(rgb[..., 0], rgb[..., 1]), rgb[..., 2])
    return cv2.subtract(high, low)


def coloured_pixels(rgb: np.ndarray, level: int = CHROMA_LEVEL) -> np.ndarray:
    """Boolean mask of clearly coloured pixels (all False for a grey frame)."""
    if rgb.ndim == 2:
        return np.zeros(rgb.shape, bool)
    return chroma(rgb) >= level


def overlay_candidates(frame: np.ndarray, grey: np.ndarray | None = None) -> np.ndarray:
    """uint8 0/1 mask of pixels that may belong to a drawn mark (colour or bright stroke)."""
    grey = to_grey(frame) if grey is None else grey
    background = cv2.blur(grey, (15, 15))
    bright = (grey >= WHITE_LEVEL) & (cv2.subtract(grey, background) >= WHITE_CONTRAST)
    mask = bright | (grey >= SATURATED_LEVEL)
    if frame.ndim == 3:
        high = cv2.max(cv2.max(frame[..., 0], frame[..., 1]), frame[..., 2])
        # Coloured marks are bright too; JPEG smears their colour (not their brightness)
        # over the darker neighbours, which this leaves out.
        mask |= (chroma(frame) >= CHROMA_LEVEL) & (high >= 100) & (grey >= COLOUR_MARK_LEVEL)
    return mask.astype(np.uint8)
