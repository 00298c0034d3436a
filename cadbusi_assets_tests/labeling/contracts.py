"""Contract fixtures: the GraphQL requests the real labelbox SDK sends for what our code does.

Each *scenario* runs our labeling code (the real SDK) against the local fake Labelbox and
captures every GraphQL exchange. A request is reduced to its contract: the operation name, the
endpoint (``/graphql`` or the SDK's experimental ``/_gql``), the query text normalized
(GraphQL-printed, integer literals such as ``skip: 100`` as ``N``) and its SHA-256, the declared
variable types, the *shape* of the variables sent (keys and JSON types, never values: no
secrets, no PHI) and the shape of any uploaded JSON / NDJSON file (the data rows of an upsert,
the lines of a pre-label import). The distinct contracts of a scenario, in the order first
sent, are stored in ``recorded/<scenario>.json`` with the SDK version.

``test_contracts.py`` checks (a) that our code, run again, sends exactly the recorded contracts
and (b) that each fake answer satisfies the recorded query: no GraphQL errors, and every field
the query selects is present in the answer (recursively). A new SDK version, or a change in
what our code calls, changes a contract and fails the test until the fixtures are re-recorded:

    .venv/bin/python -m cadbusi_assets_tests.labeling.contracts --record

(then review ``git diff cadbusi_assets_tests/labeling/recorded``: a changed query or variable
shape may need the fake, and our code, to follow.) ``--check`` compares without writing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from cadbusi_assets_tests.labeling import fake_labelbox as base
from cadbusi_assets_tests.labeling import fake_labelbox_batches as batches_fake
from cadbusi_assets_tests.labeling.fake_labelbox_projects import FakeLabelboxWithProjects

RECORDED_DIR = Path(__file__).with_name("recorded")
FORMAT_VERSION = 1
_INT_LITERAL = re.compile(r"(?<![\w$])\d+(?![\w.])")
_STRING_LITERAL = re.compile(r'"(?:[^"\\]|\\.)*"')


# -- reducing a request to its contract ----------------------------------------------------------


def normalize_query(query: str) -> str:
    """The query as graphql-core prints it, with integer literals (page sizes, offsets) as N
    and string literals (the data row ids ``DataRow.bulk_delete`` writes into its query) as
    ``"S"``."""
    from graphql import parse, print_ast

    try:
        printed = print_ast(parse(query))
    except Exception:  # not GraphQL we can parse: compare it as whitespace-collapsed text
        printed = " ".join(query.split())
    return _STRING_LITERAL.sub('"S"', _INT_LITERAL.sub("N", printed))


def variable_types(query: str) -> dict[str, str]:
    """``{variable: declared GraphQL type}`` of the query's operation."""
    from graphql import OperationDefinitionNode, parse, print_ast

    try:
        document = parse(query)
    except Exception:
        return {}
    out: dict[str, str] = {}
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            for variable in definition.variable_definitions or ():
                out[variable.variable.name.value] = print_ast(variable.type)
    return dict(sorted(out.items()))


def shape(value: Any) -> Any:
    """The JSON shape of ``value``: type names for scalars, keys for objects, element shapes
    (distinct, sorted) for arrays."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return {str(k): shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        distinct = {json.dumps(shape(v), sort_keys=True) for v in value}
        return [json.loads(s) for s in sorted(distinct)]
    return type(value).__name__


def file_shape(content: bytes) -> Any:
    """The shape of an uploaded file: JSON (the upsert's chunks and manifest) or NDJSON (the
    MAL import's lines, ``{"ndjson": [distinct line shapes]}``); else ``"binary"``."""
    try:
        return shape(json.loads(content))
    except ValueError:
        pass
    try:
        lines = [json.loads(t) for t in content.decode().splitlines() if t.strip()]
    except ValueError:
        return "binary"
    return {"ndjson": shape(lines)}


def contract(
    query: str,
    variables: Mapping[str, Any],
    files: Mapping[str, bytes] | None = None,
    endpoint: str = "/graphql",
) -> dict[str, Any]:
    normalized = normalize_query(query)
    match = base._OPERATION_NAME.match(query)
    item = {
        "operation": match.group(1) if match else "<anonymous>",
        "endpoint": endpoint,
        "query_sha256": hashlib.sha256(normalized.encode()).hexdigest(),
        "variables": variable_types(query),
        "variable_shape": shape(dict(variables)),
        "query": normalized,
    }
    if files:
        # by position: the SDK names a file part after the import (project id, digest)
        item["file_shape"] = {str(n): file_shape(c) for n, c in enumerate(files.values(), 1)}
    return item


def distinct_contracts(exchanges: list[Exchange]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    out = []
    for exchange in exchanges:
        item = contract(exchange.query, exchange.variables, exchange.files, exchange.endpoint)
        key = json.dumps(item, sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


# -- checking a fake answer against the query ------------------------------------------------------


def missing_fields(query: str, data: Any) -> list[str]:
    """Paths of the fields ``query`` selects that the answer ``data`` lacks (a null object or
    list is fine: its sub-selection is not needed). Inline fragments (``... on Type``) are
    type-conditional, so their fields are not required."""
    from graphql import (
        FieldNode,
        FragmentDefinitionNode,
        FragmentSpreadNode,
        OperationDefinitionNode,
        parse,
    )

    document = parse(query)
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    out: list[str] = []

    def walk(selection_set: Any, value: Any, path: str) -> None:
        if value is None or selection_set is None:
            return
        if isinstance(value, list):
            for n, item in enumerate(value):
                walk(selection_set, item, f"{path}[{n}]")
            return
        if not isinstance(value, Mapping):
            out.append(f"{path or '<root>'} is {type(value).__name__}, selected as an object")
            return
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                key = (selection.alias or selection.name).value
                if key not in value:
                    out.append(f"{path}.{key}".lstrip("."))
                    continue
                walk(selection.selection_set, value[key], f"{path}.{key}".lstrip("."))
            elif isinstance(selection, FragmentSpreadNode):
                walk(fragments[selection.name.value].selection_set, value, path)

    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            walk(definition.selection_set, data, "")
    return out


def answer_problems(exchange: Exchange) -> list[str]:
    """Why the SDK would not accept the fake's answer to ``exchange`` (empty: it would)."""
    name = exchange.operation
    if exchange.status != 200:
        return [f"{name}: HTTP {exchange.status}"]
    if exchange.payload.get("errors"):
        messages = [e.get("message") for e in exchange.payload["errors"]]
        return [f"{name}: GraphQL errors {messages}"]
    if "data" not in exchange.payload:
        return [f"{name}: no data in the answer"]
    return [
        f"{name}: answer lacks {path}"
        for path in missing_fields(exchange.query, exchange.payload["data"])
    ]


# -- capturing exchanges ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exchange:
    operation: str
    query: str
    variables: Mapping[str, Any]
    status: int
    payload: Mapping[str, Any]
    files: Mapping[str, bytes]
    #: ``/graphql``, or ``/_gql`` (the SDK's experimental endpoint: batches)
    endpoint: str = "/graphql"


class _PathHandler(batches_fake._Handler):
    """The fake's handler, noting each request's path for :class:`RecordingFake`."""

    def do_POST(self) -> None:
        self.owner._paths.path = self.path.split("?", 1)[0]  # type: ignore[attr-defined]
        super().do_POST()


class RecordingFake(FakeLabelboxWithProjects):
    """The fake (projects, ontologies, batches, MAL imports) keeping each GraphQL exchange."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.exchanges: list[Exchange] = []
        self._paths = threading.local()  # one request per server thread

    def start(self) -> RecordingFake:
        from http.server import ThreadingHTTPServer

        fake = self

        class Handler(_PathHandler):
            owner = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def handle_graphql(self, headers: Mapping[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        status, payload = super().handle_graphql(headers, body)
        query, variables, files = base._parse_graphql_body(headers.get("Content-Type", ""), body)
        match = base._OPERATION_NAME.match(query)
        with self._lock:
            self.exchanges.append(
                Exchange(
                    match.group(1) if match else "<anonymous>",
                    query,
                    json.loads(json.dumps(variables)),
                    status,
                    json.loads(json.dumps(payload)),
                    dict(files),
                    getattr(self._paths, "path", "/graphql"),
                )
            )
        return status, payload


@contextmanager
def _environment(fake: RecordingFake) -> Iterator[None]:
    """The environment a production source reads, pointed at ``fake`` (restored afterwards)."""
    wanted = {
        "LABELBOX_API_KEY": fake.api_key,
        "LABELBOX_ENDPOINT": fake.endpoint,
        "NO_PROXY": "127.0.0.1,localhost",
    }
    cleared = (
        "LABELBOX_REST_ENDPOINT",
        "LABELBOX_APP_URL",
        "CADBUSI_LABELBOX_ONTOLOGY",
        "CADBUSI_LABELBOX_CONSENSUS",
        "CADBUSI_LABELBOX_CONSENSUS_COVERAGE",
        "CADBUSI_LABELBOX_CONSENSUS_LABELS",
    )
    saved = {k: os.environ.get(k) for k in (*wanted, *cleared)}
    os.environ.update(wanted)
    for key in cleared:
        os.environ.pop(key, None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _client(fake: RecordingFake) -> Any:
    import labelbox as lb

    return lb.Client(
        api_key=fake.api_key,
        endpoint=fake.endpoint,
        rest_endpoint=fake.rest_endpoint,
        app_url=fake.app_url,
    )


def _source(project_id: str) -> Any:
    from cadbusi_assets.labeling.sources import LabelboxSdkSource

    source = LabelboxSdkSource(project_id, dataset_prefix="contract")
    source.rate_limit_backoff_s = 0.0
    source.import_poll_s = 0
    return source


KEYS = ["img-000", "img-001", "img-002"]


def scenario_ontology(fake: RecordingFake) -> None:
    """Ontology created (project without one), then read and compared."""
    from cadbusi_assets.labeling.ontology import OntologySpec, ensure_ontology

    fake.add_project("proj-ontology")
    client = _client(fake)
    assert ensure_ontology(client, "proj-ontology", OntologySpec.default()).status == "created"
    assert ensure_ontology(client, "proj-ontology", OntologySpec.default()).status == "matches"


def scenario_data_rows(fake: RecordingFake) -> None:
    """Data rows created in a new dataset, then sent again (updated by global key)."""
    rows = [
        {"global_key": k, "external_id": k, "row_data": f"https://example.invalid/{k}.png"}
        for k in KEYS
    ]
    source = _source("proj-rows")
    assert source.send_data_rows("2026-09-01", rows) == len(KEYS)
    assert source.send_data_rows("2026-09-01", rows) == len(KEYS)


def scenario_delete_data_rows(fake: RecordingFake) -> None:
    """Withdrawn data rows deleted by global key (one key Labelbox no longer holds)."""
    rows = [
        {"global_key": k, "external_id": k, "row_data": f"https://example.invalid/{k}.png"}
        for k in KEYS
    ]
    source = _source("proj-rows")
    assert source.send_data_rows("2026-09-01", rows) == len(KEYS)
    result = source.delete_data_rows([KEYS[1], KEYS[2], "img-gone"])
    assert result.deleted == (KEYS[1], KEYS[2]) and result.absent == ("img-gone",)


def scenario_batches_prelabels(fake: RecordingFake) -> None:
    """Ontology checked, batches with priority, then MAL pre-labels imported and their status
    polled until finished."""
    fake.add_project("proj-queue")
    fake.add_data_rows(KEYS)
    fake.import_running_polls = 2  # the SDK polls the import's status until it finishes
    lesions = pl.DataFrame({"lesion_id": ["L1"], "side": ["LEFT"], "clock": ["2:00"]})
    links = pl.DataFrame(
        {
            "lesion_id": ["L1", "L1"],
            "image_id": ["img-000", "img-001"],
            "box_x0": [10, 12],
            "box_y0": [20, 22],
            "box_x1": [60, 62],
            "box_y1": [70, 72],
        }
    )
    report = _source("proj-queue").queue_rows(
        "2026-09-01",
        pl.DataFrame({"global_key": KEYS, "birads": ["4A", "2", None]}),
        lesions=lesions,
        lesion_images=links,
    )
    assert report.prelabels is not None and report.prelabels.failed == 0
    assert sorted(report.queued_keys) == KEYS


def scenario_batches_large(fake: RecordingFake) -> None:
    """A batch of 1,000 rows or more (the SDK's asynchronous path) with priority and
    consensus settings."""
    from cadbusi_assets.labeling.batches import ASYNC_BATCH_ROWS, plan_batches, queue_batches
    from cadbusi_assets.labeling.consensus import ConsensusConfig

    fake.add_project("proj-large", consensus=True, number_of_labels=3, percentage=0.1)
    keys = [f"img-{i:05d}" for i in range(ASYNC_BATCH_ROWS)]
    fake.add_data_rows(keys)
    plans = plan_batches(pl.DataFrame({"global_key": keys}), "2026-09-01")
    settings = ConsensusConfig(True, 10, 3).batch_settings()
    report = queue_batches(_client(fake).get_project("proj-large"), plans, consensus=settings)
    assert report.rows_queued == len(keys) and not report.unconfirmed


def scenario_export(fake: RecordingFake) -> None:
    """Labels exported (full, then incremental since a cursor) and ingested into tables."""
    from cadbusi_assets.labeling.ndjson import parse_export
    from cadbusi_assets_tests.builders import export_row

    fake.add_project("proj-1")  # the project export_row() files its labels under
    start = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
    for n, key in enumerate(KEYS):
        stamp = start + dt.timedelta(minutes=n)
        text = stamp.strftime("%Y-%m-%dT%H:%M:%S.000+00:00")
        fake.label_row("proj-1", export_row(key, f"lb-{key}", updated=text), stamp)
    source = _source("proj-1")
    parsed = parse_export(source.export_rows())
    assert sorted(parsed.current.labels["image_id"]) == KEYS
    changed, cursor = source.changes_since(None)
    assert changed and list(source.export_rows(cursor))


def scenario_consensus(fake: RecordingFake) -> None:
    """A project created with the configured consensus settings, checked, and a batch that
    carries them."""
    from cadbusi_assets.labeling.batches import BatchPlan, queue_batches
    from cadbusi_assets.labeling.consensus import ConsensusConfig, create_project, ensure_consensus

    config = ConsensusConfig(enabled=True, coverage_percent=20, number_of_labels=3)
    client = _client(fake)
    project, check = create_project(client, "contract consensus", config)
    assert check.status == "applied"
    assert ensure_consensus(client, project.uid, config).status == "matches"
    fake.add_data_rows(KEYS)
    report = queue_batches(
        client.get_project(project.uid),
        [BatchPlan("consensus-p1-001", 1, KEYS)],
        consensus=config.batch_settings(),
    )
    assert report.rows_queued == len(KEYS)


SCENARIOS: dict[str, Callable[[RecordingFake], None]] = {
    "ontology": scenario_ontology,
    "data_rows": scenario_data_rows,
    "batches_prelabels": scenario_batches_prelabels,
    "batches_large": scenario_batches_large,
    "export": scenario_export,
    "consensus": scenario_consensus,
    "delete_data_rows": scenario_delete_data_rows,
}


def capture(name: str) -> tuple[list[Exchange], list[str]]:
    """Run scenario ``name`` against a fresh fake: (its GraphQL exchanges, fake crashes)."""
    fake = RecordingFake().start()
    try:
        with _environment(fake):
            SCENARIOS[name](fake)
    finally:
        fake.stop()
    return fake.exchanges, fake.server_errors


def sdk_version() -> str:
    import labelbox

    return labelbox.__version__


def recording(name: str, exchanges: list[Exchange]) -> dict[str, Any]:
    return {
        "format": FORMAT_VERSION,
        "labelbox_sdk": sdk_version(),
        "scenario": name,
        "description": " ".join((SCENARIOS[name].__doc__ or "").split()),
        "requests": distinct_contracts(exchanges),
    }


def fixture_path(name: str, folder: Path = RECORDED_DIR) -> Path:
    return folder / f"{name}.json"


def load_recording(name: str, folder: Path = RECORDED_DIR) -> dict[str, Any]:
    return json.loads(fixture_path(name, folder).read_text(encoding="utf-8"))


def contract_differences(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """What changed between a recording and the requests sent now (empty: the same)."""
    out = []
    if recorded.get("format") != current.get("format"):
        out.append(f"fixture format {recorded.get('format')} != {current.get('format')}")
    if recorded.get("labelbox_sdk") != current.get("labelbox_sdk"):
        out.append(
            f"recorded with labelbox {recorded.get('labelbox_sdk')}, installed "
            f"{current.get('labelbox_sdk')}"
        )

    def key(request: Mapping[str, Any]) -> str:
        return json.dumps(request, sort_keys=True)

    before = {key(r): r for r in recorded.get("requests", [])}
    now = {key(r): r for r in current.get("requests", [])}
    gone = [before[k] for k in before if k not in now]
    new = [now[k] for k in now if k not in before]
    for old in gone:
        same = [r for r in new if r["operation"] == old["operation"]]
        if not same:
            out.append(f"{old['operation']} was recorded but is not sent any more")
            continue
        changed = same[0]
        new.remove(changed)
        for part in ("endpoint", "query_sha256", "variables", "variable_shape", "file_shape"):
            if old.get(part) != changed.get(part):
                out.append(
                    f"{old['operation']}: {part} changed from "
                    f"{json.dumps(old.get(part), sort_keys=True)} to "
                    f"{json.dumps(changed.get(part), sort_keys=True)}"
                    + (
                        _token_diff(old["query"], changed["query"])
                        if part == "query_sha256"
                        else ""
                    )
                )
    out += [f"{r['operation']} is sent now but was not recorded" for r in new]
    order_before = [k for k in before if k in now]
    order_now = [k for k in now if k in before]
    if not out and order_before != order_now:
        out.append("the recorded requests are sent in another order")
    return out


def _token_diff(before: str, after: str) -> str:
    """The words a query lost and gained (fields, arguments), for a readable failure."""
    old, new = set(re.findall(r"\w+", before)), set(re.findall(r"\w+", after))
    lost, gained = sorted(old - new), sorted(new - old)
    return f" (query lost {lost}, gained {gained})" if lost or gained else " (query reordered)"


def record(names: list[str], folder: Path = RECORDED_DIR) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        exchanges, crashes = capture(name)
        if crashes:
            raise RuntimeError(f"the fake crashed during {name}:\n" + "\n".join(crashes))
        problems = [p for e in exchanges for p in answer_problems(e)]
        if problems:
            raise RuntimeError(f"{name}: the fake's answers are not accepted: {problems}")
        target = fixture_path(name, folder)
        target.write_text(
            json.dumps(recording(name, exchanges), indent=1, sort_keys=True) + "\n",
            encoding="utf-8",
        )
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--record", action="store_true", help="write recorded/<scenario>.json")
    parser.add_argument("--check", action="store_true", help="compare, write nothing (default)")
    parser.add_argument("scenarios", nargs="*", help=f"some of {', '.join(SCENARIOS)} (all)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.scenarios) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenarios {unknown}; known: {', '.join(SCENARIOS)}")
    names = list(args.scenarios) or list(SCENARIOS)
    if args.record:
        for path in record(names):
            print(f"recorded {path}")
        return 0
    failed = 0
    for name in names:
        exchanges, _ = capture(name)
        problems = contract_differences(load_recording(name), recording(name, exchanges))
        problems += [p for e in exchanges for p in answer_problems(e)]
        for problem in problems:
            print(f"{name}: {problem}")
        failed += bool(problems)
    print(f"{len(names) - failed} of {len(names)} scenarios match their recordings")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
