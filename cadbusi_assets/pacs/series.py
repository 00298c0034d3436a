"""Retrieval by series, shared by the DIMSE and DICOMweb PACS (``level=series``).

A run tells the PACS what it will fetch (:meth:`SeriesBatches.plan`); a series of which it
wants every instance the listing found (two or more) is then retrieved in one request when its
first instance is fetched: the other fetches of that series wait for that request, and each
instance it brought waits in a file of a spool folder (the raw zone's staging) until its own
fetch takes it. An instance the request did not bring is left to the caller, which asks for it
alone, so retries, failures and their reasons stay per instance.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from cadbusi_assets.pacs.base import InstanceRef
from cadbusi_assets.storage.zones import process_staging

LEVELS = ("series", "image")
_CHUNK = 1 << 20


@dataclass
class SeriesBatch:
    """One series retrieval: the study and series, the instances it is for, the files received
    so far (SOP Instance UID -> file in ``folder``), and whether the request is over."""

    study_instance_uid: str
    series_instance_uid: str
    wanted: frozenset[str]
    folder: Path
    files: dict[str, Path] = field(default_factory=dict)
    started: bool = False
    #: fetches copying a file of it now (its folder stays until they are done)
    copying: int = 0
    #: instances it brought that the listing did not find (added since), dropped
    extra: int = 0
    done: threading.Event = field(default_factory=threading.Event)

    def new_file(self) -> tuple[BinaryIO, Path]:
        """An open file (``.tmp``: zone listings skip it) in the batch's folder."""
        descriptor, name = tempfile.mkstemp(dir=self.folder, prefix=".held-", suffix=".tmp")
        return os.fdopen(descriptor, "wb"), Path(name)


class SeriesBatches:
    """The series retrievals of one PACS object (thread-safe)."""

    def __init__(self, level: str = "series") -> None:
        self.level = level
        #: (study, series) -> the SOP Instance UIDs the last listing found in it
        self._listed: dict[tuple[str, str], frozenset[str]] = {}
        #: (study, series) -> its retrieval (planned, going or over)
        self._batches: dict[tuple[str, str], SeriesBatch] = {}
        #: SOP Instance UID -> the going retrievals that expect it (two where the same UID is
        #: in two series of the cohort: a study sent again under a new Study Instance UID)
        self._expecting: dict[str, list[SeriesBatch]] = {}
        self._lock = threading.Lock()
        #: retrieval requests sent, by level (for the run's log, the benchmark and tests)
        self.requests = {"series": 0, "image": 0}

    def count(self, level: str) -> None:
        with self._lock:
            self.requests[level] += 1

    def listed(self, refs: Iterable[InstanceRef]) -> None:
        """Remember which instances a listing found in each series."""
        by_series = _by_series(refs)
        with self._lock:
            for key, sops in by_series.items():
                self._listed[key] = frozenset(sops)

    def plan(self, refs: Sequence[InstanceRef], spool: Callable[[], Path] | None) -> None:
        """Plan one retrieval for each series ``refs`` hold whole (see the module)."""
        if self.level != "series":
            return
        wanted = _by_series(refs)
        with self._lock:
            for key, sops in wanted.items():
                if len(sops) < 2 or self._listed.get(key) != sops:
                    continue
                old = self._batches.get(key)
                if old is not None:
                    if old.started and not (old.done.is_set() and not old.files):
                        continue  # going, or holding instances not yet taken
                    # over, or planned by a run that never fetched it (its window closed, it
                    # stopped): that run's staging folder may be gone, so plan it afresh
                    shutil.rmtree(old.folder, ignore_errors=True)
                if spool is None:  # this process's staging folder: reaped if it is killed
                    folder = Path(tempfile.mkdtemp(prefix="series-", dir=process_staging()))
                else:
                    folder = spool()
                    folder.mkdir(parents=True)
                self._batches[key] = SeriesBatch(key[0], key[1], frozenset(sops), folder)

    def expecting(self, sop_instance_uid: str) -> list[SeriesBatch]:
        """The going retrievals that expect this instance (two where the same SOP Instance
        UID is in two series of the cohort)."""
        with self._lock:
            return list(self._expecting.get(sop_instance_uid, []))

    def drop_extra(self, identity: tuple[str, str]) -> bool:
        """An instance the listing did not find arrived for the retrieval of this (study,
        series): True (counted, to be dropped) where that retrieval is going now."""
        with self._lock:
            batch = self._batches.get(identity)
            if batch is None or not batch.started or batch.done.is_set():
                return False
            batch.extra += 1
            return True

    def hold(self, batch: SeriesBatch, sop_instance_uid: str, path: Path) -> bool:
        """Keep ``path`` (a file in the batch's folder) for the instance's fetch; False (and
        the file removed) when the batch does not want it or already holds it."""
        with self._lock:
            if sop_instance_uid in batch.wanted and sop_instance_uid not in batch.files:
                batch.files[sop_instance_uid] = path
                return True
        path.unlink(missing_ok=True)
        return False

    def arrived(self, batch: SeriesBatch, completed: int) -> bool:
        """Whether every instance the request says it sent (``completed``) has arrived: held,
        or dropped as not listed; or every instance wanted is held."""
        with self._lock:
            held = len(batch.files)
            return held >= len(batch.wanted) or held + batch.extra >= completed

    def take(
        self, ref: InstanceRef, dest: BinaryIO, retrieve: Callable[[SeriesBatch], None]
    ) -> int | None:
        """Copy the instance from its series' retrieval into ``dest`` and return its size; the
        first fetch of the series runs ``retrieve(batch)``, the others wait for it. None where
        no retrieval is planned for it or it did not bring the instance."""
        if not (ref.series_instance_uid and ref.sop_instance_uid):
            return None
        key = (ref.study_instance_uid, ref.series_instance_uid)
        with self._lock:
            batch = self._batches.get(key)
            if batch is None or ref.sop_instance_uid not in batch.wanted:
                return None
            run = not batch.started
            if run:
                batch.started = True
                for sop in batch.wanted:
                    self._expecting.setdefault(sop, []).append(batch)
        if run:
            try:
                self.count("series")
                retrieve(batch)
            finally:
                with self._lock:
                    for sop in batch.wanted:
                        others = [b for b in self._expecting.get(sop, []) if b is not batch]
                        if others:
                            self._expecting[sop] = others
                        else:
                            self._expecting.pop(sop, None)
                batch.done.set()
        batch.done.wait()
        with self._lock:
            path = batch.files.pop(ref.sop_instance_uid, None)
            batch.copying += path is not None
        try:
            if path is None:
                return None
            try:
                source = path.open("rb")  # closed below
            except FileNotFoundError:  # removed under the run (a cleaning, a reaper): ask alone
                return None
            written = 0
            with source:
                while chunk := source.read(_CHUNK):
                    dest.write(chunk)
                    written += len(chunk)
            return written
        finally:
            with self._lock:
                if path is not None:
                    path.unlink(missing_ok=True)
                    batch.copying -= 1
                emptied = not batch.files and not batch.copying
            if emptied:  # every instance it holds was taken: its folder goes
                shutil.rmtree(batch.folder, ignore_errors=True)

    def close(self) -> None:
        """Remove every held file (a run's instances it did not take)."""
        with self._lock:
            batches, self._batches, self._expecting = list(self._batches.values()), {}, {}
        for batch in batches:
            shutil.rmtree(batch.folder, ignore_errors=True)


def _by_series(refs: Iterable[InstanceRef]) -> dict[tuple[str, str], set[str]]:
    """(study, series) -> the SOP Instance UIDs of ``refs`` in it (refs without both left out)."""
    out: dict[tuple[str, str], set[str]] = {}
    for ref in refs:
        if ref.series_instance_uid and ref.sop_instance_uid:
            key = (ref.study_instance_uid, ref.series_instance_uid)
            out.setdefault(key, set()).add(ref.sop_instance_uid)
    return out
