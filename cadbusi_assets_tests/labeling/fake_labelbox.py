"""A local fake of the Labelbox API, just big enough for the real labelbox SDK (7.17).

Start it, point ``labelbox.Client(endpoint=fake.endpoint, rest_endpoint=fake.rest_endpoint,
app_url=fake.app_url)`` at it, and the unmodified SDK runs ``get_project`` → ``project.export``
→ ``ExportTask.wait_till_done / has_result / has_errors / get_total_lines /
get_buffered_stream`` and ``get_datasets`` → ``create_dataset`` →
``get_data_row_ids_for_global_keys`` → ``Dataset.upsert_data_rows`` → ``DataUpsertTask``
against in-memory state on 127.0.0.1.

The SDK talks GraphQL; the fake dispatches on the operation name (the SDK's private query
names, hence the exact labelbox pin) and answers only the operations in :data:`OPERATIONS`.
Anything else is answered with a GraphQL validation error naming the operation, so a new SDK
version that changes its queries fails loudly instead of hanging. The fake never answers 5xx:
the SDK retries those for minutes.

Plain HTTP GETs under ``/files/`` stand in for the signed cloud-storage URLs the SDK downloads
export chunks from (no API key, like a signed URL); ``UploadFile`` multipart uploads (the
upsert descriptor files and manifest) are stored under the same prefix.

What is modelled and what is assumed:

* Export rows are built from state in the export v2 shape (integrations.md section 1.2), and
  the ``include*`` params decide which parts appear (``details``, ``label_details``,
  ``performance_details``, ``project_details``, ``attachments``, ``metadata_fields``).
* Filter ``data_row_last_activity_at`` (GREATER_THAN_OR_EQUAL / LESS_THAN_OR_EQUAL / BETWEEN)
  honours the ``timezone`` the SDK sends: plain ``YYYY-MM-DD[ hh:mm:ss]`` values are read in
  the API user's timezone (``CurrentUserPyApi``; ``Asia/Tokyo`` here by default, so a naive
  UTC string is caught). Other filter types are refused.
* Result and error streams are served in chunks of :attr:`FakeLabelbox.chunk_lines` lines, so
  the SDK's offset paging runs more than once; each chunk's byte length matches its offsets.
* Upsert: a ``GKEY``/``ID`` key updates the row it names; a key that names no row is a failed
  row ("Data row not found"), because Labelbox documents upsert-by-key only for existing rows.
  A create (``AUTO`` key) with a global key already in use fails with "Duplicate global key"
  (as the SDK's own integration test shows). Tasks report COMPLETE at once (no 2 s polls).
* ``client.get_data_row`` and ``DataRow.bulk_delete``: a deleted data row leaves the fake with
  its labels in every project (its global key is free again); deleting an id the fake does not
  hold is a ``RESOURCE_NOT_FOUND`` error (nothing deleted). :attr:`FakeLabelbox.deleted` lists
  the deleted ids in order.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import json
import re
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

#: The GraphQL operations the fake answers.
OPERATIONS = (
    "GetProjectPyApi",
    "CurrentUserPyApi",
    "GetUserPyApi",
    "GetOrganizationPyApi",
    "getAllIntegrationsPyApi",
    "exportDataRowsInProjectPyApi",
    "GetUserCreatedTasksPyApi",
    "GetExportMetadataHeaderPyApi",
    "GetExportFileFromOffsetPyApi",
    "GetDatasetsPyApi",
    "CreateDatasetPyApi",
    "UploadFile",
    "UpsertDataRowsPyApi",
    "FailedDataRowImportsPyApi",
    "getDataRowsForGlobalKeysPyApi",
    "getDataRowsForGlobalKeysResultPyApi",
    "GetDataRowPyApi",
    "GetMetadataOntologyBetaPyApi",
    "deleteDataRowsPyApi",
)
RATE_LIMIT_MESSAGE = "You have exceeded the API rate limit (fake Labelbox)."
_OPERATION_NAME = re.compile(r"^\s*(?:query|mutation)\s+(\w+)")


class GraphQLError(Exception):
    """An error the fake returns in the GraphQL ``errors`` list (the SDK needs ``extensions.code``)."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def as_json(self) -> dict[str, Any]:
        extensions: dict[str, Any] = {"code": self.code}
        if self.status is not None:
            extensions["exception"] = {"status": self.status}
        return {"message": self.message, "extensions": extensions}


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received (the Authorization header itself is not kept)."""

    method: str
    path: str
    operation: str | None
    variables: Mapping[str, Any]
    authorized: bool


@dataclass
class _DataRow:
    id: str
    dataset_id: str
    row_data: str
    global_key: str | None
    external_id: str | None
    media_type: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    last_activity_at: dt.datetime
    media_attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Task:
    id: str
    type: str
    name: str
    status: str
    created_at: dt.datetime
    streams: dict[str, list[bytes]] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)


def _orm_time(value: dt.datetime) -> str:
    """The timestamp format the SDK's ORM parses without warnings."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _export_time(value: dt.datetime) -> str:
    """The timestamp format of export rows, e.g. ``2026-03-02T10:15:07.000+00:00``."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+00:00"


def _aware(value: dt.datetime | str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed


def _filter_time(text: str, timezone: str | None) -> dt.datetime:
    """A filter value as Labelbox reads it: with an offset as is, else in ``timezone``."""
    try:
        return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        pass
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            naive = dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
        return naive.replace(tzinfo=ZoneInfo(timezone or "UTC"))
    raise GraphQLError(
        "GRAPHQL_VALIDATION_FAILED", f"fake Labelbox: bad date filter value {text!r}"
    )


class FakeLabelbox:
    """In-memory Labelbox behind a threaded HTTP server on 127.0.0.1 (a free port).

    Seed it with :meth:`add_project` and :meth:`label_row`; inspect :attr:`requests`,
    :meth:`operations`, :meth:`data_rows`, :meth:`datasets`. Steer failures with
    :meth:`fail_next_export`, :meth:`fail_operation` and :meth:`rate_limit`.
    """

    chunk_lines = 2

    def __init__(
        self, api_key: str = "fake-labelbox-api-key", timezone: str = "Asia/Tokyo"
    ) -> None:
        self.api_key = api_key
        self.timezone = timezone
        self.requests: list[RecordedRequest] = []
        self.server_errors: list[str] = []
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._projects: dict[str, dict[str, Any]] = {}
        self._project_rows: dict[str, dict[str, dict[str, Any]]] = {}
        #: ids of the data rows deleted (``DataRow.bulk_delete``), in order
        self.deleted: list[str] = []
        self._datasets: dict[str, dict[str, Any]] = {}
        self._rows: dict[str, _DataRow] = {}
        self._tasks: dict[str, _Task] = {}
        self._files: dict[str, bytes] = {}
        self._jobs: dict[str, list[str]] = {}
        self._export_failures: list[tuple[str, list[dict[str, Any]]]] = []
        self._operation_failures: dict[str, str] = {}
        self._rate_limited = 0
        self._rejections: dict[str, str] = {}
        #: The items of each upsert, as the SDK sent them: ``{"id": {"type", "value"}, "payload"}``.
        self.upserts: list[list[dict[str, Any]]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        #: the fake's wall clock (creation and update times); set it to replay a schedule
        self.clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)

    def now(self) -> dt.datetime:
        """The fake's current time (:attr:`clock`): what Labelbox stamps ``createdAt`` with."""
        return self.clock()

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> FakeLabelbox:
        fake = self

        class Handler(_Handler):
            owner = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeLabelbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def endpoint(self) -> str:
        return f"{self.base_url}/graphql"

    @property
    def rest_endpoint(self) -> str:
        return f"{self.base_url}/api/v1"

    @property
    def app_url(self) -> str:
        return self.base_url

    # -- seeding and steering --------------------------------------------------------------------

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):06d}"

    def add_project(self, project_id: str, name: str = "BUS lesions") -> None:
        with self._lock:
            now = self.now()
            self._projects[project_id] = {"id": project_id, "name": name, "created_at": now}
            self._project_rows.setdefault(project_id, {})

    def label_row(
        self, project_id: str, row: Mapping[str, Any], last_activity_at: dt.datetime | str
    ) -> str:
        """Put an export-v2-shaped ``row`` (its data row and its labels in ``project_id``) into
        the fake, with data row activity at ``last_activity_at``; returns the data row id.
        A data row with the same global key is reused (e.g. one created by an upsert)."""
        activity = _aware(last_activity_at)
        source = row["data_row"]
        with self._lock:
            if project_id not in self._projects:
                raise KeyError(f"unknown project {project_id}; add_project() first")
            existing = self._row_by_key(source.get("global_key"))
            if existing is None:
                dataset = self._ensure_dataset("fake-labelled-rows")
                existing = _DataRow(
                    id=source.get("id") or self._new_id("cdr"),
                    dataset_id=dataset["id"],
                    row_data=source.get("row_data")
                    or f"https://example.invalid/{source['id']}.png",
                    global_key=source.get("global_key"),
                    external_id=source.get("external_id"),
                    media_type="IMAGE",
                    created_at=activity,
                    updated_at=activity,
                    last_activity_at=activity,
                )
                self._rows[existing.id] = existing
            existing.last_activity_at = activity
            existing.media_attributes = dict(row.get("media_attributes") or {})
            entry = (row.get("projects") or {}).get(project_id) or {}
            self._project_rows[project_id][existing.id] = {
                "labels": copy.deepcopy(entry.get("labels") or []),
                "project_details": copy.deepcopy(entry.get("project_details") or {}),
            }
            return existing.id

    def fail_next_export(
        self, errors: list[dict[str, Any]] | None = None, *, status: str = "COMPLETE"
    ) -> None:
        """The next export task ends with ``status`` and these rows in its error stream."""
        with self._lock:
            self._export_failures.append((status, list(errors or [])))

    def fail_operation(self, operation: str, message: str) -> None:
        """Answer ``operation`` once with a GraphQL error; ``{authorization}`` in ``message``
        is replaced by the request's Authorization header (a server that echoes requests)."""
        with self._lock:
            self._operation_failures[operation] = message

    def reject_data_rows(self, reasons: Mapping[str, str]) -> None:
        """Upserts fail the rows with these global keys, with these messages."""
        with self._lock:
            self._rejections.update(reasons)

    def rate_limit(self, count: int) -> None:
        """Answer the next ``count`` GraphQL requests with Labelbox's rate-limit response."""
        with self._lock:
            self._rate_limited = count

    # -- inspection ------------------------------------------------------------------------------

    def operations(self) -> list[str]:
        """Names of the GraphQL operations received, in order (file GETs as ``GET /files``)."""
        with self._lock:
            return [r.operation or f"{r.method} /{r.path.split('/')[1]}" for r in self.requests]

    def calls(self, operation: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.operation == operation]

    def datasets(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(d) for d in self._datasets.values()]

    def data_rows(self) -> dict[str, dict[str, Any]]:
        """Data rows by global key (or by id when they have none)."""
        with self._lock:
            rows = {}
            for row in self._rows.values():
                dataset = self._datasets[row.dataset_id]["name"]
                rows[row.global_key or row.id] = {
                    "id": row.id,
                    "dataset": dataset,
                    "row_data": row.row_data,
                    "external_id": row.external_id,
                    "media_type": row.media_type,
                }
            return rows

    # -- state helpers -----------------------------------------------------------------------------

    def _row_by_key(self, global_key: str | None) -> _DataRow | None:
        if not global_key:
            return None
        wanted = global_key.lower()  # global keys are case-insensitive in Labelbox
        return next(
            (r for r in self._rows.values() if (r.global_key or "").lower() == wanted), None
        )

    def _ensure_dataset(self, name: str) -> dict[str, Any]:
        for dataset in self._datasets.values():
            if dataset["name"] == name:
                return dataset
        return self._create_dataset(name)

    def _create_dataset(self, name: str) -> dict[str, Any]:
        now = self.now()
        dataset = {"id": self._new_id("cds"), "name": name, "description": "", "created_at": now}
        self._datasets[dataset["id"]] = dataset
        return dataset

    def _dataset_json(self, dataset: Mapping[str, Any]) -> dict[str, Any]:
        count = sum(1 for r in self._rows.values() if r.dataset_id == dataset["id"])
        stamp = _orm_time(dataset["created_at"])
        return {
            "id": dataset["id"],
            "name": dataset["name"],
            "description": dataset["description"],
            "rowCount": count,
            "createdAt": stamp,
            "updatedAt": stamp,
        }

    def _user_json(self) -> dict[str, Any]:
        stamp = _orm_time(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        return {
            "id": "cuser000001",
            "email": "pipeline@example.org",
            "name": "pipeline",
            "nickname": "pipeline",
            "picture": "",
            "isExternalUser": False,
            "isViewer": False,
            "createdAt": stamp,
            "updatedAt": stamp,
            "lastLoginAt": stamp,
        }

    def _task_json(self, task: _Task) -> dict[str, Any]:
        stamp = _orm_time(task.created_at)
        return {
            "id": task.id,
            "name": task.name,
            "type": task.type,
            "status": task.status,
            "completionPercentage": 1.0 if task.status != "IN_PROGRESS" else 0.0,
            "createdAt": stamp,
            "updatedAt": stamp,
            "result": None,
            "errors": None,
            "metadata": None,
        }

    def _store_file(self, content: bytes, name: str) -> str:
        token = f"{next(self._ids):06d}/{name}"
        self._files[token] = content
        return f"{self.base_url}/files/{token}"

    def _file_from_url(self, url: str) -> bytes:
        path = urlparse(url).path
        if not path.startswith("/files/") or path[len("/files/") :] not in self._files:
            raise GraphQLError("RESOURCE_NOT_FOUND", f"fake Labelbox: no uploaded file at {url}")
        return self._files[path[len("/files/") :]]

    # -- export ------------------------------------------------------------------------------------

    def _matches(self, row: _DataRow, search: list[dict[str, Any]]) -> bool:
        for clause in search:
            if clause.get("type") != "data_row_last_activity_at":
                raise GraphQLError(
                    "GRAPHQL_VALIDATION_FAILED",
                    f"fake Labelbox does not implement export filter {clause.get('type')!r}",
                )
            spec = clause["value"]
            operator, timezone, value = spec["operator"], spec.get("timezone"), spec["value"]
            stamp = row.last_activity_at
            if operator == "GREATER_THAN_OR_EQUAL":
                ok = stamp >= _filter_time(value, timezone)
            elif operator == "LESS_THAN_OR_EQUAL":
                ok = stamp <= _filter_time(value, timezone)
            elif operator == "BETWEEN":
                ok = (
                    _filter_time(value["min"], timezone)
                    <= stamp
                    <= _filter_time(value["max"], timezone)
                )
            else:
                raise GraphQLError("GRAPHQL_VALIDATION_FAILED", f"unknown operator {operator!r}")
            if not ok:
                return False
        return True

    def _export_row(
        self, project_id: str, row: _DataRow, entry: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, Any]:
        data_row: dict[str, Any] = {"id": row.id, "row_data": row.row_data}
        if row.global_key:
            data_row["global_key"] = row.global_key
        if row.external_id:
            data_row["external_id"] = row.external_id
        if params.get("includeDataRowDetails"):
            data_row["details"] = {
                "dataset_id": row.dataset_id,
                "dataset_name": self._datasets[row.dataset_id]["name"],
                "created_at": _export_time(row.created_at),
                "updated_at": _export_time(row.updated_at),
                "last_activity_at": _export_time(row.last_activity_at),
                "created_by": "pipeline@example.org",
            }
        labels = []
        for source in entry["labels"]:
            label = copy.deepcopy(source)
            if not params.get("includeLabelDetails"):
                label.pop("label_details", None)
            if not params.get("includePerformanceDetails"):
                label.pop("performance_details", None)
            labels.append(label)
        project: dict[str, Any] = {"name": self._projects[project_id]["name"], "labels": labels}
        if params.get("includeProjectDetails"):
            project["project_details"] = copy.deepcopy(entry["project_details"])
        out: dict[str, Any] = {
            "data_row": data_row,
            "media_attributes": dict(row.media_attributes),
            "projects": {project_id: project},
        }
        if params.get("includeAttachments"):
            out["attachments"] = []
        if params.get("includeMetadata"):
            out["metadata_fields"] = []
        if params.get("includeEmbeddings"):
            out["embeddings"] = []
        return out

    def _export(self, variables: Mapping[str, Any]) -> dict[str, Any]:
        spec = variables["input"]
        filters, params = spec["filters"], spec["params"]
        project_id = filters["projectId"]
        if project_id not in self._projects:
            raise GraphQLError("RESOURCE_NOT_FOUND", f"Project {project_id} not found")
        if not spec.get("streamable"):
            raise GraphQLError(
                "GRAPHQL_VALIDATION_FAILED", "fake Labelbox serves streamable exports only"
            )
        search = filters["searchQuery"]["query"]
        rows = [
            self._export_row(project_id, self._rows[row_id], entry, params)
            for row_id, entry in sorted(self._project_rows[project_id].items())
            if self._matches(self._rows[row_id], search)
        ]
        status, errors = self._export_failures.pop(0) if self._export_failures else ("COMPLETE", [])
        task = _Task(
            self._new_id("ctask"),
            "export-data-rows",
            spec.get("taskName") or "export",
            status,
            self.now(),
        )
        if status != "FAILED":
            task.streams["RESULT"] = [(json.dumps(r) + "\n").encode() for r in rows]
        task.streams["ERRORS"] = [(json.dumps(e) + "\n").encode() for e in errors]
        self._tasks[task.id] = task
        return {"exportDataRowsInProject": {"taskId": task.id, "isStreamable": True}}

    def _stream(self, variables: Mapping[str, Any]) -> tuple[_Task, list[bytes]]:
        task = self._tasks.get(variables["where"]["id"])
        if task is None:
            raise GraphQLError("RESOURCE_NOT_FOUND", "fake Labelbox: no such task")
        return task, task.streams.get(variables["streamType"], [])

    def _metadata_header(self, variables: Mapping[str, Any]) -> dict[str, Any]:
        _, lines = self._stream(variables)
        header = {"totalSize": sum(map(len, lines)), "totalLines": len(lines)} if lines else None
        return {"task": {"exportMetadataHeader": header}}

    def _file_from_offset(self, variables: Mapping[str, Any]) -> dict[str, Any]:
        task, lines = self._stream(variables)
        offset = int(variables["offset"])
        starts = list(itertools.accumulate((len(line) for line in lines), initial=0))
        if offset not in starts[:-1]:
            raise GraphQLError("GRAPHQL_VALIDATION_FAILED", f"offset {offset} is not a line start")
        first = starts.index(offset)
        last = min(first + self.chunk_lines, len(lines)) - 1
        url = self._store_file(
            b"".join(lines[first : last + 1]), f"{task.id}-{variables['streamType']}-{first}.ndjson"
        )
        return {
            "task": {
                "exportFileFromOffset": {
                    "offsets": {"start": offset, "end": starts[last + 1] - 1},
                    "lines": {"start": first, "end": last},
                    "file": url,
                }
            }
        }

    # -- data rows -----------------------------------------------------------------------------------

    def _upsert(self, variables: Mapping[str, Any]) -> dict[str, Any]:
        manifest = json.loads(self._file_from_url(variables["manifestUri"]))
        task = _Task(
            self._new_id("ctask"),
            "adv-upsert-data-rows",
            "upsert",
            "COMPLETE",
            self.now(),
        )
        items = [
            item for uri in manifest["chunk_uris"] for item in json.loads(self._file_from_url(uri))
        ]
        if len(items) != manifest["item_count"]:
            raise GraphQLError(
                "GRAPHQL_VALIDATION_FAILED", "manifest item_count does not match its chunks"
            )
        self.upserts.append(copy.deepcopy(items))
        for item in items:
            self._upsert_one(task, item["id"], item["payload"])
        self._tasks[task.id] = task
        return {"upsertDataRows": self._task_json(task)}

    def _upsert_one(self, task: _Task, key: Mapping[str, str], payload: Mapping[str, Any]) -> None:
        now = self.now()
        spec = {
            "externalId": payload.get("external_id"),
            "globalKey": payload.get("global_key"),
            "rowData": payload.get("row_data"),
            "metadata": [],
            "attachments": [],
        }
        if payload.get("dataset_id") not in self._datasets:
            task.failures.append({"message": "Dataset not found", "spec": spec})
            return
        kind, value = key["type"], key["value"]
        rejection = self._rejections.get(payload.get("global_key") or value)
        if rejection:
            task.failures.append({"message": rejection, "spec": spec})
            return
        if kind == "AUTO":
            if not payload.get("row_data"):
                task.failures.append({"message": "row_data is required", "spec": spec})
                return
            if self._row_by_key(payload.get("global_key")) is not None:
                message = f"Duplicate global key: '{payload['global_key']}'"
                task.failures.append({"message": message, "spec": spec})
                return
            row = _DataRow(
                id=self._new_id("cdr"),
                dataset_id=payload["dataset_id"],
                row_data=payload["row_data"],
                global_key=payload.get("global_key"),
                external_id=payload.get("external_id"),
                media_type=payload.get("media_type"),
                created_at=now,
                updated_at=now,
                last_activity_at=now,
            )
            self._rows[row.id] = row
        else:
            row = self._row_by_key(value) if kind == "GKEY" else self._rows.get(value)
            if row is None:
                task.failures.append(
                    {"message": f"Data row not found for key {kind}:{value}", "spec": spec}
                )
                return
            for name in ("row_data", "external_id", "global_key", "media_type"):
                if name in payload:
                    setattr(row, name, payload[name])
            row.updated_at = row.last_activity_at = now

    def _failed_imports(self, variables: Mapping[str, Any]) -> dict[str, Any]:
        task = self._tasks.get(variables["taskId"])
        if task is None:
            raise GraphQLError("RESOURCE_NOT_FOUND", "fake Labelbox: no such task")
        page = {"after": None, "total": len(task.failures), "results": task.failures}
        return {"failedDataRowImports": page}

    def _data_row_json(self, row: _DataRow) -> dict[str, Any]:
        return {
            "id": row.id,
            "createdAt": _orm_time(row.created_at),
            "updatedAt": _orm_time(row.updated_at),
            "externalId": row.external_id,
            "globalKey": row.global_key,
            "rowData": row.row_data,
            "mediaAttributes": row.media_attributes,
            "customMetadata": [],
            "metadataFields": [],
        }

    def _delete_rows(self, query: str) -> dict[str, Any]:
        listed = re.search(r"dataRowIds: \[([^\]]*)\]", query)
        ids = re.findall(r'"([^"]+)"', listed.group(1)) if listed else []
        if not ids or any(i not in self._rows for i in ids):
            raise GraphQLError("RESOURCE_NOT_FOUND", "fake Labelbox: no such data row")
        for row_id in ids:
            del self._rows[row_id]
            for rows in self._project_rows.values():
                rows.pop(row_id, None)
            self.deleted.append(row_id)
        return {"deleteDataRows": [{"id": i} for i in ids]}

    def _global_key_job(self, variables: Mapping[str, Any]) -> dict[str, Any]:
        job = self._new_id("cjob")
        self._jobs[job] = list(variables["globalKeys"])
        return {"dataRowsForGlobalKeys": {"jobId": job}}

    def _global_key_result(self, variables: Mapping[str, Any]) -> dict[str, Any]:
        keys = self._jobs[variables["jobId"]]
        rows = [self._row_by_key(k) for k in keys]
        data = {
            "fetchedDataRows": [{"id": r.id if r else ""} for r in rows],
            "notFoundGlobalKeys": [k for k, r in zip(keys, rows, strict=True) if r is None],
            "accessDeniedGlobalKeys": [],
        }
        return {"dataRowsForGlobalKeysResult": {"data": data, "jobStatus": "COMPLETE"}}

    # -- GraphQL dispatch ------------------------------------------------------------------------------

    def _resolve(
        self, operation: str, query: str, variables: Mapping[str, Any], files: Mapping[str, bytes]
    ) -> dict[str, Any]:
        if operation not in OPERATIONS:
            raise GraphQLError(
                "GRAPHQL_VALIDATION_FAILED",
                f"fake Labelbox does not implement operation {operation!r}",
            )
        where = dict(re.findall(r"\{(\w+): \$(\w+)\}", query))
        if operation == "GetProjectPyApi":
            project = self._projects.get(variables[where["id"]])
            return {"project": _project_json(project) if project else None}
        if operation == "CurrentUserPyApi":
            return {"user": {"timezone": self.timezone}}
        if operation == "GetUserPyApi":
            return {"user": self._user_json()}
        if operation == "GetOrganizationPyApi":
            stamp = _orm_time(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
            return {
                "organization": {
                    "id": "corg000001",
                    "name": "fake",
                    "createdAt": stamp,
                    "updatedAt": stamp,
                }
            }
        if operation == "getAllIntegrationsPyApi":
            return {"iamIntegrations": []}
        if operation == "exportDataRowsInProjectPyApi":
            return self._export(variables)
        if operation == "GetUserCreatedTasksPyApi":
            task_var = re.search(r"createdTasks\(where: \{id: \$(\w+)\}", query)
            skip = re.search(r"skip: (\d+)", query)
            task = self._tasks.get(variables[task_var.group(1)]) if task_var else None
            tasks = [self._task_json(task)] if task and not (skip and int(skip.group(1))) else []
            return {"user": {"createdTasks": tasks}}
        if operation == "GetExportMetadataHeaderPyApi":
            return self._metadata_header(variables)
        if operation == "GetExportFileFromOffsetPyApi":
            return self._file_from_offset(variables)
        if operation == "GetDatasetsPyApi":
            wanted = {name: variables[var] for name, var in where.items()}
            skip = re.search(r"skip: (\d+)", query)
            found = [
                self._dataset_json(d)
                for d in self._datasets.values()
                if ("name" not in wanted or d["name"] == wanted["name"])
                and not wanted.get("deleted")
            ]
            return {"datasets": [] if skip and int(skip.group(1)) else found}
        if operation == "CreateDatasetPyApi":
            return {"createDataset": self._dataset_json(self._create_dataset(variables["name"]))}
        if operation == "UploadFile":
            content = files.get("1")
            if content is None or len(content) != variables.get("contentLength"):
                raise GraphQLError(
                    "GRAPHQL_VALIDATION_FAILED", "UploadFile: missing file or wrong contentLength"
                )
            return {
                "uploadFile": {
                    "url": self._store_file(content, "upload.json"),
                    "filename": "upload.json",
                }
            }
        if operation == "UpsertDataRowsPyApi":
            return self._upsert(variables)
        if operation == "FailedDataRowImportsPyApi":
            return self._failed_imports(variables)
        if operation == "getDataRowsForGlobalKeysPyApi":
            return self._global_key_job(variables)
        if operation == "getDataRowsForGlobalKeysResultPyApi":
            return self._global_key_result(variables)
        if operation == "GetDataRowPyApi":
            row = self._rows.get(variables[where["id"]])
            return {"dataRow": self._data_row_json(row) if row else None}
        if operation == "GetMetadataOntologyBetaPyApi":
            # the SDK reads it to build a DataRow; no custom metadata schema here
            return {"customMetadataOntology": []}
        if operation == "deleteDataRowsPyApi":
            return self._delete_rows(query)
        raise GraphQLError(
            "GRAPHQL_VALIDATION_FAILED", f"fake Labelbox does not implement operation {operation!r}"
        )

    def handle_graphql(self, headers: Mapping[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        """Answer one GraphQL POST: (HTTP status, JSON body)."""
        query, variables, files = _parse_graphql_body(headers.get("Content-Type", ""), body)
        match = _OPERATION_NAME.match(query)
        operation = match.group(1) if match else "<anonymous>"
        authorization = headers.get("Authorization", "")
        authorized = authorization == f"Bearer {self.api_key}"
        with self._lock:
            self.requests.append(
                RecordedRequest("POST", "/graphql", operation, copy.deepcopy(variables), authorized)
            )
            if self._rate_limited > 0:
                self._rate_limited -= 1
                return 429, {"message": RATE_LIMIT_MESSAGE}
            if not authorized:
                return 401, {
                    "errors": [GraphQLError("AUTHENTICATION_ERROR", "Not authenticated").as_json()]
                }
            if operation in self._operation_failures:
                message = self._operation_failures.pop(operation).replace(
                    "{authorization}", authorization
                )
                return 200, {"errors": [GraphQLError("FAKE_FAILURE", message).as_json()]}
            try:
                return 200, {"data": self._resolve(operation, query, variables, files)}
            except GraphQLError as exc:
                return 200, {"errors": [exc.as_json()]}
            except Exception:
                self.server_errors.append(traceback.format_exc())
                return 200, {
                    "errors": [
                        GraphQLError(
                            "FAKE_INTERNAL", "fake Labelbox crashed; see server_errors"
                        ).as_json()
                    ]
                }

    def handle_get(self, path: str) -> tuple[int, bytes]:
        with self._lock:
            self.requests.append(RecordedRequest("GET", path, None, {}, False))
            content = (
                self._files.get(path[len("/files/") :]) if path.startswith("/files/") else None
            )
        return (200, content) if content is not None else (404, b'{"message": "not found"}')


def _project_json(project: Mapping[str, Any]) -> dict[str, Any]:
    stamp = _orm_time(project["created_at"])
    return {
        "id": project["id"],
        "name": project["name"],
        "description": "",
        "createdAt": stamp,
        "updatedAt": stamp,
        "lastActivityTime": stamp,
        "autoAuditNumberOfLabels": 1,
        "autoAuditPercentage": 1.0,
        "dataRowCount": 0,
        "editorTaskType": None,
        "isBenchmarkEnabled": False,
        "isConsensusEnabled": False,
        "allowedMediaType": "IMAGE",
        "modelSetupComplete": None,
        "setupComplete": stamp,
        "uploadType": "Auto",
    }


def _parse_graphql_body(
    content_type: str, body: bytes
) -> tuple[str, dict[str, Any], dict[str, bytes]]:
    """(query, variables, uploaded files) from a JSON or a multipart (GraphQL upload) body."""
    if content_type.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
        )
        parts = {
            part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
            for part in message.iter_parts()
        }
        operations = json.loads(parts.pop("operations"))
        parts.pop("map", None)
        return operations["query"], operations.get("variables") or {}, parts
    payload = json.loads(body or b"{}")
    return payload.get("query") or "", payload.get("variables") or {}, {}


class _Handler(BaseHTTPRequestHandler):
    owner: FakeLabelbox

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if urlparse(self.path).path != "/graphql":
            with self.owner._lock:
                self.owner.requests.append(RecordedRequest("POST", self.path, None, {}, False))
            self._send(404, b'{"message": "fake Labelbox: only /graphql"}')
            return
        status, payload = self.owner.handle_graphql(self.headers, body)
        self._send(status, json.dumps(payload).encode())

    def do_GET(self) -> None:
        status, body = self.owner.handle_get(urlparse(self.path).path)
        self._send(status, body, "application/x-ndjson" if status == 200 else "application/json")


def running_fake(**kwargs: Any) -> Iterator[FakeLabelbox]:
    """Generator for a pytest fixture: a started fake, stopped afterwards; fails the test if the
    fake itself crashed while answering."""
    fake = FakeLabelbox(**kwargs).start()
    try:
        yield fake
    finally:
        fake.stop()
    assert not fake.server_errors, "fake Labelbox crashed:\n" + "\n".join(fake.server_errors)


__all__ = ["OPERATIONS", "FakeLabelbox", "GraphQLError", "RecordedRequest", "running_fake"]
