"""Batches and MAL pre-labels through the real labelbox SDK against the local fake endpoint."""

from __future__ import annotations

import polars as pl
import pytest

from cadbusi_assets.labeling.batches import (
    MAX_BATCH_ROWS,
    BatchPlan,
    plan_batches,
    queue_batches,
)
from cadbusi_assets.labeling.prelabels import (
    PrelabelNames,
    build_prelabels,
    clock_answer,
    import_prelabels,
)
from cadbusi_assets_tests.labeling.fake_labelbox_batches import running_fake_with_batches

PROJECT = "proj-batches"


@pytest.fixture
def fake():
    for server in running_fake_with_batches():
        server.add_project(PROJECT)
        yield server


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


def _rows(n: int) -> pl.DataFrame:
    birads = ["4B", "2", "3", None, "0"]
    return pl.DataFrame(
        {
            "global_key": [f"img-{i:03d}" for i in range(n)],
            "birads": [birads[i % 5] for i in range(n)],
        }
    )


def test_plans_are_deterministic_capped_and_skip_queued_rows():
    rows = _rows(23)
    plans = plan_batches(rows, "2026-09-01", max_rows=3, already_queued=["img-000"])
    assert plans == plan_batches(
        rows.reverse(), "2026-09-01", max_rows=3, already_queued=["img-000"]
    )
    assert all(len(p.global_keys) <= 3 for p in plans)
    keys = [k for p in plans for k in p.global_keys]
    assert sorted(keys) == sorted(set(rows["global_key"]) - {"img-000"})
    assert [p.priority for p in plans] == sorted(p.priority for p in plans)
    first = plans[0]
    assert first.priority == 1 and first.name == "2026-09-01-p1-001"
    assert set(first.global_keys) <= {f"img-{i:03d}" for i in range(0, 23, 5)}
    with pytest.raises(ValueError, match="max_rows"):
        plan_batches(rows, "x", max_rows=MAX_BATCH_ROWS + 1)


@pytest.mark.integration
def test_batches_reach_the_project_with_priority_and_consensus(fake, client):
    rows = _rows(12)
    fake.add_data_rows(rows["global_key"].to_list()[:-1])  # the last one was never uploaded
    project = client.get_project(PROJECT)
    plans = plan_batches(rows, "day 1", max_rows=2)
    report = queue_batches(
        project, plans, consensus={"number_of_labels": 3, "coverage_percentage": 0.1}
    )
    assert report.created == [p.name for p in plans]
    assert report.rows_queued == 11
    assert report.failed == {p.name: ["img-011"] for p in plans if "img-011" in p.global_keys}
    batches = fake.batches[PROJECT]
    assert [(b["name"], b["priority"]) for b in batches] == [(p.name, p.priority) for p in plans]
    assert batches[0]["consensus"] == {"numberOfLabels": 3, "coveragePercentage": 0.1}
    # a re-run plans only what is not queued yet, so nothing is sent twice
    assert plan_batches(rows.head(11), "day 1", already_queued=fake.queued_keys(PROJECT)) == []
    assert fake.calls("createBatchV2PyApi")


def _lesions() -> tuple[pl.DataFrame, pl.DataFrame]:
    lesions = pl.DataFrame(
        {"lesion_id": ["A1-L1", "A1-L2"], "side": ["LEFT", "RIGHT"], "clock": ["10:30", "1:50"]}
    )
    links = pl.DataFrame(
        {
            "lesion_id": ["A1-L1", "A1-L2", "A1-L1"],
            "image_id": ["img-000", "img-001", "img-002"],
            "box_x0": [100, None, 50],
            "box_y0": [120, None, 60],
            "box_x1": [180, None, 90],
            "box_y1": [170, None, 100],
        },
        schema_overrides={c: pl.Int64 for c in ("box_x0", "box_y0", "box_x1", "box_y1")},
    )
    return lesions, links


def test_prelabel_lines_have_boxes_classifications_and_no_confidence():
    lesions, links = _lesions()
    lines = build_prelabels(links, lesions)
    assert lines == build_prelabels(links, lesions)  # deterministic uuids
    boxes = [line for line in lines if "bbox" in line]
    assert boxes[0] == {
        "uuid": boxes[0]["uuid"],
        "name": "lesion",
        "dataRow": {"globalKey": "img-000"},
        "bbox": {"top": 120, "left": 100, "height": 50, "width": 80},
    }
    assert len(boxes) == 2  # img-001 has no calipers: no box, classifications only
    answers = {
        (line["dataRow"]["globalKey"], line["name"]): line["answer"]["name"]
        for line in lines
        if "answer" in line
    }
    assert answers[("img-001", "laterality")] == "right"
    assert answers[("img-001", "clock")] == "2:00"
    assert answers[("img-000", "clock")] == "10:30"
    assert not any("confidence" in line for line in lines)
    assert len({line["uuid"] for line in lines}) == len(lines)
    named = build_prelabels(links, lesions, PrelabelNames(box="mass", left="L", right="R"))
    assert {line["name"] for line in named} == {"mass", "laterality", "clock"}
    assert [clock_answer(c) for c in ("12:10", "11:50", "3:20", "x", None)] == [
        "12:00",
        "12:00",
        "3:30",
        None,
        None,
    ]


@pytest.mark.integration
def test_prelabels_import_with_status_and_errors_reported(fake, client):
    keys = ["img-000", "img-001", "img-002"]
    fake.add_data_rows(keys)
    project = client.get_project(PROJECT)
    queue_batches(project, [BatchPlan("b1", 1, keys[:2])])  # img-002 is not queued
    lesions, links = _lesions()
    lines = build_prelabels(links, lesions)
    report = import_prelabels(client, PROJECT, "mal-1", lines, poll_seconds=0)
    assert report.state == "FINISHED"
    assert report.annotations == len(lines)
    failed_keys = {e["dataRow"]["globalKey"] for e in report.errors}
    assert failed_keys == {"img-002"}
    assert report.failed == sum(1 for line in lines if line["dataRow"]["globalKey"] == "img-002")
    assert report.succeeded == len(lines) - report.failed
    assert all("not queued" in e["errors"][0]["message"] for e in report.errors)
    assert fake.imports[f"{PROJECT}/mal-1"]["lines"] == lines
    assert import_prelabels(client, PROJECT, "mal-empty", []).state == "SKIPPED"


@pytest.mark.integration
def test_queue_for_labeling_batches_then_prelabels_and_backs_off_on_rate_limits(fake, client):
    from cadbusi_assets.labeling.project_queue import queue_for_labeling, with_backoff

    keys = ["img-000", "img-001", "img-002"]
    fake.add_data_rows(keys)
    lesions, links = _lesions()
    waits: list[float] = []
    fake.rate_limit(1)
    report = queue_for_labeling(
        client,
        PROJECT,
        pl.DataFrame({"global_key": keys, "birads": ["4A", "4A", "2"]}),
        "2026-09-01",
        lesions=lesions,
        lesion_images=links,
        retry=with_backoff(first_wait_s=0.5, sleep=waits.append),
        poll_seconds=0,
    )
    assert waits == [0.5]  # one rate-limited call, retried after a backoff
    assert report.batches.created == ["2026-09-01-p1-001", "2026-09-01-p4-001"]
    assert sorted(report.queued_keys) == keys
    assert report.prelabels is not None and report.prelabels.failed == 0
    assert report.prelabels.succeeded == len(build_prelabels(links, lesions))
    again = queue_for_labeling(
        client,
        PROJECT,
        pl.DataFrame({"global_key": keys}),
        "2026-09-01",
        already_queued=fake.queued_keys(PROJECT),
        lesions=lesions,
        lesion_images=links,
    )
    assert again.batches.created == [] and again.prelabels is None
