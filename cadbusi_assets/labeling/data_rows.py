"""Data rows for de-identified images (global key = image id, row data = the research-zone PNG).

>>> import polars as pl
>>> images = pl.DataFrame({"image_id": ["a1"], "png_path": ["images/a1/a1.png"]})
>>> build_data_rows(images, lambda p: "gs://bucket/research/" + p)[0]["row_data"]
'gs://bucket/research/images/a1/a1.png'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl


def build_data_rows(
    images: pl.DataFrame,
    locate: Callable[[str], str],
    inpainted: pl.DataFrame | None = None,
) -> list[dict[str, Any]]:
    """One data row per image. Caliper images with an inpainted version send the inpainted PNG
    (annotators see the lesion without calipers); the key stays the image id."""
    paths = images.select("image_id", "png_path")
    if inpainted is not None and inpainted.height:
        paths = paths.join(
            inpainted.select("image_id", "inpainted_path"), on="image_id", how="left"
        )
        paths = paths.with_columns(pl.coalesce("inpainted_path", "png_path").alias("png_path"))
    return [
        {"global_key": image_id, "external_id": image_id, "row_data": locate(path)}
        for image_id, path in paths.select("image_id", "png_path").sort("image_id").iter_rows()
    ]
