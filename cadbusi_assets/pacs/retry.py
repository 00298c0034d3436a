"""Retries with exponential backoff for transient PACS errors.

``attempts`` counts every request, the first included: ``attempts=3`` means one try and at most
two retries. Only :class:`~cadbusi_assets.pacs.base.TransientError` is retried; a
:class:`~cadbusi_assets.pacs.base.PacsError` (misconfiguration) is never caught here.

>>> calls = []
>>> def flaky():
...     calls.append(1)
...     if len(calls) < 3:
...         raise TransientError("HTTP 503")
...     return "ok"
>>> call_with_retries(flaky, attempts=3, backoff_seconds=0, sleep=lambda s: None)
('ok', 3)
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TypeVar

from cadbusi_assets.pacs.base import RetrievalError, TransientError

T = TypeVar("T")

#: Never wait longer than this between two attempts (also caps a server's Retry-After).
MAX_BACKOFF_SECONDS = 60.0


class RetriesExhausted(Exception):
    """The last error after ``attempts`` requests (``error.reason`` is PHI-free)."""

    def __init__(self, error: RetrievalError, attempts: int) -> None:
        super().__init__(f"{error.reason} (after {attempts} attempts)")
        self.error = error
        self.attempts = attempts


def backoff_delay(attempt: int, backoff_seconds: float, retry_after: float | None = None) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based): exponential with ±20 %
    jitter, at least a server's ``Retry-After``, at most :data:`MAX_BACKOFF_SECONDS`.

    >>> 0.8 <= backoff_delay(1, 1.0) <= 1.2 and 3.2 <= backoff_delay(3, 1.0) <= 4.8
    True
    """
    base = backoff_seconds * (2 ** (attempt - 1))
    delay = base * random.uniform(0.8, 1.2)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, MAX_BACKOFF_SECONDS)


def call_with_retries(
    action: Callable[[], T],
    *,
    attempts: int,
    backoff_seconds: float,
    sleep: Callable[[float], None],
    before_attempt: Callable[[], None] | None = None,
) -> tuple[T, int]:
    """Run ``action`` until it succeeds; return ``(result, attempts used)``.

    Raises :class:`RetriesExhausted` when the last attempt failed or the error is not transient.
    ``before_attempt`` runs before every attempt (e.g. a time-window check that raises).
    """
    attempts = max(1, int(attempts))
    for attempt in range(1, attempts + 1):
        if before_attempt is not None:
            before_attempt()
        try:
            return action(), attempt
        except RetrievalError as exc:
            if not exc.transient or attempt == attempts:
                raise RetriesExhausted(exc, attempt) from None
            retry_after = exc.retry_after if isinstance(exc, TransientError) else None
            sleep(backoff_delay(attempt, backoff_seconds, retry_after))
    raise AssertionError("unreachable")
