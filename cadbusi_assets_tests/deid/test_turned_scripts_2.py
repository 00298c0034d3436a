"""Names in more scripts the OCR cannot read (Arabic, Armenian, Georgian; a Latin given name
with an Arabic family name; a name in two scripts), and how the unreadable-name check names
their scripts (:func:`cadbusi_assets.deid.identifiers.unreadable_name_scripts`).

The script of a name was the first word of each letter's Unicode name: a script of several
words was cut (``NEW TAI LUE LETTER ...`` gave ``new``, ``OL CHIKI`` ``ol``, ``CANADIAN
SYLLABICS`` ``canadian``), a modifier letter (the ``ʻokina`` of a Hawaiian name) made a Latin
name a ``modifier`` name, and full-width or mathematical Latin letters (which the identifier
matching reads as Latin, :func:`~cadbusi_assets.deid.name_variants.normalise_text`) made it a
``fullwidth`` or ``mathematical`` one: the verification failed closed on every frame with
text outside the screen's vocabulary (about 4 in 10 clean tuning frames) for a name it reads.

The frame cases are ``tools/attack_line_gate.py --scripts2`` attack frames (generator tuning
screens, seeds 100-439, PHI blacked out, the name planted), caught: they guard the scripts the
attack added. Every name is invented.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import cadbusi_assets  # noqa: F401  (before cadbusi_demo and torch)
from cadbusi_assets.deid.identifiers import OriginalIdentifiers, unreadable_name_scripts
from cadbusi_assets.deid.ocr import _unreadable_name_kinds, ocr_identifiers
from cadbusi_assets_tests.support import missing, require_tesseract_executable
from tools.attack_line_gate import DEJAVU, build, script_cases_2


def _scripts(*names: str) -> list[str]:
    return unreadable_name_scripts(OriginalIdentifiers(patient_names=names))


@pytest.mark.parametrize(
    ("name", "scripts"),
    [
        ("الحسيني^فاطمة", ["arabic"]),
        ("ՀԱԿՈԲՅԱՆ^ԱՆԻ", ["armenian"]),
        ("ბერიძე^ნინო", ["georgian"]),
        ("शर्मा^प्रिया", ["devanagari"]),
        ("สมชาย^ใจดี", ["thai"]),
        ("ከበደ^አበበ", ["ethiopic"]),
        ("ﺍﻟﺤﺴﻴﻨﻲ", ["arabic"]),  # presentation forms (shaped letters)
        ("Ahmed^الحسيني", ["arabic"]),  # a Latin given name, an Arabic family name
        ("Alhusseini^Fatima=الحسيني^فاطمة", ["arabic"]),  # two scripts, ``=`` groups
        ("Петрова^Ani=ՀԱԿՈԲՅԱՆ", ["armenian", "cyrillic"]),
    ],
)
def test_every_script_of_a_name_is_found(name, scripts):
    assert _scripts(name) == scripts
    kinds = _unreadable_name_kinds(OriginalIdentifiers(patient_names=(name,)))
    assert kinds == [f"text_unreadable_for_a_{s}_name" for s in scripts]


@pytest.mark.parametrize(
    ("name", "scripts"),
    [
        ("ᦀᦂ^ᨠᨡ", ["new_tai_lue", "tai_tham"]),
        ("ᱚᱞ^ᱥᱟ", ["ol_chiki"]),
        ("ᐊᐃᐅ", ["canadian_syllabics"]),
        ("ꯀꯁ", ["meetei_mayek"]),
        ("\U00010300\U00010301", ["old_italic"]),
    ],
)
def test_a_script_of_several_words_is_named_whole(name, scripts):
    assert _scripts(name) == scripts


@pytest.mark.parametrize(
    "name",
    [
        "ʻOlena^Kai",  # a modifier letter (the ʻokina), in Latin names
        "Kʰan^Ali",
        "ＭＵＬＬＥＲ^ＺＯＥ",  # full-width Latin
        "\U0001d40c\U0001d42e\U0001d425\U0001d425\U0001d41e\U0001d42b^Zoë",  # mathematical bold
    ],
)
def test_a_latin_name_in_compatibility_or_modifier_letters_is_readable(name):
    assert _scripts(name) == []
    assert _unreadable_name_kinds(OriginalIdentifiers(patient_names=(name,))) == []


#: (attack case: script, turn clockwise (0: upright), font, size, placement, level; seed)
CAUGHT = [
    ("arabic90_sans14_brightest255", 137),
    ("arabic270_sans12_brightest255", 204),
    ("arabic180_sans12_brightest255", 308),
    ("arabic0_sans14_panel255", 412),
    ("armenian90_sans12_brightest255", 139),
    ("armenian0_sans16_brightest255", 185),
    ("georgian270_sans12_brightest255", 282),
    ("georgian0_sans14_panel255", 150),
    ("mixed90_sans16_blend150", 365),
    ("twogroup0_sans14_panel255", 256),
]

_BY_NAME = {case.name: case for case in script_cases_2()}


@pytest.mark.parametrize(("name", "seed"), CAUGHT)
def test_a_name_in_a_new_script_is_caught(name, seed):
    require_tesseract_executable()
    if not Path(DEJAVU, "DejaVuSans.ttf").exists():
        missing("DejaVu fonts are not installed (apt-get install fonts-dejavu-core)")
    case = _BY_NAME[name]
    script = _scripts(*case.ids.patient_names)
    assert len(script) == 1, name
    kind = f"text_unreadable_for_a_{script[0]}_name"
    assert kind in ocr_identifiers(build(case, seed), case.ids), name
