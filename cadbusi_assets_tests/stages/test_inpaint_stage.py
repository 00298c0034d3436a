"""The inpainted_images stage inpaints in batches; the files do not depend on the batching."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import polars as pl
import pytest
from PIL import Image

from cadbusi_assets.stages import analysis
from cadbusi_assets.stages.deidentification import IMAGES_TABLE
from cadbusi_assets.storage import open_zone, read_partition_table, write_partition_table
from cadbusi_assets.ultrasound.inpaint import inpaint_calipers
from cadbusi_assets.ultrasound.overlay import to_grey
from cadbusi_assets.ultrasound.png import encode_png
from cadbusi_assets_tests.ultrasound.synthetic import WHITE, YELLOW, make_frame

BATCH = "batch-test"
MARKS = [(200, 150, "+", YELLOW), (420, 330, "x", WHITE), (300, 380, "+", WHITE)]


@pytest.fixture
def research(tmp_path):
    zone = open_zone(tmp_path / "research", name="research").ensure()
    ids, paths, points, frames = [], [], [], []
    for i in range(10):
        frame = make_frame(seed=40 + i, calipers=MARKS[: 1 + i % 3], jpeg=i % 2 == 0)
        image = frame.rgb if i % 3 else to_grey(frame.rgb)  # grey and colour PNGs
        image_id = f"{i:02d}img{i}"
        path = f"images/{image_id[:2]}/{image_id}.png"
        zone.write_bytes(tuple(path.split("/")), encode_png(image, grey_tolerance=0))
        ids.append(image_id)
        paths.append(path)
        points.append([list(p) for p in frame.caliper_points])
        frames.append(image)
    write_partition_table(
        zone, IMAGES_TABLE, BATCH, pl.DataFrame({"image_id": ids, "png_path": paths})
    )
    write_partition_table(
        zone,
        analysis.FEATURES_TABLE,
        BATCH,
        pl.DataFrame(
            {
                "image_id": ids,
                "has_calipers": [True] * len(ids),
                "caliper_points": points,
                "is_doppler": [False] * len(ids),
            }
        ),
    )
    return zone, ids, points


def _table(zone) -> pl.DataFrame:
    table = read_partition_table(zone, analysis.INPAINTED_TABLE, BATCH)
    assert table is not None
    return table


def test_the_stage_inpaints_in_batches_and_the_files_do_not_depend_on_them(research, monkeypatch):
    zone, ids, points = research
    analysis.inpaint_partition(zone, BATCH, workers=1, previews=0)
    one_batch = _table(zone)
    assert one_batch["image_id"].to_list() == ids
    assert set(one_batch["method"]) == {"torch"}

    calls: list[int] = []
    chunk = analysis.inpaint_chunk
    monkeypatch.setattr(analysis, "INPAINT_BATCH_FRAMES", 3)
    monkeypatch.setattr(
        analysis, "inpaint_chunk", lambda tasks: calls.append(len(tasks)) or chunk(tasks)
    )
    analysis.inpaint_partition(zone, BATCH, workers=1, previews=0)
    assert calls == [3, 3, 3, 1]
    assert _table(zone).equals(one_batch)

    for image_id, pts, row in zip(ids, points, one_batch.iter_rows(named=True), strict=True):
        png = zone.read_bytes(*row["inpainted_path"].split("/"))
        assert hashlib.sha256(png).hexdigest() == row["inpainted_sha256"]
        source = analysis.load_png(zone, f"images/{image_id[:2]}/{image_id}.png")
        alone, mask = inpaint_calipers(source, pts)  # the single-frame path, same bytes
        stored = np.asarray(Image.open(io.BytesIO(png)))
        assert np.array_equal(stored, alone if stored.ndim == alone.ndim else to_grey(alone))
        assert row["mask_pixels"] == int(mask.sum()) > 0
        assert np.array_equal(alone[~mask], source[~mask])


def test_batches_give_every_worker_work_and_stay_bounded():
    tasks = list(range(100))
    assert analysis.inpaint_batches([], 4) == []
    assert analysis.inpaint_batches(tasks[:5], 4) == [tasks[:5]]
    sizes = [len(b) for b in analysis.inpaint_batches(tasks, 4)]
    assert sizes == [25, 25, 25, 25]
    sizes = [len(b) for b in analysis.inpaint_batches(tasks, 1)]
    assert max(sizes) == analysis.INPAINT_BATCH_FRAMES and sum(sizes) == 100
