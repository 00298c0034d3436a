"""Batches of 1,000 rows or more: the SDK's asynchronous path (empty batch, rows added by a
task, batch read back), through the real labelbox SDK against the local fake endpoint."""

from __future__ import annotations

import polars as pl
import pytest

from cadbusi_assets.labeling.batches import ASYNC_BATCH_ROWS, plan_batches, queue_batches
from cadbusi_assets.labeling.consensus import ConsensusConfig
from cadbusi_assets_tests.labeling.fake_labelbox_projects import running_fake_with_projects

pytestmark = pytest.mark.integration


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


def test_a_large_batch_goes_the_async_way_with_priority_and_consensus(fake, client):
    fake.add_project("proj-large", consensus=True, number_of_labels=3, percentage=0.1)
    keys = [f"img-{i:05d}" for i in range(ASYNC_BATCH_ROWS + 5)]
    fake.add_data_rows(keys[:-5])  # five rows were never uploaded
    plans = plan_batches(pl.DataFrame({"global_key": keys, "birads": ["4B"] * len(keys)}), "d1")
    assert [len(p.global_keys) for p in plans] == [len(keys)]
    settings = ConsensusConfig(True, 10, 3).batch_settings()
    report = queue_batches(client.get_project("proj-large"), plans, consensus=settings)

    operations = fake.operations()
    assert "createEmptyBatchPyApi" in operations and "addDataRowsToBatchAsyncPyApi" in operations
    assert "createBatchV2PyApi" not in operations
    [batch] = fake.batches["proj-large"]
    assert batch["priority"] == 1 and len(batch["global_keys"]) == len(keys) - 5
    assert batch["consensus"] == {"numberOfLabels": 3, "coveragePercentage": 0.1}
    # Labelbox names no refused rows on this path: the shortfall is counted, not hidden
    assert report.failed == {} and report.unconfirmed == {plans[0].name: 5}
    assert report.rows_queued == len(keys) - 5
