"""Deterministic identifiers and random streams derived from the cohort seed.

Everything random in the demo comes from :func:`child_rng` keyed by a path of labels, so a piece
of work gives the same result whichever process runs it and in whatever order.

>>> derive_uid(1, "study", 7) == derive_uid(1, "study", 7)
True
>>> derive_uid(1, "study", 7).startswith("2.25.")
True
>>> float(child_rng(1, "x").random()) == float(child_rng(1, "x").random())
True
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable

import numpy as np

_NAMESPACE = uuid.UUID("6f1c3a52-94d1-4d0e-b7a9-2c35d8e0f4a1")


def _key(seed: int, parts: tuple[object, ...]) -> str:
    return "/".join(str(p) for p in (seed, *parts))


def derive_uid(seed: int, *parts: object) -> str:
    """A UUID-derived DICOM UID (``2.25.<uuid as integer>``), at most 44 characters."""
    return f"2.25.{uuid.uuid5(_NAMESPACE, _key(seed, parts)).int}"


def child_rng(seed: int, *parts: object) -> np.random.Generator:
    """An independent random generator for one named piece of work."""
    digest = hashlib.sha256(_key(seed, parts).encode()).digest()
    words = [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 32, 4)]
    return np.random.default_rng(np.random.SeedSequence(words))


class IdentifierPool:
    """Unique MRNs, accession numbers, encounter ids and specimen accessions from one stream."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._used: set[str] = set()

    def _unique(self, make: Callable[[], str]) -> str:
        while True:
            value = make()
            if value not in self._used:
                self._used.add(value)
                return value

    def mrn(self) -> str:
        """An 8-digit MRN; about a quarter start with a zero."""

        def make() -> str:
            high = 10_000_000 if self._rng.random() < 0.25 else 100_000_000
            low = 0 if high == 10_000_000 else 10_000_000
            return f"{int(self._rng.integers(max(low, 100_000), high)):08d}"

        return self._unique(make)

    def accession(self) -> str:
        """A 10-digit radiology accession number."""
        return self._unique(lambda: f"{int(self._rng.integers(1_000_000_000, 10_000_000_000))}")

    def encounter(self) -> str:
        """A 9-digit encounter number."""
        return self._unique(lambda: f"{int(self._rng.integers(100_000_000, 1_000_000_000))}")

    def specimen(self, year: int) -> str:
        """A surgical-pathology accession such as ``S26-04217``."""
        return self._unique(
            lambda: f"S{year % 100:02d}-{int(self._rng.integers(1000, 100_000)):05d}"
        )
