"""Image quality: darkness of the field of view and the exclusion reasons of a features table.

Every reason that applies is recorded (joined with ``"; "``), so nothing is dropped silently;
``exclusion_reason`` is null for images that are kept.

>>> import numpy as np
>>> grey = np.zeros((10, 10), np.uint8); grey[:, 5:] = 100
>>> darkness(grey, (0, 0, 9, 9))
0.5
"""

from __future__ import annotations

import cv2
import numpy as np
import polars as pl

#: A pixel darker than this grey level counts as dark (as in the original pipeline).
DARK_LEVEL = 20
MAX_DARKNESS = 0.75
MIN_SIDE = 200
MIN_ASPECT = 0.5
MAX_ASPECT = 4.0
BREAST_AREAS = ("breast",)

Box = tuple[int, int, int, int]

REASONS = (
    "missing crop",
    "too dark",
    "doppler",
    "multiple regions",
    "too small",
    "bad aspect ratio",
    "non-breast area",
    "unknown laterality (bilateral study)",
)


def darkness(grey: np.ndarray, box: Box, fov_mask: np.ndarray | None = None) -> float:
    """Share (0..1) of field-of-view pixels darker than :data:`DARK_LEVEL`."""
    x0, y0, x1, y1 = box
    crop = grey[y0 : y1 + 1, x0 : x1 + 1]
    if crop.size == 0:
        return 1.0
    # uint8 0/1 masks counted with OpenCV (no bool temporaries)
    _, dark = cv2.threshold(crop, DARK_LEVEL - 1, 1, cv2.THRESH_BINARY_INV)
    if fov_mask is not None:
        inside = np.asarray(fov_mask[y0 : y1 + 1, x0 : x1 + 1], bool).view(np.uint8)
        total = cv2.countNonZero(inside)
        if total:
            return round(float(cv2.countNonZero(cv2.bitwise_and(dark, inside))) / total, 4)
    return round(float(cv2.countNonZero(dark)) / dark.size, 4)


def exclusion_reasons(
    features: pl.DataFrame,
    *,
    max_darkness: float = MAX_DARKNESS,
    min_side: int = MIN_SIDE,
    min_aspect: float = MIN_ASPECT,
    max_aspect: float = MAX_ASPECT,
    breast_areas: tuple[str, ...] = BREAST_AREAS,
    exclude_doppler: bool = True,
) -> pl.DataFrame:
    """Add ``exclusion_reason`` (null when kept) to a features frame.

    Uses the columns that are present: crop box, ``darkness``, ``is_doppler``,
    ``region_count``, ``body_area`` (unknown counts as breast), and ``laterality`` with
    ``study_laterality`` (an image of unknown side in a bilateral study is excluded).
    """
    columns = set(features.columns)
    width = pl.col("crop_x1") - pl.col("crop_x0") + 1
    height = pl.col("crop_y1") - pl.col("crop_y0") + 1
    has_crop = (
        pl.all_horizontal(
            pl.col(c).is_not_null() for c in ("crop_x0", "crop_y0", "crop_x1", "crop_y1")
        )
        if {"crop_x0", "crop_y0", "crop_x1", "crop_y1"} <= columns
        else pl.lit(False)
    )
    checks: list[tuple[str, pl.Expr]] = [("missing crop", ~has_crop)]
    if "darkness" in columns:
        checks.append(("too dark", pl.col("darkness") > max_darkness))
    if exclude_doppler and "is_doppler" in columns:
        checks.append(("doppler", pl.col("is_doppler")))
    if "region_count" in columns:
        checks.append(("multiple regions", pl.col("region_count") > 1))
    if {"crop_x0", "crop_y0", "crop_x1", "crop_y1"} <= columns:  # (no crop: "missing crop")
        checks.append(("too small", has_crop & ((width < min_side) | (height < min_side))))
        aspect = width.cast(pl.Float64) / height.cast(pl.Float64)
        checks.append(
            ("bad aspect ratio", has_crop & ((aspect < min_aspect) | (aspect > max_aspect)))
        )
    if "body_area" in columns:
        area = pl.col("body_area").cast(pl.String).str.to_lowercase()
        checks.append(
            (
                "non-breast area",
                area.is_not_null() & (area != "unknown") & ~area.is_in(list(breast_areas)),
            )
        )
    if {"laterality", "study_laterality"} <= columns:
        side = pl.col("laterality").cast(pl.String).str.to_lowercase()
        bilateral = (
            pl.col("study_laterality").cast(pl.String).str.to_lowercase().is_in(["bilateral", "b"])
        )
        checks.append(
            (
                "unknown laterality (bilateral study)",
                bilateral & (side.is_null() | ~side.is_in(["left", "right"])),
            )
        )
    reasons = [pl.when(expr.fill_null(False)).then(pl.lit(name)) for name, expr in checks]
    joined = pl.concat_str(reasons, separator="; ", ignore_nulls=True)
    return features.with_columns(
        pl.when(joined == "").then(None).otherwise(joined).alias("exclusion_reason")
    )
