"""Optional time-of-day window for retrieval (e.g. night only, ``"20:00-06:00"``).

Times are wall-clock times of the machine running the retrieval (``datetime.now()``), so run
workers in the PACS's time zone or set ``TZ``. A window whose end is before its start wraps past
midnight.

Behaviour chosen for :func:`~cadbusi_assets.pacs.retrieve.retrieve_studies`:

- outside the window when a run starts: :class:`OutsideWindowError` (a clear failure; schedule
  the job inside the window), or, with ``window_wait=True``, sleep until the window opens;
- the window closes during a run: no new request is started; instances not yet fetched are
  recorded as ``failed`` with reason ``"retrieval window 20:00-06:00 closed"`` and the next run
  (inside the window) fetches only what is missing.

>>> w = RetrievalWindow.parse("20:00-06:00")
>>> w.contains(dt.time(23, 30)), w.contains(dt.time(5, 59)), w.contains(dt.time(12, 0))
(True, True, False)
>>> w.seconds_until_open(dt.datetime(2026, 1, 1, 19, 0))
3600.0
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from cadbusi_assets.pacs.base import PacsError

_WINDOW_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class OutsideWindowError(PacsError):
    """Retrieval was asked for outside the configured time window."""


@dataclass(frozen=True)
class RetrievalWindow:
    start: dt.time
    end: dt.time

    @classmethod
    def parse(cls, text: str) -> RetrievalWindow:
        match = _WINDOW_RE.match(text or "")
        if not match:
            raise PacsError(
                f"Invalid retrieval window {text!r}: use 'HH:MM-HH:MM', e.g. '20:00-06:00' "
                "(wraps past midnight when the end is earlier than the start)."
            )
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
            raise PacsError(f"Invalid retrieval window {text!r}: hours 0-23, minutes 0-59.")
        end = dt.time.max if h2 == 24 else dt.time(h2, m2)
        if dt.time(h1, m1) == end:
            raise PacsError(f"Invalid retrieval window {text!r}: start and end are equal.")
        return cls(dt.time(h1, m1), end)

    def __str__(self) -> str:
        end = "24:00" if self.end == dt.time.max else self.end.strftime("%H:%M")
        return f"{self.start.strftime('%H:%M')}-{end}"

    def contains(self, moment: dt.datetime | dt.time) -> bool:
        now = moment.time() if isinstance(moment, dt.datetime) else moment
        if self.start < self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end

    def seconds_until_open(self, now: dt.datetime) -> float:
        """0 inside the window, else the seconds until it next opens."""
        if self.contains(now):
            return 0.0
        opening = dt.datetime.combine(now.date(), self.start, tzinfo=now.tzinfo)
        if opening <= now:
            opening += dt.timedelta(days=1)
        return (opening - now).total_seconds()


def as_window(value: str | RetrievalWindow | None) -> RetrievalWindow | None:
    if value is None or isinstance(value, RetrievalWindow):
        return value
    text = str(value).strip()
    return RetrievalWindow.parse(text) if text else None
