"""A small synthetic research zone with a catalog, for export tests (no pipeline run needed)."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest
from PIL import Image

from cadbusi_assets.catalog.build import CATALOG_PATH
from cadbusi_assets.storage import Zone, open_zone

SCANNERS = ("EPIQ 7G", "LOGIQ E10", "ACUSON S2000")


def synthetic_catalog(n_patients: int = 24, seed: int = 3) -> pl.DataFrame:
    """Patients with 1-6 images each; labels skewed (few benign, many malignant images)."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_patients):
        label = int(rng.choice([1, 0, -1], p=[0.45, 0.35, 0.2]))
        scanner = SCANNERS[int(rng.integers(len(SCANNERS)))]
        for i in range(int(rng.integers(1, 7))):
            image_id = f"img{p:03d}{i}"
            calipers = i == 0
            rows.append(
                {
                    "image_id": image_id,
                    "patient_pseudo": f"P{p:04d}",
                    "accession_pseudo": f"A{p:04d}",
                    "study_laterality": "LEFT" if p % 2 else "RIGHT",
                    "laterality": None,
                    "has_malignant": None if label < 0 else label,
                    "label_rule": None if label < 0 else ("PATHOLOGY" if label else "BENIGN1"),
                    "birads": "4A",
                    "age_years": 50,
                    "manufacturer": "Maker",
                    "model": scanner,
                    "is_cine": False,
                    "frame": 0,
                    "crop_x0": 10,
                    "crop_y0": 20,
                    "crop_x1": 49,
                    "crop_y1": 59,
                    "fov_shape": "rectangle",
                    "fov_polygon": [[10, 20], [49, 20], [49, 59], [10, 59]],
                    "has_calipers": calipers,
                    "caliper_points": [[20, 30], [40, 32]] if calipers else [],
                    "physical_delta_x_cm": 0.01,
                    "physical_delta_y_cm": 0.01,
                    "exclusion_reason": None,
                    "inpainted_path": None,
                    "png_path": f"images/{image_id}.png",
                    "study_date_shifted": None,
                }
            )
    return pl.DataFrame(rows, infer_schema_length=None)


def _png(value: int) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.full((64, 64), value % 256, dtype=np.uint8)).save(out, format="PNG")
    return out.getvalue()


def write_zone(
    root: Path, catalog: pl.DataFrame, twins: pl.DataFrame | None = None, batches: int = 2
) -> Zone:
    zone = open_zone(str(root), "research")
    for n, image_id in enumerate(catalog["image_id"].to_list()):
        zone.write_bytes(("images", f"{image_id}.png"), _png(n))
    ids = catalog.select("image_id").with_row_index("_n")
    for b in range(batches):
        part = ids.filter(pl.col("_n") % batches == b).drop("_n")
        zone.write_parquet(("tables", "images", f"bbatch{b}.parquet"), part)
    twins = (
        twins
        if twins is not None
        else pl.DataFrame(schema={"caliper_image_id": pl.Utf8, "clean_image_id": pl.Utf8})
    )
    studies = catalog.select(
        "accession_pseudo",
        pl.lit("Mass at 2:00.").alias("findings"),
        pl.lit(None).alias("impression"),
    ).unique("accession_pseudo")
    target = zone.local_path(*CATALOG_PATH)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target.unlink()
    con = duckdb.connect(str(target))
    for name, frame in (("image_catalog", catalog), ("twins", twins), ("studies", studies)):
        con.register("frame_in", frame.to_arrow())
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM frame_in")
        con.unregister("frame_in")
    con.close()
    return zone


@pytest.fixture
def zone(tmp_path) -> Zone:
    return write_zone(tmp_path / "research", synthetic_catalog())


def memory_research_zone(tmp_path: Path) -> Zone:
    """A research zone on an object store (fsspec's memory store, a fresh bucket) holding the
    :func:`synthetic_catalog` as :func:`write_zone` lays it out."""
    local = tmp_path / "research"
    write_zone(local, synthetic_catalog())
    zone = open_zone(f"memory://research-{uuid.uuid4().hex}/research", name="research")
    for path in sorted(p for p in local.rglob("*") if p.is_file()):
        zone.write_bytes(path.relative_to(local).parts, path.read_bytes())
    assert not zone.local
    return zone
