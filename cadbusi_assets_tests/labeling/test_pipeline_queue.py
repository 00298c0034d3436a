"""labelbox_data_rows end to end: a demo date goes through Dagster into the project's batches,
with its MAL pre-labels, through the real labelbox SDK against the local fake endpoint; the
folder source (the demo) writes the same batches and pre-labels to its outbox."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from cadbusi_assets.defs.resources import LabelSourceResource
from cadbusi_assets.identity import generate_key_file
from cadbusi_assets.labeling.ontology import OntologySpec
from cadbusi_assets.labeling.sources import FolderLabelSource
from cadbusi_assets.stages import labeling as stage
from cadbusi_assets.stages.lesions import LESION_IMAGES_PATH, LESIONS_PATH
from cadbusi_assets.stages.report import read_partition_reports
from cadbusi_assets.storage import open_zone, read_partition_table
from cadbusi_assets_tests.defs.conftest import Environment, make_environment, run
from cadbusi_assets_tests.labeling.fake_labelbox_ontology import running_fake_with_ontology
from cadbusi_assets_tests.support import time_limit
from cadbusi_demo import DemoConfig, generate_demo_cohort

pytestmark = pytest.mark.integration

COHORT = DemoConfig(start=dt.date(2026, 9, 1), days=1, studies_per_day=(3, 3), seed=11, workers=1)
DAY = COHORT.start.isoformat()
UPSTREAM = [
    "radiology_reports",
    "pathology_reports",
    "imaging_studies",
    "raw_dicom",
    "deidentified_images",
    "image_features",
    "inpainted_images",
]
PIPELINE_TIMEOUT_S = 420
STEP_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def definitions() -> dg.Definitions:
    from cadbusi_assets.definitions import defs

    return defs()


@pytest.fixture(scope="module")
def built(definitions, tmp_path_factory) -> Iterator[tuple[Environment, dg.DagsterInstance]]:
    """One demo date through the image stages and labelbox_data_rows with the folder source."""
    with time_limit(PIPELINE_TIMEOUT_S):
        cohort_dir = tmp_path_factory.mktemp("cohort")
        generate_demo_cohort(cohort_dir, COHORT)
        key_file = generate_key_file(tmp_path_factory.mktemp("secrets") / "pseudonym.key")
        env = make_environment(tmp_path_factory.mktemp("run"), cohort_dir, key_file)
        with dg.instance_for_test(
            temp_dir=str(tmp_path_factory.mktemp("instance")), set_dagster_home=False
        ) as instance:
            run(definitions, env, [*UPSTREAM, "labelbox_data_rows"], instance, partition_key=DAY)
            yield env, instance


def _with_labelbox(env: Environment, project: str) -> Environment:
    """The same zones, the label source pointing at Labelbox project ``project``."""
    other = Environment(env.root, env.cohort_dir, env.key_file, dict(env.resources))
    other.resources["labelbox"] = LabelSourceResource(uri=f"labelbox://{project}")
    return other


def _metadata(result: dg.ExecuteInProcessResult, built) -> dict:
    """The date's report: its outcome from the materialization, the exact counts and problems
    from the raw zone (the UI shows no counts beside a study date)."""
    [event] = result.asset_materializations_for_node("labelbox_data_rows")
    assert event.metadata["outcome"].value.startswith("delivered")
    (report,) = read_partition_reports(
        open_zone(str(built[0].raw), "raw"), "labelbox_data_rows", DAY
    )
    meta = dict(report["counts"])
    meta |= {name: json.dumps(rows) for name, rows in report["tables"].items()}
    if report["problems"]:
        meta["problems"] = "\n".join(report["problems"])
        assert "problems" in event.metadata
    return meta


def _box_keys(env: Environment) -> set[str]:
    research = open_zone(str(env.research), "research")
    features = read_partition_table(research, "image_features", _batch(env))
    assert features is not None
    with_calipers = set(
        features.filter(pl.col("has_calipers").fill_null(False))["image_id"].to_list()
    )
    # a clean frame of the same view (its caliper twin) inherits the twin's marks
    twins = read_partition_table(research, "twins", _batch(env))
    assert twins is not None
    inherited = twins.filter(pl.col("caliper_image_id").is_in(sorted(with_calipers)))
    return with_calipers | set(inherited["clean_image_id"].to_list())


def _batch(env: Environment) -> str:
    rows = list((env.research / "tables" / stage.DATA_ROWS_TABLE).glob("*.parquet"))
    assert len(rows) == 1
    return rows[0].name.removesuffix(".parquet")


def _data_rows(env: Environment) -> pl.DataFrame:
    table = read_partition_table(
        open_zone(str(env.research), "research"), stage.DATA_ROWS_TABLE, _batch(env)
    )
    assert table is not None
    return table


@pytest.fixture
def fake(monkeypatch):
    for server in running_fake_with_ontology():
        monkeypatch.setenv("LABELBOX_API_KEY", server.api_key)
        monkeypatch.setenv("LABELBOX_ENDPOINT", server.endpoint)
        monkeypatch.delenv("LABELBOX_REST_ENDPOINT", raising=False)
        monkeypatch.delenv("LABELBOX_APP_URL", raising=False)
        monkeypatch.delenv("CADBUSI_LABELBOX_ONTOLOGY", raising=False)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        yield server


def _send_to_labelbox(definitions, built, fake, project: str) -> dg.ExecuteInProcessResult:
    env, instance = built
    keys = _data_rows(env)["global_key"].to_list()
    fake.add_data_rows(keys)  # rows already in a dataset (the fake's upsert is tested elsewhere)
    with time_limit(STEP_TIMEOUT_S):
        return run(
            definitions,
            _with_labelbox(env, project),
            ["labelbox_data_rows"],
            instance,
            partition_key=DAY,
        )


def test_folder_source_writes_batches_and_prelabels_to_its_outbox(built):
    env, _ = built
    source = FolderLabelSource(env.labels)
    data_rows = _data_rows(env)
    keys = set(data_rows["global_key"].to_list())
    assert keys and (data_rows["queued_in"] == source.name).all()
    batches = list(source.sent_batches())
    assert {k for b in batches for k in b["global_keys"]} == keys
    assert all(1 <= b["priority"] <= 5 for b in batches)
    assert [b["priority"] for b in batches] == sorted(b["priority"] for b in batches)
    lines = list(source.sent_prelabels())
    boxes = {line["dataRow"]["globalKey"] for line in lines if "bbox" in line}
    calipers = _box_keys(env) & keys
    assert calipers, "the demo date should have caliper images"
    assert boxes == calipers  # one lesion box per caliper image, from its caliper marks
    assert all("confidence" not in line for line in lines)
    assert {line["name"] for line in lines} <= {"lesion", "laterality", "clock"}
    ontology = json.loads((env.labels / "outbox" / "ontology.json").read_text())
    assert ontology == OntologySpec.default().normalized()
    # the demo labeler still reads only the data rows from the outbox
    assert sorted(r["global_key"] for r in source.sent_data_rows()) == sorted(keys)


def test_labelbox_source_creates_ontology_queues_batches_and_imports_prelabels(
    definitions, built, fake
):
    project = "proj-queue"
    fake.add_project(project)
    env, _ = built
    result = _send_to_labelbox(definitions, built, fake, project)
    meta = _metadata(result, built)
    keys = set(_data_rows(env)["global_key"].to_list())

    assert fake.project_ontology[project]  # created and connected
    created = fake.ontologies[fake.project_ontology[project]]
    assert created["normalized"] == OntologySpec.default().normalized()
    batches = fake.batches[project]
    assert {k for b in batches for k in b["global_keys"]} == keys
    assert all(b["name"].startswith("cadbusi-") for b in batches)
    assert all(1 <= b["priority"] <= 5 for b in batches)
    [imported] = [v for k, v in fake.imports.items() if k.startswith(f"{project}/")]
    lines = imported["lines"]
    assert {line["dataRow"]["globalKey"] for line in lines if "bbox" in line} == (
        _box_keys(env) & keys
    )
    folder_lines = list(FolderLabelSource(env.labels).sent_prelabels())
    assert lines == folder_lines  # the demo's outbox shows exactly what Labelbox gets
    assert meta["rows_queued"] == len(keys)
    assert meta["batches_created"] == len(batches)
    assert meta["prelabels_imported"] == len(lines)
    assert meta["prelabel_errors"] == 0
    assert meta["ontology_created"] == 1
    assert "problems" not in meta
    assert (_data_rows(env)["queued_in"] == f"labelbox:{project}").all()

    again = _metadata(_send_to_labelbox(definitions, built, fake, project), built)
    assert len(fake.batches[project]) == len(batches)  # nothing queued twice
    assert again["rows_queued"] == 0 and again["rows_already_queued"] == len(keys)
    assert again["prelabels_imported"] == 0 and again["ontology_created"] == 0


def test_differing_ontology_is_a_problem_and_skips_prelabels(definitions, built, fake):
    project = "proj-other-ontology"
    fake.add_project(project)
    spec = OntologySpec.default()
    without_clock = OntologySpec(
        spec.name, spec.tools, tuple(c for c in spec.classifications if c.name != "clock")
    )
    fake.set_project_ontology(project, without_clock.normalized())
    meta = _metadata(_send_to_labelbox(definitions, built, fake, project), built)
    assert meta["rows_queued"] > 0 and fake.batches[project]
    assert not [k for k in fake.imports if k.startswith(f"{project}/")]
    assert meta["prelabels_imported"] == 0 and meta["ontology_differences"] == 1
    assert "ontology: radio clock is missing" in meta["problems"]
    assert "pre-labels skipped" in meta["problems"]


def test_lesion_table_links_are_used_and_import_errors_reported(definitions, built, fake):
    """Images the lesion table links take their lesion's side and clock; a pre-label Labelbox
    rejects (here: a box outside the image) is counted and named in the partition report."""
    project = "proj-lesions"
    fake.add_project(project)
    env, _ = built
    research = open_zone(str(env.research), "research")
    key = sorted(_data_rows(env)["global_key"].to_list())[0]
    research.write_parquet(
        LESIONS_PATH,
        pl.DataFrame({"lesion_id": ["acc-L1"], "side": ["RIGHT"], "clock": ["7:10"]}),
    )
    research.write_parquet(
        LESION_IMAGES_PATH,
        pl.DataFrame(
            {
                "lesion_id": ["acc-L1"],
                "image_id": [key],
                "score": [0.9],
                "box_x0": [-40],
                "box_y0": [10],
                "box_x1": [20],
                "box_y1": [50],
            }
        ),
    )
    try:
        meta = _metadata(_send_to_labelbox(definitions, built, fake, project), built)
    finally:
        for parts in (LESIONS_PATH, LESION_IMAGES_PATH):
            research.delete(*parts)
    [imported] = [v for k, v in fake.imports.items() if k.startswith(f"{project}/")]
    mine = {line["name"]: line for line in imported["lines"] if line["dataRow"]["globalKey"] == key}
    assert mine["laterality"]["answer"] == {"name": "right"}
    assert mine["clock"]["answer"] == {"name": "7:00"}
    assert meta["images_with_lesion_from_lesion_table"] == 1
    assert meta["prelabel_errors"] == 1
    assert meta["prelabels_imported"] == len(imported["lines"]) - 1
    # the rejection is reported by message and count; no image id beside the date
    assert "1x invalid bounding box" in meta["problems"]
    assert "invalid bounding box" in meta["prelabel_error_messages"]
    assert key not in meta["problems"] and key not in meta["prelabel_error_messages"]


def test_outbox_paths_are_under_the_label_folder(built):
    env, _ = built
    outbox = Path(env.labels) / "outbox"
    assert sorted(p.name for p in (outbox / "batches").iterdir()) == [f"{_batch(env)}.ndjson"]
    assert sorted(p.name for p in (outbox / "prelabels").iterdir()) == [f"{_batch(env)}.ndjson"]


def test_a_dropped_connection_is_retried_a_few_times():
    """A connection reset before any answer (seen against the fake under load) is retried;
    one that keeps dropping fails."""
    from lbox.exceptions import NetworkError

    from cadbusi_assets.labeling.sources import LabelboxSdkSource

    source = LabelboxSdkSource("p", api_key="k")
    source.rate_limit_backoff_s = 0.0
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise NetworkError(ConnectionResetError(104, "Connection reset by peer"))
        return "ok"

    assert source._with_backoff(flaky) == "ok" and len(calls) == 3
    calls.clear()

    def dead() -> str:
        calls.append(1)
        raise NetworkError(ConnectionResetError(104, "Connection reset by peer"))

    with pytest.raises(NetworkError):
        source._with_backoff(dead)
    assert len(calls) == source.network_retries + 1
