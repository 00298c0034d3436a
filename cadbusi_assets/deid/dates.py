"""Per-patient date shifting of DA and DT values (whole days, so TM values stay as they are).

A whole-day shift keeps every interval and the time of day, and a DT keeps its fraction and
UTC offset. Partial values keep their precision: ``YYYYMM`` shifts the first of the month,
``YYYY`` the first of January. Anything unparseable returns ``None`` (the caller removes it).

>>> shift_da("20170302", -10)
'20170220'
>>> shift_da("201703", -10)
'201702'
>>> shift_da("20170302-20170305", -1)
'20170301-20170304'
>>> shift_dt("20170302172457.123+0100", -2)
'20170228172457.123+0100'
>>> shift_dt("2017", -1)
'2016'
>>> shift_da("2017-03-02", 0) is None  # not a DA value
True
>>> valid_tm("172457.123"), valid_tm("17:24:57"), valid_tm("QUIMBRELL")
(True, True, False)
"""

from __future__ import annotations

import datetime as dt
import re

_DA = re.compile(r"^(\d{4})(\d{2})?(\d{2})?$")
#: a TM value (``HHMMSS.FFFFFF`` or the old ``HH:MM:SS``, a part of it, a ``A-B`` range; a
#: UTC offset some devices add is allowed)
_TM = re.compile(
    r"^(?:\d{2}(?:\d{2}(?:\d{2}(?:\.\d{1,6})?)?)?|\d{2}(?::\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?)"
    r"(?:[+-]\d{4})?$"
)
_DT = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2}(?:\d{2}(?:\d{2}(?:\.\d{1,6})?)?)?)?([+-]\d{4})?$")


def _shift_parts(year: str, month: str | None, day: str | None, days: int) -> str | None:
    try:
        base = dt.date(int(year), int(month or 1), int(day or 1))
        shifted = base + dt.timedelta(days=days)
    except (ValueError, OverflowError):
        return None
    if day:
        return f"{shifted.year:04d}{shifted.month:02d}{shifted.day:02d}"
    if month:
        return f"{shifted.year:04d}{shifted.month:02d}"
    return f"{shifted.year:04d}"


def _shift_single_da(text: str, days: int) -> str | None:
    match = _DA.match(text)
    if match is None:
        return None
    return _shift_parts(match.group(1), match.group(2), match.group(3), days)


def shift_da(value: str, days: int) -> str | None:
    """Shift a DA value (also a ``A-B`` range); ``None`` if it is not a valid DA."""
    text = str(value).strip()
    if not text:
        return ""
    if "-" in text:
        parts = text.split("-")
        if len(parts) != 2:
            return None
        shifted = [_shift_single_da(p, days) if p else "" for p in parts]
        return None if any(s is None for s in shifted) else "-".join(shifted)  # type: ignore[arg-type]
    return _shift_single_da(text, days)


def shift_dt(value: str, days: int) -> str | None:
    """Shift the date part of a DT value; time, fraction and UTC offset are kept."""
    text = str(value).strip()
    if not text:
        return ""
    match = _DT.match(text)
    if match is None:
        return None
    date_part = _shift_parts(match.group(1), match.group(2), match.group(3), days)
    if date_part is None:
        return None
    return date_part + (match.group(4) or "") + (match.group(5) or "")


def valid_tm(value: str) -> bool:
    """True for a TM value (or an empty one, or an ``A-B`` range of them): a time of day only
    (no name, no number of another length: a value that is none goes)."""
    text = str(value).strip()
    return not text or all(not part or _TM.match(part) for part in text.split("-", 1))


def parse_da_value(value: str) -> dt.date | None:
    """A full DA value as a date (``None`` for partial or invalid values)."""
    match = _DA.match(str(value).strip())
    if match is None or match.group(3) is None:
        return None
    try:
        return dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def age_string(birth: dt.date, on: dt.date, cap_years: int = 90) -> str | None:
    """DICOM AS age at ``on`` (years), capped at ``cap_years`` (HIPAA: 90 and over).

    >>> age_string(dt.date(1951, 8, 29), dt.date(2017, 3, 2))
    '065Y'
    >>> age_string(dt.date(1900, 1, 1), dt.date(2017, 3, 2))
    '090Y'
    """
    if on < birth:
        return None
    years = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    return f"{min(years, cap_years):03d}Y"
