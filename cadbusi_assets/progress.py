r"""A progress bar for long commands whose work runs in worker processes.

Workers call :func:`tick` with the path of a small counter file (one byte appended per
finished item, ``O_APPEND``, so any number of processes may tick at once); the parent draws
``label [#####-----] 6/10  3.2/s  eta 1 s`` on stderr with carriage returns, from a thread
that polls the file's size. Nothing is drawn when stderr is not a terminal, so logs and
captured output stay clean. Works with any pool (it needs no callback from the pool).

>>> import io
>>> out = io.StringIO()
>>> with ProgressBar(2, "files", stream=out, enabled=True) as bar:
...     tick(bar.path); tick(bar.path)
>>> out.getvalue().split("\r")[-1].split("] ")[1].split()[0]
'2/2'
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
import time
from typing import TextIO

WIDTH = 30


def tick(path: str) -> None:
    """Count one finished item in the counter file ``path`` (no-op for an empty path)."""
    if not path:
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    except OSError:  # the parent already finished (or the file was removed)
        return
    try:
        os.write(fd, b".")
    finally:
        os.close(fd)


def render(done: int, total: int, label: str, seconds: float) -> str:
    """One bar line (without the carriage return).

    >>> render(5, 10, "files", 2.0)
    'files [###############---------------] 5/10  2.5/s  eta 2 s'
    """
    total = max(total, 0)
    fraction = done / total if total else 1.0
    filled = min(WIDTH, round(WIDTH * fraction))
    rate = done / seconds if seconds > 0 else 0.0
    text = f"{label} [{'#' * filled}{'-' * (WIDTH - filled)}] {done}/{total}"
    if rate > 0:
        text += f"  {rate:.1f}/s"
        if done < total:
            text += f"  eta {round((total - done) / rate)} s"
    return text


class ProgressBar:
    """Context manager: ``path`` is the counter file to hand to workers (empty when off)."""

    def __init__(
        self,
        total: int,
        label: str,
        *,
        stream: TextIO | None = None,
        enabled: bool | None = None,
        interval: float = 0.2,
    ) -> None:
        self.total = total
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = bool(isatty and isatty()) and total > 0
        self.enabled = enabled
        self.interval = interval
        self.path = ""
        self._done = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = 0.0
        self._width = 0

    def __enter__(self) -> ProgressBar:
        self._started = time.monotonic()
        if self.enabled:
            from cadbusi_assets.storage.zones import process_staging

            # in this process's staging folder: a killed command's counter file is reaped
            fd, self.path = tempfile.mkstemp(prefix="progress-", dir=process_staging())
            os.close(fd)
            self._thread = threading.Thread(target=self._run, name="progress", daemon=True)
            self._thread.start()
        return self

    def advance(self, n: int = 1) -> None:
        """Count items finished in this process (serial loops)."""
        self._done += n

    def _count(self) -> int:
        try:
            return os.stat(self.path).st_size + self._done
        except OSError:
            return self._done

    def _draw(self, done: int) -> None:
        line = render(
            min(done, self.total), self.total, self.label, time.monotonic() - self._started
        )
        padding = " " * max(0, self._width - len(line))  # clear the rest of a longer line
        self._width = len(line)
        self.stream.write("\r" + line + padding)
        self.stream.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._draw(self._count())

    def __exit__(self, *exc: object) -> None:
        if not self.enabled:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._draw(self._count())
        self.stream.write("\n")
        self.stream.flush()
        if self.path:
            with contextlib.suppress(OSError):
                os.unlink(self.path)
