"""Report text for the research zone: :func:`scrub_report_text` and :func:`scrub_reports`.

What happens to a text, in order:

1. signature lines ("Dictated by: …", "Electronically signed by …", "Interpreted by", "Read
   by", "Radiologist: …") → ``[SIGNATURE]`` (the rest of the line goes);
2. the study's own identifiers (MRN, accession number, patient name parts, …) → their
   pseudonym when one is given in ``replacements``, else ``[REDACTED]`` (case-insensitive,
   whole tokens only);
3. other names: "Dr./Mr./Mrs./Ms. Name", "Name Name, MD/DO/RN/PA", "Patient: …" → ``[NAME]``;
4. labelled identifiers (MRN/clinic number/patient ID, accession numbers), phone numbers,
   e-mail addresses, SSNs and runs of 7+ digits → ``[MRN]``, ``[ACCESSION]``, ``[PHONE]``,
   ``[EMAIL]``, ``[SSN]``, ``[ID]``;
5. dates (``03/14/2021``, ``3/14/21``, ``2021-03-14``, ``March 14, 2021``, ``14 Mar 2021``,
   ``March 2021``) → the same date shifted by ``date_shift_days`` in the same format (the
   per-patient shift that image de-identification uses); impossible dates → ``[DATE]``;
   a bare year (``1990``–``2099``) → ``[YEAR]``; ages of 90 and over → ``90+``.

Clock positions (``2:00``), measurements (``1.2 x 0.8 cm``) and BI-RADS categories stay.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
_MONTHS["sept"] = 9
_MONTH = r"(?P<{g}>Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"

_SIGNATURE = re.compile(
    r"(?im)\b(?:dictated|interpreted|transcribed|electronically signed|e-signed|signed|reviewed"
    r"|verified|read|attested|finalized|reported|released)(?:\s+and\s+\w+)?\s+(?:by|on)\b[^\n]*"
    r"|^[ \t]*(?:radiologist|attending|resident|fellow|pathologist|physician|technologist|sonographer)s?\s*:[^\n]*"
)
_TITLED_NAME = re.compile(
    r"\b(?:Dr|Mr|Mrs|Ms|Miss|Prof)\.?\s+[A-Z][A-Za-z'\-]+(?:\s+[A-Z]\.)?(?:\s+[A-Z][A-Za-z'\-]+)?"
)
_CREDENTIALED_NAME = re.compile(
    r"\b[A-Z][A-Za-z'\-]+(?:\s+[A-Z]\.?)?\s+[A-Z][A-Za-z'\-]+,?\s+(?:M\.?D\.?|D\.?O\.?|Ph\.?D\.?|R\.?N\.?|PA-C|N\.?P\.?|RDMS|RT)(?![A-Za-z])"
)
_NAME_WORD = r"(?:\ue000.\ue001|[A-Za-z][A-Za-z'\-^.]*)(?![\w'\-^.]*\s*[:#])"
_LABELLED_NAME = re.compile(
    r"(?i)\b(patient(?:'s)?(?: name)?|name)\s*:[ \t]*"
    + _NAME_WORD
    + r"(?:,?[ \t]+"
    + _NAME_WORD
    + r"){0,3}"
)
_MRN = re.compile(
    r"(?i)\b(?:MRN|MR\s*#|MR\s*No\.?|medical record(?:\s+(?:number|no\.?|#))?|clinic(?:\s+(?:number|no\.?|#))|patient\s+id|CN)\s*[:#]?\s*[A-Z0-9][A-Z0-9\-]{3,}\b"
)
_ACCESSION = re.compile(
    r"(?i)\b(?:accession(?:\s+(?:number|no\.?|#))?|acc(?:\s*(?:#|no\.?|number)|\b))\s*[:#]?\s*[A-Z0-9][A-Z0-9\-]{3,}\b"
)
_EMAIL = re.compile(r"\b[\w.+\-]+@[\w\-]+\.[\w.\-]+\b")
_PHONE = re.compile(r"(?<!\d)(?:\(\d{3}\)\s*|\d{3}[\s.\-])\d{3}[\s.\-]\d{4}(?!\d)")
_SSN = re.compile(r"(?<!\d)\d{3}-\d{2}-\d{4}(?!\d)")
_LONG_NUMBER = re.compile(r"(?<![\d.])\d{7,}(?![\d.])")
_OLD_AGE = re.compile(r"(?i)\b(?:9\d|1[0-4]\d)(?=[\s\-]*(?:years?|yrs?|y/?o)\b)")
_DATES = re.compile(
    r"(?P<mdy>\b(?P<m1>\d{1,2})/(?P<d1>\d{1,2})/(?P<y1>\d{4}|\d{2})\b)"
    r"|(?P<mdy_dash>\b(?P<m4>\d{1,2})-(?P<d4>\d{1,2})-(?P<y4>\d{4})\b)"
    r"|(?P<iso>\b(?P<y2>\d{4})-(?P<m2>\d{1,2})-(?P<d2>\d{1,2})\b)"
    r"|(?P<mdy_text>\b"
    + _MONTH.format(g="mon3")
    + r"\s+(?P<d3>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y3>\d{4})\b)"
    r"|(?P<dmy_text>\b(?P<d5>\d{1,2})(?:st|nd|rd|th)?\s+"
    + _MONTH.format(g="mon5")
    + r",?\s+(?P<y5>\d{4})\b)"
    r"|(?P<my_text>\b" + _MONTH.format(g="mon6") + r",?\s+(?P<y6>\d{4})\b)"
    r"|(?P<year>\b(?:19|20)\d{2}\b)"
)


def _shift_match(match: re.Match[str], days: int) -> str:
    groups = match.groupdict()
    try:
        if groups["mdy"]:
            year = int(groups["y1"])
            if len(groups["y1"]) == 2:
                year += 2000 if year < 50 else 1900
            shifted = dt.date(year, int(groups["m1"]), int(groups["d1"])) + dt.timedelta(days=days)
            text_year = f"{shifted.year}" if len(groups["y1"]) == 4 else f"{shifted.year % 100:02d}"
            return f"{shifted.month:02d}/{shifted.day:02d}/{text_year}"
        if groups["mdy_dash"]:
            shifted = dt.date(
                int(groups["y4"]), int(groups["m4"]), int(groups["d4"])
            ) + dt.timedelta(days=days)
            return f"{shifted.month:02d}-{shifted.day:02d}-{shifted.year}"
        if groups["iso"]:
            shifted = dt.date(
                int(groups["y2"]), int(groups["m2"]), int(groups["d2"])
            ) + dt.timedelta(days=days)
            return shifted.isoformat()
        if groups["mdy_text"]:
            month = _MONTHS[groups["mon3"].rstrip(".").lower()]
            shifted = dt.date(int(groups["y3"]), month, int(groups["d3"])) + dt.timedelta(days=days)
            return f"{calendar.month_name[shifted.month]} {shifted.day}, {shifted.year}"
        if groups["dmy_text"]:
            month = _MONTHS[groups["mon5"].rstrip(".").lower()]
            shifted = dt.date(int(groups["y5"]), month, int(groups["d5"])) + dt.timedelta(days=days)
            return f"{shifted.day} {calendar.month_name[shifted.month]} {shifted.year}"
        if groups["my_text"]:
            month = _MONTHS[groups["mon6"].rstrip(".").lower()]
            shifted = dt.date(int(groups["y6"]), month, 15) + dt.timedelta(days=days)
            return f"{calendar.month_name[shifted.month]} {shifted.year}"
    except (ValueError, KeyError, OverflowError):
        return "[DATE]"
    return "[YEAR]"


def identifier_variants(identifiers: Sequence[str | None]) -> list[str]:
    """The strings to look for: each identifier, and for DICOM-style names (``LAST^FIRST``)
    each name part plus "FIRST LAST" and "LAST, FIRST". Parts shorter than 2 characters are
    dropped (they would erase ordinary text)."""
    found: set[str] = set()
    for identifier in identifiers:
        if identifier is None:
            continue
        value = str(identifier).strip()
        if "^" in value:
            parts = [p.strip() for p in value.split("^") if p.strip()]
            found.update(parts)
            if len(parts) >= 2:
                found.add(f"{parts[1]} {parts[0]}")
                found.add(f"{parts[0]}, {parts[1]}")
                found.add(" ".join(parts))
        elif value:
            found.add(value)
    return sorted((v for v in found if len(v) >= 2), key=len, reverse=True)


def scrub_report_text(
    text: str | None,
    *,
    identifiers: Sequence[str | None],
    date_shift_days: int,
    replacements: Mapping[str, str] | None = None,
    remove_dates: bool = False,
) -> str | None:
    """``text`` with names, identifiers, signatures removed and dates shifted (module doc);
    ``remove_dates=True`` replaces dates by ``[DATE]`` instead of shifting them (for text that
    leaves the organisation, e.g. to an LLM service).

    >>> scrub_report_text("MRN 12345678 seen 03/14/2021. Dictated by: Dr. Who",
    ...                   identifiers=["12345678"], date_shift_days=-10)
    'MRN [REDACTED] seen 03/04/2021. [SIGNATURE]'
    """
    if text is None:
        return None
    replacements = {k.strip().lower(): v for k, v in (replacements or {}).items() if k}
    out = _SIGNATURE.sub("[SIGNATURE]", text)
    # the study's own identifiers become private-use placeholder tokens first, so that the
    # generic passes below never touch their pseudonyms; the tokens are resolved at the end
    tokens: list[str] = []

    def placeholder(match: re.Match[str]) -> str:
        tokens.append(replacements.get(match.group(0).lower(), "[REDACTED]"))
        return f"\ue000{chr(0xE100 + len(tokens) - 1)}\ue001"

    variants = identifier_variants(identifiers)
    if variants:
        pattern = re.compile(
            r"(?i)(?<![A-Za-z0-9])(?:"
            + "|".join(re.escape(v) for v in variants)
            + r")(?![A-Za-z0-9])"
        )
        out = pattern.sub(placeholder, out)
    out = _TITLED_NAME.sub("[NAME]", out)
    out = _CREDENTIALED_NAME.sub("[NAME]", out)
    out = _LABELLED_NAME.sub(lambda m: f"{m.group(1)}: [NAME]", out)
    out = _EMAIL.sub("[EMAIL]", out)
    out = _SSN.sub("[SSN]", out)
    out = _MRN.sub("[MRN]", out)
    out = _ACCESSION.sub("[ACCESSION]", out)
    if remove_dates:
        out = _DATES.sub(lambda m: "[YEAR]" if m.group("year") else "[DATE]", out)
    else:
        out = _DATES.sub(lambda m: _shift_match(m, int(date_shift_days)), out)
    out = _PHONE.sub("[PHONE]", out)
    out = _LONG_NUMBER.sub("[ID]", out)
    out = _OLD_AGE.sub("90+", out)
    if tokens:
        out = re.sub("\ue000(.)\ue001", lambda m: tokens[ord(m.group(1)) - 0xE100], out)
    return out


_CREDENTIALS = {"MD", "DO", "PHD", "RN", "NP", "PA", "PA-C", "RT", "RDMS", "DR", "DR."}


def staff_name_parts(name: str | None) -> list[str]:
    """Name parts of a staff field such as ``"ADEBISI, MARCUS MD"`` or ``"ADEBISI^MARCUS"``
    (credentials and one-letter initials dropped).

    >>> staff_name_parts("ADEBISI, MARCUS MD")
    ['ADEBISI', 'MARCUS']
    """
    if not name:
        return []
    parts = [p.strip(".") for p in re.split(r"[\^,\s]+", name) if p.strip(".")]
    return [p for p in parts if len(p) >= 2 and p.upper() not in _CREDENTIALS]


def scrub_reports(
    frame: pl.DataFrame,
    pseudonymizer: Any,
    patients: pl.DataFrame | None = None,
    *,
    columns: Sequence[str] = ("report_text",),
) -> pl.DataFrame:
    """``frame`` with each text column in ``columns`` scrubbed per row.

    Per row, the study's own identifiers are the row's ``patient_id`` (→ its pseudonym),
    ``accession_number`` (→ its pseudonym), ``specimen_accession`` / ``encounter_id`` and the
    name parts of ``radiologist`` (→ ``[REDACTED]``) and, when ``patients`` (``patient_id, patient_name``) is given, the parts
    of the patient's name; dates shift by the patient's ``date_shift_days``.

    The per-row work (identifier list and date arithmetic inside the text) needs Python, so
    this is one ``map_elements`` over a struct of the text and its row's identifiers; all
    table work around it stays in polars.
    """
    names = (
        patients.select("patient_id", pl.col("patient_name").alias("__name")).unique("patient_id")
        if patients is not None
        else pl.DataFrame(schema={"patient_id": pl.Utf8, "__name": pl.Utf8})
    )
    work = frame.with_row_index("__row").join(names, on="patient_id", how="left").sort("__row")
    id_columns = [c for c in ("radiologist",) if c in work.columns] + [
        c
        for c in ("patient_id", "accession_number", "specimen_accession", "encounter_id")
        if c in work.columns
    ]
    patient_ids = work.get_column("patient_id").drop_nulls().unique().to_list()
    shifts = {p: pseudonymizer.date_shift_days(p) for p in patient_ids}
    work = work.with_columns(
        pl.col("patient_id")
        .replace_strict(shifts, default=0, return_dtype=pl.Int64)
        .alias("__shift")
    )

    def scrub_row(row: dict[str, Any]) -> str | None:
        replacements: dict[str, str] = {}
        if row.get("patient_id"):
            replacements[row["patient_id"]] = pseudonymizer.patient_id(row["patient_id"])
        if row.get("accession_number"):
            replacements[row["accession_number"]] = pseudonymizer.accession_number(
                row["accession_number"]
            )
        identifiers = [row.get(c) for c in id_columns] + [row.get("__name")]
        identifiers += staff_name_parts(row.get("radiologist"))
        return scrub_report_text(
            row["__text"],
            identifiers=identifiers,
            date_shift_days=row["__shift"],
            replacements=replacements,
        )

    scrubbed = []
    for column in columns:
        struct = pl.struct(pl.col(column).alias("__text"), *id_columns, "__name", "__shift")
        scrubbed.append(
            struct.map_elements(scrub_row, return_dtype=pl.Utf8, skip_nulls=False).alias(column)
        )
    return work.with_columns(scrubbed).select(frame.columns)
