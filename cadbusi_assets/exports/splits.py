"""Deterministic patient-level splits.

>>> assign_split("P123", salt="v1") == assign_split("P123", salt="v1")
True
>>> assign_split("P123", ratios={"train": 1.0, "val": 0.0, "test": 0.0})
'train'
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

DEFAULT_RATIOS = {"train": 0.70, "val": 0.15, "test": 0.15}


def split_fraction(patient_pseudo: str, salt: str) -> float:
    digest = hashlib.sha256(f"{salt}\x00{patient_pseudo}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_split(
    patient_pseudo: str, salt: str = "cadbusi", ratios: Mapping[str, float] = DEFAULT_RATIOS
) -> str:
    """All images of a patient land in the same split; ratios are cumulative in order."""
    total = sum(ratios.values())
    if total <= 0:
        raise ValueError("split ratios must add up to more than 0")
    value = split_fraction(patient_pseudo, salt) * total
    edge = 0.0
    name = next(iter(ratios))
    for name, ratio in ratios.items():
        edge += ratio
        if value < edge:
            return name
    return name
