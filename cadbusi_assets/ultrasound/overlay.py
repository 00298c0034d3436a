"""Pixels drawn over the ultrasound image by the scanner: colour marks and bright thin strokes.

Shared by the caliper detector, the inpainting mask and the debris finder.

>>> import numpy as np
>>> rgb = np.zeros((20, 20, 3), np.uint8); rgb[5, 2:15] = (255, 255, 0)
>>> int(overlay_candidates(rgb)[5].sum())
13
"""

from __future__ import annotations

from dataclasses import dataclass

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
#: A saturated pixel dimmer than that (:func:`saturated_mark_pixels`): at least this chroma
#: and its brightest channel at least this bright (a red mark's luminance is 76, a magenta
#: one's 105, a blue one's 29; their chroma and brightest channel are a yellow mark's; JPEG
#: blurs a 1-px red stroke to chroma 60-100, brightest channel 110-190). Tuning seeds 100-139
#: with the calipers in magenta, orange, red and light blue
#: (``benchmarks.caliper_misses --caliper-colours unseen``): recall 0.367 before; with
#: :data:`~.calipers.UNLEARNED_HIGH` at 220, 0.69 at 100 and 150, 0.71 at 60 and 110; at 180
#: (and the rest as now) 0.73. The families' own colours (seeds 100-439): mark for mark the
#: same.
SATURATED_MARK_CHROMA, SATURATED_MARK_HIGH = 60, 110


def to_grey(frame: np.ndarray) -> np.ndarray:
    """Grey ``(H, W)`` uint8 view or copy of a grey or RGB frame."""
    if frame.ndim == 2:
        return frame
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


def chroma(rgb: np.ndarray) -> np.ndarray:
    """Max minus min over the channels (0 for a grey pixel), uint8."""
    if rgb.ndim == 2:
        return np.zeros(rgb.shape, np.uint8)
    return ColourMaps.of(rgb).chroma


#: The three channels of a pixel, from its first, along an interleaved RGB row.
_TRIPLE = np.ones((1, 3), np.uint8)


@dataclass(frozen=True)
class ColourMaps:
    """Per-pixel chroma and brightest channel of an RGB frame, computed once per frame."""

    chroma: np.ndarray
    high: np.ndarray

    @classmethod
    def of(cls, rgb: np.ndarray) -> ColourMaps:
        # Each pixel's brightest and dimmest channel: the maximum and minimum of the three
        # values from each pixel's first, along the interleaved rows (a 1x3 dilation and
        # erosion anchored left), read off at the first channel: the values of a split and
        # four per-channel extrema at three quarters of the time.
        height, width = rgb.shape[:2]
        rows = np.ascontiguousarray(rgb[..., :3]).reshape(height, width * 3)
        high = cv2.extractChannel(
            cv2.dilate(rows, _TRIPLE, anchor=(0, 0), borderType=cv2.BORDER_REPLICATE).reshape(
                height, width, 3
            ),
            0,
        )
        low = cv2.extractChannel(
            cv2.erode(rows, _TRIPLE, anchor=(0, 0), borderType=cv2.BORDER_REPLICATE).reshape(
                height, width, 3
            ),
            0,
        )
        return cls(cv2.subtract(high, low, dst=low), high)

    def crop(self, y0: int, y1: int, x0: int, x1: int) -> ColourMaps:
        """The maps of ``frame[y0:y1, x0:x1]`` (exclusive ends)."""
        return ColourMaps(self.chroma[y0:y1, x0:x1], self.high[y0:y1, x0:x1])


def coloured_pixels(
    rgb: np.ndarray, level: int = CHROMA_LEVEL, maps: ColourMaps | None = None
) -> np.ndarray:
    """Boolean mask of clearly coloured pixels (all False for a grey frame)."""
    if rgb.ndim == 2:
        return np.zeros(rgb.shape, bool)
    return (chroma(rgb) if maps is None else maps.chroma) >= level


def saturated_mark_pixels(grey: np.ndarray, maps: ColourMaps) -> np.ndarray:
    """uint8 0/1 mask of the saturated pixels dimmer than :data:`COLOUR_MARK_LEVEL` in
    luminance (:data:`SATURATED_MARK_CHROMA`, :data:`SATURATED_MARK_HIGH`): the pixels of a
    red, magenta or blue mark, which :func:`overlay_candidates` leaves out (with a colour
    Doppler map's red and blue)."""
    _, strong = cv2.threshold(maps.chroma, SATURATED_MARK_CHROMA - 1, 1, cv2.THRESH_BINARY)
    _, bright = cv2.threshold(maps.high, SATURATED_MARK_HIGH - 1, 1, cv2.THRESH_BINARY)
    _, dim = cv2.threshold(grey, COLOUR_MARK_LEVEL - 1, 1, cv2.THRESH_BINARY_INV)
    return cv2.bitwise_and(cv2.bitwise_and(strong, bright), dim)


def as_yellow(maps: ColourMaps, boost: float = 1.0) -> np.ndarray:
    """The RGB frame of ``maps`` with every colour turned yellow, of the same brightest
    channel and chroma (red, green and the brightest channel, blue the dimmest): a red or
    magenta mark as a yellow one; grey and white pixels unchanged. ``boost`` above 1: red
    and green are the dimmest channel plus ``boost`` times the chroma (at most 255)."""
    low = cv2.subtract(maps.high, maps.chroma)
    if boost == 1.0:
        return cv2.merge([maps.high, maps.high, low])
    high = cv2.addWeighted(low, 1.0, maps.chroma, boost, 0.0)
    return cv2.merge([high, high, low])


def overlay_candidates(
    frame: np.ndarray, grey: np.ndarray | None = None, maps: ColourMaps | None = None
) -> np.ndarray:
    """uint8 0/1 mask of pixels that may belong to a drawn mark (colour or bright stroke).

    ``maps`` are the frame's :class:`ColourMaps` when the caller has them already."""
    grey = to_grey(frame) if grey is None else grey
    background = cv2.blur(grey, (15, 15))
    bright = (grey >= WHITE_LEVEL) & (cv2.subtract(grey, background) >= WHITE_CONTRAST)
    mask = bright | (grey >= SATURATED_LEVEL)
    if frame.ndim == 3:
        maps = ColourMaps.of(frame) if maps is None else maps
        # Coloured marks are bright too; JPEG smears their colour (not their brightness)
        # over the darker neighbours, which this leaves out.
        mask |= (maps.chroma >= CHROMA_LEVEL) & (maps.high >= 100) & (grey >= COLOUR_MARK_LEVEL)
    return mask.astype(np.uint8)
