"""One writer per (stage, partition): concurrent runs of the same study date are serialized.

Two runs of one date (a backfill chunk and a manual re-run, say) would otherwise interleave
their writes: one run's table would list files that the other run has just replaced. Every
stage that writes a partition holds :func:`partition_lock` for it while it reads and writes.

The lock is an advisory ``flock`` on a file in a lock folder shared by every process of the
deployment on this machine (``$CADBUSI_LOCK_DIR``, default ``$DAGSTER_HOME/cadbusi-locks``,
else the system temporary folder). Lock file names are hashes, so they reveal nothing. A
process that dies releases its locks (the kernel drops them). Runs spread over several
machines need a shared lock folder (NFS with working ``flock``) or one run per partition at a
time (Dagster tag concurrency on ``dagster/partition``).

>>> import tempfile
>>> with partition_lock("deidentified_images", "2026-09-01", lock_dir=tempfile.mkdtemp()):
...     pass
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from cadbusi_assets.stages.report import StageFailure

LOCK_DIR_ENV_VAR = "CADBUSI_LOCK_DIR"
#: How long a run waits for another run of the same partition before it gives up (seconds).
DEFAULT_TIMEOUT_SECONDS = 6 * 3600.0
POLL_SECONDS = 0.2


class PartitionBusy(StageFailure):
    """Another run held the partition for longer than the timeout (a :class:`StageFailure`:
    its message names the stage, the date and the wait, so it is the date's failure reason)."""


def lock_dir() -> Path:
    configured = os.environ.get(LOCK_DIR_ENV_VAR, "").strip()
    if configured:
        path = Path(configured)
    elif os.environ.get("DAGSTER_HOME", "").strip():
        path = Path(os.environ["DAGSTER_HOME"]) / "cadbusi-locks"
    else:
        path = Path(tempfile.gettempdir()) / "cadbusi-locks"
    path.mkdir(parents=True, exist_ok=True)
    return path


def lock_path(stage: str, partition: str, directory: Path | None = None) -> Path:
    digest = hashlib.sha256(f"{stage}\0{partition}".encode()).hexdigest()[:32]
    return (directory or lock_dir()) / f"{digest}.lock"


@contextlib.contextmanager
def partition_lock(
    stage: str,
    partition: str,
    *,
    lock_dir: str | Path | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold the exclusive lock of ``(stage, partition)``; wait while another process holds it.

    Waiting polls (so an interrupt — a terminated run — still stops the wait at once).
    """
    path = lock_path(stage, partition, Path(lock_dir) if lock_dir else None)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise PartitionBusy(
                        f"{stage} {partition}: another run held this partition for more than "
                        f"{timeout:.0f} s; try again when it has finished"
                    ) from None
                if not told and on_wait is not None:
                    on_wait(f"{stage} {partition}: waiting for another run of this partition")
                    told = True
                time.sleep(POLL_SECONDS)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
