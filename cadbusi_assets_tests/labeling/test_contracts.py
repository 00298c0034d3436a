"""Contract tests: what the real labelbox SDK sends for our calls, against recorded payloads.

For each scenario of :mod:`.contracts` (ontology, data rows, batches + pre-labels with status
polling, a batch of 1,000 rows or more, export + ingestion, consensus settings): (a) our code, run against the fake, sends
exactly the recorded operations, query texts, variable types and variable / upload shapes; (b)
every answer of the fake satisfies the *recorded* query (no errors, every selected field
present). A new SDK version or a change in our calls fails here until the fixtures are
re-recorded (``python -m cadbusi_assets_tests.labeling.contracts --record``) and reviewed.
"""

from __future__ import annotations

import copy
import json

import pytest

from cadbusi_assets_tests.labeling import contracts
from cadbusi_assets_tests.labeling.contracts import (
    RECORDED_DIR,
    SCENARIOS,
    answer_problems,
    capture,
    contract_differences,
    load_recording,
    missing_fields,
    recording,
)
from cadbusi_assets_tests.support import time_limit

pytestmark = pytest.mark.integration

SCENARIO_TIMEOUT_S = 60
#: what the issue asks the contracts to cover: scenario → operations that must be recorded
REQUIRED = {
    "delete_data_rows": {"getDataRowsForGlobalKeysPyApi", "GetDataRowPyApi", "deleteDataRowsPyApi"},
    "ontology": {"GetProjectOntologyPyApi", "upsertRootSchemaNodePyApi", "ConnectOntologyPyApi"},
    "data_rows": {"CreateDatasetPyApi", "UploadFile", "UpsertDataRowsPyApi"},
    "batches_prelabels": {
        "createBatchV2PyApi",
        "createMALPredictionImportByFilePyApi",
        "getModelAssistedLabelingPredictionImportPyApi",
    },
    "batches_large": {
        "createEmptyBatchPyApi",
        "addDataRowsToBatchAsyncPyApi",
        "GetUserCreatedTasksPyApi",
        "getProjectBatchPyApi",
    },
    "export": {"exportDataRowsInProjectPyApi", "GetExportFileFromOffsetPyApi"},
    "consensus": {"CreateProjectPyApi", "updateProjectPyApi", "createBatchV2PyApi"},
}


def _capture(name: str) -> list[contracts.Exchange]:
    with time_limit(SCENARIO_TIMEOUT_S):
        exchanges, crashes = capture(name)
    assert not crashes, "fake Labelbox crashed:\n" + "\n".join(crashes)
    return exchanges


def test_every_scenario_is_recorded_with_the_installed_sdk():
    import labelbox

    assert sorted(p.stem for p in RECORDED_DIR.glob("*.json")) == sorted(SCENARIOS)
    for name in SCENARIOS:
        recorded = load_recording(name)
        assert recorded["labelbox_sdk"] == labelbox.__version__, (
            f"recorded/{name}.json was recorded with labelbox {recorded['labelbox_sdk']}, "
            f"{labelbox.__version__} is installed: re-record (python -m "
            "cadbusi_assets_tests.labeling.contracts --record) and review the diff"
        )
        operations = {r["operation"] for r in recorded["requests"]}
        assert REQUIRED[name] <= operations, f"{name} lacks {REQUIRED[name] - operations}"


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_our_calls_send_the_recorded_requests_and_the_fake_answers_them(name):
    recorded = load_recording(name)
    exchanges = _capture(name)
    # (a) the requests our code makes through the SDK have the recorded shape
    differences = contract_differences(recorded, recording(name, exchanges))
    assert differences == [], "the SDK's requests changed; re-record if intended:\n" + "\n".join(
        differences
    )
    # (b) the fake answers each recorded request with what the recorded query selects
    by_contract = {json.dumps(r, sort_keys=True): r["query"] for r in recorded["requests"]}
    answered = set()
    for exchange in exchanges:
        item = contracts.contract(
            exchange.query, exchange.variables, exchange.files, exchange.endpoint
        )
        recorded_query = by_contract[json.dumps(item, sort_keys=True)]
        answered.add(recorded_query)
        assert exchange.status == 200 and not exchange.payload.get("errors"), (
            f"{exchange.operation}: {exchange.payload.get('errors')}"
        )
        assert missing_fields(recorded_query, exchange.payload["data"]) == [], exchange.operation
    assert answered == set(by_contract.values())


def test_a_changed_payload_or_sdk_version_fails_the_contract():
    """The comparison is not vacuous: each kind of drift in a recording is named."""
    recorded = load_recording("consensus")
    assert contract_differences(recorded, copy.deepcopy(recorded)) == []

    def batch(request_list):
        return next(r for r in request_list if r["operation"] == "createBatchV2PyApi")

    drifts = {}
    newer = copy.deepcopy(recorded)
    newer["labelbox_sdk"] = "7.18.0"
    drifts["sdk"] = newer
    retyped = copy.deepcopy(recorded)
    batch(retyped["requests"])["variables"]["batchInput"] = "BatchInput!"
    drifts["type"] = retyped
    no_priority = copy.deepcopy(recorded)
    del batch(no_priority["requests"])["variable_shape"]["batchInput"]["priority"]
    drifts["shape"] = no_priority
    requeried = copy.deepcopy(recorded)
    batch(requeried["requests"])["query_sha256"] = "0" * 64
    drifts["query"] = requeried
    moved = copy.deepcopy(recorded)
    batch(moved["requests"])["endpoint"] = "/graphql"  # recorded: the experimental /_gql
    drifts["endpoint"] = moved
    dropped = copy.deepcopy(recorded)
    dropped["requests"] = [r for r in dropped["requests"] if r["operation"] != "updateProjectPyApi"]
    drifts["dropped"] = dropped
    expected = {
        "sdk": "recorded with labelbox 7.18.0, installed 7.17.0",
        "type": "createBatchV2PyApi: variables changed",
        "shape": "createBatchV2PyApi: variable_shape changed",
        "query": "createBatchV2PyApi: query_sha256 changed",
        "endpoint": 'createBatchV2PyApi: endpoint changed from "/graphql" to "/_gql"',
        "dropped": "updateProjectPyApi is sent now but was not recorded",
    }
    for kind, fixture in drifts.items():
        differences = contract_differences(fixture, recorded)
        assert any(expected[kind] in d for d in differences), (kind, differences)


def test_a_change_in_our_calls_fails_the_contract(monkeypatch):
    """Our code sending batches without consensus settings (a regression) changes the payload."""
    from cadbusi_assets.labeling.consensus import ConsensusConfig

    monkeypatch.setattr(ConsensusConfig, "batch_settings", lambda self: None)
    differences = contract_differences(
        load_recording("consensus"), recording("consensus", _capture("consensus"))
    )
    assert any(
        d.startswith("createBatchV2PyApi: variable_shape changed")
        and '"consensusSettings": "null"' in d
        for d in differences
    ), differences


def test_the_answer_check_catches_a_field_the_fake_left_out():
    exchanges = _capture("consensus")
    answer = next(e for e in exchanges if e.operation == "GetProjectPyApi")
    assert answer_problems(answer) == []
    data = copy.deepcopy(dict(answer.payload))
    del data["data"]["project"]["autoAuditPercentage"]
    broken = contracts.Exchange(
        answer.operation, answer.query, answer.variables, 200, data, answer.files, answer.endpoint
    )
    assert answer_problems(broken) == ["GetProjectPyApi: answer lacks project.autoAuditPercentage"]


def test_fixtures_hold_shapes_not_values_or_secrets():
    from cadbusi_assets_tests.labeling.fake_labelbox import FakeLabelbox

    for path in RECORDED_DIR.glob("*.json"):
        text = path.read_text()
        for forbidden in (FakeLabelbox().api_key, "Bearer", "img-0", "example.invalid", "proj-"):
            assert forbidden not in text, (path.name, forbidden)


def test_re_recording_reproduces_the_committed_fixture(tmp_path):
    [written] = contracts.record(["consensus"], tmp_path)
    assert json.loads(written.read_text()) == load_recording("consensus")


def test_an_sdk_that_asks_for_other_fields_fails_the_contract(monkeypatch):
    """Stands in for a new SDK release: the project queries stop selecting one field."""
    from labelbox.orm import query

    original = query.results_query_part
    monkeypatch.setattr(
        query,
        "results_query_part",
        lambda entity: original(entity).replace("autoAuditPercentage ", ""),
    )
    differences = contract_differences(
        load_recording("consensus"), recording("consensus", _capture("consensus"))
    )
    assert any(
        d.startswith("GetProjectPyApi: query_sha256 changed")
        and "lost ['autoAuditPercentage']" in d
        for d in differences
    ), differences
