"""Shared helpers for tests (no fixtures here; see conftest.py)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import psutil
import pytest

from cadbusi_assets.identity import PseudonymKey

#: A fixed key for tests only (synthetic data). Never used outside the test suite.
TEST_KEY = PseudonymKey(
    bytes.fromhex("5f3c9a0e7d21b4c8e6a1f0d93b7c2e4a8d6f1b0c3e5a7092d4b6c8e0f1a3b5c7")
)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def missing(message: str, ci_hint: str = "CI must install it in .ci/run") -> NoReturn:
    """Something a test needs is not here: FAIL in CI, skip on a developer machine."""
    if in_ci():
        pytest.fail(f"{message}; {ci_hint}", pytrace=False)
    pytest.skip(message)


def require_tool(executable: str, install_hint: str) -> str:
    """Return the path of ``executable``. Missing: FAIL in CI, skip on a developer machine."""
    found = shutil.which(executable)
    if found:
        return found
    missing(f"{executable} is not installed ({install_hint})")


def process_running(process: int | psutil.Process) -> bool:
    """Whether a pid or a process seen earlier (its pid not since reused: ``is_running``)
    is alive and not a zombie. One that exits between two looks counts as gone, not as an
    error."""
    try:
        if isinstance(process, int):
            process = psutil.Process(process)
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def require_tesseract() -> None:
    """Declare that a test needs OCR: tesseract with English data (the check the product uses,
    :func:`cadbusi_assets.settings.tesseract_problem`). Missing: the test fails with the install
    command (``make test`` installs it through scripts/system-deps.sh), in CI and elsewhere."""
    from cadbusi_assets.settings import tesseract_problem

    problem = tesseract_problem()
    if problem is None:
        return
    pytest.fail(problem + "; `make test` installs it (scripts/system-deps.sh)", pytrace=False)


def require_tesseract_executable() -> None:
    """Declare that a test needs the ``tesseract`` executable (the adversarial pixel tests'
    check, :func:`require_tool`: FAIL in CI, skip on a developer machine). Weaker than
    :func:`require_tesseract`, which also checks the English data and always fails."""
    require_tool("tesseract", "apt-get install tesseract-ocr tesseract-ocr-eng")


@contextmanager
def time_limit(seconds: int, what: str = "the test") -> Iterator[None]:
    """Fail with :class:`TimeoutError` when the block runs longer than ``seconds`` (SIGALRM: a
    hang fails fast instead of stalling the suite). Used by every end-to-end test."""

    def expired(*_: object) -> None:
        raise TimeoutError(f"{what} took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
