"""Write-ahead records of the files a pass writes into a zone, so a killed pass leaves none
behind that nothing names.

A pass that writes a batch's files (the de-identified DICOM and PNGs of a study date, its
inpainted PNGs) records each worker's paths *before* writing them: one small file per instance
(or per inpainting chunk) under ``pending_writes/<batch>/<writer>/<pass token>/<key>``, holding
the zone paths one per line (pseudonymous ids only, like the batch's tables). The tables that
name the files are written at the end of the pass; a pass killed before (an evicted pod, a
drained node, a Terminate) leaves files no table lists, and no stale-file clean-up, which
compares a batch's new tables with its previous ones, can find them. Without these records
the images of a patient who withdrew consent before the date was re-run stayed in the
research zone for good.

When a pass of a writer has written its tables, :func:`sweep_pending` reads the records of the
*earlier* passes of that writer and batch (the same writer of a batch is serialized by its
partition lock, so they are dead), deletes every file they name that no table of the zone lists
(of any batch, open ones included) and no other batch's pass has recorded (read first), then
drops the
writer's records of the batch, its own pass's with them (those files are what its tables list).
A purge of a batch (:func:`purge_pending`) deletes what every pass of the batch recorded.

>>> from upath import UPath
>>> from cadbusi_assets.storage.zones import Zone
>>> zone = Zone(UPath("memory://pending-doctest"), "research")
>>> killed = begin_pending("b1", "deidentified_images")
>>> record_pending(zone, killed, "i1", ["images/aa/x.png", "images/bb/y.png"])
>>> _ = zone.write_bytes(("images", "aa", "x.png"), b"kept")
>>> _ = zone.write_bytes(("images", "bb", "y.png"), b"left by the killed pass")
>>> sweep_pending(zone, begin_pending("b1", "deidentified_images"), lambda: {"images/aa/x.png"})
1
>>> zone.exists("images", "aa", "x.png"), zone.exists("images", "bb", "y.png")
(True, False)
>>> list(zone.iter_files(PENDING_DIR))
[]
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from cadbusi_assets.storage.zones import Zone

#: folder of the write-ahead records (see the module's text)
PENDING_DIR = "pending_writes"


@dataclass(frozen=True)
class PendingWrites:
    """Where one pass of ``writer`` over ``batch`` records the files it is about to write
    (picklable: it travels to the workers with their tasks)."""

    batch: str
    writer: str
    token: str

    def folder(self) -> tuple[str, ...]:
        return (PENDING_DIR, self.batch, self.writer, self.token)


def begin_pending(batch: str, writer: str) -> PendingWrites:
    """A new pass's records (nothing is written until a worker records its first files)."""
    return PendingWrites(batch, writer, uuid.uuid4().hex)


def record_pending(
    zone: Zone, pending: PendingWrites | None, key: str, paths: Sequence[str]
) -> None:
    """Record ``paths`` (zone paths joined by ``/``) before they are written; ``key`` names the
    record within the pass (an instance id, an image id). ``pending=None``: nothing to record
    (``cadbusi deidentify`` on a folder, whose outputs no batch owns)."""
    if pending is None or not paths:
        return
    zone.write_bytes((*pending.folder(), key), "\n".join(paths).encode("ascii"))


def _recorded(zone: Zone, *folder: str, skip_token: str = "") -> set[str]:
    """Every path the records below ``folder`` name (those of pass ``skip_token`` left out)."""
    paths: set[str] = set()
    for record in zone.iter_files(*folder):
        if skip_token and record.parent.name == skip_token:
            continue
        try:
            text = record.read_bytes().decode("ascii")
        except FileNotFoundError:  # dropped meanwhile by its batch's own sweep
            continue
        paths.update(line for line in text.splitlines() if line)
    return paths


def _recorded_elsewhere(zone: Zone, batch: str) -> set[str]:
    """What the passes of every other batch recorded (a pass of another date may be writing a
    file of an instance both dates list, before its tables name it)."""
    paths: set[str] = set()
    batches = {record.parent.parent.parent.name for record in zone.iter_files(PENDING_DIR)} - {
        batch
    }
    for other in sorted(batches):
        paths |= _recorded(zone, PENDING_DIR, other)
    return paths


def _delete_unlisted(
    zone: Zone, batch: str, candidates: Iterable[str], listed: Callable[[], set[str]]
) -> int:
    candidates = set(candidates)
    if not candidates:
        return 0
    # the other dates' records before the tables: a date drops its records only once its
    # tables are written, so a file of another date's pass is in one of the two sets whenever
    # that pass finishes (read the other way round, a pass finishing in between was in neither)
    candidates -= _recorded_elsewhere(zone, batch)
    for path in sorted(candidates):
        # a file the dead pass was writing when it was killed: its hidden staging copy (local
        # zones), which no listing shows; no other pass writes it (not recorded elsewhere)
        zone.delete_staging_of(*path.split("/"))
    if candidates:
        candidates -= listed()
    return sum(int(zone.delete(*path.split("/"))) for path in sorted(candidates))


def sweep_pending(zone: Zone, pending: PendingWrites, listed: Callable[[], set[str]]) -> int:
    """After ``pending``'s pass wrote its tables (see the module's text): delete the files the
    earlier passes of its writer and batch recorded that ``listed()`` (every path the zone's
    tables name, all batches) does not hold, drop the writer's records of the batch and return
    how many files were deleted. ``listed`` is called only when an earlier pass left records."""
    folder = (PENDING_DIR, pending.batch, pending.writer)
    earlier = _recorded(zone, *folder, skip_token=pending.token)
    removed = _delete_unlisted(zone, pending.batch, earlier, listed)
    zone.delete(*folder)
    zone.remove_empty_folder(PENDING_DIR, pending.batch)
    return removed


def purge_pending(zone: Zone, batch: str, listed: Callable[[], set[str]]) -> int:
    """Delete every file any pass of ``batch`` recorded that ``listed()`` does not hold (the
    batch's own tables already deleted), then the batch's records: the files of ``batch``."""
    removed = _delete_unlisted(zone, batch, _recorded(zone, PENDING_DIR, batch), listed)
    zone.delete(PENDING_DIR, batch)
    return removed


def pending_batches(zone: Zone) -> set[str]:
    """The batches with records left by a pass that has not finished (killed, or failed after
    writing files): their unlisted files go at the batch's next finished pass."""
    return {record.parent.parent.parent.name for record in zone.iter_files(PENDING_DIR)}
