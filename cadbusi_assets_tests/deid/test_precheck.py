"""The pre-check that spares compiling a patient's patterns (issue 12, item 6).

:func:`~cadbusi_assets.deid.scan.may_hold_identifiers` answers "no" without compiling
anything; it may only do so when the compiled patterns would find nothing. These tests hold
it to that: the fold table is checked against every Unicode code point, and texts built from
the identifiers' own variants (accents, case, spacing, CJK, bytes in every encoding) and
from near misses are run through both the pre-check and the full patterns.
"""

from __future__ import annotations

import datetime as dt
import random
import re

import pytest

from cadbusi_assets.deid import OriginalIdentifiers, scan
from cadbusi_assets.deid import name_variants as nv
from cadbusi_assets.deid.engine import HeaderCleaner
from cadbusi_assets.deid.text import scrub_descriptor_text, scrub_free_text, scrub_text
from cadbusi_assets_tests.support import time_limit

ALL_CHARACTERS = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)


def test_every_character_a_letter_class_matches_folds_onto_that_letter():
    table, ambiguous = nv._fold()
    with time_limit(120, "scanning every code point"):
        for letter, cls in nv._ACCENT_CLASSES.items():
            matched = set(re.findall(cls, ALL_CHARACTERS, re.IGNORECASE))
            assert letter in matched and letter.lower() in matched
            wrong = sorted(ch for ch in matched if table.get(ord(ch)) != letter)
            assert not wrong, (letter, wrong)
        # digits and ASCII punctuation are literals that match only themselves
        for ch in "0123456789/.,-^'()&":
            assert re.findall(re.escape(ch), ALL_CHARACTERS, re.IGNORECASE) == [ch]
    assert not ambiguous
    assert set(table.values()) == set(nv._ACCENT_CLASSES)


NAMES = [
    "Müller^Zoë",
    "Ødegård^Åse",
    "Yamada^Tarou=山田^太郎=やまだ^たろう",
    "O'Brien-Smith^Mary Ann^Q",
    "Straße^Łukasz",
    "Nguyễn^Thị Minh",
    "Doe^Jane",
    "Li^Bo",
    "İstanbul^Işık",
]
NOISE = [
    "US BREAST LT 10:00 3CM FN",
    "2.25.91234567890123",
    "LOGIQ E9 L12-5",
    "Synthetic Clinic",
    "Pt seen 03/04/2017",
    "",
]


def _identifiers(rng: random.Random) -> OriginalIdentifiers:
    return OriginalIdentifiers(
        patient_names=(rng.choice(NAMES),),
        patient_ids=(f"{rng.randrange(10**7):07d}",),
        accession_numbers=(f"A{rng.randrange(10**6):06d}",),
        birth_dates=(dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(20000)),),
        other=(rng.choice(["Smith^Jo", "Garcia^Ana", "RQ12345"]),),
    )


def _disguise(term: str, rng: random.Random) -> str:
    """A way the term may be written that its pattern still finds (or a near miss)."""
    out = []
    for ch in term:
        members = nv._ACCENT_CLASSES.get(ch.upper())
        if members and rng.random() < 0.4:
            ch = rng.choice(re.findall(members, ALL_CHARACTERS[:0x2000], re.IGNORECASE))
        elif rng.random() < 0.3:
            ch = ch.lower()
        elif ch == " ":
            ch = rng.choice([" ", "  ", "\t", "\n "])
        out.append(ch)
    text = "".join(out)
    if rng.random() < 0.25 and len(text) > 2:  # a near miss: one character changed or lost
        cut = rng.randrange(len(text))
        text = text[:cut] + rng.choice(["", "x", "7", "-"]) + text[cut + 1 :]
    return text


def _texts(ids: OriginalIdentifiers, rng: random.Random, n: int) -> list[str]:
    terms = [t for _, t in ids.search_terms()]
    out = []
    for _ in range(n):
        parts = [rng.choice(NOISE)]
        for _ in range(rng.randrange(3)):
            parts.append(_disguise(rng.choice(terms), rng))
        rng.shuffle(parts)
        out.append(rng.choice([" ", "", "^", "; ", "\\"]).join(parts))
    return out


def _full_patterns(text: str, ids: OriginalIdentifiers) -> list[str]:
    """The compiled patterns on ``text`` as the finder reads it (normalised: ``i\u0307`` of
    a lower-cased ``İ`` is ``i``)."""
    text = nv.normalise_text(text)
    return [kind for kind, rx in scan._text_regexes(ids, 1) if rx.search(text)]


@pytest.mark.parametrize("seed", range(6))
def test_the_precheck_never_hides_what_the_patterns_find(seed):
    rng = random.Random(seed)
    found = missed = 0
    for _ in range(12):
        ids = _identifiers(rng)
        for text in _texts(ids, rng, 60):
            full = _full_patterns(text, ids)
            assert scan.find_identifiers_in_text(text, ids) == full
            if full:
                found += 1
                assert scan.may_hold_identifiers(text, ids)
            else:
                missed += 1
            # scrubbing with the identifiers equals the generic scrub when the pre-check says no
            if not scan.may_hold_identifiers(text, ids):
                assert scrub_text(text, ids) == scrub_text(text, None)
    assert found > 50 and missed > 50  # both sides were exercised


@pytest.mark.parametrize("seed", range(3))
def test_the_byte_precheck_never_hides_what_the_byte_patterns_find(seed):
    rng = random.Random(100 + seed)
    found = 0
    for _ in range(10):
        ids = _identifiers(rng)
        for text in _texts(ids, rng, 30):
            for codec in ("latin-1", "utf-8", "utf-16-le", "utf-16-be", "iso2022_jp", "gb18030"):
                data = text.encode(codec, errors="ignore")
                full = [k for k, rx in scan._byte_regexes(ids) if rx.search(data)]
                assert scan.find_identifiers_in_bytes(data, ids) == full
                found += bool(full)
    assert found > 20


def test_texts_without_identifiers_compile_nothing():
    ids = OriginalIdentifiers(patient_names=("Quixotic^Zebulon",), patient_ids=("7654321",))
    scan._text_regexes.cache_clear()
    assert scan.find_identifiers_in_text("US BREAST LT 10:00 2.25.123", ids) == []
    assert scan.find_identifiers_in_bytes(b"\x00\x01", ids) == []
    assert scan._text_regexes.cache_info().currsize == 0
    assert scan.find_identifiers_in_text("pt ZEBULON quixotic", ids) == ["patient_name"]


def test_free_text_scrub_in_the_engine_is_unchanged_by_the_precheck(pseudonymizer):
    from pydicom.dataset import Dataset

    from cadbusi_assets.deid.profile import DEFAULT_PROFILE

    rng = random.Random(7)
    for _ in range(8):
        ids = _identifiers(rng)
        for text in _texts(ids, rng, 10):
            text = text.replace("\\", " ")  # one value (LO would split it)
            ds = Dataset()
            ds.ImageComments = text
            ds.StudyDescription = text[:64]
            cleaner = HeaderCleaner(pseudonymizer, DEFAULT_PROFILE, ids, "x")
            for elem in list(ds):
                cleaner._clean(ds, elem)
            assert ds.ImageComments == (scrub_free_text(text, ids) if text else text)
            limited = text[:64]
            assert ds.StudyDescription == (
                scrub_descriptor_text(limited, ids)[:64] if limited else limited
            )
