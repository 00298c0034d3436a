"""The knobs of the synthetic demo cohort.

>>> config = DemoConfig(days=2)
>>> [d.isoformat() for d in config.dates()]
['2026-09-01', '2026-09-02']
>>> DemoConfig.from_dict(config.to_dict()) == config
True
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DemoConfig:
    """What to generate. The same config (``workers`` aside) always gives the same files."""

    start: dt.date = dt.date(2026, 9, 1)
    days: int = 30
    studies_per_day: tuple[int, int] = (2, 4)  # inclusive range of US breast studies per day
    seed: int = 20260901
    workers: int | None = None  # parallel image synthesis (parallel_map); never changes output

    def __post_init__(self) -> None:
        low, high = self.studies_per_day
        if self.days < 1:
            raise ValueError("days must be at least 1")
        if low < 0 or high < low:
            raise ValueError("studies_per_day must be an inclusive range (low <= high, low >= 0)")

    @property
    def end(self) -> dt.date:
        """The last study date (inclusive)."""
        return self.start + dt.timedelta(days=self.days - 1)

    def dates(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=i) for i in range(self.days)]

    def to_dict(self) -> dict[str, Any]:
        """The output-defining fields (``workers`` is left out: it never changes the files)."""
        return {
            "start": self.start.isoformat(),
            "days": self.days,
            "studies_per_day": list(self.studies_per_day),
            "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], workers: int | None = None) -> DemoConfig:
        low, high = data["studies_per_day"]
        return cls(
            start=dt.date.fromisoformat(data["start"]),
            days=int(data["days"]),
            studies_per_day=(int(low), int(high)),
            seed=int(data["seed"]),
            workers=workers,
        )
