"""Per-device pixel rules for objects without usable ultrasound regions.

Rules live in ``data/device_rules.csv``: manufacturer and model are matched as
case-insensitive substrings of the header values with punctuation and spaces ignored (so
``GE`` matches ``G.E. Medical Systems``; ``|`` separates alternative models); rows and columns
must be equal when given. ``mode`` is ``blank`` (blank the boxes, keep the rest) or ``keep``
(keep only the boxes). Boxes are inclusive ``x0 y0 x1 y1``, several separated by ``;``. The
first matching rule wins, so put specific rules before general ones.

>>> from pydicom.dataset import Dataset
>>> ds = Dataset()
>>> ds.Manufacturer, ds.ManufacturerModelName, ds.Rows, ds.Columns = "Philips", "CX50", 600, 800
>>> match_device_rule(ds).rule_id
'philips-cx50'
>>> ds.Manufacturer = "Acme"
>>> match_device_rule(ds) is None
True
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from pydicom.dataset import Dataset

RULES_FILE = "device_rules.csv"


def _norm(text: object) -> str:
    return re.sub(r"[^A-Z0-9]", "", str(text or "").upper())


@dataclass(frozen=True)
class DeviceRule:
    rule_id: str
    manufacturer: str
    models: tuple[str, ...]
    rows: int | None
    columns: int | None
    mode: str  # "blank" or "keep"
    boxes: tuple[tuple[int, int, int, int], ...]
    source: str = ""

    def matches(self, ds: Dataset) -> bool:
        if self.manufacturer and _norm(self.manufacturer) not in _norm(ds.get("Manufacturer")):
            return False
        model = _norm(ds.get("ManufacturerModelName"))
        if self.models and not any(_norm(m) in model for m in self.models):
            return False
        if self.rows is not None and int(ds.get("Rows", 0) or 0) != self.rows:
            return False
        return self.columns is None or int(ds.get("Columns", 0) or 0) == self.columns


def _int_or_none(text: str) -> int | None:
    return int(text) if text.strip() else None


def parse_rules(text: str) -> list[DeviceRule]:
    rules = []
    for row in csv.DictReader(text.splitlines()):
        boxes = tuple(
            tuple(int(v) for v in box.split()) for box in row["boxes"].split(";") if box.strip()
        )
        if row["mode"] not in {"blank", "keep"} or any(len(b) != 4 for b in boxes):
            raise ValueError(f"bad device rule {row['rule_id']!r}")
        rules.append(
            DeviceRule(
                rule_id=row["rule_id"],
                manufacturer=row["manufacturer"],
                models=tuple(m for m in row["model"].split("|") if m.strip()),
                rows=_int_or_none(row["rows"]),
                columns=_int_or_none(row["columns"]),
                mode=row["mode"],
                boxes=boxes,  # type: ignore[arg-type]
                source=row.get("source", ""),
            )
        )
    return rules


@lru_cache(maxsize=1)
def device_rules() -> tuple[DeviceRule, ...]:
    text = resources.files("cadbusi_assets.deid").joinpath("data", RULES_FILE).read_text("utf-8")
    return tuple(parse_rules(text))


def match_device_rule(
    ds: Dataset, rules: tuple[DeviceRule, ...] | None = None
) -> DeviceRule | None:
    """The first rule that matches ``ds``, or ``None``."""
    for rule in device_rules() if rules is None else rules:
        if rule.matches(ds):
            return rule
    return None
