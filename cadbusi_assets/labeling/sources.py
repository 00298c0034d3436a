"""Where labels come from and where data rows go: a folder (default) or Labelbox (SDK).

``open_label_source("folder:///path")`` — a folder with ``exports/*.ndjson`` (Labelbox export
files, as downloaded from the app or written by the demo labeler) and ``outbox/<dataset>.ndjson``
(the data rows we "send").

``open_label_source("labelbox://<project id>?dataset_prefix=cadbusi")`` — the Labelbox SDK; the
API key comes from ``LABELBOX_API_KEY`` (never from configuration), optional endpoint overrides
from ``LABELBOX_ENDPOINT`` / ``LABELBOX_REST_ENDPOINT`` / ``LABELBOX_APP_URL``.

Both also :meth:`queue_rows`: the day's data rows as batches of the project (priority from
BI-RADS) and the model-assisted pre-labels of the newly queued rows. Labelbox checks (or creates)
the ontology first, creates the batches and imports the pre-labels; the folder writes what it
would have sent to ``outbox/batches/<dataset>.ndjson`` and ``outbox/prelabels/<dataset>.ndjson``
(and the configured ontology to ``outbox/ontology.json``).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import parse_qs, urlparse

if TYPE_CHECKING:
    import polars as pl

    from cadbusi_assets.labeling.consensus import ConsensusConfig
    from cadbusi_assets.labeling.ontology import OntologySpec
    from cadbusi_assets.labeling.project_queue import QueueReport

#: Overlap when asking Labelbox for activity since the cursor (clock skew, late indexing).
EXPORT_OVERLAP = dt.timedelta(hours=1)
#: What every project export asks for (validated by :func:`validate_export_params`).
EXPORT_PARAMS = {
    "data_row_details": True,
    "label_details": True,
    "project_details": True,
    "performance_details": True,
}


class LabelSourceError(RuntimeError):
    """The label source is unreachable, misconfigured, or returned something unusable."""


@dataclass(frozen=True)
class DeletedDataRows:
    """What a deletion of data rows by global key did: ``deleted`` (the source held them and
    they are gone now) and ``absent`` (the source holds no data row of that key: deleted
    before, e.g. by a run that stopped before recording it, or never sent)."""

    deleted: tuple[str, ...]
    absent: tuple[str, ...]


class LabelSource(Protocol):
    name: str

    def changes_since(self, cursor: str | None) -> tuple[bool, str]:
        """(something new since ``cursor``, the cursor to store now)."""

    def export_rows(self, since: str | None = None) -> Iterator[dict[str, Any]]:
        """Export rows (Labelbox export v2 shape); ``since`` is a cursor for incremental export."""

    def send_data_rows(self, dataset: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """Create or update data rows (keyed by global key) in ``dataset``; returns how many."""


#: ``$CADBUSI_LABEL_SETTLE_SECONDS``: an export file of a label folder changed more recently
#: than this may still be being written (:class:`FolderLabelSource`)
LABEL_SETTLE_ENV = "CADBUSI_LABEL_SETTLE_SECONDS"
DEFAULT_LABEL_SETTLE_SECONDS = 60.0


def label_settle_seconds() -> float:
    """``$CADBUSI_LABEL_SETTLE_SECONDS`` (seconds, 0 or more); the default when unset."""
    text = os.environ.get(LABEL_SETTLE_ENV, "").strip()
    if not text:
        return DEFAULT_LABEL_SETTLE_SECONDS
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not seconds >= 0:  # (nan too)
        raise LabelSourceError(
            f"{LABEL_SETTLE_ENV}={text!r}: give the seconds a label export file must stand "
            "unchanged before labels missing from it are taken for deleted (0 or more)"
        )
    return seconds


#: the end of a folder cursor while an export file may still be being written
UNSETTLED_MARK = "~unsettled"


class FolderLabelSource:
    """Label exports and data rows as NDJSON files in a folder.

    A file being downloaded or copied into ``exports/`` can be read half written, cut exactly
    between two rows: it looks complete. Its rows are read (new and changed labels are taken
    at once), but a file changed within the last ``settle_seconds``
    (``$CADBUSI_LABEL_SETTLE_SECONDS``, default 60) is listed in :attr:`unsettled_files`, and
    the label ingestion then deletes no label this time; :meth:`changes_since` reports such a
    folder changed again once the file has stood still that long, so the next run applies the
    deletions of the complete file."""

    def __init__(self, root: str | os.PathLike[str], settle_seconds: float | None = None) -> None:
        self.root = Path(root).expanduser()
        self.name = f"folder:{self.root}"
        self.settle_seconds = label_settle_seconds() if settle_seconds is None else settle_seconds
        #: (file name, reason) of the export files the last :meth:`export_rows` left out
        self.skipped_files: list[tuple[str, str]] = []
        #: the export files the last :meth:`export_rows` read that changed within
        #: :attr:`settle_seconds` (possibly still being written)
        self.unsettled_files: list[str] = []

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

    def _unsettled(self, path: Path) -> bool:
        """Whether ``path`` changed within :attr:`settle_seconds` (a modification time ahead of
        this clock by less than that counts as now; one further ahead is no write under way)."""
        age = time.time() - path.stat().st_mtime
        return -self.settle_seconds < age < self.settle_seconds

    def changes_since(self, cursor: str | None) -> tuple[bool, str]:
        """Whether the exports differ from ``cursor``, and the new cursor: the files'
        fingerprint, marked while a file may still be being written, so the folder counts as
        changed once more when every file has stood still (its deletions then apply)."""
        files = self._export_files()
        current = self.fingerprint()
        if any(self._unsettled(path) for path in files):
            current += UNSETTLED_MARK
        return (bool(files) and current != cursor, current)

    def export_rows(self, since: str | None = None) -> Iterator[dict[str, Any]]:
        """Rows of every export file, oldest file first (modification time, then name), so
        that a label exported twice resolves to the later export when its times are equal.

        A file that cannot be read whole (empty, not UTF-8, a line that is not JSON or not one export
        row, a last line cut off while the file is being written) gives no rows: it is listed
        in :attr:`skipped_files` with the reason (file name and line, never the content) and
        the other files are read. The label ingestion then deletes nothing (the skipped file's
        labels are not known) and reports the file."""
        self.skipped_files = []
        self.unsettled_files = []
        files = sorted(self._export_files(), key=lambda p: (p.stat().st_mtime_ns, p.name))
        for path in files:
            recent = self._unsettled(path)  # before the read: a write after it shows later
            try:
                rows = self._read_export_file(path)
            except LabelSourceError as exc:
                self.skipped_files.append((path.name, str(exc)))
                continue
            if recent or self._unsettled(path):
                self.unsettled_files.append(path.name)
            yield from rows

    def _read_export_file(self, path: Path) -> list[dict[str, Any]]:
        from cadbusi_assets.labeling.ndjson import ExportFormatError, check_export_row

        data = path.read_bytes()
        if not data.strip():
            raise LabelSourceError(
                f"{path.name} is empty (a failed download, or a file being written); remove it "
                "or export again"
            )
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad_line = data[: exc.start].count(b"\n") + 1
            raise LabelSourceError(
                f"{path.name} line {bad_line} is not UTF-8 text; export it again from Labelbox"
            ) from None
        rows: list[dict[str, Any]] = []
        lines = text.split("\n")
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                # no newline after it: cut off or still being written; a byte-order mark in
                # front gets its own reason (Python's: "Unexpected UTF-8 BOM") either way
                if number == len(lines) and not line.startswith("\ufeff"):
                    raise LabelSourceError(
                        f"{path.name} line {number} ends in the middle of a row (a cut-off "
                        "file, or one still being written); it is read again when it changes"
                    ) from None
                raise LabelSourceError(
                    f"{path.name} line {number} is not valid JSON ({exc.msg}); fix or "
                    "remove the file and the sensor will pick it up again."
                ) from None
            except RecursionError:  # "[[[[…" thousands deep: no export row nests so
                raise LabelSourceError(
                    f"{path.name} line {number} nests too deep to be an export row; fix or "
                    "remove the file and the sensor will pick it up again."
                ) from None
            if isinstance(row, list):
                raise LabelSourceError(
                    f"{path.name} line {number} is a JSON array: an export file has one row "
                    "(a JSON object) per line (NDJSON)"
                )
            try:
                check_export_row(row, number)
            except ExportFormatError as exc:
                raise LabelSourceError(f"{path.name}: {exc}") from None
            rows.append(row)
        return rows

    def fetch_mask(self, url: str) -> bytes:
        """The bytes of a mask an export names: a ``data:`` URL, or a file path (relative to
        the folder, ``file://`` or absolute) inside the folder; anything else is refused."""
        from cadbusi_assets.labeling.masks import MaskFetchError, decode_data_url

        if url.startswith("data:"):
            return decode_data_url(url)
        parsed = urlparse(url)
        if parsed.scheme not in ("", "file"):
            raise MaskFetchError(
                f"the folder source reads mask files and data: URLs, not {parsed.scheme}: URLs"
            )
        text = parsed.path if parsed.scheme == "file" else url
        root = self.root.resolve()
        path = (root / text).resolve()
        if not path.is_relative_to(root):
            raise MaskFetchError("the mask file is outside the label folder")
        if not path.is_file():
            raise MaskFetchError("the mask file does not exist")
        return path.read_bytes()

    def send_data_rows(self, dataset: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """Create or update (by global key, as Labelbox does) ``rows`` in
        ``outbox/<dataset>.ndjson``: rows of the file not sent now stay (a date sent again to
        its release keeps the other dates' rows; withdrawn rows leave by
        :meth:`delete_data_rows`)."""
        self.outbox_dir.mkdir(parents=True, exist_ok=True)
        target = self.outbox_dir / f"{dataset}.ndjson"
        merged = (
            {str(r.get("global_key")): r for r in _read_ndjson(target)} if target.exists() else {}
        )
        merged.update({str(r["global_key"]): dict(r) for r in rows})
        ordered = [merged[k] for k in sorted(merged)]
        text = "".join(json.dumps(dict(r), sort_keys=True) + "\n" for r in ordered)
        tmp = target.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
        return len({str(r["global_key"]) for r in rows})

    @property
    def deleted_dir(self) -> Path:
        return self.root / "deleted"

    def delete_data_rows(self, global_keys: Sequence[str]) -> DeletedDataRows:
        """Take the data rows of ``global_keys`` out of the outbox (each file rewritten
        atomically) and list them in ``deleted/data_rows.ndjson``, as Labelbox deletes them."""
        wanted = {str(k) for k in global_keys}
        found: set[str] = set()
        if self.outbox_dir.exists():
            for path in sorted(self.outbox_dir.glob("*.ndjson")):
                rows = list(_read_ndjson(path))
                kept = [r for r in rows if str(r.get("global_key")) not in wanted]
                if len(kept) != len(rows):
                    found |= {str(r.get("global_key")) for r in rows} & wanted
                    self._write(path, _ndjson(kept))
        deleted = tuple(sorted(found))
        if deleted:
            record = self.deleted_dir / "data_rows.ndjson"
            earlier = record.read_text(encoding="utf-8") if record.exists() else ""
            self._write(record, earlier + _ndjson([{"global_key": k} for k in deleted]))
        return DeletedDataRows(deleted, tuple(sorted(wanted - found)))

    def sent_data_rows(self) -> Iterator[dict[str, Any]]:
        if not self.outbox_dir.exists():
            return
        for path in sorted(self.outbox_dir.glob("*.ndjson")):
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    yield json.loads(line)

    def queue_rows(
        self,
        dataset: str,
        rows: pl.DataFrame,
        *,
        already_queued: Sequence[str] = (),
        lesions: pl.DataFrame | None = None,
        lesion_images: pl.DataFrame | None = None,
        ontology: OntologySpec | None = None,
        consensus: ConsensusConfig | None = None,
    ) -> QueueReport:
        """Write the batches and pre-labels Labelbox would get for ``rows`` (all of them: the
        day's files are rewritten, so a re-run gives the same files). With consensus on
        (``consensus`` or ``CADBUSI_LABELBOX_CONSENSUS``), each batch line carries the
        ``consensus_settings`` Labelbox would get."""
        from cadbusi_assets.labeling.batches import BatchReport, plan_batches
        from cadbusi_assets.labeling.consensus import ConsensusConfig
        from cadbusi_assets.labeling.ontology import OntologySpec
        from cadbusi_assets.labeling.prelabels import ImportReport, build_prelabels
        from cadbusi_assets.labeling.project_queue import QueueReport

        plans = plan_batches(rows, dataset)
        keys = [k for plan in plans for k in plan.global_keys]
        settings = (consensus or ConsensusConfig.from_env()).batch_settings()
        batches = [
            {"name": p.name, "priority": p.priority, "global_keys": p.global_keys}
            | ({"consensus_settings": settings} if settings else {})
            for p in plans
        ]
        lines = (
            build_prelabels(lesion_images, lesions, global_keys=keys)
            if lesions is not None and lesion_images is not None and keys
            else []
        )
        spec = ontology or OntologySpec.from_env()
        self._write(self.outbox_dir / "ontology.json", json.dumps(spec.normalized(), indent=1))
        self._write(self.outbox_dir / "batches" / f"{dataset}.ndjson", _ndjson(batches))
        self._write(self.outbox_dir / "prelabels" / f"{dataset}.ndjson", _ndjson(lines))
        report = QueueReport(
            BatchReport([p.name for p in plans], len(keys)),
            ImportReport(f"{dataset}-prelabels", "WRITTEN", len(lines), len(lines), 0)
            if lines
            else None,
            keys,
        )
        return report

    @staticmethod
    def _write(target: Path, text: str) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)

    def sent_batches(self) -> Iterator[dict[str, Any]]:
        """The batches written by :meth:`queue_rows` (every day)."""
        for path in sorted((self.outbox_dir / "batches").glob("*.ndjson")):
            yield from _read_ndjson(path)

    def sent_prelabels(self) -> Iterator[dict[str, Any]]:
        """The pre-label lines written by :meth:`queue_rows` (every day)."""
        for path in sorted((self.outbox_dir / "prelabels").glob("*.ndjson")):
            yield from _read_ndjson(path)


def _ndjson(items: Sequence[Mapping[str, Any]]) -> str:
    return "".join(json.dumps(dict(item), sort_keys=True) + "\n" for item in items)


def _read_ndjson(path: Path) -> Iterator[dict[str, Any]]:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            yield json.loads(line)


_T = TypeVar("_T")

#: The keys ``project.export(params=...)`` understands in labelbox 7.17 (``ProjectExportParams``).
#: The SDK silently ignores any other key, so a typo would quietly drop data from every export.
PROJECT_EXPORT_PARAM_KEYS = frozenset(
    {
        "attachments",
        "embeddings",
        "metadata_fields",
        "data_row_details",
        "project_details",
        "label_details",
        "performance_details",
        "media_type_override",
        "interpolated_frames",
    }
)
#: Labelbox limit on global keys (characters).
GLOBAL_KEY_MAX_LENGTH = 200
#: Global keys per "which of these exist" lookup job.
_LOOKUP_CHUNK = 1000
_NOT_FOUND = "Data Row not found"
#: data rows deleted per request
_DELETE_CHUNK = 500


def validate_export_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` as a dict, or :class:`LabelSourceError` for keys the SDK would silently ignore.

    >>> validate_export_params({"label_details": True})
    {'label_details': True}
    >>> try:
    ...     validate_export_params({"include_labels": True})
    ... except LabelSourceError as exc:
    ...     print(str(exc).split(" (")[0])
    Unknown Labelbox export params ['include_labels']
    """
    unknown = sorted(set(params) - PROJECT_EXPORT_PARAM_KEYS)
    if unknown:
        raise LabelSourceError(
            f"Unknown Labelbox export params {unknown} (the SDK ignores them silently); known: "
            f"{sorted(PROJECT_EXPORT_PARAM_KEYS)}."
        )
    flags = {k: v for k, v in params.items() if k != "media_type_override"}
    wrong = sorted(k for k, v in flags.items() if not isinstance(v, bool))
    if wrong:
        raise LabelSourceError(f"Labelbox export params {wrong} must be true or false.")
    return dict(params)


def _parse_time(text: str) -> dt.datetime:
    """An ISO-8601 time as an aware UTC datetime (a time without offset is taken as UTC)."""
    value = dt.datetime.fromisoformat(text)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _utc_filter_time(value: dt.datetime) -> str:
    """A time as the SDK's export filters want it: UTC wall clock with an explicit ``+0000``.

    A plain ``"YYYY-MM-DD hh:mm:ss"`` would be read in the API user's timezone, and the SDK
    *replaces* (does not convert) any other offset with UTC (integrations.md section 1.3).
    """
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def _row_activity(row: Mapping[str, Any]) -> dt.datetime | None:
    """The newest activity time of an export row: data row ``last_activity_at`` or label times."""
    data_row = row.get("data_row") or {}
    stamps = [(data_row.get("details") or {}).get("last_activity_at")]
    for project in (row.get("projects") or {}).values():
        for label in project.get("labels") or []:
            details = label.get("label_details") or {}
            stamps += [details.get("updated_at"), details.get("created_at")]
    parsed: list[dt.datetime] = []
    for stamp in stamps:
        if isinstance(stamp, str) and stamp:
            try:
                parsed.append(_parse_time(stamp))
            except ValueError:
                continue
    return max(parsed, default=None)


@dataclass(frozen=True)
class ActivityCursor:
    """Where the Labelbox sensor stands.

    ``high_water`` is the newest activity time seen so far, on Labelbox's clock (so the local clock
    never matters). Each check exports the rows active since ``high_water`` minus
    :data:`EXPORT_OVERLAP` (late indexing); ``window_digest`` fingerprints the (data row, activity)
    pairs inside that window, so rows that were already seen do not count as news again, while a
    late-indexed or edited row inside the window does.

    >>> c = ActivityCursor(dt.datetime(2026, 3, 2, 10, 15, 7, tzinfo=dt.UTC), "ab12")
    >>> c.encode()
    '2026-03-02T10:15:07+00:00|ab12'
    >>> ActivityCursor.decode(c.encode()) == c
    True
    >>> ActivityCursor.decode("2026-03-02T11:15:07+01:00").high_water.isoformat()
    '2026-03-02T10:15:07+00:00'
    """

    high_water: dt.datetime | None = None
    window_digest: str = ""

    def encode(self) -> str:
        stamp = self.high_water.astimezone(dt.UTC).isoformat() if self.high_water else ""
        return f"{stamp}|{self.window_digest}" if self.window_digest else stamp

    @classmethod
    def decode(cls, text: str | None) -> ActivityCursor:
        if not text:
            return cls()
        stamp, _, digest = text.partition("|")
        try:
            return cls(_parse_time(stamp) if stamp else None, digest)
        except ValueError:
            raise LabelSourceError(
                f"'{text}' is not a Labelbox cursor (expected an ISO-8601 time, optionally "
                "followed by '|<digest>'); reset the sensor cursor."
            ) from None


@dataclass(frozen=True)
class _DataRowSpec:
    global_key: str
    external_id: str
    row_data: str


def _data_row_specs(rows: Sequence[Mapping[str, Any]]) -> list[_DataRowSpec]:
    """Checked, de-duplicated data rows (sorted by global key); conflicts are errors."""
    specs: dict[str, _DataRowSpec] = {}
    for number, row in enumerate(rows, start=1):
        key = str(row.get("global_key") or "")
        row_data = str(row.get("row_data") or "")
        if not key or key != key.strip() or len(key) > GLOBAL_KEY_MAX_LENGTH:
            raise LabelSourceError(
                f"Data row {number}: global key {key!r} must be non-empty, without leading or "
                f"trailing spaces, and at most {GLOBAL_KEY_MAX_LENGTH} characters."
            )
        if not row_data:
            raise LabelSourceError(f"Data row {number} ({key}) has no row_data.")
        spec = _DataRowSpec(key, str(row.get("external_id") or key), row_data)
        if specs.setdefault(key, spec) != spec:
            raise LabelSourceError(f"Global key {key} appears twice with different contents.")
    return [specs[k] for k in sorted(specs)]


class LabelboxSdkSource:
    """Labels from, and data rows to, a Labelbox project through the labelbox SDK.

    The SDK is imported lazily, so loading the code location stays fast. Every SDK failure
    surfaces as :class:`LabelSourceError` with the API key scrubbed from the message.

    * :meth:`export_rows` runs ``project.export`` (export v2 streaming) with
      :data:`EXPORT_PARAMS`; ``since`` (a cursor or an ISO time) adds the filter
      ``last_activity_at >= since - EXPORT_OVERLAP``.
    * :meth:`changes_since` runs that export and compares it with an :class:`ActivityCursor`.
    * :meth:`send_data_rows` finds or creates dataset ``<dataset_prefix>-<dataset>``, looks up
      which global keys exist already, updates those in place (``key=GlobalKey``) and creates
      the others, then waits for the upsert task and fails on any rejected row.

    Rate limits (``ApiLimitError``, which the SDK does not retry) are retried with exponential
    backoff: :attr:`rate_limit_retries` times, starting at :attr:`rate_limit_backoff_s` seconds.
    """

    rate_limit_retries: int = 5
    rate_limit_backoff_s: float = 2.0
    export_timeout_s: float = 3600.0
    upsert_timeout_s: float = 1800.0
    #: retries of an action whose connection dropped (see :meth:`_with_backoff`)
    network_retries: int = 2
    #: seconds between status polls of a pre-label import
    import_poll_s: int = 10
    #: mask downloads: (connect, read) timeouts, retries on 429/5xx/dropped connections
    mask_timeout_s: tuple[float, float] = (10.0, 60.0)
    mask_retries: int = 4

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
        self._endpoint = endpoint or os.environ.get("LABELBOX_ENDPOINT") or None
        self._rest_endpoint = rest_endpoint or os.environ.get("LABELBOX_REST_ENDPOINT") or None
        self._app_url = app_url or os.environ.get("LABELBOX_APP_URL") or None
        if self._endpoint:
            # Never mix a custom GraphQL endpoint with the public REST/app hosts.
            origin = "{0.scheme}://{0.netloc}".format(urlparse(self._endpoint))
            self._rest_endpoint = self._rest_endpoint or f"{origin}/api/v1"
            self._app_url = self._app_url or origin
        self._client: Any = None
        self._session: Any = None

    def __repr__(self) -> str:
        return f"LabelboxSdkSource(project_id={self.project_id!r}, dataset_prefix={self.dataset_prefix!r})"

    # -- plumbing -------------------------------------------------------------------------------

    def _get_client(self) -> Any:
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

    def _scrub(self, text: str) -> str:
        """``text`` without the API key (SDK errors may echo request details)."""
        return text.replace(self._api_key, "***") if self._api_key else text

    @contextmanager
    def _sdk_errors(self, action: str) -> Iterator[None]:
        """Turn SDK and transport failures into :class:`LabelSourceError` (key scrubbed)."""
        from lbox import exceptions as lbx

        try:
            yield
        except LabelSourceError:
            raise
        except lbx.AuthenticationError:
            raise LabelSourceError(
                f"Labelbox rejected the API key during {action}; check LABELBOX_API_KEY."
            ) from None
        except lbx.AuthorizationError as exc:
            raise LabelSourceError(
                f"The Labelbox API key may not do {action}: {self._scrub(str(exc))}"
            ) from None
        except Exception as exc:
            raise LabelSourceError(
                f"Labelbox {action} failed ({type(exc).__name__}: {self._scrub(str(exc))})"
            ) from None

    def _with_backoff(self, action: Callable[[], _T]) -> _T:
        """Run ``action``, retrying it with exponential backoff while Labelbox rate-limits us,
        and up to :attr:`network_retries` times when the connection drops before an answer
        (``NetworkError``: reset or closed without response, so the request was not taken)."""
        from lbox.exceptions import ApiLimitError, NetworkError

        dropped = 0
        for attempt in range(self.rate_limit_retries + 1):
            try:
                return action()
            except ApiLimitError:
                if attempt == self.rate_limit_retries:
                    raise
            except NetworkError:
                dropped += 1
                if dropped > self.network_retries or attempt == self.rate_limit_retries:
                    raise
            time.sleep(self.rate_limit_backoff_s * 2**attempt)
        raise AssertionError("unreachable")

    # -- export ---------------------------------------------------------------------------------

    def _start_export(self, params: dict[str, Any], filters: dict[str, Any]) -> Any:
        from lbox.exceptions import ResourceNotFoundError

        client = self._get_client()
        try:
            project = client.get_project(self.project_id)
        except ResourceNotFoundError:
            raise LabelSourceError(
                f"Labelbox project '{self.project_id}' does not exist or this API key cannot "
                "see it; check the project id in the label source URI."
            ) from None
        since = filters.get("last_activity_at", [None])[0]
        task = project.export(
            task_name=f"cadbusi {'since ' + since if since else 'full'}",
            filters=filters or None,
            params=params,
        )
        task.wait_till_done(timeout_seconds=self.export_timeout_s)
        return task

    def _check_export(self, task: Any) -> None:
        from labelbox.schema.export_task import StreamType

        if task.status == "FAILED":
            raise LabelSourceError(f"The Labelbox export task {task.uid} failed.")
        if task.status != "COMPLETE":
            raise LabelSourceError(
                f"The Labelbox export task {task.uid} did not finish within "
                f"{self.export_timeout_s:.0f} s (status {task.status})."
            )
        if task.has_errors():
            errors = islice(task.get_buffered_stream(StreamType.ERRORS), 3)
            sample = "; ".join(self._scrub(json.dumps(e.json, sort_keys=True)) for e in errors)
            raise LabelSourceError(
                f"The Labelbox export task {task.uid} finished with errors "
                f"({task.get_total_lines(StreamType.ERRORS)} lines), first: {sample}"
            )

    def _export(self, since: dt.datetime | None) -> Iterator[dict[str, Any]]:
        params = validate_export_params(EXPORT_PARAMS)
        filters: dict[str, Any] = {}
        if since is not None:
            filters["last_activity_at"] = [_utc_filter_time(since - EXPORT_OVERLAP), None]
        with self._sdk_errors("export"):
            task = self._with_backoff(lambda: self._start_export(params, filters))
            self._check_export(task)
            if not task.has_result():
                return
            for item in task.get_buffered_stream():
                yield item.json

    def export_rows(self, since: str | None = None) -> Iterator[dict[str, Any]]:
        """Export rows of the project; ``since`` (cursor or ISO time): only rows active since."""
        return self._export(ActivityCursor.decode(since).high_water)

    def changes_since(self, cursor: str | None) -> tuple[bool, str]:
        """(new or changed activity since ``cursor``, the :class:`ActivityCursor` to store now).

        Without a cursor (first tick), this reads the whole project export. A cursor that is not
        an :class:`ActivityCursor` (say, a folder fingerprint from another deployment) counts as
        none, so the sensor starts over instead of failing every tick.
        """
        try:
            previous = ActivityCursor.decode(cursor)
        except LabelSourceError:
            previous = ActivityCursor()
        seen = [
            (str((row.get("data_row") or {}).get("id")), _row_activity(row))
            for row in self._export(previous.high_water)
        ]
        stamps = [stamp for _, stamp in seen if stamp is not None]
        if previous.high_water is not None:
            stamps.append(previous.high_water)
        high_water = max(stamps, default=None)
        window_start = high_water - EXPORT_OVERLAP if high_water else None
        in_window = sorted(
            f"{row_id}@{stamp.isoformat() if stamp else ''}"
            for row_id, stamp in seen
            if stamp is None or window_start is None or stamp >= window_start
        )
        digest = hashlib.sha256("\n".join(in_window).encode()).hexdigest()[:16] if in_window else ""
        current = ActivityCursor(high_water, digest)
        return current != previous, current.encode()

    # -- masks ----------------------------------------------------------------------------------

    def _trusted_host(self, host: str) -> bool:
        """Hosts that get the API key: Labelbox's, and those of the configured endpoints."""
        host = host.lower()
        configured = {
            (urlparse(u).hostname or "").lower()
            for u in (self._endpoint, self._rest_endpoint, self._app_url)
            if u
        }
        return host in configured or host == "labelbox.com" or host.endswith(".labelbox.com")

    def fetch_mask(self, url: str) -> bytes:
        """Download a mask an export names. Labelbox hosts (and the configured endpoints) get
        ``Authorization: Bearer <API key>``; other hosts (signed URLs) get no key. 429, 5xx and
        dropped connections are retried with exponential backoff (:attr:`mask_retries` times);
        other failures raise :class:`~cadbusi_assets.labeling.masks.MaskFetchError` (no URL,
        no key in the message)."""
        import requests

        from cadbusi_assets.labeling.masks import MaskFetchError

        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise MaskFetchError("the mask URL is not an http(s) URL")
        headers = {"Accept": "image/png"}
        if self._trusted_host(parsed.hostname):
            if not self._api_key:
                raise MaskFetchError("LABELBOX_API_KEY is not set")
            headers["Authorization"] = f"Bearer {self._api_key}"
        if self._session is None:
            self._session = requests.Session()
            self._session.trust_env = True
        problem = "no answer"
        for attempt in range(self.mask_retries + 1):
            if attempt:
                time.sleep(self.rate_limit_backoff_s * 2 ** (attempt - 1))
            try:
                response = self._session.get(
                    url, headers=headers, timeout=self.mask_timeout_s, allow_redirects=False
                )
            except requests.RequestException as exc:
                problem = f"connection failed ({type(exc).__name__})"
                continue
            if response.status_code == 200:
                return response.content
            if response.status_code in (301, 302, 303, 307, 308):
                # a redirect (e.g. to cloud storage) is followed without the API key
                target = response.headers.get("Location") or ""
                try:
                    response = self._session.get(
                        requests.compat.urljoin(url, target),
                        headers={"Accept": "image/png"},
                        timeout=self.mask_timeout_s,
                    )
                except requests.RequestException as exc:
                    problem = f"connection failed ({type(exc).__name__})"
                    continue
                if response.status_code == 200:
                    return response.content
            problem = f"HTTP {response.status_code}"
            if response.status_code != 429 and response.status_code < 500:
                break
        raise MaskFetchError(
            f"{problem}"
            + (" (check LABELBOX_API_KEY)" if problem in ("HTTP 401", "HTTP 403") else "")
        )

    # -- data rows ------------------------------------------------------------------------------

    def _dataset(self, client: Any, name: str) -> Any:
        import labelbox as lb

        found = [d for d in client.get_datasets(where=lb.Dataset.name == name) if d.name == name]
        if len(found) > 1:
            raise LabelSourceError(
                f"{len(found)} Labelbox datasets are named '{name}'; keep one (rename the others)."
            )
        return found[0] if found else client.create_dataset(name=name)

    def _existing_global_keys(self, client: Any, keys: list[str]) -> set[str]:
        existing: set[str] = set()
        for start in range(0, len(keys), _LOOKUP_CHUNK):
            chunk = keys[start : start + _LOOKUP_CHUNK]
            result = client.get_data_row_ids_for_global_keys(chunk)
            errors = result.get("errors") or []
            denied = sorted(e["global_key"] for e in errors if e.get("error") != _NOT_FOUND)
            if denied:
                raise LabelSourceError(
                    f"{len(denied)} global keys belong to data rows this API key cannot use "
                    f"(global keys are unique across the organization), e.g. {denied[:3]}."
                )
            existing |= set(chunk) - {e["global_key"] for e in errors}
        return existing

    def _upsert(self, name: str, specs: list[_DataRowSpec]) -> int:
        from labelbox.schema.identifiable import GlobalKey

        client = self._get_client()
        target = self._dataset(client, name)
        existing = self._existing_global_keys(client, [s.global_key for s in specs])
        items: list[dict[str, Any]] = []
        for spec in specs:
            fields = {"external_id": spec.external_id, "row_data": spec.row_data}
            if spec.global_key in existing:
                items.append({"key": GlobalKey(spec.global_key), **fields})
            else:
                items.append({"global_key": spec.global_key, "media_type": "IMAGE", **fields})
        task = target.upsert_data_rows(items)
        task.wait_till_done(timeout_seconds=self.upsert_timeout_s)
        errors = task.errors or []
        if task.status == "FAILED" or errors:
            sample = "; ".join(
                f"{self._scrub(str(e.get('message')))} "
                f"{[r.get('globalKey') for r in e.get('failedDataRows', [])]}"
                for e in errors[:3]
            )
            raise LabelSourceError(
                f"Labelbox refused {len(errors) or 'the'} data rows of dataset '{name}' "
                f"(task {task.uid}, status {task.status}): {sample or 'no details'}"
            )
        if task.status != "COMPLETE":
            raise LabelSourceError(
                f"The Labelbox upsert task {task.uid} did not finish within "
                f"{self.upsert_timeout_s:.0f} s; sending again is safe (keyed by global key)."
            )
        return len(items)

    def send_data_rows(self, dataset: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """Create or update (by global key) ``rows`` in dataset ``<prefix>-<dataset>``."""
        specs = _data_row_specs(rows)
        if not specs:
            return 0
        name = f"{self.dataset_prefix}-{dataset}"
        with self._sdk_errors(f"upload of data rows to dataset '{name}'"):
            return self._with_backoff(lambda: self._upsert(name, specs))

    def delete_data_rows(self, global_keys: Sequence[str]) -> DeletedDataRows:
        """Delete the data rows of ``global_keys`` from Labelbox (their labels go with them):
        each key is looked up (``get_data_row_ids_for_global_keys``) and the rows found are
        deleted (``DataRow.bulk_delete``) in chunks. A key Labelbox does not know is
        ``absent``; a key of a data row this API key may not use stops with an error (nothing
        of that chunk deleted)."""
        keys = sorted({str(k) for k in global_keys})
        if not keys:
            return DeletedDataRows((), ())
        deleted: list[str] = []
        absent: list[str] = []
        with self._sdk_errors("deletion of withdrawn data rows"):
            for start in range(0, len(keys), _DELETE_CHUNK):
                chunk = keys[start : start + _DELETE_CHUNK]
                gone, missing = self._with_backoff(functools.partial(self._delete, chunk))
                deleted += gone
                absent += missing
        return DeletedDataRows(tuple(deleted), tuple(absent))

    def _delete(self, keys: list[str]) -> tuple[list[str], list[str]]:
        import labelbox as lb

        client = self._get_client()
        result = client.get_data_row_ids_for_global_keys(keys)
        errors = result.get("errors") or []
        denied = [e for e in errors if e.get("error") != _NOT_FOUND]
        if denied:
            raise LabelSourceError(
                f"{len(denied)} global keys belong to data rows this API key cannot use; "
                "nothing of them was deleted"
            )
        ids = list(result.get("results") or [])
        if len(ids) != len(keys):
            raise LabelSourceError("Labelbox answered the global-key lookup for other keys")
        found = [(k, i) for k, i in zip(keys, ids, strict=True) if i]
        if found:
            rows = [client.get_data_row(i) for _, i in found]
            lb.DataRow.bulk_delete(rows)
        return [k for k, _ in found], [k for k, i in zip(keys, ids, strict=True) if not i]

    # -- batches and pre-labels -----------------------------------------------------------------

    def queue_rows(
        self,
        dataset: str,
        rows: pl.DataFrame,
        *,
        already_queued: Sequence[str] = (),
        lesions: pl.DataFrame | None = None,
        lesion_images: pl.DataFrame | None = None,
        ontology: OntologySpec | None = None,
        consensus: ConsensusConfig | None = None,
    ) -> QueueReport:
        """Check (or create) the project's ontology, queue the rows of ``rows`` not in
        ``already_queued`` as batches of the project, then import the pre-labels of the rows
        queued now (polling the import; per-annotation errors in the report).

        Batch and import names are ``<prefix>-<dataset>-<digest of the rows queued now>``:
        Labelbox wants them unique per project, and a re-run that queues other rows of the same
        day must not reuse a name.

        ``consensus`` (default: ``CADBUSI_LABELBOX_CONSENSUS*``, see :mod:`.consensus`) is
        compared with the project's quality settings and given to the batches when consensus
        is on in both; a malformed setting fails here, before anything is sent."""
        from cadbusi_assets.labeling.consensus import ConsensusConfig
        from cadbusi_assets.labeling.ontology import OntologySpec
        from cadbusi_assets.labeling.project_queue import queue_for_labeling

        quality = consensus or ConsensusConfig.from_env()

        queued = set(already_queued)
        fresh = sorted(set(rows["global_key"].drop_nulls().to_list()) - queued)
        digest = hashlib.sha256("\n".join(fresh).encode()).hexdigest()[:8]
        prefix = f"{self.dataset_prefix}-{dataset}-{digest}"
        with self._sdk_errors(f"queueing the data rows of '{dataset}' to the project"):
            return queue_for_labeling(
                self._get_client(),
                self.project_id,
                rows,
                prefix,
                already_queued=queued,
                lesions=lesions,
                lesion_images=lesion_images,
                ontology=ontology or OntologySpec.from_env(),
                quality=quality,
                retry=self._with_backoff,
                poll_seconds=self.import_poll_s,
            )


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
        return LabelboxSdkSource(
            parsed.netloc, dataset_prefix=query.get("dataset_prefix", "cadbusi")
        )
    raise LabelSourceError(
        f"Unknown label source scheme '{parsed.scheme}' (use folder:// or labelbox://)."
    )
