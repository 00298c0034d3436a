"""Retrieve the studies of one partition into the raw zone, with a manifest you can trust.

For every study of the cohort the expected instance list comes from the PACS; every instance is
stored once at ``dicom/<partition>/<study_key>/<instance_key>.dcm`` (opaque keyed names), and two
manifests say what was expected, what is stored and what failed, with PHI-free reasons.

- **Resumable**: with the ``previous`` instances manifest, instances whose file is still there
  (same size, and same SHA-256 on local zones) are not fetched again.
- **Exact**: afterwards the partition folder holds exactly the files of the new manifest (files
  of instances no longer expected are deleted); studies whose listing failed keep their files.
- **One owner per instance**: an instance key (from the SOP Instance UID) is claimed in the
  raw zone (``claims/instances/<key[:2]>/<key>``, holding ``<partition>/<study_key>``) before
  it is stored. An instance that another study -- usually of another study date -- already
  holds is not stored again, never overwritten and never deleted here: it becomes a row of the
  ``conflicts`` manifest with a reason. A claim is released when its owner stops holding the
  instance (the owner's re-run deletes the file).
- **No silent mass deletion**: ``before_delete(previous, kept)`` (optional) is called with the
  number of studies that had files before and how many of them still have files, before any
  file is deleted; it may raise to stop the run (see :mod:`cadbusi_assets.stages.safety`).
- **Atomic and streaming**: each instance is streamed to a staging file while it is hashed, then
  renamed into place (local) or uploaded create-only (object stores).
- **Polite**: at most ``concurrency`` requests in flight, retries with exponential backoff on
  transient errors only, optional time window.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import polars as pl

from cadbusi_assets.dicom import DicomReadError, read_dataset
from cadbusi_assets.identity import Pseudonymizer
from cadbusi_assets.pacs.base import (
    InstanceRef,
    Pacs,
    PacsError,
    PlansFetches,
    StudyNotFoundError,
)
from cadbusi_assets.pacs.manifest import (
    ALREADY_PRESENT,
    CONFLICT_OTHER_DATE,
    CONFLICT_OTHER_STUDY,
    FAILED,
    STORED,
    conflicts_frame,
    conform_instances,
    instances_frame,
    studies_frame,
)
from cadbusi_assets.pacs.retry import RetriesExhausted, call_with_retries
from cadbusi_assets.pacs.window import OutsideWindowError, RetrievalWindow, as_window
from cadbusi_assets.storage import Zone
from cadbusi_assets.storage.tables import partition_table_path
from cadbusi_assets.storage.zones import sha256_file

log = logging.getLogger(__name__)

#: the instances manifest table of the raw zone (its name is fixed by the retrieval stage)
_INSTANCES = "retrieval_instances"

Verify = Literal["size", "sha256"]

#: Outcomes of an explicit refetch of a stored instance (``refetch=True``).
REFETCH_UNCHANGED = "unchanged"
REFETCH_REPLACED = "replaced"
REFETCH_FAILED = "failed"
#: Reason recorded for an instance replaced by an explicit refetch.
REFETCH_REASON = "corrected at the PACS under the same SOP Instance UID (explicit refetch)"
#: Where an explicit refetch keeps the copy it replaced: ``dicom_replaced/<partition>/<study
#: key>/<instance key>.<first 16 hex of its SHA-256>.dcm`` (raw zone; never cleaned up).
REPLACED_DIR = "dicom_replaced"
REFETCH_SCHEMA = {
    "study_key": pl.Utf8,
    "instance_key": pl.Utf8,
    "outcome": pl.Utf8,
    "old_sha256": pl.Utf8,
    "new_sha256": pl.Utf8,
    "old_size_bytes": pl.Int64,
    "new_size_bytes": pl.Int64,
    "kept_copy": pl.Utf8,
    "reason": pl.Utf8,
}


@dataclass
class RetrievalResult:
    """The manifests of one partition (see :mod:`cadbusi_assets.pacs.manifest`)."""

    instances: pl.DataFrame
    studies: pl.DataFrame
    conflicts: pl.DataFrame = field(default_factory=lambda: conflicts_frame([]))
    #: what an explicit refetch found (``refetch=True``): one row per stored instance fetched
    #: again, with its outcome (:data:`REFETCH_SCHEMA`)
    refetched: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=REFETCH_SCHEMA))

    @property
    def complete(self) -> bool:
        """Every study of the cohort is complete."""
        return bool(self.studies.height == 0 or self.studies["complete"].all())

    def summary(self) -> dict[str, int]:
        """Counts without identifiers (for logs and asset metadata)."""
        statuses = Counter(self.instances["status"].to_list())
        return {
            "studies": self.studies.height,
            "studies_complete": int(self.studies["complete"].sum() or 0),
            "studies_incomplete": int((~self.studies["complete"]).sum() or 0),
            "instances_expected": self.instances.height,
            "instances_stored": statuses.get(STORED, 0),
            "instances_already_present": statuses.get(ALREADY_PRESENT, 0),
            "instances_failed": statuses.get(FAILED, 0),
            "bytes_stored": int(
                self.instances.filter(pl.col("status") == STORED)["size_bytes"].sum() or 0
            ),
        }


class _WindowClosed(Exception):
    pass


class _HashingWriter:
    """A write-only file wrapper that counts and hashes what passes through it."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle
        self._digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._handle.write(data)
        self._digest.update(data)
        self.size += len(data)
        return len(data)

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self._handle.flush()

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()


@dataclass
class _Staged:
    ref: InstanceRef
    source_key: str
    path: Path
    size: int
    sha256: str
    series_instance_uid: str | None
    sop_instance_uid: str | None
    unreadable_reason: str | None
    attempts: int


@dataclass
class _Study:
    uid: str | None
    accession: str | None
    key: str | None
    refs: list[InstanceRef] | None = None
    not_found: bool = False
    listing_reason: str | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    # folder-style references (SOP UID unknown until download) are committed together
    pending_unknown: int = 0
    staged_unknown: list[_Staged] = field(default_factory=list)
    claimed: dict[str, str | None] = field(default_factory=dict)
    duplicates: int = 0
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _already_present(study: _Study, prev: dict, source_key: str) -> dict:
    """The manifest row of an instance found in place (``prev``, its row of the run before)."""
    return dict(
        prev,
        accession_number=study.accession,
        study_instance_uid=study.uid,
        status=ALREADY_PRESENT,
        attempts=0,
        source_key=source_key,
    )


def retrieve_studies(
    pacs: Pacs,
    studies: pl.DataFrame,
    raw_zone: Zone,
    partition: str,
    pseudonymizer: Pseudonymizer,
    *,
    previous: pl.DataFrame | None = None,
    concurrency: int = 4,
    retries: int = 3,
    backoff_seconds: float = 0.5,
    progress: Callable[[str], None] | None = None,
    window: str | RetrievalWindow | None = None,
    window_wait: bool = False,
    verify: Verify | None = None,
    clock: Callable[[], dt.datetime] = dt.datetime.now,
    sleep: Callable[[float], None] = time.sleep,
    before_delete: Callable[[int, int], None] | None = None,
    refetch: bool = False,
    owner_wants: Callable[[str, str | None, str | None], bool] | None = None,
) -> RetrievalResult:
    """Retrieve ``studies`` (columns ``study_instance_uid``, ``accession_number``) into
    ``raw_zone`` under ``dicom/<partition>/``.

    ``retries`` is the number of attempts per request, the first included. ``window``
    (default: the PACS's own ``window`` attribute, if any) limits requests to a time of day; see
    :mod:`cadbusi_assets.pacs.window`. ``verify`` says how an instance of ``previous`` is
    checked before it is trusted: ``"size"`` or ``"sha256"`` (default: SHA-256 on local zones,
    size on object stores, where hashing would download the file).

    ``refetch``: fetch every instance of ``previous`` that is still in place again (a PACS
    search gives no size or hash, so a correction sent under the same SOP Instance UID is
    otherwise never seen): one with the same SHA-256 is kept byte-identical, one with another
    is replaced after the stored copy is kept under ``dicom_replaced/`` (raw zone), and one the
    PACS cannot send now keeps its stored copy; :attr:`RetrievalResult.refetched` says which.

    ``before_delete(previous, kept)``: called before any file is deleted, with the number of
    studies that had files in ``previous`` and how many of them still have files; an exception
    it raises stops the run with nothing deleted.

    ``owner_wants(partition, study_instance_uid, accession_number)``: whether the date that
    holds an instance of a study still wants that study (its cohort lists it). When it says no
    (the warehouse moved the exam to this date: its old date's cohort, made again, lists it no
    more), this date takes the claim over and stores the instance; the old date deletes its
    copy when it runs (before, the new date skipped the study as held by the old one, and the
    old one then deleted it: the images were on neither date). Not given: a claim is held.

    Raises :class:`~cadbusi_assets.pacs.base.PacsError` when the PACS is misconfigured or
    refuses us (nothing is deleted then), :class:`OutsideWindowError` outside the window.
    """
    partition_table_path("raw_dicom", partition)  # validates the partition name
    run = _Retrieval(
        pacs=pacs,
        zone=raw_zone,
        partition=partition,
        pseudonymizer=pseudonymizer,
        concurrency=max(1, int(concurrency)),
        attempts=max(1, int(retries)),
        backoff_seconds=max(0.0, float(backoff_seconds)),
        progress=progress,
        window=as_window(window if window is not None else getattr(pacs, "window", None)),
        verify=verify or ("sha256" if raw_zone.local else "size"),
        clock=clock,
        sleep=sleep,
        before_delete=before_delete,
        refetch=refetch,
        owner_wants=owner_wants,
    )
    run.wait_for_window(window_wait)
    return run.run(studies, conform_instances(previous))


class _Retrieval:
    def __init__(
        self,
        *,
        pacs: Pacs,
        zone: Zone,
        partition: str,
        pseudonymizer: Pseudonymizer,
        concurrency: int,
        attempts: int,
        backoff_seconds: float,
        progress: Callable[[str], None] | None,
        window: RetrievalWindow | None,
        verify: Verify,
        clock: Callable[[], dt.datetime],
        sleep: Callable[[float], None],
        before_delete: Callable[[int, int], None] | None = None,
        refetch: bool = False,
        owner_wants: Callable[[str, str | None, str | None], bool] | None = None,
    ) -> None:
        self.pacs = pacs
        self.owner_wants = owner_wants
        self.refetch = refetch
        self._refetched: list[dict[str, Any]] = []
        #: changed instances an explicit refetch staged: replaced only once ``before_delete``
        #: has accepted the run (a refused run changes no stored file)
        self._replacements: list[tuple[_Study, _Staged, str, dict, dict[str, Any]]] = []
        self.zone = zone
        self.partition = partition
        self.pseudo = pseudonymizer
        self.concurrency = concurrency
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self.progress = progress
        self.window = window
        self.verify = verify
        self.clock = clock
        self.sleep = sleep
        self.before_delete = before_delete
        self._done = 0
        self._total = 0
        self._counter_lock = threading.Lock()

    # -- window ------------------------------------------------------------------------------
    def wait_for_window(self, wait_for_it: bool) -> None:
        if self.window is None:
            return
        delay = self.window.seconds_until_open(self.clock())
        if delay <= 0:
            return
        if not wait_for_it:
            raise OutsideWindowError(
                f"PACS retrieval is only allowed during {self.window} (local time); it is now "
                "outside that window. Schedule the run inside the window, or pass "
                "window_wait=True to wait for it."
            )
        self._say(f"waiting {delay:.0f} s for the retrieval window {self.window}")
        self.sleep(delay)

    def _check_window(self) -> None:
        if self.window is not None and not self.window.contains(self.clock()):
            raise _WindowClosed()

    # -- main --------------------------------------------------------------------------------
    def run(self, studies: pl.DataFrame, previous: pl.DataFrame | None) -> RetrievalResult:
        cohort = self._cohort(studies)
        prev_by_instance, prev_by_source = self._index_previous(previous)

        with ThreadPoolExecutor(
            max_workers=self.concurrency, thread_name_prefix="pacs-retrieve"
        ) as pool:
            self._run_all(pool, self._list_study, [s for s in cohort if s.uid is not None])
            self._say(f"listed {len(cohort)} studies")
            tasks = self._plan(cohort, prev_by_instance, prev_by_source)
            self._total = len(tasks)
            self._run_all(pool, lambda task: task(), tasks)

        if self.before_delete is not None:
            try:
                self.before_delete(*self._studies_kept(cohort, prev_by_instance))
            except BaseException:
                for _, staged, _, _, _ in self._replacements:
                    staged.path.unlink(missing_ok=True)
                raise
        for replacement in self._replacements:
            self._replace(*replacement)
        self._clean_partition(cohort)
        result = RetrievalResult(
            instances=instances_frame(row for study in cohort for row in study.rows),
            studies=studies_frame(self._study_row(study) for study in cohort),
            conflicts=conflicts_frame(row for study in cohort for row in study.conflicts),
            refetched=pl.DataFrame(
                sorted(self._refetched, key=lambda r: (r["study_key"], r["instance_key"])),
                schema=REFETCH_SCHEMA,
            ),
        )
        summary = result.summary()
        self._say(
            f"{summary['studies_complete']}/{summary['studies']} studies complete; "
            f"{summary['instances_stored']} instances stored, "
            f"{summary['instances_already_present']} already present, "
            f"{summary['instances_failed']} failed, "
            f"{result.conflicts.height} held by another study"
        )
        return result

    def _run_all(self, pool: ThreadPoolExecutor, fn: Callable[[Any], None], items: list) -> None:
        """Run ``fn`` over ``items`` in the pool; the first unexpected error (PacsError or a
        bug) cancels what has not started and is raised."""
        futures: list[Future] = [pool.submit(fn, item) for item in items]
        done, not_done = wait(futures, return_when=FIRST_EXCEPTION)
        failed = [f for f in done if f.exception() is not None]
        if failed:
            for future in not_done:
                future.cancel()
            wait(not_done)
            raise failed[0].exception()  # type: ignore[misc]

    def _say(self, message: str) -> None:
        log.info("raw_dicom %s: %s", self.partition, message)
        if self.progress is not None:
            self.progress(message)

    def _tick(self) -> None:
        with self._counter_lock:
            self._done += 1
            done, total = self._done, self._total
        step = max(1, total // 10)
        if done == total or done % step == 0:
            self._say(f"{done}/{total} instances processed")

    # -- cohort and previous manifest ------------------------------------------------------------
    def _cohort(self, studies: pl.DataFrame) -> list[_Study]:
        missing = {"study_instance_uid", "accession_number"} - set(studies.columns)
        if missing:
            raise ValueError(f"The studies frame lacks the columns {sorted(missing)}.")
        cohort: list[_Study] = []
        seen: set[str] = set()
        for uid, accession in studies.select(
            pl.col("study_instance_uid").cast(pl.String), pl.col("accession_number").cast(pl.String)
        ).iter_rows():
            uid = (uid or "").strip() or None
            if uid is not None:
                if uid in seen:
                    continue
                seen.add(uid)
            key = self.pseudo.raw_key("study", uid) if uid else None
            cohort.append(_Study(uid=uid, accession=accession, key=key))
        return cohort

    def _index_previous(
        self, previous: pl.DataFrame | None
    ) -> tuple[dict[tuple[str, str], dict], dict[tuple[str, str], dict]]:
        by_instance: dict[tuple[str, str], dict] = {}
        by_source: dict[tuple[str, str], dict] = {}
        if previous is None or previous.height == 0:
            return by_instance, by_source
        usable = previous.filter(
            (pl.col("partition") == self.partition)
            & pl.col("status").is_in([STORED, ALREADY_PRESENT])
            & pl.col("raw_path").is_not_null()
            & pl.col("instance_key").is_not_null()
        )
        for row in usable.iter_rows(named=True):
            by_instance[(row["study_key"], row["instance_key"])] = row
            if row["source_key"]:
                by_source[(row["study_key"], row["source_key"])] = row
        return by_instance, by_source

    def _studies_kept(
        self, cohort: list[_Study], prev_by_instance: dict[tuple[str, str], dict]
    ) -> tuple[int, int]:
        """(studies with files before, how many of them still have files or are protected)."""
        before = {study_key for study_key, _ in prev_by_instance}
        after = {
            study.key
            for study in cohort
            if study.key is not None
            and (study.refs is None or any(r["status"] != FAILED for r in study.rows))
        }
        return len(before), len(before & after)

    # -- claims (one owner per instance key across partitions) ---------------------------------
    def _claim_parts(self, instance_key: str) -> tuple[str, ...]:
        return ("claims", "instances", instance_key[:2], instance_key)

    def _claim(self, study: _Study, instance_key: str) -> str | None:
        """Claim ``instance_key`` for this study; ``None`` when it is ours, else the owner
        (``<partition>/<study_key>``). A claim whose owner's finished manifest no longer holds
        the instance is stale and taken over."""
        mine = f"{self.partition}/{study.key}"
        parts = self._claim_parts(instance_key)
        for _ in range(3):
            try:
                self.zone.write_bytes(parts, mine.encode(), create_only=True)
                return None
            except FileExistsError:
                pass
            try:
                owner = self.zone.read_bytes(*parts).decode("utf-8", "replace").strip()
            except FileNotFoundError:
                continue  # released meanwhile: try again
            if owner == mine:
                return None
            if self._owner_dropped(owner, instance_key) or self._owner_let_go(owner, study):
                self.zone.write_bytes(parts, mine.encode())
                return None
            return owner
        return None

    def _owner_dropped(self, owner: str, instance_key: str) -> bool:
        """A claim is stale only when its owner finished a run *after* the claim was made and
        that run's manifest does not list the instance at all (a crashed run, or a failed fetch
        of an instance the owner no longer lists). Unknown times: never stale."""
        partition, _, study_key = owner.partition("/")
        if partition == self.partition:
            return False  # another study of this run: it is being stored now
        manifest_parts = partition_table_path(_INSTANCES, partition)
        claimed_at = self._mtime(self._claim_parts(instance_key))
        written_at = self._mtime(manifest_parts)
        if not claimed_at or not written_at or written_at <= claimed_at:
            return False
        try:
            manifest = self.zone.read_parquet(*manifest_parts)
        except Exception:
            return False
        listed = manifest.filter(
            (pl.col("instance_key") == instance_key) & (pl.col("study_key") == study_key)
        )
        return listed.height == 0

    def _owner_let_go(self, owner: str, study: _Study) -> bool:
        """The owner is another date whose cohort no longer lists ``study`` (``owner_wants``)."""
        partition = owner.partition("/")[0]
        if partition == self.partition or self.owner_wants is None:
            return False
        return not self.owner_wants(partition, study.uid, study.accession)

    def _mtime(self, parts: tuple[str, ...]) -> float | None:
        try:
            value = float(self.zone.path(*parts).stat().st_mtime)
        except Exception:
            return None
        return value or None

    def _release(self, instance_key: str, study_key: str) -> None:
        parts = self._claim_parts(instance_key)
        try:
            owner = self.zone.read_bytes(*parts).decode("utf-8", "replace").strip()
        except (FileNotFoundError, OSError):
            return
        if owner == f"{self.partition}/{study_key}":
            self.zone.delete(*parts)

    def _conflict(
        self, study: _Study, owner: str, *, instance_key: str, sop_uid: str | None, source_key: str
    ) -> None:
        owner_partition, _, owner_study = owner.partition("/")
        row = {
            "partition": self.partition,
            "study_key": study.key,
            "study_instance_uid": study.uid,
            "accession_number": study.accession,
            "sop_instance_uid": sop_uid,
            "instance_key": instance_key,
            "source_key": source_key,
            "owner_partition": owner_partition,
            "owner_study_key": owner_study or None,
            "reason": CONFLICT_OTHER_STUDY
            if owner_partition == self.partition
            else CONFLICT_OTHER_DATE,
        }
        with study.lock:
            study.conflicts.append(row)

    # -- listing -----------------------------------------------------------------------------
    def _list_study(self, study: _Study) -> None:
        assert study.uid is not None
        try:
            refs, _ = call_with_retries(
                lambda: self.pacs.list_instances(study.uid),  # type: ignore[arg-type]
                attempts=self.attempts,
                backoff_seconds=self.backoff_seconds,
                sleep=self.sleep,
                before_attempt=self._check_window,
            )
        except _WindowClosed:
            study.listing_reason = f"retrieval window {self.window} closed before listing"
            return
        except RetriesExhausted as exc:
            if isinstance(exc.error, StudyNotFoundError):
                study.not_found = True
                study.listing_reason = exc.error.reason
                study.refs = []
            else:
                study.listing_reason = (
                    f"instance listing failed after {_attempts(exc.attempts)}: {exc.error.reason}"
                )
            return
        unique: list[InstanceRef] = []
        seen: set[str] = set()
        for ref in refs:
            marker = f"sop:{ref.sop_instance_uid}" if ref.sop_instance_uid else f"src:{ref.source}"
            if marker not in seen:
                seen.add(marker)
                unique.append(ref)
        study.refs = unique

    # -- planning ----------------------------------------------------------------------------
    def _plan(
        self,
        cohort: list[_Study],
        prev_by_instance: dict[tuple[str, str], dict],
        prev_by_source: dict[tuple[str, str], dict],
    ) -> list[Callable[[], None]]:
        tasks: list[Callable[[], None]] = []
        fetching: list[InstanceRef] = []  # what the tasks will most likely fetch
        for study in cohort:
            if study.key is None:
                continue
            if study.refs is None:  # listing failed: keep what the previous run stored
                for (study_key, _), row in sorted(prev_by_instance.items()):
                    if study_key == study.key:
                        tasks.append(self._keep_task(study, row))
                continue
            for ref in study.refs:
                source_key = self.pseudo.raw_key("source", ref.source)
                if ref.sop_instance_uid:
                    instance_key = self.pseudo.raw_key("instance", ref.sop_instance_uid)
                    study.claimed[instance_key] = None
                    prev = prev_by_instance.get((study.key, instance_key))
                else:
                    study.pending_unknown += 1
                    prev = prev_by_source.get((study.key, source_key))
                tasks.append(self._instance_task(study, ref, source_key, prev))
                if prev is None or self.refetch:
                    fetching.append(ref)
        if isinstance(self.pacs, PlansFetches):
            self.pacs.plan_fetches(
                fetching, spool=lambda: self.zone.staging_file("dicom", self.partition)
            )
        return tasks

    def _keep_task(self, study: _Study, row: dict) -> Callable[[], None]:
        def task() -> None:
            if self._still_valid(row):
                kept = dict(row, status=ALREADY_PRESENT, attempts=0)
                with study.lock:
                    study.rows.append(kept)
            self._tick()

        return task

    def _instance_task(
        self, study: _Study, ref: InstanceRef, source_key: str, prev: dict | None
    ) -> Callable[[], None]:
        def task() -> None:
            try:
                if ref.sop_instance_uid:
                    instance_key = self.pseudo.raw_key("instance", ref.sop_instance_uid)
                    owner = self._claim(study, instance_key)
                    if owner is not None:
                        self._conflict(
                            study,
                            owner,
                            instance_key=instance_key,
                            sop_uid=ref.sop_instance_uid,
                            source_key=source_key,
                        )
                        return
                if prev is not None and self._still_valid(prev):
                    if ref.sop_instance_uid is None and prev.get("instance_key"):
                        owner = self._claim(study, prev["instance_key"])
                        if owner is not None:
                            self._conflict(
                                study,
                                owner,
                                instance_key=prev["instance_key"],
                                sop_uid=prev.get("sop_instance_uid"),
                                source_key=source_key,
                            )
                            return
                    if self.refetch and (ref.sop_instance_uid or prev.get("instance_key")):
                        self._refetch_instance(study, ref, source_key, prev)
                        return
                    row = _already_present(study, prev, source_key)
                    with study.lock:
                        study.rows.append(row)
                        if ref.sop_instance_uid is None:
                            study.claimed[row["instance_key"]] = row["sha256"]
                else:
                    self._fetch_instance(study, ref, source_key)
            finally:
                if ref.sop_instance_uid is None:
                    self._unknown_done(study)
                self._tick()

        return task

    def _still_valid(self, row: dict) -> bool:
        parts = tuple(PurePosixPath(row["raw_path"]).parts)
        size = self.zone.size(*parts)
        if size is None or size != row["size_bytes"]:
            return False
        if self.verify == "sha256":
            return sha256_file(self.zone.path(*parts)) == row["sha256"]
        return True

    # -- fetching ----------------------------------------------------------------------------
    def _fetch_instance(self, study: _Study, ref: InstanceRef, source_key: str) -> None:
        staged = self._download(study, ref, source_key)
        if isinstance(staged, tuple):
            self._fail(study, ref, source_key, *staged)
            return
        if ref.sop_instance_uid is None:
            with study.lock:
                study.staged_unknown.append(staged)
            return
        instance_key = self.pseudo.raw_key("instance", ref.sop_instance_uid)
        self._commit(study, staged, instance_key, None)

    def _refetch_instance(
        self, study: _Study, ref: InstanceRef, source_key: str, prev: dict
    ) -> None:
        """Fetch a stored instance again (``refetch``): keep it when the PACS sends the same
        bytes, replace it (the stored copy kept under :data:`REPLACED_DIR`) when it sends other
        ones, keep it when the PACS cannot send it now."""
        assert study.key is not None
        instance_key = (
            self.pseudo.raw_key("instance", ref.sop_instance_uid)
            if ref.sop_instance_uid
            else prev["instance_key"]
        )
        kept = _already_present(study, prev, source_key)
        record: dict[str, Any] = {
            "study_key": study.key,
            "instance_key": instance_key,
            "old_sha256": prev["sha256"],
            "old_size_bytes": prev["size_bytes"],
        }
        staged = self._download(study, ref, source_key)
        if isinstance(staged, tuple):
            outcome, reason = REFETCH_FAILED, f"the PACS did not send it again ({staged[0]})"
        elif (
            ref.sop_instance_uid is None
            and staged.sop_instance_uid
            and self.pseudo.raw_key("instance", staged.sop_instance_uid) != instance_key
        ):  # the PACS now has another instance at this place: the stored one stays
            staged.path.unlink(missing_ok=True)
            outcome, reason = REFETCH_FAILED, "the PACS sent another instance in its place"
        elif staged.sha256 == prev["sha256"]:
            staged.path.unlink(missing_ok=True)
            outcome, reason = REFETCH_UNCHANGED, None
        else:
            # staged, and counted as the stored copy until the run is accepted (_replace)
            record.update(new_sha256=staged.sha256, new_size_bytes=staged.size)
            with self._counter_lock:
                self._replacements.append((study, staged, instance_key, kept, record))
            with study.lock:
                study.rows.append(kept)
                if ref.sop_instance_uid is None:
                    study.claimed[instance_key] = prev["sha256"]
            return
        if outcome == REFETCH_UNCHANGED:
            record.update(new_sha256=prev["sha256"], new_size_bytes=prev["size_bytes"])
        with self._counter_lock:
            self._refetched.append({**record, "outcome": outcome, "reason": reason})
        with study.lock:
            study.rows.append(kept)
            if ref.sop_instance_uid is None:
                study.claimed[instance_key] = prev["sha256"]

    def _replace(
        self, study: _Study, staged: _Staged, instance_key: str, kept: dict, record: dict
    ) -> None:
        """Replace a stored instance by the other bytes the PACS sent for it (a staged
        refetch), the stored copy kept under :data:`REPLACED_DIR` first; when it cannot be
        kept, the stored instance stays and the refetch is recorded as failed."""
        assert study.key is not None
        copy = self._keep_replaced(study.key, instance_key, kept)
        if copy is None:
            staged.path.unlink(missing_ok=True)
            self._refetched.append(
                {**record, "outcome": REFETCH_FAILED, "reason": "the stored copy could not be kept"}
            )
            return
        self._refetched.append(
            {**record, "kept_copy": copy, "outcome": REFETCH_REPLACED, "reason": REFETCH_REASON}
        )
        with study.lock:
            study.rows.remove(kept)
            if staged.ref.sop_instance_uid is None:
                study.claimed[instance_key] = staged.sha256
        self._commit(study, staged, instance_key, REFETCH_REASON)

    def _keep_replaced(self, study_key: str, instance_key: str, prev: dict) -> str | None:
        """Copy the stored instance ``prev`` under :data:`REPLACED_DIR` (verified by its
        SHA-256) before it is replaced; its raw-zone path, or None when it could not be kept."""
        parts = (
            REPLACED_DIR,
            self.partition,
            study_key,
            f"{instance_key}.{prev['sha256'][:16]}.dcm",
        )
        try:
            data = self.zone.read_bytes(*PurePosixPath(prev["raw_path"]).parts)
            if hashlib.sha256(data).hexdigest() != prev["sha256"]:
                return None
            if self.zone.size(*parts) != len(data):
                self.zone.write_bytes(parts, data)
        except OSError as exc:
            log.warning("keeping a replaced instance failed (%s)", type(exc).__name__)
            return None
        return "/".join(parts)

    def _download(
        self, study: _Study, ref: InstanceRef, source_key: str
    ) -> _Staged | tuple[str, int]:
        """The instance fetched into a staging file, or why it could not be (reason, attempts)."""
        assert study.key is not None
        folder = ("dicom", self.partition, study.key)
        staged_path: Path | None = None

        def attempt() -> tuple[Path, _HashingWriter]:
            nonlocal staged_path
            staged_path = self.zone.staging_file(*folder)
            try:
                with open(staged_path, "wb") as handle:
                    writer = _HashingWriter(handle)
                    self.pacs.fetch(ref, writer)  # type: ignore[arg-type]
            except BaseException:
                staged_path.unlink(missing_ok=True)
                raise
            return staged_path, writer

        try:
            (path, writer), attempts = call_with_retries(
                attempt,
                attempts=self.attempts,
                backoff_seconds=self.backoff_seconds,
                sleep=self.sleep,
                before_attempt=self._check_window,
            )
        except _WindowClosed:
            return f"retrieval window {self.window} closed", 0
        except RetriesExhausted as exc:
            return exc.error.reason, exc.attempts
        except PacsError:
            raise
        except Exception as exc:  # a bug or a local I/O problem: record it, never the message
            log.warning("unexpected %s while fetching an instance", type(exc).__name__)
            return f"unexpected error ({type(exc).__name__})", 1

        series_uid, sop_uid, unreadable = _header_identity(path)
        return _Staged(
            ref=ref,
            source_key=source_key,
            path=path,
            size=writer.size,
            sha256=writer.sha256,
            series_instance_uid=ref.series_instance_uid or series_uid,
            sop_instance_uid=ref.sop_instance_uid or sop_uid,
            unreadable_reason=unreadable,
            attempts=attempts,
        )

    def _unknown_done(self, study: _Study) -> None:
        with study.lock:
            study.pending_unknown -= 1
            if study.pending_unknown:
                return
            staged_list = sorted(study.staged_unknown, key=lambda s: s.ref.source)
            study.staged_unknown = []
            claimed = dict(study.claimed)
        # every file of the study is staged: give keys in a fixed order, then commit
        for staged in staged_list:
            if staged.sop_instance_uid:
                key = self.pseudo.raw_key("instance", staged.sop_instance_uid)
            else:
                key = self.pseudo.raw_key("file", staged.sha256)
            note = None
            if key in claimed:
                if claimed[key] == staged.sha256:
                    staged.path.unlink(missing_ok=True)
                    study.duplicates += 1
                    continue
                key = self.pseudo.raw_key("file", staged.sha256)
                note = "duplicate SOP Instance UID with different content"
                if key in claimed:
                    staged.path.unlink(missing_ok=True)
                    study.duplicates += 1
                    continue
            claimed[key] = staged.sha256
            owner = self._claim(study, key)
            if owner is not None:
                staged.path.unlink(missing_ok=True)
                self._conflict(
                    study,
                    owner,
                    instance_key=key,
                    sop_uid=staged.sop_instance_uid,
                    source_key=staged.source_key,
                )
                continue
            self._commit(study, staged, key, note)
        if study.duplicates:
            log.info("study %s: %d duplicate files skipped", study.key, study.duplicates)

    def _commit(self, study: _Study, staged: _Staged, instance_key: str, note: str | None) -> None:
        assert study.key is not None
        parts = ("dicom", self.partition, study.key, f"{instance_key}.dcm")
        try:
            self._place(staged, parts)
        except Exception as exc:
            staged.path.unlink(missing_ok=True)
            log.warning("writing an instance to the raw zone failed (%s)", type(exc).__name__)
            self._fail(
                study,
                staged.ref,
                staged.source_key,
                f"raw zone write failed ({type(exc).__name__})",
                staged.attempts,
                instance_key=instance_key,
            )
            return
        reasons = [r for r in (note, staged.unreadable_reason) if r]
        row = self._row(
            study,
            series_instance_uid=staged.series_instance_uid,
            sop_instance_uid=staged.sop_instance_uid,
            instance_key=instance_key,
            raw_path="/".join(parts),
            size_bytes=staged.size,
            sha256=staged.sha256,
            status=STORED,
            reason="; ".join(reasons) or None,
            attempts=staged.attempts,
            source_key=staged.source_key,
        )
        with study.lock:
            study.rows.append(row)

    def _place(self, staged: _Staged, parts: tuple[str, ...]) -> None:
        """Create-only commit; an existing file with other content is replaced (the PACS copy
        wins), one with the same content is kept. Zone errors are retried like PACS errors."""
        for attempt in range(1, self.attempts + 1):
            try:
                try:
                    self.zone.commit_file(staged.path, parts, create_only=True)
                except FileExistsError:
                    if sha256_file(self.zone.path(*parts)) == staged.sha256:
                        staged.path.unlink(missing_ok=True)
                    else:
                        self.zone.commit_file(staged.path, parts, create_only=False)
                return
            except FileExistsError:
                raise
            except OSError:
                if attempt == self.attempts:
                    raise
                self.sleep(self.backoff_seconds * 2 ** (attempt - 1))

    def _fail(
        self,
        study: _Study,
        ref: InstanceRef,
        source_key: str,
        reason: str,
        attempts: int,
        *,
        instance_key: str | None = None,
    ) -> None:
        if instance_key is None and ref.sop_instance_uid:
            instance_key = self.pseudo.raw_key("instance", ref.sop_instance_uid)
        row = self._row(
            study,
            series_instance_uid=ref.series_instance_uid,
            sop_instance_uid=ref.sop_instance_uid,
            instance_key=instance_key,
            raw_path=None,
            size_bytes=None,
            sha256=None,
            status=FAILED,
            reason=reason,
            attempts=attempts,
            source_key=source_key,
        )
        with study.lock:
            study.rows.append(row)

    def _row(self, study: _Study, **values: Any) -> dict[str, Any]:
        return {
            "partition": self.partition,
            "study_key": study.key,
            "study_instance_uid": study.uid,
            "accession_number": study.accession,
            **values,
        }

    # -- after the run -----------------------------------------------------------------------
    def _clean_partition(self, cohort: list[_Study]) -> None:
        """Delete every file of the partition that the new manifest does not hold (and stale
        staging files), except in studies whose listing failed."""
        keep = {
            row["raw_path"]
            for study in cohort
            for row in study.rows
            if row["status"] in (STORED, ALREADY_PRESENT)
        }
        protected = {study.key for study in cohort if study.refs is None and study.key}
        deleted = 0
        for path in list(self.zone.iter_files("dicom", self.partition, include_temporary=True)):
            relative = self.zone.relative(path)
            parts = PurePosixPath(relative).parts
            if relative in keep or (len(parts) > 3 and parts[2] in protected):
                continue
            self.zone.delete(*parts)
            deleted += 1
            if len(parts) == 4 and parts[3].endswith(".dcm"):
                self._release(parts[3][: -len(".dcm")], parts[2])
        if self.zone.local:
            base = self.zone.local_path("dicom", self.partition)
            if base.is_dir():
                for folder in sorted(base.iterdir()):
                    if folder.is_dir() and not any(folder.iterdir()):
                        folder.rmdir()
        if deleted:
            self._say(f"deleted {deleted} files no longer expected")

    def _study_row(self, study: _Study) -> dict[str, Any]:
        rows = study.rows
        present = sum(1 for r in rows if r["status"] in (STORED, ALREADY_PRESENT))
        failed = [r for r in rows if r["status"] == FAILED]
        expected: int | None
        reason: str | None
        if study.uid is None:
            expected, reason = 0, "no StudyInstanceUID in the cohort"
        elif study.refs is None:
            expected, reason = None, study.listing_reason
        elif study.not_found:
            expected, reason = 0, study.listing_reason
        elif not rows and study.conflicts:
            expected, reason = 0, "every instance is held by another study"
        elif not rows:
            expected, reason = 0, "study has no instances in PACS"
        else:
            expected, reason = len(rows), _failure_summary(failed)
            if study.conflicts:
                held = f"{len(study.conflicts)} instances held by another study"
                reason = f"{reason}; {held}" if reason else held
        return {
            "partition": self.partition,
            "study_key": study.key,
            "study_instance_uid": study.uid,
            "accession_number": study.accession,
            "expected": expected,
            "stored": present,
            "failed": len(failed),
            "complete": bool(expected or (study.refs and study.conflicts)) and not failed,
            "reason": reason,
        }


def _header_identity(path: Path) -> tuple[str | None, str | None, str | None]:
    """(SeriesInstanceUID, SOPInstanceUID, unreadable reason) from a staged file's header."""
    try:
        ds = read_dataset(path, stop_before_pixels=True)
    except DicomReadError as exc:
        return None, None, f"not readable as DICOM: {exc}"
    series = str(ds.get("SeriesInstanceUID", "") or "").strip() or None
    sop = str(ds.get("SOPInstanceUID", "") or "").strip() or None
    if sop is None:
        return series, None, "not readable as DICOM: no SOPInstanceUID"
    return series, sop, None


def _attempts(n: int | None) -> str:
    return f"{n} attempt" + ("" if n == 1 else "s")


def _failure_summary(failed: list[dict[str, Any]]) -> str | None:
    """'2 instances failed after 3 attempts: HTTP 503; 1 instance failed after 1 attempt: ...'"""
    if not failed:
        return None
    groups = Counter((r["reason"], r["attempts"]) for r in failed)
    parts = []
    for (reason, attempts), count in sorted(groups.items(), key=lambda item: (-item[1], item[0])):
        noun = "instance" if count == 1 else "instances"
        parts.append(f"{count} {noun} failed after {_attempts(attempts)}: {reason}")
    return "; ".join(parts)
