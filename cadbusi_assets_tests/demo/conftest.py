"""Fixtures for the demo-cohort tests: the small cohort is generated once per session."""

from __future__ import annotations

import datetime as dt

import pytest

from cadbusi_demo import DemoConfig, generate_demo_cohort
from cadbusi_demo.plan import plan_cohort

#: Small enough to generate in a few seconds, large enough to hold every feature.
SMALL_CONFIG = DemoConfig(
    start=dt.date(2026, 9, 1), days=2, studies_per_day=(1, 2), seed=424242, workers=2
)


def pytest_collection_modifyitems(items):
    """Keep every demo test on one xdist worker so the session fixture runs once."""
    for item in items:
        if "cadbusi_assets_tests/demo/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.xdist_group("demo"))


@pytest.fixture(scope="session")
def small_config() -> DemoConfig:
    return SMALL_CONFIG


@pytest.fixture(scope="session")
def demo_cohort(tmp_path_factory, small_config):
    return generate_demo_cohort(tmp_path_factory.mktemp("demo") / "cohort", small_config)


@pytest.fixture(scope="session")
def default_plan():
    """The full default cohort plan (records only, no images: fast)."""
    return plan_cohort(DemoConfig())


@pytest.fixture(scope="session")
def truths(demo_cohort) -> dict[str, dict]:
    """Ground truth per SOP Instance UID."""
    import json

    return {
        p.stem: json.loads(p.read_text())
        for p in sorted(demo_cohort.ground_truth_dir.glob("*.json"))
    }


@pytest.fixture(scope="session")
def datasets(demo_cohort) -> dict[str, object]:
    """Every DICOM object of the small cohort, read once (SOP Instance UID -> Dataset)."""
    from cadbusi_assets.dicom import read_dataset

    return {p.stem: read_dataset(p) for p in sorted(demo_cohort.pacs_root.glob("*/*.dcm"))}


@pytest.fixture(scope="session")
def decoded(datasets) -> dict[str, list]:
    """Decoded frames per SOP Instance UID (through the shared decoder)."""
    from cadbusi_assets.dicom import iter_frames

    return {sop: [frame for _, frame in iter_frames(ds)] for sop, ds in datasets.items()}
