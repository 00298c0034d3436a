"""One writer per (stage, partition): concurrent runs of the same study date are serialized.

Two runs of one date (a backfill chunk and a manual re-run, say) would otherwise interleave
their writes: one run's table would list files that the other run has just replaced. Every
stage that writes a partition holds :func:`partition_lock` for it while it reads and writes.

The lock is an advisory ``flock`` on a file **beside the data it guards**: a folder
``.cadbusi-locks`` at the root of the raw (PHI) zone, whose stages write both zones of a date.
So every process that writes the same zones waits for the other, whatever its Dagster instance
(``$DAGSTER_HOME``) or shell: two deployments, a ``cadbusi demo`` and a ``dagster dev`` on the
same ``$CADBUSI_HOME``. The research zone holds no lock: a lock's name is derived from its real
study date, and an unkeyed hash of a date is found by trying the few thousand dates, so it
would reveal the dates of the research zone's batches (its folder is used only where no raw
zone is configured). An object-store zone (``gs://``, ``s3://``) has no file to ``flock``:
its locks are in a local folder named after the zone's URI (``<system temp>/cadbusi-locks/
<hash>``, this user's only: mode 0700), so they serialize the runs of *one machine* only;
runs on several machines that write one bucket need one run per partition at a time (Dagster tag concurrency on
``dagster/partition``) or a shared ``$CADBUSI_LOCK_DIR``. ``$CADBUSI_LOCK_DIR``, when set,
replaces all of this with one folder (say on NFS with a working ``flock``).

**Several machines** (the Kubernetes or Celery executor, two workers writing one bucket):
``$CADBUSI_LOCK_URL`` (a ``postgresql://`` URL; in a production deployment, where the Dagster
instance is PostgreSQL, the ``DAGSTER_PG_*`` variables of its ``dagster.yaml`` are used when it
is not set) adds a PostgreSQL session advisory lock per (stage, partition), taken before the
file locks: every process of every machine that reaches that database waits for the other.
A process that dies loses its connection, and PostgreSQL drops its locks (a machine that
dies without closing it: within about 90 s, the session's TCP keepalive). A database that
cannot be reached fails the date with the reason (never a silent run without the lock);
``CADBUSI_LOCK_URL=none`` turns the database lock off.

Lock file names are hashes (no date or stage in plain text; they live in the PHI zone). A process that dies releases its locks
(the kernel drops them). ``$CADBUSI_LOCK_TIMEOUT`` (seconds, default 6 h) is how long a run
waits for another run of the same partition before that date fails with the reason.

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
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cadbusi_assets.stages.report import StageFailure
from cadbusi_assets.storage.zones import make_private_folder

LOCK_DIR_ENV_VAR = "CADBUSI_LOCK_DIR"
LOCK_TIMEOUT_ENV_VAR = "CADBUSI_LOCK_TIMEOUT"
LOCK_URL_ENV_VAR = "CADBUSI_LOCK_URL"
#: the Dagster instance's PostgreSQL (deploy/dagster.production.yaml): used when no lock URL
_DAGSTER_PG = ("DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_USER", "DAGSTER_PG_PASSWORD")
#: the folder of the locks at the root of a local zone
ZONE_LOCKS_FOLDER = ".cadbusi-locks"
#: the folder of the locks of object-store zones under the system temporary folder (mode 0700)
TEMP_LOCKS_FOLDER = "cadbusi-locks"
#: How long a run waits for another run of the same partition before it gives up (seconds).
DEFAULT_TIMEOUT_SECONDS = 6 * 3600.0
POLL_SECONDS = 0.2


class PartitionBusy(StageFailure):
    """Another run held the partition for longer than the timeout (a :class:`StageFailure`:
    its message names the stage, the date and the wait, so it is the date's failure reason)."""


def _local_root(uri: str) -> Path | None:
    """The folder of a local zone URI (a path or ``file://``), else ``None`` (object store)."""
    if "://" in uri and not uri.startswith("file://"):
        return None
    return Path(uri.removeprefix("file://")).expanduser().resolve()


def zone_lock_dir(uri: str) -> Path:
    """Where the locks guarding the zone at ``uri`` live: ``<zone>/.cadbusi-locks`` for a local
    zone; for an object-store zone a local folder named after its URI (one machine only)."""
    root = _local_root(uri)
    if root is not None:
        return root / ZONE_LOCKS_FOLDER
    digest = hashlib.sha256(uri.rstrip("/").encode()).hexdigest()[:16]
    return _temp_locks() / digest


def _temp_locks() -> Path:
    """The folder of the locks of object-store zones under the system temporary folder."""
    return Path(tempfile.gettempdir()) / TEMP_LOCKS_FOLDER


def _make_lock_folder(folder: Path) -> None:
    """Create ``folder``; under the system temporary folder it and ``cadbusi-locks`` are this
    user's only (mode 0700): a lock's name is an unkeyed hash of a real study date, so a listing
    readable by every local user would give away the dates being run."""
    base = _temp_locks()
    if folder != base and folder.parent != base:
        if folder.name == ZONE_LOCKS_FOLDER:
            # the zone's own root, when the locks are the first to make it: a deployment's locks
            # are in its raw (PHI) zone (zone_lock_dirs), whose root is its owner's only
            make_private_folder(folder.parent)
        folder.mkdir(parents=True, exist_ok=True)
        return
    for path in dict.fromkeys((base, folder)):
        path.mkdir(mode=0o700, exist_ok=True)
        info = path.stat()
        if info.st_uid == os.getuid() and info.st_mode & 0o077:
            path.chmod(0o700)  # made by an earlier version, open to every user


def lock_dirs(zone_uris: Iterable[str]) -> list[Path]:
    """The lock folders that guard the zones ``zone_uris`` (in that order, each once), or the
    one folder ``$CADBUSI_LOCK_DIR`` when set."""
    configured = os.environ.get(LOCK_DIR_ENV_VAR, "").strip()
    if configured:
        return [Path(configured)]
    dirs: list[Path] = []
    for uri in zone_uris:
        if uri and (path := zone_lock_dir(uri.strip())) not in dirs:
            dirs.append(path)
    return dirs or [_temp_locks()]


def zone_lock_dirs(raw_uri: str, research_uri: str) -> list[Path]:
    """The lock folders of a deployment writing the zones ``raw_uri`` and ``research_uri``:
    the raw (PHI) zone's, or the research zone's only where there is no raw zone (a lock's
    name follows from a real date: it never goes in the research zone beside a raw one)."""
    return lock_dirs([raw_uri.strip() or research_uri])


def configured_lock_dirs() -> list[Path]:
    """The lock folders of the configured zones (``CADBUSI_RAW_ZONE``, ``CADBUSI_RESEARCH_ZONE``,
    or the demo's under ``$CADBUSI_HOME``)."""
    from cadbusi_assets.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError:
        return lock_dirs([])
    return zone_lock_dirs(settings.raw_zone_uri, settings.research_zone_uri)


def lock_timeout() -> float:
    """``$CADBUSI_LOCK_TIMEOUT`` (seconds), else :data:`DEFAULT_TIMEOUT_SECONDS`."""
    text = os.environ.get(LOCK_TIMEOUT_ENV_VAR, "").strip()
    try:
        return float(text) if text else DEFAULT_TIMEOUT_SECONDS
    except ValueError:
        raise StageFailure(
            f"{LOCK_TIMEOUT_ENV_VAR} must be a number of seconds, not {text!r}"
        ) from None


def lock_path(stage: str, partition: str, directory: Path | None = None) -> Path:
    digest = hashlib.sha256(f"{stage}\0{partition}".encode()).hexdigest()[:32]
    return (directory or configured_lock_dirs()[0]) / f"{digest}.lock"


@contextlib.contextmanager
def partition_lock(
    stage: str,
    partition: str,
    *,
    lock_dir: str | Path | None = None,
    lock_dirs: Sequence[str | Path] | None = None,
    timeout: float | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold the exclusive lock of ``(stage, partition)`` in every lock folder (``lock_dir``,
    else ``lock_dirs``, else those of the configured zones: :func:`configured_lock_dirs`);
    wait while another process holds it, at most ``timeout`` seconds in all (default
    :func:`lock_timeout`).

    Waiting polls (so an interrupt — a terminated run — still stops the wait at once).
    """
    if lock_dir is not None:
        folders = [Path(lock_dir)]
    elif lock_dirs:
        folders = [Path(d) for d in lock_dirs]
    else:
        folders = configured_lock_dirs()
    limit = lock_timeout() if timeout is None else timeout
    wait = _Wait(stage, partition, time.monotonic() + limit, limit, on_wait)
    with contextlib.ExitStack() as held:
        database = lock_database()
        if database is not None:
            held.enter_context(_pg_lock(database, wait))
        for folder in folders:
            held.enter_context(_flock(lock_path(stage, partition, folder), wait))
        yield


def lock_database() -> str | None:
    """The PostgreSQL URL of the cross-machine locks: ``$CADBUSI_LOCK_URL`` (``none`` or ``off``:
    no database lock), else the Dagster instance's ``DAGSTER_PG_*`` where they are all set
    (database ``DAGSTER_PG_DB``, default ``postgres``), else ``None``."""
    configured = os.environ.get(LOCK_URL_ENV_VAR, "").strip()
    if configured:
        if configured.lower() in {"none", "off", "0"}:
            return None
        if not configured.startswith(("postgresql://", "postgres://")):
            raise StageFailure(
                f"{LOCK_URL_ENV_VAR} must be a postgresql:// URL (or none), not another scheme"
            )
        return configured
    host, port, user, password = (os.environ.get(name, "").strip() for name in _DAGSTER_PG)
    if not (host and user):
        return None
    from urllib.parse import quote

    database = os.environ.get("DAGSTER_PG_DB", "").strip() or "postgres"
    secret = f":{quote(password, safe='')}" if password else ""
    return (
        f"postgresql://{quote(user, safe='')}{secret}@{host}:{port or 5432}/"
        f"{quote(database, safe='')}"
    )


def advisory_key(stage: str, partition: str) -> int:
    """The signed 64-bit advisory lock key of ``(stage, partition)`` (a hash, as the lock files'
    names: no date in plain text in ``pg_locks``)."""
    digest = hashlib.sha256(f"cadbusi-lock\0{stage}\0{partition}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


#: Server-side TCP keepalive of a lock's session (seconds idle, between probes, probes): the
#: server drops the session of a machine that died (power, network) within about 90 s, and
#: with it the locks, instead of the operating system's default of two hours.
LOCK_KEEPALIVE = (60, 10, 3)


def lock_connection(url: str) -> Any:
    """A connection of the lock database for one lock (autocommit, keepalives set)."""
    import psycopg2

    connection = psycopg2.connect(
        url,
        connect_timeout=10,
        application_name="cadbusi-lock",
        keepalives=1,
        keepalives_idle=LOCK_KEEPALIVE[0],
        keepalives_interval=LOCK_KEEPALIVE[1],
        keepalives_count=LOCK_KEEPALIVE[2],
    )
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            idle, interval, count = LOCK_KEEPALIVE
            cursor.execute(
                f"SET tcp_keepalives_idle = {idle}; SET tcp_keepalives_interval = {interval}; "
                f"SET tcp_keepalives_count = {count}"
            )
    except BaseException:
        connection.close()
        raise
    return connection


@dataclass
class _Wait:
    """One partition lock's wait, shared by its database and file locks: one deadline, one
    "waiting" message."""

    stage: str
    partition: str
    deadline: float
    limit: float
    on_wait: Callable[[str], None] | None
    told: bool = False

    def until(self, take: Callable[[], bool]) -> None:
        """Call ``take`` every :data:`POLL_SECONDS` until it takes the lock; past the deadline
        :class:`PartitionBusy` (polling: an interrupt still stops the wait at once)."""
        while not take():
            if time.monotonic() > self.deadline:
                raise PartitionBusy(
                    f"{self.stage} {self.partition}: another run held this partition for more "
                    f"than {self.limit:.0f} s (any run writing the same data zones, whatever its "
                    "Dagster instance); try again when it has finished"
                )
            if not self.told and self.on_wait is not None:
                self.on_wait(
                    f"{self.stage} {self.partition}: waiting for another run of this partition"
                )
                self.told = True
            time.sleep(POLL_SECONDS)


@contextlib.contextmanager
def _pg_lock(url: str, wait: _Wait) -> Iterator[None]:
    """A session advisory lock on its own connection, held while the caller writes."""
    import psycopg2

    stage, partition = wait.stage, wait.partition
    try:
        connection = lock_connection(url)
    except psycopg2.Error as exc:
        raise StageFailure(
            f"{stage} {partition}: the lock database ({LOCK_URL_ENV_VAR} or the Dagster "
            f"instance's DAGSTER_PG_*) cannot be reached ({type(exc).__name__}); nothing was "
            "written"
        ) from None
    key = advisory_key(stage, partition)
    try:
        with connection.cursor() as cursor:

            def take() -> bool:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", (key,))
                row = cursor.fetchone()
                return bool(row and row[0])

            wait.until(take)
            watch = _LockWatch(connection, key)
            try:
                yield
            finally:
                lost = watch.stop()
                with contextlib.suppress(psycopg2.Error):
                    cursor.execute("SELECT pg_advisory_unlock(%s)", (key,))
            if lost:
                raise StageFailure(
                    f"{stage} {partition}: the lock of this partition was lost while it was "
                    "written (the lock database restarted or ended the session), so another "
                    "run may have written it at the same time; run this partition again"
                )
    finally:
        connection.close()  # the session's locks go with it


#: How often a held lock's session is checked (seconds).
LOCK_CHECK_SECONDS = 5.0


class _LockWatch:
    """Checks every :data:`LOCK_CHECK_SECONDS` that the lock's session still holds it (a
    database restart or a terminated session drops it silently)."""

    def __init__(self, connection: Any, key: int) -> None:
        self.connection = connection
        self.key = key
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cadbusi-lock-watch", daemon=True)
        self._thread.start()

    def _held(self) -> bool:
        import psycopg2

        try:
            with self.connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND pid = pg_backend_pid() AND classid = %s AND objid = %s",
                    ((self.key >> 32) & 0xFFFFFFFF, self.key & 0xFFFFFFFF),
                )
                row = cursor.fetchone()
        except psycopg2.Error:
            return False
        return bool(row and row[0])

    def _run(self) -> None:
        while not self._stop.wait(LOCK_CHECK_SECONDS):
            if not self._held():
                self.lost = True
                return

    def stop(self) -> bool:
        """Stop watching; True when the lock was found lost (or is lost now)."""
        self._stop.set()
        self._thread.join()
        return self.lost or not self._held()


@contextlib.contextmanager
def _flock(path: Path, wait: _Wait) -> Iterator[None]:
    _make_lock_folder(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    def take() -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    try:
        wait.until(take)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
