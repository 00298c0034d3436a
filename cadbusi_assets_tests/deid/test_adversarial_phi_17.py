"""Adversarial PHI tests, eighteenth round: what round 17 (``test_adversarial_phi_16.py``) left
leaking in text, each closed where a safe cue exists, through the seven channels of round 17
(a report, a descriptor, a code meaning, ``ImageComments``, ``SeriesDescription``,
``TransducerData``, ``StationName``).

Closed (each asserted below, each failed before): a word in no vocabulary glued to a compact
date or joined by an underscore (``QUIMBRELL19610303``, ``Quimbrell_19610303``); a query
parameter whose key names a person or an id (``name=Zelda%20Quimbrell``,
``patient=Zelda+Quimbrell``, ``&id=4815162``); the folder after ``Users``, ``home`` or
``patients`` in a path, in one value or split at a DICOM value's backslashes
(``C:\\Users\\zquimbrell\\``, ``/home/quimbrell/``, ``/data/patients/Quimbrell_Zelda/4815162/``)
and an id's digits after a pair of underscored names (``QUIMBRELL_ZELDA_4815162.dcm``); a CSV
row with an id's digits and a date (``Quimbrell,Zelda,4815162,1961-03-03``); in short text
the date of a DICOM DT with a fraction or an offset, a range of compact dates, an ISO week;
a number after ``#`` beside a person's name (``Zelda Quimbrell #4815162``).

Left, each asserted as it is: an unlabelled number or date alone (``Prior 202403``,
``#4815162``, ``exported 1709287810``, ``2024-061``, ``*4815162*``, ``ZQ4815162``: a build
date, a serial, a lot, a product's number read so, and nothing beside them says a patient's),
a build date or serial (``SW 20240301``, ``SN 1234567``, ``BUILD20240301``: kept on purpose)
and a folder of a path with no ``Users``, ``home`` or ``patients`` before it
(``\\\\PACS\\Quimbrell_Zelda\\`` split into values in a code meaning: a mixed-case pair joined
by an underscore reads like a product's).

All names, numbers and dates are invented.
"""

from __future__ import annotations

import pytest

from cadbusi_assets.deid.shapes import scrub_identifier_shapes
from cadbusi_assets.deid.text import scrub_descriptor_text
from cadbusi_assets.records.scrub import scrub_report_text
from cadbusi_assets_tests.deid.phi_support import leaked as _leaked
from cadbusi_assets_tests.deid.phi_support import through_channel as _run

CHANNELS = ("report", "desc", "cm", "hdr:ImageComments", "hdr:SeriesDescription",
            "hdr:TransducerData", "hdr:StationName")  # fmt: skip


def _short(text: str, kind: str = "text") -> str:
    return scrub_identifier_shapes(text, kind)


def _report(text: str) -> str:
    return scrub_report_text(text, identifiers=("Kowalczyk^Agnieszka",), date_shift_days=-17) or ""


# ------------------------------------------------------------ what round 17 left, now gone
ATTACKS = [
    ("QUIMBRELL19610303", ("QUIMBRELL", "19610303")),
    ("Quimbrell_19610303", ("QUIMBRELL", "19610303")),
    ("viewer?name=Zelda%20Quimbrell&id=4815162", ("QUIMBRELL", "ZELDA", "4815162")),
    ("viewer?patient=Zelda+Quimbrell&x=1", ("QUIMBRELL", "ZELDA")),
    ("C:\\Users\\zquimbrell\\exports\\QUIMBRELL_ZELDA_4815162.dcm", ("QUIMBRELL", "4815162")),
    ("/home/quimbrell/exports", ("QUIMBRELL",)),
    ("/data/patients/Quimbrell_Zelda/4815162/img1.dcm", ("QUIMBRELL", "4815162")),
    ("4815162,Quimbrell,Zelda,1961-03-03,F", ("4815162", "QUIMBRELL", "1961-03-03")),
    ("Quimbrell,Zelda,4815162,1961-03-03", ("4815162", "QUIMBRELL", "1961-03-03")),
    ("acq 20240301101010.123+0100 by Quimbrell", ("20240301",)),
    ("seen 20240301-20240305", ("20240301", "20240305")),
    ("Seen 2024-W09-5", ("2024-W09",)),
    ("Zelda Quimbrell #4815162", ("QUIMBRELL", "4815162")),
]


@pytest.mark.parametrize(
    ("text", "secrets", "channel"),
    [(text, secrets, channel) for text, secrets in ATTACKS for channel in CHANNELS],
)
def test_no_round_18_attack_leaks(text, secrets, channel, pseudonymizer):
    assert _leaked(_run(channel, text, pseudonymizer), secrets) == []


def test_a_word_glued_to_a_date_goes_with_it():
    assert _short("QUIMBRELL19610303") == "[name][date]"
    assert _short("Quimbrell_19610303") == "[name]_[date]"
    assert _short("QUIMBRELL19610303", "station name") == "[name][date]"
    assert scrub_descriptor_text("Quimbrell_19610303") == "[NAME]_[ID]"
    assert _report("Quimbrell_19610303") == "[NAME]_[ID]"
    # a vocabulary word, two letters, no valid date: a build's name stays
    for text in ("BUILD20240301", "SW20240301", "V20240301", "ABCD20241301", "SW 20240301"):
        assert _short(text) == text, text


def test_a_person_in_a_query_string_goes():
    assert _short("viewer?name=Zelda%20Quimbrell&id=4815162") == "viewer?name=[name]&id=[id]"
    assert _short("?patient=Zelda+Quimbrell") == "?patient=[name]"
    assert _short("?name=O%27Quimbrell%2C%20Zelda&x") == "?name=[name]&x"
    assert _report("viewer?name=Zelda%20Quimbrell&id=4815162") == "viewer?name=[NAME]&id=[ID]"
    # a probe's name, a setting, an empty or encoded-only value, a short id stay
    for text in ("?name=L12-5", "?mode=B&gain=50", "?name=%20%20&x", "?id=12", "name=Zelda"):
        assert _short(text) == text, text


def test_a_persons_folder_in_a_path_goes():
    assert _short("/home/quimbrell/exports") == "/home/[name]/exports"
    assert _short("C:\\Users\\zquimbrell\\x.dcm") == "C:\\Users\\[name]\\x.dcm"
    assert _short("/data/patients/Quimbrell_Zelda/4815162/img1.dcm") == (
        "/data/patients/[name]/[id]/img1.dcm"
    )
    assert _report("C:\\Users\\zquimbrell\\x.dcm") == "C:\\Users\\[NAME]\\x.dcm"
    assert scrub_descriptor_text("/home/quimbrell/x") == "/home/[NAME]/x"
    assert _short("QUIMBRELL_ZELDA_4815162.dcm") == "[name]_[id].dcm"
    # a vocabulary word in a user's place stays
    for text in ("C:\\Users\\Public\\x", "/home/admin/x", "/users/shared/x", "/usr/lib/x"):
        assert _short(text) == text, text


def test_a_split_path_loses_its_users_folder(pseudonymizer):
    """A backslash splits a DICOM value: ``C:``, ``Users``, ``zquimbrell`` are three values."""
    out = _run("cm", "C:\\Users\\zquimbrell\\exports\\QUIMBRELL_ZELDA_4815162.dcm", pseudonymizer)
    assert out == "['C:', 'Users', '[name]', 'exports', '[name]_[id].dcm']"
    out = _run("hdr:SeriesDescription", "C:\\Users\\zquimbrell\\x", pseudonymizer)
    assert out == "['C:', 'Users', '[NAME]', 'x']"
    # no drive first, or a vocabulary word: the values stay
    assert _run("cm", "Users\\zquimbrell\\x", pseudonymizer) == "['Users', 'zquimbrell', 'x']"
    assert _run("cm", "C:\\Users\\Public\\x", pseudonymizer) == "['C:', 'Users', 'Public', 'x']"


def test_a_csv_row_loses_its_identifiers():
    assert _short("Quimbrell,Zelda,4815162,1961-03-03") == "[name],[name],[id],[date]"
    assert _short("4815162,Quimbrell,Zelda,19610303,F") == "[id],[name],[name],[date],F"
    # no id's digits or no date: a row of settings or a list stays
    for text in ("gain,50,depth,4.5", "L12-5,ACME,1234567,v2", "Breast,Axilla,Left,Right",
                 "2024-03-01,Left,Right,Both", "a, b, c, d"):  # fmt: skip
        assert _short(text) == text, text


def test_dates_in_short_text_that_only_a_date_is_written_like_go():
    assert _short("acq 20240301101010.123+0100") == "acq [date]101010.123+0100"
    assert _short("acq 20240301101010+0100") == "acq [date]101010+0100"
    assert _short("seen 20240301-20240305") == "seen [date]-[date]"
    assert _short("Seen 2024-W09-5") == "Seen [date]"
    assert _short("wk 2024W09") == "wk [date]"
    # a build number of 14 digits, a range of a date and a number, a week of 54 stay
    for text in ("build 20240301101010", "v20240301101010.1", "20240301-1", "2024-W54"):
        assert _short(text) == text, text


def test_a_number_after_a_hash_goes_only_beside_a_name():
    assert _short("Zelda Quimbrell #4815162") == "[name] #[id]"
    assert _short("Zelda Quimbrell #123") == "[name] #123"  # too short for an id
    for text in ("#4815162", "lot #4815162", "case #4815162"):
        assert _short(text) == text, text


# ------------------------------------------------------------ left, as measured
LEFT = ["Prior 202403", "#4815162", "exported 1709287810", "Seen 2024-061", "*4815162*",
        "ZQ4815162", "SN 1234567", "SW 20240301"]  # fmt: skip


@pytest.mark.parametrize("text", LEFT)
def test_unlabelled_numbers_and_dates_alone_stay_in_short_text(text):
    assert _short(text) == text
    # a station's name removes a compact date (as before)
    assert _short(text, "station name") == text.replace("20240301", "[date]")


def test_a_folder_with_no_persons_place_before_it_stays_when_split(pseudonymizer):
    out = _run("cm", "\\\\PACS\\Quimbrell_Zelda\\img.dcm", pseudonymizer)
    assert out == "['', '', 'PACS', 'Quimbrell_Zelda', 'img.dcm']"
