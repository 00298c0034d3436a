"""Consensus (quality) settings from configuration: applied to a new project, compared with an
existing one, carried by the batches; through the real labelbox SDK against the local fake."""

from __future__ import annotations

import polars as pl
import pytest

from cadbusi_assets.labeling.consensus import (
    ConsensusConfig,
    ConsensusError,
    create_project,
    ensure_consensus,
)
from cadbusi_assets.labeling.project_queue import queue_for_labeling
from cadbusi_assets.labeling.sources import FolderLabelSource
from cadbusi_assets.stages import labeling as stage
from cadbusi_assets_tests.labeling.fake_labelbox_projects import running_fake_with_projects

ON = ConsensusConfig(enabled=True, coverage_percent=25, number_of_labels=4)
KEYS = ["img-000", "img-001", "img-002"]


@pytest.fixture
def fake():
    yield from running_fake_with_projects()


@pytest.fixture
def client(fake, monkeypatch):
    import labelbox as lb

    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    return lb.Client(
        api_key=fake.api_key,
        endpoint=fake.endpoint,
        rest_endpoint=fake.rest_endpoint,
        app_url=fake.app_url,
    )


def _queue(client, project_id: str, quality: ConsensusConfig):
    return queue_for_labeling(
        client,
        project_id,
        pl.DataFrame({"global_key": KEYS, "birads": ["4A", "4A", "2"]}),
        "2026-09-01",
        quality=quality,
        poll_seconds=0,
    )


def test_configuration_from_the_environment_and_bad_values():
    assert ConsensusConfig.from_env({}) == ConsensusConfig(False, 10.0, 3)
    config = ConsensusConfig.from_env(
        {
            "CADBUSI_LABELBOX_CONSENSUS": "on",
            "CADBUSI_LABELBOX_CONSENSUS_COVERAGE": "12.5%",
            "CADBUSI_LABELBOX_CONSENSUS_LABELS": "5",
        }
    )
    assert config == ConsensusConfig(True, 12.5, 5)
    assert config.batch_settings() == {"number_of_labels": 5, "coverage_percentage": 0.125}
    assert ConsensusConfig.from_env({"CADBUSI_LABELBOX_CONSENSUS": "off"}).batch_settings() is None
    bad = [
        (
            {"CADBUSI_LABELBOX_CONSENSUS_COVERAGE": "150"},
            r"COVERAGE must be more than 0 and at most 100.*got 150",
        ),
        ({"CADBUSI_LABELBOX_CONSENSUS_COVERAGE": "0"}, "COVERAGE must be more than 0"),
        ({"CADBUSI_LABELBOX_CONSENSUS_COVERAGE": "-5"}, "COVERAGE must be more than 0"),
        ({"CADBUSI_LABELBOX_CONSENSUS_COVERAGE": "nan"}, "COVERAGE must be more than 0"),
        ({"CADBUSI_LABELBOX_CONSENSUS_COVERAGE": "ten"}, "COVERAGE must be a number of percent"),
        ({"CADBUSI_LABELBOX_CONSENSUS_LABELS": "1"}, "LABELS must be between 2 and 20"),
        ({"CADBUSI_LABELBOX_CONSENSUS_LABELS": "2.5"}, "LABELS must be a whole number"),
        ({"CADBUSI_LABELBOX_CONSENSUS": "maybe"}, "CONSENSUS must be on or off"),
    ]
    for env, message in bad:
        with pytest.raises(ConsensusError, match=message):
            ConsensusConfig.from_env({"CADBUSI_LABELBOX_CONSENSUS": "on", **env})
    with pytest.raises(ConsensusError, match="got 150"):
        ConsensusConfig(True, 150)


@pytest.mark.integration
def test_a_new_project_gets_the_configured_settings_and_its_batches_carry_them(fake, client):
    project, check = create_project(client, "BUS consensus", ON)
    assert check.status == "applied" and check.ok and check.differences == []
    assert fake.quality[project.uid] == {
        "isConsensusEnabled": True,
        "isBenchmarkEnabled": False,
        "autoAuditNumberOfLabels": 4,
        "autoAuditPercentage": 0.25,
    }
    [created] = fake.calls("CreateProjectPyApi")
    assert created.variables["isConsensusEnabled"] is True
    assert ensure_consensus(client, project.uid, ON).status == "matches"

    fake.add_data_rows(KEYS)
    report = _queue(client, project.uid, ON)
    assert report.consensus is not None and report.consensus.batches_get_consensus
    assert sorted(report.queued_keys) == KEYS
    settings = {"numberOfLabels": 4, "coveragePercentage": 0.25}
    assert [b["consensus"] for b in fake.batches[project.uid]] == [settings, settings]


@pytest.mark.integration
def test_consensus_off_creates_a_benchmark_project_and_plain_batches(fake, client):
    off = ConsensusConfig()
    project, check = create_project(client, "BUS benchmark", off)
    assert check.status == "applied"
    assert fake.quality[project.uid]["isConsensusEnabled"] is False
    assert fake.calls("updateProjectPyApi") == []
    fake.add_data_rows(KEYS)
    report = _queue(client, project.uid, off)
    assert report.consensus is not None and report.consensus.status == "matches"
    assert all(b["consensus"] is None for b in fake.batches[project.uid])


@pytest.mark.integration
def test_an_existing_project_that_differs_is_reported_not_changed(fake, client):
    fake.add_project("proj-votes", consensus=True, number_of_labels=2, percentage=0.1)
    check = ensure_consensus(client, "proj-votes", ON)
    assert check.status == "differs" and not check.ok
    assert check.differences == [
        "consensus labels per data row is 2, configured 4",
        "consensus coverage is 10 %, configured 25 %",
    ]
    assert fake.calls("updateProjectPyApi") == []
    assert fake.quality["proj-votes"]["autoAuditNumberOfLabels"] == 2
    # consensus is on in both: the batches still get the configured settings
    fake.add_data_rows(KEYS)
    report = _queue(client, "proj-votes", ON)
    assert report.consensus is not None and report.consensus.batches_get_consensus
    assert fake.batches["proj-votes"][0]["consensus"] == {
        "numberOfLabels": 4,
        "coveragePercentage": 0.25,
    }


@pytest.mark.integration
def test_a_project_without_consensus_is_reported_and_its_batches_go_without(fake, client):
    fake.add_project("proj-benchmark")
    fake.add_data_rows(KEYS)
    report = _queue(client, "proj-benchmark", ON)
    assert report.consensus is not None and report.consensus.status == "differs"
    assert "consensus is off in the project, configured on" in report.consensus.differences[0]
    assert sorted(report.queued_keys) == KEYS  # annotators still get the rows
    assert all(b["consensus"] is None for b in fake.batches["proj-benchmark"])


@pytest.mark.integration
def test_the_fake_refuses_consensus_batches_on_a_benchmark_project(fake, client):
    """Why the batches above go without: sending them anyway is an error (the fake's model of
    Labelbox), so the check must come first."""
    from cadbusi_assets.labeling.batches import BatchPlan, queue_batches

    fake.add_project("proj-benchmark")
    fake.add_data_rows(KEYS)
    with pytest.raises(Exception, match="consensus is not enabled"):
        queue_batches(
            client.get_project("proj-benchmark"),
            [BatchPlan("b1", 1, KEYS)],
            consensus=ON.batch_settings(),
        )


@pytest.mark.integration
def test_source_and_stage_read_the_environment_and_fail_clearly_on_bad_values(
    fake, monkeypatch, tmp_path
):
    from cadbusi_assets.labeling import open_label_source

    fake.add_project("proj-env", consensus=True, number_of_labels=3, percentage=0.2)
    fake.add_data_rows(KEYS)
    monkeypatch.setenv("LABELBOX_API_KEY", fake.api_key)
    monkeypatch.setenv("LABELBOX_ENDPOINT", fake.endpoint)
    monkeypatch.delenv("LABELBOX_REST_ENDPOINT", raising=False)
    monkeypatch.delenv("LABELBOX_APP_URL", raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("CADBUSI_LABELBOX_CONSENSUS", "on")
    monkeypatch.setenv("CADBUSI_LABELBOX_CONSENSUS_COVERAGE", "20")
    source = open_label_source("labelbox://proj-env?dataset_prefix=bus")

    checked = stage.check_consensus_settings(source)
    assert not checked.failed and checked.problems == []
    monkeypatch.setenv("CADBUSI_LABELBOX_CONSENSUS_LABELS", "5")
    checked = stage.check_consensus_settings(source)
    assert checked.failed
    assert checked.problems == ["consensus: consensus labels per data row is 3, configured 5"]
    monkeypatch.delenv("CADBUSI_LABELBOX_CONSENSUS_LABELS")

    queued = source.queue_rows("2026-09-01", pl.DataFrame({"global_key": KEYS}))
    assert queued.consensus is not None and queued.consensus.status == "matches"
    assert {str(b["consensus"]) for b in fake.batches["proj-env"]} == {
        str({"numberOfLabels": 3, "coveragePercentage": 0.2})
    }

    monkeypatch.setenv("CADBUSI_LABELBOX_CONSENSUS_COVERAGE", "150")
    sent_before = len(fake.requests)
    with pytest.raises(ConsensusError, match="at most 100"):
        source.queue_rows("2026-09-02", pl.DataFrame({"global_key": ["img-9"]}))
    assert len(fake.requests) == sent_before  # nothing sent with a bad setting

    folder = FolderLabelSource(tmp_path)
    with pytest.raises(ConsensusError, match="at most 100"):
        folder.queue_rows("2026-09-01", pl.DataFrame({"global_key": KEYS}))
    monkeypatch.setenv("CADBUSI_LABELBOX_CONSENSUS_COVERAGE", "20")
    folder.queue_rows("2026-09-01", pl.DataFrame({"global_key": KEYS}))
    assert all(
        b["consensus_settings"] == {"number_of_labels": 3, "coverage_percentage": 0.2}
        for b in folder.sent_batches()
    )


def test_the_variables_are_documented_for_cadbusi_doctor():
    from cadbusi_assets.labeling.consensus import CONSENSUS_ENV, COVERAGE_ENV, LABELS_ENV
    from cadbusi_assets.settings import VARIABLES

    assert {CONSENSUS_ENV, COVERAGE_ENV, LABELS_ENV} <= set(VARIABLES)
