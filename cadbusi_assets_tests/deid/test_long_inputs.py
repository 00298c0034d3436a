"""Long adversarial inputs scrub in time linear in their length. A report, a DICOM text
element (LT holds 10 KB, UT any size) or a device field of 64 KB made of one repeated
piece took minutes: the time grew with the square of the length (a regular expression
tried from every character of a long run and read the run to its end each time, or a name
cue walked back over every "A" before it). One such value held up its file, its date or
the whole report query. Each case here took 60 s to several minutes before the fix; each
now has 30 s (about a second of work) and must still scrub what follows the long run."""

from __future__ import annotations

import random

import pytest

from cadbusi_assets.deid.shapes import scrub_identifier_shapes
from cadbusi_assets.deid.text import (
    _PERSON_NAME,
    _person_names,
    scrub_descriptor_text,
    scrub_free_text,
)
from cadbusi_assets.records.scrub import scrub_report_text
from cadbusi_assets_tests.support import time_limit

LENGTH = 64_000
TAIL = "\nHer sister Zelda Plimsoll called from 555-0142."


def _report(text: str) -> str:
    return scrub_report_text(text, identifiers=["Jane Smith"], date_shift_days=-10) or ""


SCRUBBERS = {
    "report": _report,
    "free text": scrub_free_text,
    "descriptor": scrub_descriptor_text,
    "short text": lambda text: scrub_identifier_shapes(text, "text"),
    "station": lambda text: scrub_identifier_shapes(text, "station"),
}

#: (repeated piece, scrubber): each was quadratic before the fix
CASES = [
    ("1", "report"),  # digits glued to an underscore (_GLUED_DIGITS)
    ("A ", "report"),  # a name cue walking back over initials and articles
    ("A.", "report"),
    ("A, ", "report"),
    ("A1-", "report"),  # a street word ending "-ring" or "straße" (_STREET)
    ("A1-", "short text"),
    ("A1-", "station"),
    ("-", "free text"),  # a DICOM person name "SMITH^JANE" (deid.text)
    ("'", "descriptor"),
    ("_", "free text"),  # an e-mail address (deid.text)
    ("1", "descriptor"),
]


@pytest.mark.parametrize(("piece", "kind"), CASES, ids=[f"{k}-{p!r}" for p, k in CASES])
def test_a_long_repeated_input_is_scrubbed_in_linear_time(piece, kind):
    text = piece * (LENGTH // len(piece)) + TAIL
    with time_limit(30, f"scrubbing {LENGTH} characters of {piece!r} ({kind})"):
        out = SCRUBBERS[kind](text)
    assert "0142" not in out
    if kind not in ("short text", "station"):  # shapes only: names are another pass's
        assert "Plimsoll" not in out and "Zelda" not in out


def test_the_linear_person_name_pass_matches_the_pattern_everywhere():
    """:func:`_person_names` replaces ``_PERSON_NAME.sub``: the same output on 200,000
    random strings of letters, apostrophes, hyphens, carets and their neighbours."""
    rng = random.Random(0)
    alphabet = list("aZ'-^^ 1_é.")
    for _ in range(200_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14)))
        assert _person_names(text, "[name]") == _PERSON_NAME.sub("[name]", text), text
