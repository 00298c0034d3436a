"""The OCR matcher's one-error search (``deid.ocr._ocr_regexes``) finds what the alternation
of every term's one-error patterns, compiled per study, found: the same kinds on adversarial
identifiers (names in Latin with accents, Greek, Cyrillic and CJK scripts, IDs with
separators, dates in every format the search terms hold) and on texts holding each term with
every single error, look-alike folds, digits around numbers, line breaks and halves only."""

from __future__ import annotations

import datetime as dt
import random
import re

import pytest

from cadbusi_assets.deid import ocr
from cadbusi_assets.deid.identifiers import OriginalIdentifiers

_NEVER = re.compile(r"(?!)")


def _old_ocr_regexes(
    identifiers: OriginalIdentifiers,
) -> tuple[tuple[str, re.Pattern[str], re.Pattern[str]], ...]:
    """The previous implementation: one alternation per kind, compiled per study."""
    words: dict[str, list[str]] = {}
    numbers: dict[str, list[str]] = {}
    for kind, term in identifiers.search_terms():
        compact = "".join(term.split())
        if len(re.sub(r"[^0-9A-Z]", "", compact)) < ocr.FUZZY_MIN_LENGTH:
            continue
        if re.search(r"[A-Z]", compact):
            words.setdefault(kind, []).extend(ocr._one_error(compact.translate(ocr._LOOKALIKES)))
        else:
            numbers.setdefault(kind, []).extend(ocr._one_error(compact))
    return tuple(
        (
            kind,
            re.compile("|".join(words[kind])) if kind in words else _NEVER,
            re.compile(rf"(?<!\d)(?:{'|'.join(numbers[kind])})(?!\d)")
            if kind in numbers
            else _NEVER,
        )
        for kind in sorted(set(words) | set(numbers))
    )


IDENTIFIERS = [
    OriginalIdentifiers(
        patient_names=("MÜLLER-LÜDENSCHEIDT^JOSÉ^MARÍA", "O'BRIEN^SÍOFRA"),
        patient_ids=("12-345-678",),
        accession_numbers=("ACC-2024/000123",),
        birth_dates=(dt.date(1962, 3, 4),),
        other=("DR^HOUSE^GREGORY", "RP 0039.221"),
    ),
    OriginalIdentifiers(
        patient_names=("ΠΑΠΑΔΟΠΟΥΛΟΥ^ΕΛΕΝΗ", "PAPADOPOULOU^ELENI"),
        patient_ids=("GR 0099 1234",),
        accession_numbers=("A0000007",),
        birth_dates=(dt.date(1990, 11, 30),),
    ),
    OriginalIdentifiers(
        patient_names=("ИВАНОВА^МАРИЯ^СЕРГЕЕВНА", "IVANOVA^MARIYA"),
        patient_ids=("RU-77-100200300",),
        birth_dates=(dt.date(2001, 1, 1), dt.date(1955, 12, 25)),
    ),
    OriginalIdentifiers(
        patient_names=("山田^太郎=ヤマダ^タロウ=YAMADA^TARO", "SZÉKELY-NAGY^ZSÓFIA"),
        patient_ids=("0001110110",),  # look-alike folds: O/0, I/1, L/1
        accession_numbers=("BOSLIZD123",),
        birth_dates=(dt.date(1948, 7, 9),),
    ),
]

#: Characters an OCR error puts in: look-alikes, digits, letters, separators, a line break.
_NOISE = "0OQD1IL|5S8B2Z7A9X -/.:,\n"


def _single_errors(term: str, rng: random.Random) -> list[str]:
    out = [term]
    for i in range(len(term) + 1):
        out.append(term[:i] + term[i + 1 :])  # missing
        out.append(term[:i] + rng.choice(_NOISE) + term[i:])  # extra
        out.append(term[:i] + rng.choice(_NOISE) + term[i + 1 :])  # wrong
    # two errors (mostly no match), halves only (the pre-check passes, the pattern decides)
    for _ in range(6):
        i, j = sorted(rng.sample(range(len(term)), 2))
        out.append(term[:i] + rng.choice(_NOISE) + term[i + 1 : j] + term[j + 1 :])
    half = len(term) // 2
    out += [term[:half], term[half:], term[:half] + " " + term[half:], term[half:] + term[:half]]
    return out


def _texts(identifiers: OriginalIdentifiers, rng: random.Random, per_kind: int = 4) -> list[str]:
    """Single-error variants of ``per_kind`` terms of every kind (the longest, the shortest
    and others drawn), plain and look-alike folded, in context; and noise."""
    by_kind: dict[str, list[str]] = {}
    for kind, term in identifiers.search_terms():
        by_kind.setdefault(kind, []).append("".join(term.split()))
    terms = []
    for kind_terms in by_kind.values():
        middle = kind_terms[1:-1]
        terms += (
            kind_terms[:1] + kind_terms[-1:] + rng.sample(middle, min(len(middle), per_kind - 2))
        )
    terms += [t.translate(ocr._LOOKALIKES) for t in terms]
    contexts = [("", ""), ("7", ""), ("", "3"), ("ID:", " LT"), ("\n", "\n"), ("A", "B")]
    texts = []
    for term in terms:
        for variant in _single_errors(term, rng):
            before, after = rng.choice(contexts)
            texts.append(before + variant + after)
    texts += ["".join(rng.choice(_NOISE) for _ in range(60)) for _ in range(50)]
    return texts


@pytest.mark.parametrize("index", range(len(IDENTIFIERS)))
def test_one_error_matching_is_unchanged(index: int) -> None:
    identifiers = IDENTIFIERS[index]
    rng = random.Random(index)
    old = _old_ocr_regexes(identifiers)
    new = ocr._ocr_regexes(identifiers)
    assert [kind for kind, _, _ in new] == [kind for kind, _, _ in old]
    found = {True: 0, False: 0}
    for text in _texts(identifiers, rng):
        for (kind, old_words, old_numbers), (_, words, numbers) in zip(old, new, strict=True):
            for old_pattern, matcher in ((old_words, words), (old_numbers, numbers)):
                expected = old_pattern.search(text) is not None
                assert bool(matcher.search(text)) == expected, (kind, text)
                found[expected] += 1
    assert found[True] > 100 and found[False] > 100  # both outcomes are exercised


@pytest.mark.parametrize("index", range(len(IDENTIFIERS)))
def test_ocr_text_findings_are_unchanged(index: int, monkeypatch: pytest.MonkeyPatch) -> None:
    identifiers = IDENTIFIERS[index]
    texts = _texts(identifiers, random.Random(100 + index), per_kind=2)[::3]
    texts = [t.lower() if i % 5 == 0 else t for i, t in enumerate(texts)]  # OCR's own case
    new = [ocr.find_identifiers_in_ocr_text(text, identifiers) for text in texts]
    monkeypatch.setattr(ocr, "_ocr_regexes", _old_ocr_regexes)
    old = [ocr.find_identifiers_in_ocr_text(text, identifiers) for text in texts]
    assert new == old
    assert sum(bool(kinds) for kinds in new) > 20


def test_regexes_are_compiled_per_term_only_when_a_half_is_present() -> None:
    identifiers = OriginalIdentifiers(patient_ids=("98765432",), accession_numbers=("ACC7654321",))
    ocr._one_error_regex.cache_clear()
    kinds = ocr._ocr_regexes(identifiers)
    assert ocr._one_error_regex.cache_info().currsize == 0  # built without compiling
    for _, words, numbers in kinds:
        assert not words.search("LT BREAST 12:00 2CMFN") and not numbers.search("12:00")
    assert ocr._one_error_regex.cache_info().currsize == 0
    assert ocr.find_identifiers_in_ocr_text("ID 98765A32", identifiers) == ["patient_id"]
    assert ocr._one_error_regex.cache_info().currsize >= 1


@pytest.mark.parametrize(
    ("name", "read", "found"),
    [
        ("LI^NA", "LINA", True),  # OCR left out the space (the gate adversary's case)
        ("LI^NA", "NALI", True),
        ("LI^NA", "PT: LINA 5CM", True),
        ("WU^AN^LI", "WUANLI", True),
        ("LI^NA", "NORTH CAROLINA", False),  # inside a longer word: another word
        ("LI^NA", "LINAX", False),
        ("LI^NA", "LI", False),
    ],
)
def test_a_name_of_short_parts_is_found_with_its_spaces_left_out(
    name: str, read: str, found: bool
) -> None:
    """Names whose letters are too few for the one-error matching are searched for with the
    spaces between their parts left out, as a word of their own (before: ``LI NA`` read as
    ``LINA`` passed the verification)."""
    ids = OriginalIdentifiers(patient_names=(name,))
    assert (ocr.find_identifiers_in_ocr_text(read, ids) == ["patient_name"]) is found
