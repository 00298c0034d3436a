"""The whole lineage graph on a small synthetic cohort (issue 2: backbone done-when criteria)."""

from __future__ import annotations

import shutil

import dagster as dg
import polars as pl
import pytest

from cadbusi_assets.identity import Pseudonymizer, load_key
from cadbusi_assets.stages.report import read_partition_reports
from cadbusi_assets.storage import open_zone, read_partition_table
from cadbusi_assets_tests.defs.conftest import (
    PARTITIONED,
    days,
    make_environment,
    materializations,
    run,
    tree_digest,
)
from cadbusi_assets_tests.defs.phi_scan import find_identifiers
from cadbusi_demo import DemoCohort

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("pipeline")]


def all_days() -> set[str]:
    import datetime as dt

    start, end = (dt.date.fromisoformat(d) for d in days())
    return {(start + dt.timedelta(days=i)).isoformat() for i in range((end - start).days + 1)}


def test_every_run_succeeded_and_every_check_passed(pipeline):
    for name, result in pipeline.results.items():
        assert result.success, name
        failed = [e.check_name for e in result.get_asset_check_evaluations() if not e.passed]
        assert failed == [], (name, failed)
    checks = {e.check_name for e in pipeline.results["backfill"].get_asset_check_evaluations()}
    assert {"no_patient_identifiers", "retrieval_complete"} <= checks


def test_backfill_materialized_every_study_date_of_every_partitioned_asset(pipeline):
    for key in PARTITIONED:
        assert pipeline.instance.get_materialized_partitions(dg.AssetKey(key)) == all_days(), key


def test_per_partition_metadata_has_no_counts_and_the_raw_zone_keeps_them(pipeline):
    """Beside a real study date the UI shows the outcome, never a count (a count would link the
    date to a research batch of the same size); the exact counts are in the raw zone."""
    events = materializations(pipeline.results["backfill"], "deidentified_images")
    assert {e.partition for e in events} == all_days()
    for event in events:
        assert event.metadata["outcome"].value.startswith("delivered")
        numbers = {
            k: v.value
            for k, v in event.metadata.items()
            if isinstance(v.value, (int, float)) and not isinstance(v.value, bool)
        }
        assert numbers == {}, numbers
    raw = open_zone(str(pipeline.env.raw), "raw")
    reports = read_partition_reports(raw, "deidentified_images")
    assert {r["partition"] for r in reports} == all_days()
    research = open_zone(str(pipeline.env.research), "research")
    key = Pseudonymizer(load_key(str(pipeline.env.key_file)))
    for report in reports:
        images = read_partition_table(research, "images", key.batch_name(report["partition"]))
        assert images is not None
        assert report["counts"]["images"] == images.height == report["row_count"]
        assert report["counts"]["instances_in"] >= report["counts"]["instances_deidentified"]


def test_export_manifest_lists_images_that_are_on_disk(pipeline):
    folder = pipeline.env.research / "exports" / pipeline.export_key
    for name in (
        "manifest.parquet",
        "manifest.csv",
        "bags.parquet",
        "bags.csv",
        "vlm.jsonl",
        "export_config.yaml",
        "lineage.json",
        "README.md",
        "SHA256SUMS",
        "_COMPLETE",
    ):
        assert (folder / name).is_file(), name
    manifest = pl.read_parquet(folder / "manifest.parquet")
    assert manifest.height > 0
    assert all((folder / p).is_file() for p in manifest["image_path"])
    assert set(manifest["split"]) <= {"train", "val", "test"}
    assert set(manifest["label"]) <= {-1, 0, 1}
    per_patient = manifest.group_by("patient_pseudo").agg(pl.col("split").n_unique())
    assert per_patient["split"].max() == 1  # patient-level splits
    bags = pl.read_parquet(folder / "bags.parquet")
    assert bags["n_images"].sum() == manifest.height
    assert list((folder / "plots").glob("*.png"))


def test_export_is_immutable_and_reproducible(pipeline, definitions):
    folder = pipeline.env.research / "exports" / pipeline.export_key
    before = tree_digest(folder)
    again = run(
        definitions,
        pipeline.env,
        ["dataset_export"],
        pipeline.instance,
        partition_key=pipeline.export_key,
    )
    assert again.success
    event = again.asset_materializations_for_node("dataset_export")[0]
    assert event.metadata["already_existed"].value is True
    assert tree_digest(folder) == before


def test_no_demo_identifier_in_research_zone_or_export(pipeline, cohort_dir):
    identifiers = DemoCohort.load(cohort_dir).identifiers()
    assert identifiers
    assert find_identifiers(pipeline.env.research, identifiers) == []
    # the scan itself works: the raw (PHI) zone is full of identifiers
    assert find_identifiers(pipeline.env.raw, identifiers)


def test_rematerializing_a_partition_replaces_it_with_identical_files(pipeline, definitions):
    day = sorted(all_days())[1]
    # reports/ records what each run did (it says, for example, what was already stored)
    raw_before = tree_digest(pipeline.env.raw, exclude=("reports",))
    research_before = tree_digest(pipeline.env.research, exclude=("catalog", "exports", "labels"))
    result = run(definitions, pipeline.env, PARTITIONED, pipeline.instance, partition_key=day)
    assert result.success
    assert tree_digest(pipeline.env.raw, exclude=("reports",)) == raw_before
    assert (
        tree_digest(pipeline.env.research, exclude=("catalog", "exports", "labels"))
        == research_before
    )


def test_independent_runs_with_the_same_key_give_the_same_pseudonyms(
    pipeline, definitions, cohort_dir, key_file, tmp_path_factory
):
    day = sorted(all_days())[0]
    env_b = make_environment(tmp_path_factory.mktemp("run_b"), cohort_dir, key_file)
    with dg.instance_for_test(set_dagster_home=False) as instance:
        result = run(definitions, env_b, PARTITIONED[:5], instance, partition_key=day)
    assert result.success
    batch = Pseudonymizer(load_key(key_file)).batch_name(day)
    zone_a = open_zone(str(pipeline.env.research), "research")
    zone_b = open_zone(str(env_b.research), "research")
    for table in ("studies", "images", "instances"):
        a, b = (
            read_partition_table(zone_a, table, batch),
            read_partition_table(zone_b, table, batch),
        )
        assert a is not None and a.height > 0
        assert a.equals(b), table
    for path in read_partition_table(zone_a, "instances", batch)["dicom_path"]:
        assert (pipeline.env.research / path).read_bytes() == (env_b.research / path).read_bytes()


def test_a_different_key_gives_different_pseudonyms(
    pipeline, definitions, cohort_dir, tmp_path_factory
):
    from cadbusi_assets.identity import generate_key_file

    day = sorted(all_days())[0]
    other_key = generate_key_file(tmp_path_factory.mktemp("other_key") / "k.key")
    env_c = make_environment(tmp_path_factory.mktemp("run_c"), cohort_dir, other_key)
    with dg.instance_for_test(set_dagster_home=False) as instance:
        assert run(definitions, env_c, PARTITIONED[:5], instance, partition_key=day).success
    key_a = Pseudonymizer(load_key(pipeline.env.key_file))
    key_c = Pseudonymizer(load_key(other_key))
    a = read_partition_table(
        open_zone(str(pipeline.env.research), "r"), "studies", key_a.batch_name(day)
    )
    c = read_partition_table(open_zone(str(env_c.research), "r"), "studies", key_c.batch_name(day))
    assert a.height == c.height > 0
    assert set(a["accession_pseudo"]).isdisjoint(set(c["accession_pseudo"]))


def test_corrupt_dicom_is_quarantined_and_the_rest_of_the_partition_succeeds(
    pipeline, definitions, cohort_dir, key_file, tmp_path_factory
):
    day = sorted(all_days())[0]
    pacs = tmp_path_factory.mktemp("pacs_copy") / "pacs"
    shutil.copytree(cohort_dir / "pacs", pacs)
    raw_a = open_zone(str(pipeline.env.raw), "raw")
    cohort = read_partition_table(raw_a, "imaging_studies", day)
    study_folder = pacs / cohort["study_instance_uid"][0]
    original = sorted(study_folder.glob("*.dcm"))[0].read_bytes()
    (study_folder / "zz-truncated.dcm").write_bytes(original[: len(original) // 3])
    (study_folder / "zz-garbage.dcm").write_bytes(b"this is not a DICOM file at all" * 20)

    env_d = make_environment(tmp_path_factory.mktemp("run_d"), cohort_dir, key_file, pacs_root=pacs)
    with dg.instance_for_test(set_dagster_home=False) as instance:
        result = run(definitions, env_d, PARTITIONED[:5], instance, partition_key=day)
    assert result.success
    event = materializations(result, "deidentified_images")[0]
    assert event.metadata["outcome"].value.startswith("delivered")
    (report,) = read_partition_reports(open_zone(str(env_d.raw), "raw"), "deidentified_images", day)
    assert report["counts"]["instances_quarantined"] == 2
    batch = Pseudonymizer(load_key(key_file)).batch_name(day)
    quarantine = read_partition_table(open_zone(str(env_d.research), "r"), "quarantine", batch)
    assert quarantine.height == 2
    assert all("corrupt DICOM" in r for r in quarantine["reason"])
    images_a = read_partition_table(open_zone(str(pipeline.env.research), "r"), "images", batch)
    images_d = read_partition_table(open_zone(str(env_d.research), "r"), "images", batch)
    assert images_d.equals(images_a)  # everything else went through unchanged
    manifest = read_partition_table(open_zone(str(env_d.raw), "raw"), "retrieval_instances", day)
    assert manifest.filter(pl.col("status") == "failed").height == 0  # stored, not dropped


def test_unknown_pseudonym_key_fails_clearly(definitions, cohort_dir, tmp_path_factory):
    env = make_environment(
        tmp_path_factory.mktemp("run_nokey"),
        cohort_dir,
        tmp_path_factory.mktemp("k") / "missing.key",
    )
    with dg.instance_for_test(set_dagster_home=False) as instance:
        result = run(
            definitions,
            env,
            PARTITIONED[:4],
            instance,
            partition_key=days()[0],
            raise_on_error=False,
        )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    error = failure.step_failure_data.error
    assert error.cause is not None and error.cause.cls_name == "PseudonymKeyError"
    assert "pseudonym key" in error.cause.message and "cadbusi keygen" in error.cause.message


def test_each_export_is_recorded_in_the_raw_zone_audit(pipeline):
    from cadbusi_assets.identity.audit import read_audit
    from cadbusi_assets.storage import open_zone

    audit = read_audit(open_zone(str(pipeline.env.raw), "raw"))
    rows = audit.filter(audit["export_key"] == pipeline.export_key)
    assert rows.height == 1  # the verifying re-build of the same key is not a new export
    assert rows["run_id"][0] == pipeline.results["export"].run_id
    assert rows["user"][0]


def test_no_planted_third_party_identifier_reaches_the_export_or_research_zone(
    pipeline, cohort_dir
):
    """The demo plants relatives, staff, other patients, phones and addresses in some reports
    (issue 10: they reached the research `studies` table, the catalog and `vlm.jsonl`)."""
    import json
    import re

    import polars as pl

    exams = json.loads((cohort_dir / "ground_truth" / "records" / "exams.json").read_text())
    items = exams if isinstance(exams, list) else list(exams.values())
    planted = [p for e in items for p in (e.get("planted_third_party") or [])]
    assert planted, "the test cohort must plant third-party identifiers"
    needles = set()
    for item in planted:
        value = item["value"]
        needles.add(value.lower())
        if item["kind"] in ("relative", "staff", "other_patient"):
            needles.update(w.lower() for w in re.split(r"[\s^,]+", value) if len(w) >= 4)
    export = pipeline.env.research / "exports" / pipeline.export_key
    vlm = (export / "vlm.jsonl").read_text().lower()
    assert vlm.strip(), "the export has VLM pairs"
    assert not [n for n in needles if n in vlm]
    leaked = []
    for path in pipeline.env.research.rglob("*.parquet"):
        frame = pl.read_parquet(path)
        text = " ".join(
            str(v) for col in frame.iter_columns() if col.dtype == pl.Utf8 for v in col.drop_nulls()
        ).lower()
        leaked += [(path.name, n) for n in needles if n in text]
    assert not leaked
