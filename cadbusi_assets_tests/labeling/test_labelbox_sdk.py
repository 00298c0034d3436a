"""LabelboxSdkSource through the real labelbox SDK against the local fake Labelbox endpoint."""

from __future__ import annotations

import datetime as dt
import traceback

import pytest

from cadbusi_assets.labeling import LabelSourceError, open_label_source, parse_export_rows, sources
from cadbusi_assets.labeling.sources import EXPORT_OVERLAP, ActivityCursor, LabelboxSdkSource
from cadbusi_assets_tests.builders import export_row
from cadbusi_assets_tests.labeling.fake_labelbox import FakeLabelbox, running_fake

pytestmark = pytest.mark.integration

PROJECT = "proj-1"  # the project id export_row() files its labels under
T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def iso(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.000+00:00")


def label(fake: FakeLabelbox, image_id: str, minutes: float) -> None:
    """A label on ``image_id`` whose data row and label were last touched at ``at(minutes)``."""
    stamp = at(minutes)
    row = export_row(image_id, f"lb-{image_id}", updated=iso(stamp))
    row["projects"][PROJECT]["labels"][0]["label_details"]["created_at"] = iso(stamp)
    fake.label_row(PROJECT, row, stamp)


@pytest.fixture
def fake():
    for server in running_fake():
        server.add_project(PROJECT)
        yield server


@pytest.fixture
def source(fake, monkeypatch) -> LabelboxSdkSource:
    """The source as production opens it: URI + environment (only the GraphQL endpoint set)."""
    monkeypatch.setenv("LABELBOX_API_KEY", fake.api_key)
    monkeypatch.setenv("LABELBOX_ENDPOINT", fake.endpoint)
    monkeypatch.delenv("LABELBOX_REST_ENDPOINT", raising=False)
    monkeypatch.delenv("LABELBOX_APP_URL", raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    opened = open_label_source(f"labelbox://{PROJECT}?dataset_prefix=bus")
    assert isinstance(opened, LabelboxSdkSource)
    opened.rate_limit_backoff_s = 0.0
    return opened


def activity_filter(fake: FakeLabelbox) -> list[dict]:
    return fake.calls("exportDataRowsInProjectPyApi")[-1].variables["input"]["filters"][
        "searchQuery"
    ]["query"]


def test_export_round_trip_into_label_tables(fake, source):
    images = [f"img-{i}" for i in range(5)]
    for minutes, image_id in enumerate(images):
        label(fake, image_id, minutes)

    rows = list(source.export_rows())
    tables = parse_export_rows(rows)

    assert sorted(tables.labels["image_id"]) == images
    assert sorted(tables.labels["label_id"]) == [f"lb-{i}" for i in images]
    assert tables.objects.height == 3 * 5 and tables.classifications.height == 5 * 5
    assert set(tables.labels["workflow_status"]) == {"DONE"}
    expected = export_row("img-0", "lb-img-0", updated=iso(at(0)))["projects"][PROJECT]["labels"][0]
    expected["label_details"]["created_at"] = iso(at(0))
    exported = next(r for r in rows if r["data_row"]["global_key"] == "img-0")
    assert exported["projects"][PROJECT]["labels"][0] == expected
    assert exported["data_row"]["details"]["last_activity_at"] == iso(at(0))
    # What the SDK asked for, and how: every part we parse, no filter, streamed in chunks.
    call = fake.calls("exportDataRowsInProjectPyApi")[0].variables["input"]
    assert {k for k, v in call["params"].items() if v is True} == {
        "includeDataRowDetails",
        "includeLabelDetails",
        "includeProjectDetails",
        "includePerformanceDetails",
    }
    assert call["filters"]["searchQuery"]["query"] == []
    assert fake.operations().count("GET /files") == 3  # 5 rows in chunks of 2
    assert all(r.authorized for r in fake.requests if r.operation)
    # Only LABELBOX_ENDPOINT was set: REST and app URLs follow it, never the public hosts.
    assert source._get_client().rest_endpoint == fake.rest_endpoint


def test_incremental_export_asks_for_activity_since_cursor_minus_overlap(fake, source):
    label(fake, "old", -180)
    label(fake, "in-overlap", -50)
    label(fake, "new", 10)

    rows = list(source.export_rows(since=T0.isoformat()))

    assert sorted(r["data_row"]["global_key"] for r in rows) == ["in-overlap", "new"]
    assert activity_filter(fake) == [
        {
            "type": "data_row_last_activity_at",
            "value": {
                "operator": "GREATER_THAN_OR_EQUAL",
                "timezone": "UTC",  # explicit UTC: the fake's API user lives in Asia/Tokyo
                "value": (T0 - EXPORT_OVERLAP).strftime("%Y-%m-%dT%H:%M:%S+0000"),
            },
        }
    ]


def test_changes_since_advances_the_cursor_and_settles(fake, source):
    assert source.changes_since(None) == (False, "")  # empty project

    label(fake, "a", 0)
    changed, first = source.changes_since(None)
    assert changed and ActivityCursor.decode(first).high_water == at(0)
    assert source.changes_since(first) == (False, first)
    assert activity_filter(fake)[0]["value"]["value"] == "2026-03-02T09:00:00+0000"

    label(fake, "b", 30)
    changed, second = source.changes_since(first)
    assert changed and ActivityCursor.decode(second).high_water == at(30)
    assert sorted(r["data_row"]["global_key"] for r in source.export_rows(first)) == ["a", "b"]
    assert source.changes_since(second) == (False, second)

    # Indexed late, but inside the overlap window: news, although older than the high water.
    label(fake, "late", 20)
    changed, third = source.changes_since(second)
    assert changed and ActivityCursor.decode(third).high_water == at(30)
    assert source.changes_since(third) == (False, third)

    # An edit of a label already seen moves its activity: news again.
    label(fake, "a", 45)
    changed, fourth = source.changes_since(third)
    assert changed and ActivityCursor.decode(fourth).high_water == at(45)

    # A cursor from another source kind (a folder fingerprint) starts over instead of failing.
    assert source.changes_since("3f9a2ce54bdf0a1b2c3d4e5f") == (True, source.changes_since(None)[1])


def test_send_data_rows_creates_the_dataset_once_and_updates_by_global_key(fake, source):
    first = [
        {"global_key": "img-b", "external_id": "img-b", "row_data": "gs://research/b.png"},
        {"global_key": "img-a", "external_id": "img-a", "row_data": "gs://research/a.png"},
    ]
    assert source.send_data_rows("2026-03-02", first) == 2
    created = fake.data_rows()
    assert created["img-a"]["dataset"] == "bus-2026-03-02"
    assert (created["img-a"]["row_data"], created["img-a"]["media_type"]) == (
        "gs://research/a.png",
        "IMAGE",
    )

    second = [
        {
            "global_key": "img-a",
            "external_id": "img-a",
            "row_data": "gs://research/a-inpainted.png",
        },
        {"global_key": "img-b", "external_id": "img-b", "row_data": "gs://research/b.png"},
        {"global_key": "img-c", "external_id": "img-c", "row_data": "gs://research/c.png"},
    ]
    assert source.send_data_rows("2026-03-02", second) == 3

    rows = fake.data_rows()
    assert sorted(rows) == ["img-a", "img-b", "img-c"]  # no duplicates
    assert rows["img-a"]["row_data"] == "gs://research/a-inpainted.png"
    assert rows["img-a"]["id"] == created["img-a"]["id"]  # updated in place
    assert [d["name"] for d in fake.datasets()] == ["bus-2026-03-02"]
    assert len(fake.calls("CreateDatasetPyApi")) == 1
    keys = {item["payload"].get("external_id"): item["id"]["type"] for item in fake.upserts[-1]}
    assert keys == {"img-a": "GKEY", "img-b": "GKEY", "img-c": "AUTO"}


def test_send_data_rows_fails_on_rejected_rows(fake, source):
    fake.reject_data_rows({"img-bad": "Invalid row_data URL"})
    rows = [
        {"global_key": "img-ok", "row_data": "gs://research/ok.png"},
        {"global_key": "img-bad", "row_data": "gs://research/bad.png"},
    ]
    with pytest.raises(
        LabelSourceError, match=r"refused 1 data rows.*Invalid row_data URL.*img-bad"
    ):
        source.send_data_rows("2026-03-02", rows)


def test_send_data_rows_checks_rows_before_contacting_labelbox(fake, source):
    with pytest.raises(LabelSourceError, match="twice with different contents"):
        source.send_data_rows(
            "d", [{"global_key": "k", "row_data": "a"}, {"global_key": "k", "row_data": "b"}]
        )
    with pytest.raises(LabelSourceError, match="global key"):
        source.send_data_rows("d", [{"global_key": "x" * 201, "row_data": "a"}])
    assert source.send_data_rows("d", []) == 0
    assert fake.requests == []


@pytest.mark.parametrize(
    ("status", "errors", "message"),
    [
        (
            "COMPLETE",
            [{"message": "Data row dr-9 could not be exported"}],
            "finished with errors.*dr-9",
        ),
        ("FAILED", [], "failed"),
    ],
)
def test_export_task_with_errors_raises(fake, source, status, errors, message):
    label(fake, "a", 0)
    fake.fail_next_export(errors, status=status)
    with pytest.raises(LabelSourceError, match=message):
        list(source.export_rows())


def test_missing_api_key_is_a_clear_error_without_contacting_the_server(fake, source, monkeypatch):
    monkeypatch.delenv("LABELBOX_API_KEY")
    keyless = LabelboxSdkSource(PROJECT)
    calls = [
        lambda: keyless.changes_since(None),
        lambda: list(keyless.export_rows()),
        lambda: keyless.send_data_rows("d", [{"global_key": "k", "row_data": "gs://b/k.png"}]),
    ]
    for call in calls:
        with pytest.raises(LabelSourceError, match="LABELBOX_API_KEY is not set"):
            call()
    assert fake.requests == []


def _whole_error(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))


def test_api_key_never_appears_in_errors(fake, source, monkeypatch):
    secret = "lb-secret-key-0123456789"
    monkeypatch.setenv("LABELBOX_API_KEY", secret)
    wrong_key = LabelboxSdkSource(PROJECT)
    with pytest.raises(LabelSourceError, match="rejected the API key") as rejected:
        list(wrong_key.export_rows())
    assert secret not in _whole_error(rejected.value) and secret not in repr(wrong_key)

    # A server (or proxy) that echoes the request headers into its error message.
    fake.fail_operation(
        "GetProjectPyApi", "upstream refused request, Authorization: {authorization}"
    )
    with pytest.raises(LabelSourceError, match=r"Authorization: Bearer \*\*\*") as echoed:
        list(source.export_rows())
    assert fake.api_key not in _whole_error(echoed.value)


def test_unknown_project_and_unknown_export_params_are_clear_errors(fake, source, monkeypatch):
    missing = LabelboxSdkSource("no-such-project")
    with pytest.raises(LabelSourceError, match="'no-such-project' does not exist"):
        list(missing.export_rows())
    fake.requests.clear()
    monkeypatch.setitem(sources.EXPORT_PARAMS, "include_labels", True)
    with pytest.raises(
        LabelSourceError, match=r"Unknown Labelbox export params \['include_labels'\]"
    ):
        list(source.export_rows())
    assert fake.requests == []


def test_rate_limited_calls_are_retried(fake, source):
    label(fake, "a", 0)
    fake.rate_limit(2)
    assert [r["data_row"]["global_key"] for r in source.export_rows()] == ["a"]
    assert fake.operations()[:3] == ["GetProjectPyApi"] * 3
