"""Issue 12's done-when: ``cadbusi deidentify`` + ``cadbusi analyze`` on a folder, ``cadbusi
deidentify --analyze`` (the one pass) on the same folder, and the stages behind the
``deidentified_images``, ``image_features`` and ``inpainted_images`` assets on the same files
give byte-identical de-identified DICOM, PNG and inpainted PNG files and equal tables (joined
on the same key; the one pass writes the assets' own tables).

The stage is called as the assets call it (the one pass of :mod:`cadbusi_assets.stages.imaging`,
with the processing resource's defaults: cine frame step 4, inpainting method ``auto``), over a raw zone holding the same files with the retrieval
manifest and the cohort that ``raw_dicom`` would have written. OCR is off on both sides (the
same switch; tesseract is not needed here)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import polars as pl
import pytest

from cadbusi_assets.cli import main
from cadbusi_assets.identity import Pseudonymizer, generate_key_file, load_key
from cadbusi_assets.identity.pseudonyms import image_id_for, instance_id_for
from cadbusi_assets.stages import analysis, imaging
from cadbusi_assets.stages import deidentification as deid
from cadbusi_assets.stages import tables as registry
from cadbusi_assets.storage import open_zone, read_partition_table
from cadbusi_assets_tests.builders import DEMO_DAY, raw_zone_like_raw_dicom
from cadbusi_assets_tests.support import time_limit as _deadline
from cadbusi_demo import DemoConfig, generate_demo_cohort

pytestmark = pytest.mark.slow

#: The whole comparison (both paths) must finish within this many seconds.
TIMEOUT_S = 600


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    with _deadline(TIMEOUT_S):
        return _run_both(tmp_path_factory)


def _run_both(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli_vs_assets")
    generate_demo_cohort(
        root / "cohort",
        DemoConfig(start=dt.date.fromisoformat(DEMO_DAY), days=1, studies_per_day=(2, 2), seed=11),
    )
    source = root / "in"
    shutil.copytree(root / "cohort" / "pacs", source)
    key_file = generate_key_file(root / "secrets" / "pseudonym.key")
    pseudonymizer = Pseudonymizer(load_key(key_file))

    # the assets' stages
    raw = raw_zone_like_raw_dicom(root, source)
    research = open_zone(root / "research", "research").ensure()
    batch = pseudonymizer.batch_name(DEMO_DAY)
    # the one pass behind the three assets (it writes what the three stages write:
    # test_one_pass.py)
    imaging.process_partition(raw, research, pseudonymizer, DEMO_DAY, ocr=False, workers=2)

    # the commands
    out, found = root / "deid", root / "analysis"
    common = ["--jobs", "2", "--no-ocr"]
    assert main(["deidentify", str(source), str(out), "--key-file", str(key_file), *common]) == 0
    assert main(["analyze", str(out), str(found), *common]) == 0
    # the one pass on the command line
    one = root / "one_pass"
    argv = ["deidentify", str(source), str(one), "--key-file", str(key_file), "--analyze"]
    assert main([*argv, *common]) == 0
    return {
        "raw": raw,
        "research": research,
        "batch": batch,
        "out": out,
        "analysis": found,
        "one_pass": one,
    }


def _files(root: Path, suffix: str) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in root.rglob(f"*{suffix}") if p.is_file()}


def _table(both, name: str) -> pl.DataFrame:
    table = read_partition_table(both["research"], name, both["batch"])
    assert table is not None
    return table


def test_the_same_deidentified_dicom_and_png_files(both):
    research = Path(both["research"].uri)
    dicoms = _files(research / "dicom", ".dcm")
    assert len(dicoms) > 10 and _files(both["out"], ".dcm") == dicoms
    pngs = _files(research / "images", ".png")
    assert len(pngs) >= len(dicoms) and _files(both["out"], ".png") == pngs


def test_the_same_images_and_instances_tables(both):
    paths = ["png_path", "dicom_path"]  # where the files lie: the layout differs
    stage = _table(both, deid.IMAGES_TABLE).drop(paths)
    command = pl.read_parquet(both["out"] / "images.parquet").drop(paths)
    assert command.equals(stage)
    keys = ["dicom_path", "raw_instance_key"]  # raw keys: the manifest's or the command's own
    stage = _table(both, deid.INSTANCES_TABLE).drop(keys)
    assert pl.read_parquet(both["out"] / "instances.parquet").drop(keys).equals(stage)


def _command_features(both) -> pl.DataFrame:
    """``cadbusi analyze``'s table keyed like the asset's: image id from the pseudonymized
    SOP Instance UID and the frame (the command names images by their file)."""
    features = pl.read_parquet(both["analysis"] / "features.parquet")
    ids = {
        row["image_id"]: image_id_for(row["sop_instance_uid"], row["frame"])
        for row in features.iter_rows(named=True)
    }
    return features.with_columns(
        pl.col("image_id").replace_strict(ids).alias("image_id"),
        pl.col("clean_twin_image_id").replace_strict(ids, default=None),
        pl.col("source_path").str.extract(r"([^/]+)\.dcm$").alias("instance_id"),
    ).sort("image_id")


def test_the_same_features_and_twins(both):
    stage = _table(both, analysis.FEATURES_TABLE)
    command = _command_features(both)
    assert command.height == stage.height > 10
    assert command["error"].null_count() == command.height
    assert command["instance_id"].equals(stage["instance_id"])
    assert (
        command["sop_instance_uid"].map_elements(instance_id_for, return_dtype=pl.String)
    ).equals(stage["instance_id"])
    columns = [c for c in stage.columns if c in command.columns]
    assert len(columns) > 30
    for column in columns:
        left, right = command[column], stage[column]
        if left.dtype != right.dtype:
            left = left.cast(right.dtype)
        assert left.equals(right), column
    twins = _table(both, analysis.TWINS_TABLE)
    paired = command.filter(pl.col("clean_twin_image_id").is_not_null())
    assert twins.height > 0
    assert paired.select(
        pl.col("image_id").alias("caliper_image_id"),
        pl.col("clean_twin_image_id").alias("clean_image_id"),
        pl.col("twin_distance").alias("distance"),
    ).equals(twins)


def test_the_same_inpainted_files(both):
    stage = _table(both, analysis.INPAINTED_TABLE)
    assert stage.height > 0
    command = _command_features(both).filter(pl.col("inpainted_path").is_not_null())
    assert command["image_id"].to_list() == stage["image_id"].to_list()
    research = both["research"]
    for image_id, path, stage_path in zip(
        command["image_id"], command["inpainted_path"], stage["inpainted_path"], strict=True
    ):
        assert (both["analysis"] / path).read_bytes() == research.read_bytes(stage_path), image_id


def test_every_table_the_stages_wrote_is_registered_with_its_schema(both):
    """The demo partition's tables (research zone, and the raw tables the de-identification
    stage writes) have exactly their registered schemas."""
    zones = {registry.RESEARCH: both["research"], registry.RAW: both["raw"]}
    seen = []
    for kind, zone in zones.items():
        for path in zone.iter_files("tables", suffix=".parquet"):
            name = zone.relative(path).split("/")[1]
            table = registry.TABLES.get((kind, name))
            assert table is not None, f"{kind} table {name} is not in the registry"
            if kind == registry.RAW and table.stage != "deidentification":
                continue  # the test wrote these itself (what raw_dicom would write)
            assert pl.read_parquet(path.read_bytes()).schema == table.schema, name
            seen.append(name)
    assert {"images", "instances", "image_features", "twins", "inpainted_images"} <= set(seen)
    assert {"reidentification_links", "deidentification_quarantine"} <= set(seen)


# ---------------------------------------------------------------------------------------
# ``cadbusi deidentify --analyze``: the assets' one pass over a folder


def test_the_one_pass_command_writes_the_same_dicom_png_and_inpainted_files(both):
    research, one = Path(both["research"].uri), both["one_pass"]
    for folder in ("dicom", "images"):
        suffix = ".dcm" if folder == "dicom" else ".png"
        stage = _files(research / folder, suffix)
        assert len(stage) > 10
        written = {
            p.name: p.read_bytes()
            for p in one.rglob(f"*{suffix}")
            if p.is_file() and "inpainted" not in p.relative_to(one).parts
        }
        assert written == stage, folder
    inpainted = _files(research / "inpainted", ".png")
    assert len(inpainted) > 0 and _files(one / "inpainted", ".png") == inpainted


def test_the_one_pass_command_writes_the_assets_tables(both):
    one = both["one_pass"]
    paths = ["png_path", "dicom_path"]
    images = pl.read_parquet(one / "images.parquet")
    assert images.drop(paths).equals(_table(both, deid.IMAGES_TABLE).drop(paths))
    keys = ["dicom_path", "raw_instance_key"]
    instances = pl.read_parquet(one / "instances.parquet")
    assert instances.drop(keys).equals(_table(both, deid.INSTANCES_TABLE).drop(keys))
    features = pl.read_parquet(one / "image_features.parquet")
    stage = _table(both, analysis.FEATURES_TABLE)
    assert features.height == stage.height > 10
    assert features.columns == stage.columns
    for column in stage.columns:
        assert features[column].equals(stage[column]), column
    assert pl.read_parquet(one / "twins.parquet").equals(_table(both, analysis.TWINS_TABLE))
    inpainted = pl.read_parquet(one / "inpainted_images.parquet")
    stage = _table(both, analysis.INPAINTED_TABLE)
    assert inpainted.height == stage.height > 0
    assert inpainted.drop("inpainted_path").equals(stage.drop("inpainted_path"))
    assert all(p.startswith("inpainted/") for p in inpainted["inpainted_path"])
