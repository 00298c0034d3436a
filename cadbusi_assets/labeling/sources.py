"""Where labels come from and where data rows go: a folder (default) or Labelbox (SDK).

``open_label_source("folder:///path")`` — a folder with ``exports/*.ndjson`` (Labelbox export
files, as downloaded from the app or written by the demo labeler) and ``outbox/<dataset>.ndjson``
(the data rows we "send").

``open_label_source("labelbox://<project id>?dataset_prefix=cadbusi")`` — the Labelbox SDK; the
API key comes from ``LABELBOX_API_KEY`` (never from configuration), optional endpoint overrides
from ``LABELBOX_ENDPOINT`` / ``LABELBOX_REST_ENDPOINT`` / ``LABELBOX_APP_URL``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlparse

#: Overlap when asking Labelbox for activity since the cursor (clock skew, late indexing).
EXPORT_OVERLAP = dt.timedelta(hours=1)
EXPORT_PARAMS = {
    "data_row_details": True,
    "label_details": True,
    "project_details": True,
    "performance_details": True,
}


class LabelSourceError(RuntimeError):
    """The label source is unreachable, misconfigured, or returned something unusable."""


class LabelSource(Protocol):
    name: str

    def changes_since(self, cursor: str | None) -> tuple[bool, str]:
        """(something new since ``cursor``, the cursor to store now)."""

    def export_rows(self, since: str | None = None) -> Iterator[dict[str, Any]]:
        """Export rows (Labelbox export v2 shape); ``since`` is a cursor for incremental export."""

    def send_data_rows(self, dataset: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """Create or update data rows (keyed by global key) in ``dataset``; returns how many."""


class FolderLabelSource:
    """Label exports and data rows as NDJSON files in a folder."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser()
        self.name = f"folder:{self.root}"

    @property
    def exports_dir(self) -> Path:
        return self.root / "exports"

    @property
    def outbox_dir(self) -> Path:
        return self.root / "outbox"

    def _export_files(self) -> list[Path]:
        if not self.exports_dir.exists():
            return []
        return sorted(p for p in self.exports_dir.glob("*.ndjson") if p.is_file())

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for path in self._export_files():
            digest.update(path.name.encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        return digest.hexdigest()[:24]

    def changes_since(self, cursor: str | None) -> tuple[bool, str]:
        current = self.fingerprint()
        return (bool(self._export_files()) and current != cursor, current)

    def export_rows(self, since: str | None = None) -> Iterator[dict[str, Any]]:
        for path in self._export_files():
            with path.open(encoding="utf-8") as handle:
                for number, line in enumerate(handle, start=1):
                    if not line.strip():
                        continue
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise LabelSourceError(
                            f"{path.name} line {number} is not valid JSON ({exc.msg}); fix or "
                            "remove the file and the sensor will pick it up again."
                        ) from None

    def send_data_rows(self, dataset: str, rows: Sequence[Mapping[str, Any]]) -> int:
        self.outbox_dir.mkdir(parents=True, exist_ok=True)
        target = self.outbox_dir / f"{dataset}.ndjson"
        ordered = sorted(rows, key=lambda r: str(r["global_key"]))
        text = "".join(json.dumps(dict(r), sort_keys=True) + "\n" for r in ordered)
        tmp = target.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
        return len(ordered)

    def sent_data_rows(self) -> Iterator[dict[str, Any]]:
        if not self.outbox_dir.exists():
            return
        for path in sorted(self.outbox_dir.glob("*.ndjson")):
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    yield json.loads(line)


class LabelboxSdkSource:
    """The Labelbox SDK (imported lazily so loading the code location stays fast)."""

    def __init__(
        self,
        project_id: str,
        dataset_prefix: str = "cadbusi",
        api_key: str | None = None,
        endpoint: str | None = None,
        rest_endpoint: str | None = None,
        app_url: str | None = None,
    ) -> None:
        if not project_id:
            raise LabelSourceError("The Labelbox URI needs a project id: labelbox://<project id>.")
        self.project_id = project_id
        self.dataset_prefix = dataset_prefix
        self.name = f"labelbox:{project_id}"
        self._api_key = api_key or os.environ.get("LABELBOX_API_KEY", "")
        self._endpoint = endpoint or os.environ.get("LABELBOX_ENDPOINT")
        self._rest_endpoint = rest_endpoint or os.environ.get("LABELBOX_REST_ENDPOINT")
        self._app_url = app_url or os.environ.get("LABELBOX_APP_URL")
        self._client = None

    def _get_client(self):
        if self._client is None:
            if not self._api_key:
                raise LabelSourceError(
                    "LABELBOX_API_KEY is not set; create an API key in Labelbox (Workspace "
                    "settings → API) and put it in the environment of the code location."
                )
            import labelbox as lb

            kwargs: dict[str, Any] = {"api_key": self._api_key}
            if self._endpoint:
                kwargs["endpoint"] = self._endpoint
            if self._rest_endpoint:
                kwargs["rest_endpoint"] = self._rest_endpoint
            if self._app_url:
                kwargs["app_url"] = self._app_url
            self._client = lb.Client(**kwargs)
        return self._client

    def _export(self, since: str | None):
        project = self._get_client().get_project(self.project_id)
        filters: dict[str, Any] = {}
        if since:
            start = dt.datetime.fromisoformat(since) - EXPORT_OVERLAP
            filters["last_activity_at"] = [start.strftime("%Y-%m-%d %H:%M:%S"), None]
        task = project.export(params=dict(EXPORT_PARAMS), filters=filters or None)
        task.wait_till_done()
        if task.has_errors():
            raise LabelSourceError("The Labelbox export finished with errors; see the export task.")
        return task

    def changes_since(self, cursor: str | None) -> tuple[bool, str]:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
        task = self._export(cursor)
        has_rows = task.has_result() and (task.get_total_lines() or 0) > 0
        return has_rows, now if has_rows or cursor is None else cursor

    def export_rows(self, since: str | None = None) -> Iterator[dict[str, Any]]:
        task = self._export(since)
        if not task.has_result():
            return
        for item in task.get_buffered_stream():
            yield item.json

    def send_data_rows(self, dataset: str, rows: Sequence[Mapping[str, Any]]) -> int:
        import labelbox as lb
        from labelbox.schema.identifiable import GlobalKey

        client = self._get_client()
        name = f"{self.dataset_prefix}-{dataset}"
        found = list(client.get_datasets(where=lb.Dataset.name == name))
        target = found[0] if found else client.create_dataset(name=name)
        items = [
            {
                "key": GlobalKey(str(r["global_key"])),
                "global_key": str(r["global_key"]),
                "external_id": str(r.get("external_id") or r["global_key"]),
                "row_data": str(r["row_data"]),
            }
            for r in rows
        ]
        if not items:
            return 0
        task = target.upsert_data_rows(items)
        task.wait_till_done()
        if getattr(task, "errors", None):
            raise LabelSourceError(f"Labelbox refused {len(task.errors)} data rows.")
        return len(items)


def open_label_source(uri: str) -> LabelSource:
    if not uri:
        raise LabelSourceError(
            "CADBUSI_LABELBOX is not set: use folder:///path for NDJSON exports or "
            "labelbox://<project id> for the Labelbox SDK."
        )
    if "://" not in uri or uri.startswith("folder://") or uri.startswith("file://"):
        return FolderLabelSource(uri.split("://", 1)[-1] if "://" in uri else uri)
    parsed = urlparse(uri)
    if parsed.scheme == "labelbox":
        query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        return LabelboxSdkSource(parsed.netloc, dataset_prefix=query.get("dataset_prefix", "cadbusi"))
    raise LabelSourceError(f"Unknown label source scheme '{parsed.scheme}' (use folder:// or labelbox://).")
