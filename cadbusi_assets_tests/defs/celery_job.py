"""Jobs for the Celery test: the records and retrieval assets of the study-date graph, with
resources from environment variables (the workers inherit them from the test), once on the
``celery_executor`` (as the code location wraps it: its orchestrating process records itself)
and once in-process for comparison; and a job whose second step holds its worker until a
file appears (a run to kill). Workers import this module by name (``dg.reconstructable``), so
it must stay importable from the repository root."""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg
from dagster_celery import celery_executor as _dagster_celery_executor

from cadbusi_assets.defs.executor import orchestrator_records_itself
from cadbusi_assets.defs.imaging.deidentified_images import deidentified_images
from cadbusi_assets.defs.imaging.image_analysis import image_features
from cadbusi_assets.defs.imaging.raw_dicom import raw_dicom
from cadbusi_assets.defs.records.assets import imaging_studies, pathology_reports, radiology_reports
from cadbusi_assets.defs.resources import (
    PacsResource,
    ProcessingResource,
    PseudonymKeyResource,
    WarehouseResource,
    ZonesResource,
)
from cadbusi_assets.defs.run_process import tag_run_process

celery_executor = orchestrator_records_itself(_dagster_celery_executor)

ASSETS = [radiology_reports, pathology_reports, imaging_studies, raw_dicom]
#: with the image steps (de-identification with OCR verification, analysis): the CPU-bound work
#: the scaling benchmark measures; one process per step (``CELERY_TEST_STEP_WORKERS``)
IMAGE_ASSETS = [*ASSETS, deidentified_images, image_features]


def _job(name: str, executor: dg.ExecutorDefinition, assets: list = ASSETS) -> dg.JobDefinition:
    resources = {
        "zones": ZonesResource(
            raw_uri=dg.EnvVar("CELERY_TEST_RAW_ZONE"),
            research_uri=dg.EnvVar("CELERY_TEST_RESEARCH_ZONE"),
        ),
        "warehouse": WarehouseResource(uri=dg.EnvVar("CELERY_TEST_WAREHOUSE")),
        "pacs": PacsResource(uri=dg.EnvVar("CELERY_TEST_PACS"), concurrency=2),
        "pseudonym_key": PseudonymKeyResource(key_file=dg.EnvVar("CELERY_TEST_KEY_FILE")),
        "processing": ProcessingResource(workers=dg.EnvVar.int("CELERY_TEST_STEP_WORKERS")),
    }
    defs = dg.Definitions(
        assets=assets,
        resources=resources,
        jobs=[dg.define_asset_job(name, selection=assets, executor_def=executor)],
    )
    return defs.resolve_job_def(name)


def celery_study_date_job() -> dg.JobDefinition:
    return _job("celery_study_date_job", celery_executor)


def local_study_date_job() -> dg.JobDefinition:
    return _job("local_study_date_job", dg.in_process_executor)


def celery_image_job() -> dg.JobDefinition:
    return _job("celery_image_job", celery_executor, IMAGE_ASSETS)


@dg.asset
def first_step(context) -> None:
    """Records the run's process, as every study-date step does first (``reporting.py``)."""
    tag_run_process(context.instance, context.run.run_id)


@dg.asset(deps=[first_step])
def holding_step() -> None:
    """Holds its worker until ``$CELERY_TEST_RELEASE`` exists (at most two minutes)."""
    release = Path(os.environ["CELERY_TEST_RELEASE"])
    print("holding", flush=True)
    deadline = time.monotonic() + 120
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.2)


def celery_holding_job() -> dg.JobDefinition:
    assets = [first_step, holding_step]
    defs = dg.Definitions(
        assets=assets,
        jobs=[
            dg.define_asset_job(
                "celery_holding_job", selection=assets, executor_def=celery_executor
            )
        ],
    )
    return defs.resolve_job_def("celery_holding_job")
