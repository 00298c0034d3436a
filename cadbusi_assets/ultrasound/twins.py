"""Caliper/clean twins: the same frozen frame saved with and without calipers.

A signature is the field-of-view crop shrunk to 32x32 grey levels (Gaussian pyramid, then
area average). Twins share
the study and the field-of-view geometry (crop boxes within a few pixels) and their signatures
differ by at most :data:`MAX_DISTANCE` grey levels on average: caliper strokes move the
block averages by far less than that, while two different frames of the same breast differ
by several levels through the speckle alone.

>>> import numpy as np
>>> frame = np.random.default_rng(0).integers(0, 255, (100, 120), dtype=np.uint8)
>>> image_signature(frame, (10, 10, 109, 89)).shape
(1024,)
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import polars as pl

from cadbusi_assets.ultrasound.overlay import to_grey

SIGNATURE_SIDE = 32
#: Mean absolute difference of signatures (grey levels) for a twin pair.
MAX_DISTANCE = 2.0
#: Crop boxes of twins agree within this many pixels on every edge.
MAX_BOX_SHIFT = 4

Box = Sequence[int]

TWINS_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "caliper_image_id": pl.String,
    "clean_image_id": pl.String,
    "distance": pl.Float64,
}


def image_signature(frame: np.ndarray, crop_box: Box | None) -> np.ndarray:
    """Flat ``uint8`` thumbnail (32x32) of the crop; the whole frame when there is no crop
    (``crop_box`` None or holding None, as a features row without a crop does)."""
    grey = to_grey(frame)
    if crop_box is not None and all(v is not None for v in crop_box):
        x0, y0, x1, y1 = (int(v) for v in crop_box)
        grey = grey[y0 : y1 + 1, x0 : x1 + 1]
    if grey.size == 0:
        return np.zeros(SIGNATURE_SIDE * SIGNATURE_SIDE, np.uint8)
    # Two pyramid halvings first: 5x cheaper than one area resize of the whole crop.
    while min(grey.shape) >= 4 * SIGNATURE_SIDE:
        grey = cv2.pyrDown(grey)
    small = cv2.resize(grey, (SIGNATURE_SIDE, SIGNATURE_SIDE), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(small).ravel()


def signature_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def find_twins(
    features: pl.DataFrame,
    *,
    max_distance: float = MAX_DISTANCE,
    max_box_shift: int = MAX_BOX_SHIFT,
) -> pl.DataFrame:
    """Pairs (caliper image, nearest clean image) of the same study and geometry.

    Input columns: ``image_id``, ``study_key``, ``crop_x0..crop_y1``, ``has_calipers``,
    ``signature`` (list of uint8). Output: ``caliper_image_id``, ``clean_image_id``,
    ``distance`` (one row per caliper image that has a twin).
    """
    needed = [
        "image_id",
        "study_key",
        "crop_x0",
        "crop_y0",
        "crop_x1",
        "crop_y1",
        "has_calipers",
        "signature",
    ]
    rows = features.select(needed).filter(
        pl.col("signature").is_not_null() & pl.col("crop_x0").is_not_null()
    )
    calipers = rows.filter(pl.col("has_calipers").fill_null(False))
    clean = rows.filter(~pl.col("has_calipers").fill_null(False))
    if calipers.is_empty() or clean.is_empty():
        return pl.DataFrame(schema=TWINS_SCHEMA)
    pairs = calipers.join(clean, on="study_key", suffix="_clean")
    shift = pl.max_horizontal(
        (pl.col(c) - pl.col(f"{c}_clean")).abs()
        for c in ("crop_x0", "crop_y0", "crop_x1", "crop_y1")
    )
    pairs = pairs.filter(shift <= max_box_shift)
    if pairs.is_empty():
        return pl.DataFrame(schema=TWINS_SCHEMA)
    side = SIGNATURE_SIDE * SIGNATURE_SIDE
    a = np.asarray(pairs["signature"].to_list(), dtype=np.int16).reshape(-1, side)
    b = np.asarray(pairs["signature_clean"].to_list(), dtype=np.int16).reshape(-1, side)
    distance = np.abs(a - b).mean(axis=1)
    return (
        pairs.select(
            pl.col("image_id").alias("caliper_image_id"),
            pl.col("image_id_clean").alias("clean_image_id"),
        )
        .with_columns(pl.Series("distance", np.round(distance, 4), dtype=pl.Float64))
        .filter(pl.col("distance") <= max_distance)
        .sort(["caliper_image_id", "distance", "clean_image_id"])
        .unique(subset="caliper_image_id", keep="first", maintain_order=True)
        .cast(pl.Schema(TWINS_SCHEMA))
    )
