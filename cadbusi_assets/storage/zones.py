"""Zones on universal-pathlib with atomic writes.

>>> import tempfile
>>> zone = open_zone(tempfile.mkdtemp(), name="research")
>>> p = zone.write_bytes(("a", "b.txt"), b"hello")
>>> zone.path("a", "b.txt").read_bytes()
b'hello'
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import glob
import hashlib
import io
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import polars as pl
from upath import UPath

_LOCAL_PROTOCOLS = {"", "file", "local"}
#: Object-store zones stage files in ``<system temp>/cadbusi-staging/<pid>-<random>/``; the
#: builds of exports, of the catalog and of Labelbox uploads work there too
#: (:func:`temporary_directory`).
STAGING_DIR_NAME = "cadbusi-staging"
_staging: tuple[int, Path] | None = None
#: (process, staging base) of the last :func:`reap_gone_processes`
_reaped: tuple[int, Path] | None = None


def process_staging() -> Path:
    """This process's local staging folder for object-store zones (mode 0700). The first call
    in a process removes the folders of processes that are gone (:func:`reap_staging`): what a
    killed run staged (for the raw zone: raw PHI) does not stay in the temporary folder."""
    global _staging
    base = Path(tempfile.gettempdir()) / STAGING_DIR_NAME
    if (
        _staging is None
        or _staging[0] != os.getpid()
        or _staging[1].parent != base
        or not _staging[1].is_dir()
    ):
        base.mkdir(mode=0o700, exist_ok=True)
        reap_staging(base)
        own = base / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        own.mkdir(mode=0o700)
        _staging = (os.getpid(), own)
        atexit.register(_remove_own_staging, os.getpid(), own)
    return _staging[1]


def _remove_own_staging(pid: int, folder: Path) -> None:
    """At exit, this process's staging folder goes with whatever a failed step left in it (a
    forked child, which inherits the handler, leaves its parent's folder alone)."""
    if os.getpid() == pid:
        shutil.rmtree(folder, ignore_errors=True)


def reap_gone_processes() -> None:
    """Once per process: remove the staging folders of processes that are gone (what a killed
    run staged or built), without making a folder of its own. :func:`open_zone` calls it, so any
    command that opens a zone (``doctor``, ``export``, a run of local zones) cleans up, not only
    the next one that stages a file for an object-store zone."""
    global _reaped
    base = Path(tempfile.gettempdir()) / STAGING_DIR_NAME
    if _reaped == (os.getpid(), base):
        return
    _reaped = (os.getpid(), base)
    with contextlib.suppress(OSError):  # not there, or another user's: nothing to do
        if base.is_dir():
            reap_staging(base)


def reap_staging(base: Path) -> list[Path]:
    """Remove the staging folders under ``base`` of processes that are no longer running;
    the removed folders."""
    removed = []
    for folder in sorted(base.iterdir()):
        pid = folder.name.split("-", 1)[0]
        if not pid.isdigit() or _process_alive(int(pid)):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


class ZoneError(RuntimeError):
    """A zone root is missing, unreachable or misconfigured."""


def is_local(path: UPath | Path) -> bool:
    if isinstance(path, UPath):
        return path.protocol in _LOCAL_PROTOCOLS
    return isinstance(path, Path)


def _as_local(path: UPath | Path) -> Path:
    if isinstance(path, UPath):
        return Path(path.path)
    return Path(path)


def _safe_parts(parts: Iterable[str]) -> list[str]:
    clean: list[str] = []
    for part in parts:
        for piece in PurePosixPath(str(part)).parts:
            if piece in ("", ".", "/"):
                continue
            if piece == "..":
                raise ZoneError("Paths inside a zone may not contain '..'.")
            clean.append(piece)
    return clean


#: Zones whose local root this package creates open to its own user only (mode 0700): the raw
#: zone holds PHI (the DICOM as the PACS sent it, names in the tables); with the default umask
#: every account of the machine could read it.
PRIVATE_ZONES = frozenset({"raw"})

#: The access and modification time (2000-01-01T00:00:00Z) of every file a local zone other than
#: the raw zone writes, and of its folders up to the root: a daily schedule processes date D on
#: D+1, so the time a research file was written would give its study date away to whoever
#: holds the zone or a copy of it that keeps times (``rsync -a``, ``tar``, ``zip``). The
#: status-change time (ctime) no process can set, and an object store's LastModified neither:
#: whoever can stat the live zone still learns when a file was written (README, Privacy model).
FIXED_FILE_TIME = 946684800


def make_private_folder(folder: Path) -> None:
    """Create ``folder`` (and its parents) with the folder itself open to its owner only
    (mode 0700, whatever the umask); an existing folder is left as it is (an administrator
    may have opened it to a group on purpose: ``cadbusi doctor`` says so)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:
        return
    os.chmod(folder, 0o700)


class Zone:
    """One storage root. ``name`` is used in messages ("raw", "research"); a local root of a
    zone of :data:`PRIVATE_ZONES` is created open to its owner only."""

    def __init__(self, root: UPath, name: str) -> None:
        self.root = root
        self.name = name
        self.private = name in PRIVATE_ZONES

    def _folder(self, folder: Path) -> None:
        """Make the local ``folder`` of this zone (its root privately first, see
        :data:`PRIVATE_ZONES`)."""
        if folder.is_dir():
            return
        if self.private:
            make_private_folder(_as_local(self.root))
        folder.mkdir(parents=True, exist_ok=True)

    def _fix_times(self, local: Path) -> None:
        """Give ``local`` (a file just committed, or a folder an entry was removed from) and its
        folders up to the root :data:`FIXED_FILE_TIME` (not in the raw zone, whose retrieval
        reads its times)."""
        if self.private:
            return
        root = _as_local(self.root)
        for path in (local, *local.parents):
            with contextlib.suppress(OSError):  # gone meanwhile, or a folder of another user
                os.utime(path, (FIXED_FILE_TIME, FIXED_FILE_TIME), follow_symlinks=False)
            if path == root or root not in path.parents:
                break

    def __repr__(self) -> str:
        return f"Zone({self.name}={self.uri})"

    @property
    def uri(self) -> str:
        if is_local(self.root):
            return str(_as_local(self.root))
        return str(self.root)

    @property
    def local(self) -> bool:
        return is_local(self.root)

    def path(self, *parts: str) -> UPath:
        return self.root.joinpath(*_safe_parts(parts)) if parts else self.root

    def local_path(self, *parts: str) -> Path:
        """The plain filesystem path (only for local zones)."""
        if not self.local:
            raise ZoneError(f"The {self.name} zone is not on local disk ({self.uri}).")
        return _as_local(self.path(*parts))

    # -- writes ----------------------------------------------------------------------------
    def write_bytes(
        self, parts: tuple[str, ...] | list[str], data: bytes, *, create_only: bool = False
    ) -> UPath:
        """Write ``data`` atomically and return the path.

        ``create_only=True`` raises :class:`FileExistsError` when the file already exists
        (``link`` on local disk; ``if_generation_match=0`` on GCS; ``If-None-Match: *`` on S3).
        """
        return self.write_chunks(parts, (data,), create_only=create_only)

    def write_chunks(
        self,
        parts: tuple[str, ...] | list[str],
        chunks: Sequence[bytes],
        *,
        create_only: bool = False,
    ) -> UPath:
        """:meth:`write_bytes` of ``b"".join(chunks)``, without joining them on local disk
        (each chunk written in turn: a de-identified DICOM file's header and its pixels,
        no copy of the pixels in memory)."""
        target = self.path(*parts)
        if self.local:
            local = _as_local(target)
            self._folder(local.parent)
            tmp = local.with_name(f".{local.name}.{uuid.uuid4().hex}.tmp")
            try:
                with open(tmp, "wb") as handle:
                    for chunk in chunks:
                        handle.write(chunk)
                _local_commit(tmp, local, create_only)
                self._fix_times(local)
            finally:
                if tmp.exists():
                    tmp.unlink()
        else:
            data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            target.fs.pipe_file(target.path, data, mode="create" if create_only else "overwrite")
            _forget_cached_listing(target)
        return target

    def copy_file_in(
        self,
        source: str | os.PathLike[str],
        parts: tuple[str, ...] | list[str],
        *,
        create_only: bool = False,
    ) -> UPath:
        """Copy a local file into the zone atomically (streamed, never whole in memory)."""
        target = self.path(*parts)
        if self.local:
            local = _as_local(target)
            self._folder(local.parent)
            tmp = local.with_name(f".{local.name}.{uuid.uuid4().hex}.tmp")
            try:
                shutil.copyfile(source, tmp)
                _local_commit(tmp, local, create_only)
                self._fix_times(local)
            finally:
                if tmp.exists():
                    tmp.unlink()
        else:
            target.fs.put_file(
                os.fspath(source), target.path, mode="create" if create_only else "overwrite"
            )
            _forget_cached_listing(target)
        return target

    def staging_file(self, *folder: str) -> Path:
        """A fresh local path to stage a file before :meth:`commit_file` moves it into place.

        Local zones stage inside ``folder`` of the zone (same filesystem, so the commit is a
        rename; the name ends in ``.tmp`` so listings skip it; a killed run's leftovers are
        cleaned by the next run of the date). Object-store zones stage in this process's folder
        under the system temporary folder (:func:`process_staging`), removed by the next
        process once this one is gone.
        """
        name = f".staging-{uuid.uuid4().hex}.tmp"
        if self.local:
            local = _as_local(self.path(*folder))
            self._folder(local)
            return local / name
        return process_staging() / name

    def commit_file(
        self,
        staged: str | os.PathLike[str],
        parts: tuple[str, ...] | list[str],
        *,
        create_only: bool = False,
    ) -> UPath:
        """Move a staged local file into the zone at ``parts`` atomically; on success the staged
        file is gone, on failure (e.g. :class:`FileExistsError` with ``create_only``) it is left
        for the caller. ``create_only`` as in :meth:`write_bytes`.
        """
        staged_path = Path(staged)
        target = self.path(*parts)
        if self.local:
            local = _as_local(target)
            self._folder(local.parent)
            try:
                _local_commit(staged_path, local, create_only)
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                self.copy_file_in(staged_path, parts, create_only=create_only)
                staged_path.unlink()
            self._fix_times(local)
        else:
            target.fs.put_file(
                str(staged_path), target.path, mode="create" if create_only else "overwrite"
            )
            _forget_cached_listing(target)
            staged_path.unlink()
        return target

    def relative(self, path: UPath | Path | str) -> str:
        """The zone-relative POSIX path of a file inside the zone (``a/b/c.dcm``)."""
        if self.local:
            return (
                _as_local(path if not isinstance(path, str) else Path(path))
                .relative_to(_as_local(self.root))
                .as_posix()
            )
        text = path.path if isinstance(path, UPath) else str(path).split("://", 1)[-1]
        root = self.root.path.rstrip("/")
        if not text.startswith(root + "/"):
            raise ZoneError(f"A path outside the {self.name} zone was given.")
        return text[len(root) + 1 :]

    def write_parquet(self, parts: tuple[str, ...] | list[str], frame: pl.DataFrame) -> UPath:
        return self.write_bytes(parts, parquet_bytes(frame))

    # -- reads -----------------------------------------------------------------------------
    def exists(self, *parts: str) -> bool:
        return self.path(*parts).exists()

    def size(self, *parts: str) -> int | None:
        """Size in bytes of a file, or ``None`` when there is no such file."""
        target = self.path(*parts)
        try:
            if self.local:
                local = _as_local(target)
                return local.stat().st_size if local.is_file() else None
            info = target.fs.info(target.path)
        except FileNotFoundError:
            return None
        if info.get("type") != "file":
            return None
        return int(info.get("size") or 0)

    def read_bytes(self, *parts: str) -> bytes:
        return self.path(*parts).read_bytes()

    def read_parquet(self, *parts: str) -> pl.DataFrame:
        path = self.path(*parts)
        if self.local:
            return pl.read_parquet(_as_local(path))
        return pl.read_parquet(io.BytesIO(path.read_bytes()))

    def iter_files(
        self, *parts: str, suffix: str | None = None, include_temporary: bool = False
    ) -> Iterator[UPath]:
        """Files below ``parts``, sorted. Staging files (``*.tmp``) are skipped unless
        ``include_temporary`` (to clean up after an interrupted run)."""
        base = self.path(*parts)
        if self.local:
            local_base = _as_local(base)
            if not local_base.exists():
                return
            for found in sorted(local_base.rglob("*")):
                if (
                    found.is_file()
                    and (include_temporary or not found.name.endswith(".tmp"))
                    and (suffix is None or found.name.endswith(suffix))
                ):
                    yield UPath(found)
            return
        for name in _object_listing(base, suffix):
            yield UPath(f"{base.protocol}://{name}", **base.storage_options)

    def content_tags(self, *parts: str, suffix: str | None = None) -> Iterator[tuple[str, bytes]]:
        """The files below ``parts`` (as :meth:`iter_files` lists them, by name), each with a tag
        that changes whenever its content does: on local disk the SHA-256 of its bytes; on an
        object store the checksum the store's own listing gives (GCS ``md5Hash``, S3 ``ETag``),
        so a digest of thousands of tables costs one listing request a page instead of one
        download a file. An object the listing gives no checksum for is read. Two zones' tags
        are not comparable (only a zone's tags at two times are)."""
        base = self.path(*parts)
        if self.local:
            for path in self.iter_files(*parts, suffix=suffix):
                yield path.name, hashlib.sha256(_as_local(path).read_bytes()).digest()
            return
        for name, info in _object_listing(base, suffix).items():
            tag = _listed_tag(info)
            if tag is None:
                tag = hashlib.sha256(base.fs.cat_file(name)).digest()
            yield name.rsplit("/", 1)[-1], tag

    def content_tag(self, *parts: str) -> bytes | None:
        """:meth:`content_tags`' tag of one file (one request on an object store), or ``None``
        when there is no such file."""
        target = self.path(*parts)
        if self.local:
            local = _as_local(target)
            return hashlib.sha256(local.read_bytes()).digest() if local.is_file() else None
        # fsspec answers ``info`` from a listing it cached when this process last listed the
        # folder: a file another process rewrote since would keep its old tag
        _forget_cached_listing(target)
        try:
            info = target.fs.info(target.path)
        except FileNotFoundError:
            return None
        if info.get("type") != "file":
            return None
        return _listed_tag(info) or hashlib.sha256(target.read_bytes()).digest()

    # -- deletes ---------------------------------------------------------------------------
    def remove_empty_folder(self, *parts: str) -> None:
        """Remove the folder ``parts`` when it is empty (local zones; an object store has no
        folders)."""
        if self.local:
            folder = _as_local(self.path(*parts))
            with contextlib.suppress(OSError):
                folder.rmdir()
                self._fix_times(folder.parent)

    def delete_staging_of(self, *parts: str) -> int:
        """Delete the hidden staging files a killed writer of ``parts`` left beside it
        (``.<name>.<random>.tmp``, local zones; an object store has none: one PUT a file).
        Only where no other process may be writing ``parts`` now."""
        if not self.local:
            return 0
        local = _as_local(self.path(*parts))
        removed = 0
        for leftover in local.parent.glob(f".{glob.escape(local.name)}.*.tmp"):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
                removed += 1
        return removed

    def delete(self, *parts: str) -> bool:
        target = self.path(*parts)
        if not target.exists():
            return False
        if self.local:
            local = _as_local(target)
            if local.is_dir():
                shutil.rmtree(local)
            else:
                local.unlink()
            self._fix_times(local.parent)
        elif target.is_dir():
            target.fs.rm(target.path, recursive=True)
        else:
            target.fs.rm_file(target.path)
        _forget_cached_listing(target)
        return True

    def ensure(self) -> Zone:
        """Create a local root if needed; check an object-store root is reachable."""
        try:
            if self.local:
                self._folder(_as_local(self.root))
            else:
                self.root.mkdir(parents=True, exist_ok=True)
        except Exception as exc:  # pragma: no cover - depends on the remote store
            raise ZoneError(
                f"The {self.name} zone at {self.uri} cannot be reached or created: {exc}. "
                "Check the URI, the bucket and the credentials."
            ) from None
        return self


def _local_commit(staged: Path, target: Path, create_only: bool) -> None:
    """Rename ``staged`` onto ``target``; with ``create_only`` a hard link refuses to replace an
    existing file (atomic on POSIX), then the staged name is removed."""
    if create_only:
        os.link(staged, target)
        staged.unlink()
    else:
        os.replace(staged, target)


def _object_listing(base: UPath, suffix: str | None) -> dict[str, dict[str, Any]]:
    """Every object below ``base`` of an object-store zone (name → the listing's entry),
    sorted by name, ``suffix`` only when given; the cached listing is dropped first (another
    process may have written since)."""
    _forget_cached_listing(base)
    try:
        found = base.fs.find(base.path, detail=True)
    except FileNotFoundError:
        return {}
    return {name: found[name] for name in sorted(found) if suffix is None or name.endswith(suffix)}


def _listed_tag(info: dict[str, Any]) -> bytes | None:
    """A content tag from an object store's listing entry, or ``None`` when it has none: GCS
    ``md5Hash`` (a composite object has none: its ``generation``, new at every write, with its
    ``crc32c``), S3 ``ETag`` (the MD5 of a single-part upload; a multipart or KMS-encrypted
    object's ETag is new at every upload, which only makes a digest change more often; another
    store's entity tag likewise names one version of the object). The size goes with it."""
    size = str(info.get("size", ""))
    if info.get("md5Hash"):
        return f"md5:{info['md5Hash']}:{size}".encode()
    if info.get("generation") and info.get("crc32c"):
        return f"gen:{info['generation']}:{info['crc32c']}:{size}".encode()
    etag = info.get("ETag") or info.get("etag")
    if etag:
        return f"etag:{etag}:{size}".encode()
    return None


def _forget_cached_listing(path: UPath) -> None:
    """Drop fsspec's cached directory listings so a later ``exists``/``find`` sees our writes."""
    invalidate = getattr(path.fs, "invalidate_cache", None)
    if invalidate is not None:
        invalidate(path.path)


def open_zone(uri: str | os.PathLike[str], name: str, **storage_options: Any) -> Zone:
    """Open a zone root. Plain paths and ``file://`` URIs are local folders."""
    text = str(uri)
    if not text:
        raise ZoneError(f"The {name} zone URI is empty. Set it to a folder or an object-store URI.")
    reap_gone_processes()
    if "://" not in text or text.startswith("file://"):
        local = Path(text.removeprefix("file://")).expanduser().resolve()
        return Zone(UPath(local), name)
    return Zone(UPath(text, **storage_options), name)


def parquet_bytes(frame: pl.DataFrame) -> bytes:
    """Parquet bytes that are identical for identical frames (no timestamps in the file)."""
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd", compression_level=3, statistics=True)
    return buffer.getvalue()


def sha256_file(path: str | os.PathLike[str] | UPath, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    if isinstance(path, UPath) and not is_local(path):
        with path.open("rb") as handle:
            while block := handle.read(chunk):
                digest.update(block)
        return digest.hexdigest()
    local = _as_local(path) if isinstance(path, UPath) else Path(path)
    with open(local, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def temporary_directory(prefix: str = "cadbusi-") -> tempfile.TemporaryDirectory[str]:
    """A temporary folder inside this process's staging folder (:func:`process_staging`): removed
    on leaving it, at the process's exit, or, when the process is killed, by the next process
    that opens a zone (a folder in the system temporary folder itself stayed there forever)."""
    return tempfile.TemporaryDirectory(prefix=prefix, dir=process_staging())


def remove_unlisted(root: Path, earlier: set[str], now: set[str]) -> int:
    """Remove the files of the local folder ``root`` (paths relative to it) that an earlier
    run listed (``earlier``) and this run does not (``now``), and the folders that leaves
    empty; only files inside ``root``. How many files were removed. The commands that write
    into a user's OUTPUT folder run again into the same OUTPUT with it, so that every file
    left is one the last run's tables list (``cadbusi deidentify``, ``cadbusi analyze``)."""
    root = Path(root).resolve()
    removed = 0
    for relative in sorted(earlier - now):
        path = (root / relative).resolve()
        if root not in path.parents or not path.is_file():
            continue
        path.unlink()
        removed += 1
        for folder in path.parents:
            if folder == root or any(folder.iterdir()):
                break
            folder.rmdir()
    return removed
