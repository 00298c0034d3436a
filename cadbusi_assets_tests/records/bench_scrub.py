"""Benchmark of the free-text scrubber on the synthetic test set: recall per identifier kind,
clinical-phrase retention and reports per second, for the current
:func:`cadbusi_assets.records.scrub.scrub_report_text` and for the scrubber it replaced (commit
99b1fc3, copied below verbatim as :func:`previous_scrub_report_text` so the comparison can be
rerun).

Run: ``python -m cadbusi_assets_tests.records.bench_scrub [--seed N] [--reports N] [--ner MODEL]
[--faker]`` (``--ner`` needs ``spacy`` and a model package, ``--faker`` the ``faker`` package,
installed by hand).
"""

from __future__ import annotations

import argparse
import calendar
import datetime as dt
import re
import time
from collections.abc import Callable, Mapping, Sequence

from cadbusi_assets.records.scrub import scrub_report_text
from cadbusi_assets_tests.records.deid_textset import KINDS, evaluate, generate

# --------------------------------------------------------------------------- previous scrubber
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


def _previous_identifier_variants(identifiers: Sequence[str | None]) -> list[str]:
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


def previous_scrub_report_text(
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

    variants = _previous_identifier_variants(identifiers)
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


# --------------------------------------------------------------------------- bench
def measure(scrub: Callable[..., str | None], seed: int, reports: int) -> dict[str, object]:
    cases = generate(seed, reports)
    for case in cases[:20]:  # warm caches (word lists, compiled patterns)
        scrub(case.text, identifiers=case.identifiers, date_shift_days=case.shift_days)
    start = time.perf_counter()
    for case in cases:
        scrub(case.text, identifiers=case.identifiers, date_shift_days=case.shift_days)
    elapsed = time.perf_counter() - start
    return {"counts": evaluate(cases, scrub), "reports_per_s": len(cases) / elapsed}


def table(seed: int = 20261202, reports: int = 500) -> str:
    """The per-kind table (markdown) for the current and the previous scrubber."""
    new = measure(scrub_report_text, seed, reports)
    old = measure(previous_scrub_report_text, seed, reports)
    lines = [
        f"Synthetic set: seed {seed}, {reports} reports",
        "",
        "| kind | planted | current recall | previous recall |",
        "| --- | ---: | ---: | ---: |",
    ]
    for kind in (*KINDS, "clinical"):
        kept_new, total = new["counts"].get(kind, (0, 0))
        kept_old, _ = old["counts"].get(kind, (0, 0))
        if not total:
            continue
        label = "clinical phrases kept" if kind == "clinical" else kind
        lines.append(f"| {label} | {total} | {kept_new / total:.2%} | {kept_old / total:.2%} |")
    lines.append(
        f"| reports/s (one core) | | {new['reports_per_s']:.0f} | {old['reports_per_s']:.0f} |"
    )
    return "\n".join(lines)


def ner_scrubber(model: str) -> Callable[..., str]:
    """A NER-only scrubber for comparison: every PERSON, GPE, LOC, FAC, ORG and DATE entity of
    a spaCy pipeline (``spacy`` and the model installed separately; neither is a dependency)."""
    import spacy  # type: ignore[import-not-found]

    nlp = spacy.load(model)
    labels = {"PERSON", "GPE", "LOC", "FAC", "ORG", "DATE"}

    def scrub(text: str, identifiers: Sequence[str], date_shift_days: int) -> str:
        out = text
        for ent in sorted(nlp(text).ents, key=lambda e: e.start_char, reverse=True):
            if ent.label_ in labels:
                out = out[: ent.start_char] + f"[{ent.label_}]" + out[ent.end_char :]
        return out

    return scrub


_FAKER_LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "ja_JP", "en_CA", "en_AU")  # fmt: skip
#: words of a Faker value that are not identifying on their own
_FAKER_IGNORE = {"the", "and", "http", "https", "www", "com", "org", "net", "rue", "via", "apt",
                 "suite", "calle", "avenue", "street", "road", "lane", "drive", "studio", "flat",
                 "miss", "mrs", "ms", "dr", "ing", "prof", "van", "der", "den", "von", "de",
                 "del", "la", "le", "di", "da", "bsc", "msc", "mba", "dipl", "univ", "jr", "sr",
                 "md", "phd", "dds", "dvm", "ii", "iii", "iv", "new", "north", "south", "east",
                 "west", "lake", "port", "am", "aan", "piso", "piano", "appartamento", "etage"}  # fmt: skip


def faker_check(
    scrub: Callable[..., str | None], seed: int = 7, per_locale: int = 60
) -> dict[str, tuple[int, int]]:
    """An independent check with the layouts of the ``faker`` package (installed by hand; not
    a dependency): names, phone numbers, street addresses, postcodes with towns, e-mails, URLs
    and dates of ten locales, each in a one-line report. A value counts as removed when none
    of its words of three or more characters (titles, particles and street types aside) is
    left, and only when the clinical sentence beside it survives."""
    from faker import Faker  # type: ignore[import-not-found]

    counts: dict[str, list[int]] = {}
    for locale in _FAKER_LOCALES:
        fake = Faker(locale)
        fake.seed_instance(seed)
        for _ in range(per_locale):
            us = locale in ("en_US", "en_CA", "en_AU")
            state = fake.state_abbr() if hasattr(fake, "state_abbr") else ""
            values = {
                "name": fake.name(),
                "phone": fake.phone_number(),
                "address": fake.street_address(),
                "city_zip": f"{fake.city()}, {state} {fake.postcode()}"
                if us
                else f"{fake.postcode()} {fake.city()}",
                "email": fake.email(),
                "url": f"{fake.url()}patient/{fake.random_int(1000, 99999)}",
                "date": fake.date_between("-30y", "today").strftime(
                    fake.random_element(
                        ["%Y-%m-%d", "%m/%d/%Y", "%d.%m.%Y", "%B %d, %Y", "%d %b %Y", "%b %d %Y"]
                    )
                ),
            }
            for kind, value in values.items():
                lead = {"name": "Discussed with", "address": "Lives at", "date": "Prior exam"}
                text = f"{lead.get(kind, 'Contact')} {value}. Mass at 2:00, 3 cm FN."
                out = scrub(text, identifiers=[], date_shift_days=-9) or ""
                parts = re.findall(r"\d{3,}|[^\W\d_]{3,}", value)
                left = [
                    p
                    for p in parts
                    if p.lower() not in _FAKER_IGNORE
                    and re.search(r"(?<![^\W_])" + re.escape(p) + r"(?![^\W_])", out)
                ]
                if kind == "date":
                    left = [value] if value in out else []
                row = counts.setdefault(kind, [0, 0])
                row[1] += 1
                row[0] += not left and "Mass at 2:00, 3 cm FN." in out
    return {k: (v[0], v[1]) for k, v in counts.items()}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--reports", type=int, default=500)
    parser.add_argument("--ner", help="also measure a spaCy NER model (e.g. en_core_web_sm)")
    parser.add_argument("--faker", action="store_true", help="also run the Faker-layout check")
    args = parser.parse_args(argv)
    print(table(args.seed, args.reports))
    if args.faker:
        print("\nFaker layouts (10 locales, 60 values each):")
        new, old = faker_check(scrub_report_text), faker_check(previous_scrub_report_text)
        print("| kind | values | current | previous |\n| --- | ---: | ---: | ---: |")
        for kind, (kept, total) in new.items():
            print(f"| {kind} | {total} | {kept / total:.2%} | {old[kind][0] / total:.2%} |")
    if args.ner:
        result = measure(ner_scrubber(args.ner), args.seed, args.reports)
        print(f"\nNER only ({args.ner}):")
        for kind, (kept, total) in sorted(result["counts"].items()):
            print(f"| {kind} | {total} | {kept / total:.2%} |")
        print(f"| reports/s | | {result['reports_per_s']:.0f} |")


if __name__ == "__main__":
    main()
