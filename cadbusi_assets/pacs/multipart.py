"""Stream the body parts of a ``multipart/related`` WADO-RS answer into files.

dicomweb-client reads whole parts into memory; a cine clip can be hundreds of MB, so this
parser copies the part to ``dest`` while it arrives, keeping only a boundary-sized tail in
memory.

>>> import io
>>> body = [b"--XY\\r\\nContent-Type: application/dicom\\r\\n\\r\\nDI", b"CM-bytes\\r\\n--XY--\\r\\n"]
>>> out = io.BytesIO()
>>> copy_single_part(body, "XY", out), out.getvalue()
(10, b'DICM-bytes')
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

from cadbusi_assets.pacs.base import RetrievalError, TooLargeError, TransientError

_MAX_HEADER_BYTES = 64 * 1024
_BOUNDARY_RE = re.compile(r'boundary\s*=\s*"?([^";]+)"?', re.IGNORECASE)


def boundary_of(content_type: str) -> str | None:
    """The ``boundary`` parameter of a Content-Type header.

    >>> boundary_of('multipart/related; type="application/dicom"; boundary=abc-1')
    'abc-1'
    """
    match = _BOUNDARY_RE.search(content_type or "")
    return match.group(1).strip() if match else None


class _Buffered:
    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._buffer = bytearray()

    def _fill(self) -> None:
        for chunk in self._chunks:
            if chunk:
                self._buffer += chunk
                return
        raise TransientError("truncated response")

    def skip_past(self, marker: bytes, limit: int = _MAX_HEADER_BYTES) -> bytes:
        """Consume up to and including ``marker``; return what came before it."""
        while True:
            index = self._buffer.find(marker)
            if index >= 0:
                before = bytes(self._buffer[:index])
                del self._buffer[: index + len(marker)]
                return before
            if len(self._buffer) > limit:
                raise RetrievalError("malformed multipart response")
            self._fill()

    def peek(self, size: int) -> bytes:
        while len(self._buffer) < size:
            self._fill()
        return bytes(self._buffer[:size])

    def copy_until(self, marker: bytes, dest: BinaryIO, max_bytes: int | None = None) -> int:
        """Copy everything before ``marker`` to ``dest`` (streaming); consume the marker.
        :class:`TooLargeError` once more than ``max_bytes`` came before it."""
        written = 0
        keep = len(marker) - 1
        while True:
            index = self._buffer.find(marker)
            if index >= 0:
                _check_size(written + index, max_bytes)
                dest.write(bytes(self._buffer[:index]))
                del self._buffer[: index + len(marker)]
                return written + index
            if len(self._buffer) > keep:
                cut = len(self._buffer) - keep
                _check_size(written + cut, max_bytes)
                dest.write(bytes(self._buffer[:cut]))
                del self._buffer[:cut]
                written += cut
            self._fill()


def _check_size(size: int, max_bytes: int | None) -> None:
    if max_bytes is not None and size > max_bytes:
        raise TooLargeError(max_bytes)


def copy_single_part(
    chunks: Iterable[bytes], boundary: str, dest: BinaryIO, max_bytes: int | None = None
) -> int:
    """Copy the only part of a multipart body to ``dest``; return its size.

    Raises :class:`TransientError` when the body ends early, :class:`RetrievalError` when it
    holds no part or more than one and :class:`TooLargeError` when the part says or proves to
    be larger than ``max_bytes`` (reading stops there).
    """
    reader = _Buffered(chunks)
    delimiter = b"--" + boundary.encode("ascii")
    reader.skip_past(delimiter)  # preamble
    if reader.peek(2) == b"--":
        raise RetrievalError("empty multipart response")
    reader.skip_past(b"\r\n")  # rest of the boundary line (transport padding)
    headers = b"" if reader.peek(2) == b"\r\n" else reader.skip_past(b"\r\n\r\n")
    if not headers:
        reader.skip_past(b"\r\n")
    length = _content_length(headers)
    _check_size(length or 0, max_bytes)
    written = reader.copy_until(b"\r\n" + delimiter, dest, max_bytes)
    if length is not None and written != length:
        raise TransientError("truncated response")
    if reader.peek(2) != b"--":
        raise RetrievalError("more than one part in a single-instance response")
    return written


def copy_parts(
    chunks: Iterable[bytes],
    boundary: str,
    open_part: Callable[[], BinaryIO],
    close_part: Callable[[BinaryIO, bool], None],
    max_bytes: int | None = None,
    max_parts: int | None = None,
) -> int:
    """Copy each part of a multipart body (a WADO-RS series) into a file of its own, as it
    arrives: ``open_part()`` gives the file, ``close_part(file, complete)`` takes it back
    (``complete`` False for a part cut short, before the error is raised). Returns the number
    of complete parts. A part larger than ``max_bytes`` raises :class:`TooLargeError` and a
    body of more than ``max_parts`` parts :class:`RetrievalError` (reading stops there).

    >>> import io
    >>> body = [b"--B\\r\\n\\r\\none\\r\\n--B\\r\\nContent-Length: 3\\r\\n\\r\\ntwo\\r\\n--B--"]
    >>> parts = []
    >>> copy_parts(body, "B", io.BytesIO, lambda f, ok: parts.append((f.getvalue(), ok)))
    2
    >>> parts
    [(b'one', True), (b'two', True)]
    """
    reader = _Buffered(chunks)
    delimiter = b"--" + boundary.encode("ascii")
    reader.skip_past(delimiter)  # preamble
    count = 0
    while reader.peek(2) != b"--":
        if max_parts is not None and count >= max_parts:
            raise RetrievalError(f"more than {max_parts} parts in a multipart response")
        reader.skip_past(b"\r\n")  # rest of the boundary line (transport padding)
        headers = b"" if reader.peek(2) == b"\r\n" else reader.skip_past(b"\r\n\r\n")
        if not headers:
            reader.skip_past(b"\r\n")
        length = _content_length(headers)
        _check_size(length or 0, max_bytes)
        dest = open_part()
        try:
            written = reader.copy_until(b"\r\n" + delimiter, dest, max_bytes)
            if length is not None and written != length:
                raise TransientError("truncated response")
        except BaseException:
            close_part(dest, False)
            raise
        close_part(dest, True)
        count += 1
    return count


def _content_length(headers: bytes) -> int | None:
    for line in headers.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            try:
                return int(value.strip())
            except ValueError:
                return None
    return None
