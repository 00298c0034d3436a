"""The local fake Labelbox, extended with batches and model-assisted-labelling (MAL) imports.

Adds, for the unmodified labelbox SDK (7.17):

* ``project.create_batch(name, global_keys=..., priority=..., consensus_settings=...)``:
  ``CheckAllDataRowsHaveBeenProcessedPyApi`` (always processed) and ``createBatchV2PyApi``,
  which the SDK sends to the *experimental* endpoint ``/_gql``. Batch names are unique per
  project; at most 100,000 rows; a data row already in a batch of the project, or a global key
  that names no data row, comes back in ``failedDataRowIds`` (Labelbox's behaviour).
  From 1,000 rows on the SDK takes its asynchronous path instead: ``createEmptyBatchPyApi``
  (name and consensus settings), ``addDataRowsToBatchAsyncPyApi`` (rows and priority; a task of
  type ``add-data-rows-to-batch``, COMPLETE at once, polled with ``GetUserCreatedTasksPyApi``)
  and ``getProjectBatchPyApi``. That path names no refused rows: the batch's ``size`` counts
  the rows it took (assumed; Labelbox documents no per-row failures for it).
  The project is a batch-mode project (``uploadType`` null, not ``Auto``).
* ``MALPredictionImport.create_from_objects``: ``createMALPredictionImportByFilePyApi`` (a
  multipart upload of the NDJSON) and ``getModelAssistedLabelingPredictionImportPyApi`` (the
  SDK's status poll). Each line is checked: a ``uuid``, a ``name``, a ``dataRow.globalKey`` of a
  row queued in a batch of the project, and exactly one annotation payload (``bbox``,
  ``polygon``, ``point``, ``mask`` or ``answer``); a bbox needs non-negative
  ``top``/``left`` and positive ``height``/``width``; MAL lines must not carry ``confidence``.
  Status and error NDJSON files are served under ``/files/`` like signed URLs. Imports finish
  at once (state ``FINISHED``), so ``wait_till_done`` never sleeps, unless
  :attr:`FakeLabelboxWithBatches.import_running_polls` is set: an import then reports
  ``RUNNING`` to that many status polls first.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlparse

from cadbusi_assets_tests.labeling import fake_labelbox as base
from cadbusi_assets_tests.labeling.fake_labelbox import FakeLabelbox, GraphQLError

EXTRA_OPERATIONS = (
    "CheckAllDataRowsHaveBeenProcessedPyApi",
    "createBatchV2PyApi",
    "createEmptyBatchPyApi",
    "addDataRowsToBatchAsyncPyApi",
    "getProjectBatchPyApi",
    "createMALPredictionImportByFilePyApi",
    "getModelAssistedLabelingPredictionImportPyApi",
)
PAYLOAD_KEYS = ("bbox", "polygon", "point", "mask", "answer", "line")


class _Handler(base._Handler):
    def do_POST(self) -> None:
        if urlparse(self.path).path == "/_gql":  # the SDK's experimental endpoint
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, payload = self.owner.handle_graphql(self.headers, body)
            self._send(status, json.dumps(payload).encode())
            return
        super().do_POST()


class FakeLabelboxWithBatches(FakeLabelbox):
    """:class:`FakeLabelbox` plus batches and MAL imports (inspect :attr:`batches`,
    :attr:`imports`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.batches: dict[str, list[dict[str, Any]]] = {}
        self.imports: dict[str, dict[str, Any]] = {}
        #: status polls that see a new import RUNNING before it is FINISHED
        self.import_running_polls = 0

    def start(self) -> FakeLabelboxWithBatches:
        import threading
        from http.server import ThreadingHTTPServer

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

    # -- seeding and inspection -----------------------------------------------------------------

    def add_data_rows(self, global_keys: list[str], dataset: str = "bus-demo") -> None:
        with self._lock:
            target = self._ensure_dataset(dataset)
            now = self.now()
            for key in global_keys:
                if self._row_by_key(key) is None:
                    row = base._DataRow(
                        id=self._new_id("cdr"),
                        dataset_id=target["id"],
                        row_data=f"https://example.invalid/{key}.png",
                        global_key=key,
                        external_id=key,
                        media_type="IMAGE",
                        created_at=now,
                        updated_at=now,
                        last_activity_at=now,
                    )
                    self._rows[row.id] = row

    def queued_keys(self, project_id: str) -> set[str]:
        with self._lock:
            return {k for b in self.batches.get(project_id, []) for k in b["global_keys"]}

    # -- operations -------------------------------------------------------------------------------

    def _resolve(
        self, operation: str, query: str, variables: Mapping[str, Any], files: Mapping[str, bytes]
    ) -> dict[str, Any]:
        if operation == "GetProjectPyApi":
            result = super()._resolve(operation, query, variables, files)
            if result.get("project"):
                result["project"]["uploadType"] = None  # a batch-mode project
            return result
        if operation == "CheckAllDataRowsHaveBeenProcessedPyApi":
            return {"queryAllDataRowsHaveBeenProcessed": {"allDataRowsHaveBeenProcessed": True}}
        if operation == "createBatchV2PyApi":
            return self._create_batch(variables)
        if operation == "createEmptyBatchPyApi":
            return self._create_empty_batch(variables)
        if operation == "addDataRowsToBatchAsyncPyApi":
            return self._add_rows_async(variables)
        if operation == "getProjectBatchPyApi":
            batch = self._batch_by_id(variables["projectId"], variables["batchId"])
            return {"project": {"batches": {"nodes": [self._batch_json(batch)]}}}
        if operation == "createMALPredictionImportByFilePyApi":
            return self._create_import(variables, files)
        if operation == "getModelAssistedLabelingPredictionImportPyApi":
            job = self.imports.get(f"{variables['projectId']}/{variables['name']}")
            if job and job.get("running_polls", 0) > 0:
                job["running_polls"] -= 1
                running = job["json"] | {"state": "RUNNING", "progress": "50%"}
                return {"modelAssistedLabelingPredictionImport": running}
            return {"modelAssistedLabelingPredictionImport": job["json"] if job else None}
        return super()._resolve(operation, query, variables, files)

    def _new_batch(
        self, project_id: str, name: str, consensus: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        if project_id not in self._projects:
            raise GraphQLError("RESOURCE_NOT_FOUND", "project not found")
        existing = self.batches.setdefault(project_id, [])
        if any(b["name"] == name for b in existing):
            raise GraphQLError("CONFLICT", f"A batch named {name!r} already exists")
        batch = {
            "id": self._new_id("cbt"),
            "name": name,
            "priority": None,
            "consensus": consensus,
            "global_keys": [],
            "created_at": self.now(),
        }
        existing.append(batch)
        return batch

    def _add_keys(
        self, project_id: str, batch: dict[str, Any], keys: list[str], priority: Any
    ) -> list[str]:
        """Add ``keys`` to ``batch``; the keys refused (no such data row, or already queued)."""
        if len(batch["global_keys"]) + len(keys) > 100_000:
            raise GraphQLError("BAD_REQUEST", "Batch exceeds max size")
        queued = self.queued_keys(project_id)
        failed = [k for k in keys if self._row_by_key(k) is None or k in queued]
        batch["global_keys"] += [k for k in keys if k not in failed]
        batch["priority"] = priority
        return failed

    def _batch_json(self, batch: Mapping[str, Any]) -> dict[str, Any]:
        stamp = base._orm_time(batch["created_at"])
        return {
            "id": batch["id"],
            "name": batch["name"],
            "createdAt": stamp,
            "updatedAt": stamp,
            "size": len(batch["global_keys"]),
            "consensusSettingsJson": json.dumps(batch["consensus"]) if batch["consensus"] else None,
        }

    def _batch_by_id(self, project_id: str, batch_id: str) -> dict[str, Any]:
        for batch in self.batches.get(project_id, []):
            if batch["id"] == batch_id:
                return batch
        raise GraphQLError("RESOURCE_NOT_FOUND", "batch not found")

    def _create_batch(self, variables: Mapping[str, Any]) -> dict[str, Any]:
        project_id = variables["projectId"]
        spec = variables["batchInput"]
        keys = list(spec.get("globalKeys") or [])
        if len(keys) > 100_000:
            raise GraphQLError("BAD_REQUEST", "Batch exceeds max size")
        batch = self._new_batch(project_id, spec["name"], spec.get("consensusSettings"))
        failed = self._add_keys(project_id, batch, keys, spec.get("priority"))
        return {
            "project": {
                "createBatchV2": {"batch": self._batch_json(batch), "failedDataRowIds": failed}
            }
        }

    def _create_empty_batch(self, variables: Mapping[str, Any]) -> dict[str, Any]:
        spec = variables["input"]
        batch = self._new_batch(variables["projectId"], spec["name"], spec.get("consensusSettings"))
        return {"project": {"createEmptyBatch": {"id": batch["id"]}}}

    def _add_rows_async(self, variables: Mapping[str, Any]) -> dict[str, Any]:
        project_id, spec = variables["projectId"], variables["input"]
        batch = self._batch_by_id(project_id, spec["batchId"])
        self._add_keys(project_id, batch, list(spec.get("globalKeys") or []), spec.get("priority"))
        task = base._Task(
            self._new_id("ctask"),
            "add-data-rows-to-batch",
            "add data rows to batch",
            "COMPLETE",
            self.now(),
        )
        self._tasks[task.id] = task
        return {"project": {"addDataRowsToBatchAsync": {"taskId": task.id}}}

    def _check_line(self, line: Mapping[str, Any], queued: set[str]) -> list[dict[str, str]]:
        problems = []
        if not line.get("uuid"):
            problems.append({"name": "ValidationError", "message": "missing uuid"})
        if not line.get("name"):
            problems.append({"name": "ValidationError", "message": "missing feature name"})
        key = (line.get("dataRow") or {}).get("globalKey")
        if key not in queued:
            problems.append(
                {"name": "DataRowNotFound", "message": "data row is not queued in this project"}
            )
        payloads = [k for k in PAYLOAD_KEYS if k in line]
        if len(payloads) != 1:
            problems.append({"name": "ValidationError", "message": "exactly one annotation"})
        if "confidence" in line:
            problems.append({"name": "ValidationError", "message": "MAL takes no confidence"})
        box = line.get("bbox")
        if box is not None and not (
            min(box.get("top", -1), box.get("left", -1)) >= 0
            and box.get("height", 0) > 0
            and box.get("width", 0) > 0
        ):
            problems.append({"name": "ValidationError", "message": "invalid bounding box"})
        return problems

    def _create_import(
        self, variables: Mapping[str, Any], files: Mapping[str, bytes]
    ) -> dict[str, Any]:
        project_id, name = variables["projectId"], variables["name"]
        project = self._projects.get(project_id)
        if project is None:
            raise GraphQLError("RESOURCE_NOT_FOUND", "project not found")
        if f"{project_id}/{name}" in self.imports:
            raise GraphQLError("CONFLICT", f"an import named {name!r} already exists")
        if len(files) != 1:
            raise GraphQLError("GRAPHQL_VALIDATION_FAILED", "expected one NDJSON file")
        content = next(iter(files.values()))
        lines = [json.loads(t) for t in content.decode().splitlines() if t.strip()]
        queued = self.queued_keys(project_id)
        statuses = []
        for line in lines:
            problems = self._check_line(line, queued)
            status = {
                "uuid": line.get("uuid"),
                "dataRow": line.get("dataRow"),
                "status": "FAILURE" if problems else "SUCCESS",
            }
            if problems:
                status["errors"] = problems
            statuses.append(status)
        errors = [s for s in statuses if s["status"] == "FAILURE"]

        def ndjson(rows: list[dict[str, Any]]) -> bytes:
            return "".join(json.dumps(r) + "\n" for r in rows).encode()

        job_json = {
            "id": self._new_id("cmal"),
            "name": name,
            "state": "FINISHED",
            "progress": "100%",
            "inputFileUrl": self._store_file(content, "input.ndjson"),
            "statusFileUrl": self._store_file(ndjson(statuses), "status.ndjson"),
            "errorFileUrl": self._store_file(ndjson(errors), "errors.ndjson"),
            "project": base._project_json(project) | {"uploadType": None},
        }
        polls = self.import_running_polls
        self.imports[f"{project_id}/{name}"] = {
            "json": job_json,
            "lines": lines,
            "running_polls": polls,
        }
        created = job_json | ({"state": "RUNNING", "progress": "0%"} if polls else {})
        return {"createModelAssistedLabelingPredictionImport": created}


def running_fake_with_batches(**kwargs: Any) -> Iterator[FakeLabelboxWithBatches]:
    fake = FakeLabelboxWithBatches(**kwargs).start()
    try:
        yield fake
    finally:
        fake.stop()
    assert not fake.server_errors, "fake Labelbox crashed:\n" + "\n".join(fake.server_errors)
