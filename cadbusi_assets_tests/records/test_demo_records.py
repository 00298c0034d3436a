"""The records pipeline over the demo warehouse, checked against the generator's ground truth."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from cadbusi_assets.records import (
    diagnosis_labels,
    open_warehouse,
    parse_pathology_reports,
    parse_radiology_reports,
    select_cohort,
)
from cadbusi_assets.records.accuracy import parsing_accuracy
from cadbusi_demo import DemoConfig
from cadbusi_demo.plan import plan_cohort
from cadbusi_demo.records_truth import exams_truth, specimens_truth
from cadbusi_demo.warehouse import write_warehouse

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    config = DemoConfig(days=30)
    plan = plan_cohort(config)
    path = tmp_path_factory.mktemp("demo-records") / "warehouse.duckdb"
    write_warehouse(path, plan)
    with open_warehouse(str(path)) as warehouse:
        radiology = warehouse.radiology_exams(config.start, config.end)
        year = dt.timedelta(days=365)
        pathology = warehouse.pathology_specimens(config.start - year, config.end + year)
    return plan, parse_radiology_reports(radiology), parse_pathology_reports(pathology)


def test_every_report_with_an_assessment_yields_its_birads(demo):
    plan, radiology, _ = demo
    truth = {e["accession_number"]: e["birads"] for e in exams_truth(plan)}
    with_assessment = radiology.filter(
        pl.col("accession_number").is_in([a for a, b in truth.items() if b])
    )
    assert with_assessment.height > 0
    assert with_assessment["birads"].null_count() == 0
    assert all(
        truth[a] == b for a, b in with_assessment.select("accession_number", "birads").iter_rows()
    )


def test_parsing_accuracy_against_ground_truth(demo):
    plan, radiology, pathology = demo
    accuracy = parsing_accuracy(radiology, pathology, exams_truth(plan), specimens_truth(plan))
    assert (
        accuracy["exams"] > 50
        and accuracy["pathology_parts"] > 10
        and accuracy["lesions_truth"] > 20
    )
    assert accuracy["pathology_parts_found"] == accuracy["pathology_parts"]
    for metric in (
        "birads_accuracy",
        "laterality_accuracy",
        "concordance_accuracy",
        "pathology_interpretation_accuracy",
        "pathology_laterality_accuracy",
    ):
        assert accuracy[metric] >= 0.98, (metric, accuracy[metric])
    assert accuracy["lesion_recall"] >= 0.9
    assert (
        min(
            accuracy[f"{f}_accuracy"]
            for f in ("margin", "shape", "orientation", "echo", "posterior")
        )
        >= 0.9
    )


def test_cohort_and_labels_run_on_the_demo(demo):
    plan, radiology, pathology = demo
    selection = select_cohort(radiology)
    assert selection.cohort.height + selection.exclusions.height == radiology.height
    us_with_pacs = {e.accession for e in plan.exams if e.modality == "US" and e.study_instance_uid}
    assert set(selection.cohort["accession_number"]) <= us_with_pacs
    labels = diagnosis_labels(radiology, pathology)
    assert labels.height > 0
    assert set(labels["has_malignant"].unique()) <= {-1, 0, 1}
    assert (labels["label"].is_null() == (labels["has_malignant"] == -1)).all()
    assert labels.filter(pl.col("label").is_not_null()).height > 0


def test_scrubbed_demo_reports_hold_no_planted_identifier(demo, tmp_path):
    from cadbusi_assets.identity import Pseudonymizer
    from cadbusi_assets.records import extract_birads, scrub_reports
    from cadbusi_assets.records.scrub import staff_name_parts
    from cadbusi_assets_tests.support import TEST_KEY

    plan, radiology, _ = demo
    path = tmp_path / "w.duckdb"
    write_warehouse(path, plan)
    with open_warehouse(str(path)) as warehouse:
        patients = warehouse.patients(radiology["patient_id"].unique().to_list())
    scrubbed = scrub_reports(radiology, Pseudonymizer(TEST_KEY), patients)
    planted: set[str] = set(radiology["accession_number"]) | set(radiology["patient_id"])
    for name in patients["patient_name"]:
        last, _, first = name.partition("^")
        planted |= {f"{last}, {first}", f"{first} {last}"} | {
            p for p in (last, first) if len(p) >= 4
        }
    for staff in radiology["radiologist"].drop_nulls().unique():
        planted |= {p for p in staff_name_parts(staff) if len(p) >= 4}
    text = "\n".join(scrubbed["report_text"].drop_nulls()).lower()
    assert sorted(p for p in planted if p.lower() in text) == []
    # what the reports are for survives scrubbing
    assert extract_birads(scrubbed["report_text"]).to_list() == radiology["birads"].to_list()
