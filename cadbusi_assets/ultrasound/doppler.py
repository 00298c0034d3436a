"""Colour / power Doppler detection: solid colour areas inside the field of view.

Calipers, text and measurement lines are coloured too, but thin: an opening with a 5x5
square removes them, while flow maps are blobs. A grey frame is never Doppler.

>>> import numpy as np
>>> rgb = np.full((100, 100, 3), 80, np.uint8)
>>> rgb[40:60, 30:70] = (200, 30, 20)
>>> colour_share(rgb, (0, 0, 99, 99)) > 0.05, is_doppler(rgb, (0, 0, 99, 99))
(True, True)
"""

from __future__ import annotations

import cv2
import numpy as np

from cadbusi_assets.ultrasound.overlay import ColourMaps, chroma

#: Chroma (max - min channel) of a flow pixel.
FLOW_CHROMA = 40
#: Doppler when solid colour covers at least this share of the field of view ...
MIN_SHARE = 0.002
#: ... and at least this many (full-resolution) pixels.
MIN_PIXELS = 150

Box = tuple[int, int, int, int]


def colour_share(
    frame: np.ndarray,
    box: Box,
    fov_mask: np.ndarray | None = None,
    maps: ColourMaps | None = None,
) -> float:
    """Share of the field of view covered by solid (not thin) colour."""
    if frame.ndim == 2:
        return 0.0
    x0, y0, x1, y1 = box
    crop_chroma = (
        chroma(frame[y0 : y1 + 1, x0 : x1 + 1])
        if maps is None
        else maps.chroma[y0 : y1 + 1, x0 : x1 + 1]
    )
    if crop_chroma.size == 0:
        return 0.0
    # uint8 255 where coloured, thresholds and counts in OpenCV (no bool temporaries): the
    # values of (chroma >= FLOW_CHROMA) * 255 and of the 0/1 masks below
    coloured = cv2.threshold(crop_chroma, FLOW_CHROMA - 1, 255, cv2.THRESH_BINARY)[1]
    if cv2.countNonZero(coloured) == 0:
        return 0.0
    # Half resolution is plenty for blobs and 4x cheaper to open.
    half = (max(1, coloured.shape[1] // 2), max(1, coloured.shape[0] // 2))
    coloured = cv2.threshold(
        cv2.resize(coloured, half, interpolation=cv2.INTER_AREA), 127, 1, cv2.THRESH_BINARY
    )[1]
    solid: np.ndarray = cv2.morphologyEx(
        coloured, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))
    )
    if fov_mask is not None:
        crop_mask = fov_mask[y0 : y1 + 1, x0 : x1 + 1]
        # (a bool mask read as its 0/1 bytes: the values of astype(uint8), no copy)
        binary = crop_mask.dtype == np.bool_
        inside: np.ndarray = crop_mask.view(np.uint8) if binary else crop_mask.astype(np.uint8)
        inside = cv2.resize(
            inside, (solid.shape[1], solid.shape[0]), interpolation=cv2.INTER_NEAREST
        )
        cv2.bitwise_and(solid, inside, dst=solid)
        area = max(1, cv2.countNonZero(inside) if binary else int(inside.sum()))
    else:
        area = solid.size
    return float(cv2.countNonZero(solid)) / area  # (solid is 0/1)


def is_doppler(
    frame: np.ndarray,
    box: Box,
    fov_mask: np.ndarray | None = None,
    *,
    share: float | None = None,
    maps: ColourMaps | None = None,
) -> bool:
    """True when the field of view holds a colour-flow or power-Doppler map."""
    if frame.ndim == 2:
        return False
    share = colour_share(frame, box, fov_mask, maps) if share is None else share
    x0, y0, x1, y1 = box
    area = (x1 - x0 + 1) * (y1 - y0 + 1)
    return share >= MIN_SHARE and share * area >= MIN_PIXELS
