"""A PyTorch ``Dataset`` over one export folder (an example training code can copy).

>>> ds = CadbusiExportDataset("exports/2026-11-22", split="train")  # doctest: +SKIP
>>> item = ds[0]  # doctest: +SKIP
>>> item["image"].shape, item["label"], item["lesion_boxes"].shape  # doctest: +SKIP
(torch.Size([1, H, W]), tensor(1), torch.Size([n, 4]))

Each item is a dict of tensors:

* ``image``: float32 ``[1, H, W]`` in 0..1 (the cropped, exported PNG; grey scale);
* ``fov_mask`` / ``lesion_mask``: float32 ``[1, H, W]`` of 0/1 (zeros when the export has none);
* ``has_lesion_mask``: bool, whether ``lesion_mask`` is the export's mask (False: zeros that
  say nothing, not "no lesion": no lesion was drawn, or the manifest's ``lesion_mask_left_out``
  says why a label's mask was left out; leave those out of a segmentation loss);
* ``label``: int64 (1 malignant, 0 benign, -1 no label);
* ``lesion_boxes``: float32 ``[n, 4]`` (x0, y0, x1, y1 in image pixels): the boxes of the lesion
  mask (Labelbox boxes, else caliper boxes), else the report-lesion boxes;
* ``caliper_points``: float32 ``[k, 2]`` (x, y in image pixels);
* ``pixel_spacing``: float32 ``[2]`` (cm per pixel, x and y; NaN when unknown);
* ``image_id``: the string id (not a tensor).

Images differ in size: pass ``size=(H, W)`` to resize images, masks, boxes and points, or use
:func:`collate` (lists where sizes differ) as the ``collate_fn`` of a ``DataLoader``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch
from PIL import Image
from torch.utils.data import Dataset

MANIFEST = "manifest.parquet"


def _boxes(value: Any) -> torch.Tensor:
    rows = [list(b) for b in (value or []) if b is not None and len(b) == 4]
    return torch.tensor(rows, dtype=torch.float32).reshape(-1, 4)


def _points(value: Any) -> torch.Tensor:
    rows = [list(p) for p in (value or []) if p is not None and len(p) == 2]
    return torch.tensor(rows, dtype=torch.float32).reshape(-1, 2)


class CadbusiExportDataset(Dataset):
    """Rows of ``<export_dir>/manifest.parquet`` (optionally one ``split``) as tensors."""

    def __init__(
        self,
        export_dir: str | Path,
        split: str | Sequence[str] | None = None,
        *,
        labelled_only: bool = False,
        size: tuple[int, int] | None = None,
        transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        self.root = Path(export_dir)
        manifest = pl.read_parquet(self.root / MANIFEST)
        if split is not None:
            splits = [split] if isinstance(split, str) else list(split)
            unknown = set(splits) - set(manifest["split"].drop_nulls().unique().to_list())
            if unknown and manifest.height:
                known = sorted(manifest["split"].drop_nulls().unique().to_list())
                raise ValueError(f"unknown split(s) {sorted(unknown)}; this export has {known}")
            manifest = manifest.filter(pl.col("split").is_in(splits))
        if labelled_only:
            manifest = manifest.filter(pl.col("label") >= 0)
        self.rows = manifest.sort("image_id").to_dicts()
        self.size = size
        self.transform = transform

    def __len__(self) -> int:
        return len(self.rows)

    def _read(
        self, relative: str | None, shape: tuple[int, ...] = (0, 0), *, mask: bool = True
    ) -> np.ndarray:
        if relative is None:
            return np.zeros(shape, dtype=np.float32)
        with Image.open(self.root / relative) as image:
            grey = image.convert("L")
            if self.size is not None:
                height, width = self.size
                resample = Image.Resampling.NEAREST if mask else Image.Resampling.BILINEAR
                grey = grey.resize((width, height), resample)
            return np.asarray(grey, dtype=np.float32) / 255.0

    def __getitem__(self, index: int) -> dict[str, Any]:
        row = self.rows[index]
        image = self._read(row["image_path"], mask=False)
        shape = image.shape
        fov = self._read(row.get("fov_mask_path"), shape)
        lesion = self._read(row.get("lesion_mask_path"), shape)
        boxes = _boxes(row.get("lesion_mask_boxes_crop"))
        if boxes.shape[0] == 0:
            boxes = _boxes(row.get("lesion_boxes_crop"))
        points = _points(row.get("caliper_points_crop"))
        if self.size is not None:
            sx = self.size[1] / row["width"]
            sy = self.size[0] / row["height"]
            boxes = boxes * torch.tensor([sx, sy, sx, sy])
            points = points * torch.tensor([sx, sy])
        spacing = [row.get("pixel_spacing_x_cm"), row.get("pixel_spacing_y_cm")]
        item = {
            "image_id": row["image_id"],
            "image": torch.from_numpy(image).unsqueeze(0),
            "fov_mask": torch.from_numpy((fov > 0.5).astype(np.float32)).unsqueeze(0),
            "lesion_mask": torch.from_numpy((lesion > 0.5).astype(np.float32)).unsqueeze(0),
            "has_lesion_mask": torch.tensor(row.get("lesion_mask_path") is not None),
            "label": torch.tensor(int(row["label"]), dtype=torch.int64),
            "lesion_boxes": boxes,
            "caliper_points": points,
            "pixel_spacing": torch.tensor(
                [math.nan if v is None else float(v) for v in spacing], dtype=torch.float32
            ),
        }
        return self.transform(item) if self.transform else item


def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack what has one shape across the batch; keep lists for the rest (boxes, points,
    images of different sizes, ids)."""
    out: dict[str, Any] = {}
    for key in items[0]:
        values = [item[key] for item in items]
        same = all(isinstance(v, torch.Tensor) for v in values) and (
            len({tuple(v.shape) for v in values}) == 1
        )
        out[key] = (
            torch.stack(values)
            if same and key not in ("lesion_boxes", "caliper_points")
            else values
        )
    return out
