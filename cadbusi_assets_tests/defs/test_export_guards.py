"""An export refuses a catalog whose blocking checks failed or that is older than its inputs
(issue 9: `cadbusi export` wrote a permanent export after `unique_keys` had failed, and an export
was cut from a stale catalog while its lineage named the newest label set)."""

from __future__ import annotations

import json

import dagster as dg
import polars as pl
import pytest

from cadbusi_assets.catalog import open_catalog, read_catalog_info
from cadbusi_assets.defs.exports.guards import catalog_refusals, earlier_export_run
from cadbusi_assets.defs.exports.lineage import upstream_lineage
from cadbusi_assets.defs.exports.sensors import export_partition_sensor
from cadbusi_assets.identity import generate_key_file
from cadbusi_assets.storage import open_zone
from cadbusi_assets_tests.builders import export_row
from cadbusi_assets_tests.defs.conftest import make_environment, run

pytestmark = pytest.mark.integration


@pytest.fixture
def env(tmp_path):
    key_file = generate_key_file(tmp_path / "secrets" / "pseudonym.key")
    cohort = tmp_path / "cohort"
    cohort.mkdir()
    return make_environment(tmp_path / "run", cohort, key_file)


def _write_export(env, name: str, answer: str) -> None:
    folder = env.labels / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    rows = [export_row("img-1", "lb-1", answer=answer), export_row("img-2", "lb-2")]
    (folder / name).write_text("".join(json.dumps(r) + "\n" for r in rows))


def _export(definitions, env, instance, key: str):
    if not instance.has_dynamic_partition("exports", key):
        instance.add_dynamic_partitions("exports", [key])
    return run(
        definitions, env, ["dataset_export"], instance, partition_key=key, raise_on_error=False
    )


def _failure_message(result) -> str:
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failures, "the export step did not fail"
    return str(failures[0].step_failure_data.error.message)


def test_export_refuses_a_catalog_whose_unique_keys_check_failed(definitions, env):
    """A label id twice in the label table: unique_keys fails, and a later export run (as
    `cadbusi export` launches it, in a run of its own) refuses and writes nothing."""
    labels = pl.DataFrame(
        {
            "label_id": ["lb-1", "lb-1"],
            "image_id": ["img-1", "img-1"],
            "label_set_version": ["labels-x", "labels-x"],
        }
    )
    env.research.joinpath("labels", "labelbox").mkdir(parents=True)
    labels.write_parquet(env.research / "labels" / "labelbox" / "labels.parquet")
    with dg.instance_for_test(set_dagster_home=False) as instance:
        catalog = run(definitions, env, ["metadata_db"], instance, raise_on_error=False)
        (check,) = catalog.get_asset_check_evaluations()
        assert check.check_name == "unique_keys" and not check.passed
        assert check.metadata["duplicates"].value == {"label_id": 1}

        result = _export(definitions, env, instance, "2026-12-01")
        assert not result.success
        message = _failure_message(result)
        assert "metadata_db.unique_keys failed" in message
        assert "Nothing was written" in message
        assert not (env.research / "exports").exists()


def test_export_refuses_a_catalog_older_than_its_labels(definitions, env):
    """Labels ingested after the catalog was built: the export refuses until the catalog is
    rebuilt (the stale catalog's lineage would have named the newest label set)."""
    _write_export(env, "a.ndjson", answer="yes")
    with dg.instance_for_test(set_dagster_home=False) as instance:
        assert run(definitions, env, ["labelbox_labels", "metadata_db"], instance).success
        graph = definitions.resolve_asset_graph()
        assert catalog_refusals(instance, graph) == []

        _write_export(env, "b.ndjson", answer="no")  # a relabel arrives and is ingested
        assert run(definitions, env, ["labelbox_labels"], instance).success
        refusals = catalog_refusals(instance, graph)
        assert refusals == [
            "metadata_db is older than its inputs (labelbox_labels materialized since)"
        ]
        result = _export(definitions, env, instance, "2026-12-01")
        assert not result.success
        message = _failure_message(result)
        assert "metadata_db is older than its inputs" in message
        assert "the catalog holds label set" in message  # the file says so too
        assert not (env.research / "exports").exists()

        assert run(definitions, env, ["metadata_db"], instance).success
        assert catalog_refusals(instance, graph) == []
        # the rebuilt catalog holds the label set that the export's lineage will name
        current = json.loads((env.research / "labels" / "labelbox" / "current.json").read_text())
        con = open_catalog(open_zone(str(env.research), "research"))
        try:
            assert read_catalog_info(con).label_set_version == current["label_set_version"]
        finally:
            con.close()


def test_instance_guard_reads_the_latest_check_evaluation(tmp_path):
    """The instance side alone: the catalog file is not consulted, only the event log."""
    outcome = {"passed": False}

    @dg.asset(name="labelbox_labels")
    def fake_labels() -> None:
        return None

    @dg.asset(
        name="metadata_db",
        deps=[fake_labels],
        check_specs=[dg.AssetCheckSpec("unique_keys", asset="metadata_db", blocking=True)],
    )
    def fake_catalog() -> dg.MaterializeResult:
        return dg.MaterializeResult(
            check_results=[dg.AssetCheckResult(check_name="unique_keys", **outcome)]
        )

    assets = [fake_labels, fake_catalog]
    graph = dg.Definitions(assets=assets).resolve_asset_graph()
    with dg.instance_for_test(set_dagster_home=False) as instance:
        assert catalog_refusals(instance, graph) == ["metadata_db has never been materialized"]
        dg.materialize(assets, instance=instance, raise_on_error=False)
        run_id = instance.get_runs(limit=1)[0].run_id
        assert catalog_refusals(instance, graph) == [
            "the latest evaluation of the blocking check metadata_db.unique_keys failed "
            f"(run {run_id[:8]})"
        ]
        outcome["passed"] = True
        dg.materialize(assets, instance=instance, selection=["metadata_db"])
        assert catalog_refusals(instance, graph) == []
        dg.materialize(assets, instance=instance, selection=["labelbox_labels"])
        assert catalog_refusals(instance, graph) == [
            "metadata_db is older than its inputs (labelbox_labels materialized since)"
        ]


def _launch_like_the_ui(definitions, instance, key: str) -> dg.DagsterRun:
    """A submitted run of dataset_export for ``key``, as the UI creates it (implicit asset job,
    partition tag); it logs its planned materialization and waits for the run coordinator."""
    job = definitions.resolve_implicit_job_def_def_for_assets([dg.AssetKey("dataset_export")])
    return instance.create_run_for_job(
        job_def=job,
        run_config={},
        tags={"dagster/partition": key},
        asset_selection=frozenset({dg.AssetKey("dataset_export")}),
    )


def test_export_sensor_does_not_launch_a_partition_already_launched(definitions):
    """Issue 9: adding an export partition in the UI and launching it built the export twice
    (the sensor saw a new, not yet materialized partition and launched a second run)."""
    with dg.instance_for_test(set_dagster_home=False) as instance:
        instance.add_dynamic_partitions("exports", ["2026-12-01", "2026-12-02"])
        ui_run = _launch_like_the_ui(definitions, instance, "2026-12-01")
        first = export_partition_sensor(dg.build_sensor_context(instance=instance))
        assert [r.partition_key for r in first.run_requests] == ["2026-12-02"]

        instance.add_dynamic_partitions("exports", ["2026-12-03"])
        failed = _launch_like_the_ui(definitions, instance, "2026-12-03")
        instance.report_run_failed(failed)
        again = export_partition_sensor(
            dg.build_sensor_context(instance=instance, cursor=first.cursor)
        )
        assert again.run_requests == []  # a failed launch is re-launched by a person
        assert ui_run.run_id != failed.run_id


def test_a_second_launch_of_one_export_steps_aside(definitions, env):
    with dg.instance_for_test(set_dagster_home=False) as instance:
        instance.add_dynamic_partitions("exports", ["2026-12-01"])
        first = _launch_like_the_ui(definitions, instance, "2026-12-01")
        assert earlier_export_run(instance, "2026-12-01", first.run_id) is None
        second = _export(definitions, env, instance, "2026-12-01")
        assert not second.success
        assert f"already being built by run {first.run_id[:8]}" in _failure_message(second)
        assert not (env.research / "exports").exists()


def test_upstream_lineage_lists_the_latest_run_of_every_partition_the_catalog_holds():
    days = dg.StaticPartitionsDefinition(["2026-09-01", "2026-09-02"])

    @dg.asset(name="image_features", partitions_def=days)
    def fake_features() -> None:
        return None

    @dg.asset(name="labelbox_labels")
    def fake_labels() -> dg.MaterializeResult:
        return dg.MaterializeResult(data_version=dg.DataVersion("labels-1"))

    @dg.asset(name="metadata_db", deps=[fake_features, fake_labels])
    def fake_catalog() -> None:
        return None

    assets = [fake_features, fake_labels, fake_catalog]
    graph = dg.Definitions(assets=assets).resolve_asset_graph()
    with dg.instance_for_test(set_dagster_home=False) as instance:
        for day in ("2026-09-01", "2026-09-02", "2026-09-02"):  # the second day twice
            dg.materialize(
                assets, instance=instance, selection=["image_features"], partition_key=day
            )
        last_features_run = instance.get_runs(limit=1)[0].run_id
        dg.materialize(assets, instance=instance, selection=["labelbox_labels", "metadata_db"])
        entries = upstream_lineage(instance, graph)
    assert [(e["asset"], e["partition"]) for e in entries] == [
        ("image_features", "2026-09-01"),
        ("image_features", "2026-09-02"),
        ("labelbox_labels", None),
        ("metadata_db", None),
    ]
    assert entries[1]["run_id"] == last_features_run
    assert entries[2]["data_version"] == "labels-1"
    assert all(e["run_id"] for e in entries)
