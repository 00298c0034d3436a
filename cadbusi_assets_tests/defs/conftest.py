"""End-to-end fixtures: a small synthetic cohort run through the real Dagster graph.

The whole graph runs once per test session (per xdist worker, in the ``pipeline`` group) into
temporary zones with a SQLite instance; tests then inspect, re-run and compare.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from cadbusi_assets.defs.resources import (
    LabelSourceResource,
    PacsResource,
    ProcessingResource,
    PseudonymKeyResource,
    WarehouseResource,
    ZonesResource,
)
from cadbusi_assets.identity import generate_key_file
from cadbusi_assets.runner import RANGE_END, RANGE_START
from cadbusi_assets_tests.conftest import clear_dagster_state_storage
from cadbusi_assets_tests.support import in_ci
from cadbusi_demo import DemoConfig, generate_demo_cohort

COHORT = DemoConfig(start=dt.date(2026, 9, 1), days=3, studies_per_day=(2, 3), seed=7, workers=2)
PARTITIONED = [
    "radiology_reports",
    "pathology_reports",
    "imaging_studies",
    "raw_dicom",
    "deidentified_images",
    "image_features",
    "inpainted_images",
    "labelbox_data_rows",
]


@dataclass
class Environment:
    root: Path
    cohort_dir: Path
    key_file: Path
    resources: dict

    @property
    def raw(self) -> Path:
        return self.root / "zones" / "raw"

    @property
    def research(self) -> Path:
        return self.root / "zones" / "research"

    @property
    def labels(self) -> Path:
        return self.root / "labelbox"


def make_environment(
    root: Path,
    cohort_dir: Path,
    key_file: Path,
    pacs_root: Path | None = None,
    *,
    pacs_uri: str | None = None,
    zones: ZonesResource | None = None,
) -> Environment:
    """Resources for one run. Build a new environment to change a resource: Dagster resources are
    configuration objects, and copying one with changed fields does not reconfigure it."""
    root.mkdir(parents=True, exist_ok=True)
    env = Environment(root, cohort_dir, key_file, {})
    env.resources = {
        "zones": zones or ZonesResource(raw_uri=str(env.raw), research_uri=str(env.research)),
        "pseudonym_key": PseudonymKeyResource(key_file=str(key_file)),
        "warehouse": WarehouseResource(uri=f"duckdb://{cohort_dir / 'warehouse.duckdb'}"),
        "pacs": PacsResource(uri=pacs_uri or f"folder://{pacs_root or cohort_dir / 'pacs'}"),
        "labelbox": LabelSourceResource(uri=f"folder://{env.labels}"),
        "processing": ProcessingResource(workers=2, ocr=in_ci() or _has_tesseract()),
    }
    return env


def _has_tesseract() -> bool:
    import shutil

    return shutil.which("tesseract") is not None


@pytest.fixture(scope="session")
def definitions() -> dg.Definitions:
    from cadbusi_assets.definitions import defs

    return defs()


@pytest.fixture(scope="session")
def cohort_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cohort")
    generate_demo_cohort(out, COHORT)
    return out


@pytest.fixture(scope="session")
def key_file(tmp_path_factory) -> Path:
    return generate_key_file(tmp_path_factory.mktemp("secrets") / "pseudonym.key")


def run(
    definitions,
    env: Environment,
    selection,
    instance,
    *,
    partition_range=None,
    partition_key=None,
    raise_on_error=True,
):
    clear_dagster_state_storage()
    tags = {}
    if partition_range:
        tags = {RANGE_START: partition_range[0], RANGE_END: partition_range[1]}
    return dg.materialize(
        list(definitions.assets),
        resources=env.resources,
        instance=instance,
        selection=list(selection),
        tags=tags,
        partition_key=partition_key,
        raise_on_error=raise_on_error,
    )


def days() -> tuple[str, str]:
    return COHORT.start.isoformat(), (COHORT.start + dt.timedelta(days=COHORT.days - 1)).isoformat()


def tree_digest(root: Path, exclude: tuple[str, ...] = ()) -> dict[str, str]:
    """sha256 of every file under ``root`` (relative path → digest)."""
    out = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if any(rel.startswith(e) for e in exclude):
            continue
        out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@dataclass
class PipelineRun:
    env: Environment
    instance: dg.DagsterInstance
    results: dict
    export_key: str


@pytest.fixture(scope="session")
def pipeline(definitions, cohort_dir, key_file, tmp_path_factory):
    """The whole graph: backfill of every study date, labels, catalog and one export."""
    from cadbusi_assets.identity import load_key
    from cadbusi_demo.labeler import label_sent_images

    env = make_environment(tmp_path_factory.mktemp("run_a"), cohort_dir, key_file)
    with dg.instance_for_test(
        temp_dir=str(tmp_path_factory.mktemp("instance")), set_dagster_home=False
    ) as instance:
        results = {"backfill": run(definitions, env, PARTITIONED, instance, partition_range=days())}
        label_sent_images(env.labels, cohort_dir / "ground_truth", load_key(key_file))
        results["labels"] = run(definitions, env, ["labelbox_labels"], instance)
        results["catalog"] = run(definitions, env, ["diagnosis_labels", "metadata_db"], instance)
        export_key = "2026-11-22"
        instance.add_dynamic_partitions("exports", [export_key])
        results["export"] = run(
            definitions, env, ["dataset_export"], instance, partition_key=export_key
        )
        yield PipelineRun(env, instance, results, export_key)


def materializations(result, asset: str) -> list[dg.AssetMaterialization]:
    """The materializations of ``asset`` in an in-process run, whichever step made them (the
    imaging assets share one step)."""
    key = dg.AssetKey(asset)
    return [
        event.step_materialization_data.materialization
        for event in result.get_asset_materialization_events()
        if event.step_materialization_data.materialization.asset_key == key
    ]
