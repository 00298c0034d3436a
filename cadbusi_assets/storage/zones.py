"""Zones on universal-pathlib with atomic writes.

>>> import tempfile
>>> zone = open_zone(tempfile.mkdtemp(), name="research")
>>> p = zone.write_bytes(("a", "b.txt"), b"hello")
>>> zone.path("a", "b.txt").read_bytes()
b'hello'
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import polars as pl
from upath import UPath

_LOCAL_PROTOCOLS = {"", "file", "local"}


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


class Zone:
    """One storage root. ``name`` is used in messages only ("raw", "research")."""

    def __init__(self, root: UPath, name: str) -> None:
        self.root = root
        self.name = name

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
    def write_bytes(self, parts: tuple[str, ...] | list[str], data: bytes) -> UPath:
        """Write ``data`` atomically and return the path."""
        target = self.path(*parts)
        if self.local:
            local = _as_local(target)
            local.parent.mkdir(parents=True, exist_ok=True)
            tmp = local.with_name(f".{local.name}.{uuid.uuid4().hex}.tmp")
            try:
                with open(tmp, "wb") as handle:
                    handle.write(data)
                os.replace(tmp, local)
            finally:
                if tmp.exists():
                    tmp.unlink()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)  # object stores: one PUT is atomic
        return target

    def copy_file_in(self, source: str | os.PathLike[str], parts: tuple[str, ...] | list[str]) -> UPath:
        """Copy a local file into the zone atomically (streamed, never whole in memory)."""
        target = self.path(*parts)
        if self.local:
            local = _as_local(target)
            local.parent.mkdir(parents=True, exist_ok=True)
            tmp = local.with_name(f".{local.name}.{uuid.uuid4().hex}.tmp")
            try:
                shutil.copyfile(source, tmp)
                os.replace(tmp, local)
            finally:
                if tmp.exists():
                    tmp.unlink()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(source, "rb") as src, target.open("wb") as dst:
                shutil.copyfileobj(src, dst, length=1 << 20)
        return target

    def write_parquet(self, parts: tuple[str, ...] | list[str], frame: pl.DataFrame) -> UPath:
        return self.write_bytes(parts, parquet_bytes(frame))

    # -- reads -----------------------------------------------------------------------------
    def exists(self, *parts: str) -> bool:
        return self.path(*parts).exists()

    def read_bytes(self, *parts: str) -> bytes:
        return self.path(*parts).read_bytes()

    def read_parquet(self, *parts: str) -> pl.DataFrame:
        path = self.path(*parts)
        if self.local:
            return pl.read_parquet(_as_local(path))
        return pl.read_parquet(io.BytesIO(path.read_bytes()))

    def iter_files(self, *parts: str, suffix: str | None = None) -> Iterator[UPath]:
        base = self.path(*parts)
        if not base.exists():
            return
        if self.local:
            for found in sorted(_as_local(base).rglob("*")):
                if found.is_file() and not found.name.endswith(".tmp") and (
                    suffix is None or found.name.endswith(suffix)
                ):
                    yield UPath(found)
            return
        for found in sorted(base.rglob("*"), key=str):
            if found.is_file() and (suffix is None or found.name.endswith(suffix)):
                yield found

    # -- deletes ---------------------------------------------------------------------------
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
        elif target.is_dir():
            target.fs.rm(target.path, recursive=True)
        else:
            target.unlink()
        return True

    def ensure(self) -> Zone:
        """Create a local root if needed; check an object-store root is reachable."""
        try:
            if self.local:
                _as_local(self.root).mkdir(parents=True, exist_ok=True)
            else:
                self.root.mkdir(parents=True, exist_ok=True)
        except Exception as exc:  # pragma: no cover - depends on the remote store
            raise ZoneError(
                f"The {self.name} zone at {self.uri} cannot be reached or created: {exc}. "
                "Check the URI, the bucket and the credentials."
            ) from None
        return self


def open_zone(uri: str | os.PathLike[str], name: str, **storage_options: Any) -> Zone:
    """Open a zone root. Plain paths and ``file://`` URIs are local folders."""
    text = str(uri)
    if not text:
        raise ZoneError(f"The {name} zone URI is empty. Set it to a folder or an object-store URI.")
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
    opened = path.open("rb") if isinstance(path, UPath) and not is_local(path) else open(
        _as_local(path) if isinstance(path, UPath) else path, "rb"
    )
    with opened as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def temporary_directory(prefix: str = "cadbusi-") -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix=prefix)
