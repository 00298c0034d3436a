"""Adversarial PHI tests, fifteenth round: the two leaks round 14 found and left, then inputs
around their shapes.

1. a labelled id (MRN, accession, any id label) whose digits a line break splits
   (``MRN 4815\\n1623``, ``MRN: 4815-\\n1623``, ``\\r\\n``, tabs): the digits on the next
   line went on; a number there that is something else stays (``1.2 cm``, a BI-RADS ``4``,
   a time, a list item ``2.``, a short number);
2. a weekday is no name (``Seen Tuesday.`` became ``Seen [NAME].``), and a weekday before
   an ordinal day (``Tuesday the 3rd``, ``on Tue the 3rd``, ``Tuesday, the 3rd``) is a date:
   shifted (the weekday dropped, as ``Tuesday, March 3`` loses it; the day moved in a month
   of 31 days, the month being unknown) or ``[DATE]``; a bare ordinal day after ``on the``,
   ``by the``, ``since the``, ``until the`` at a sentence's end is a date too (``Seen on the
   3rd.``); ``the 3rd time``, ``3rd ventricle``, ``on the 3rd floor`` stay.

All names, numbers and dates are invented.
"""

from __future__ import annotations

import pytest

from cadbusi_assets.deid.shapes import scrub_identifier_shapes
from cadbusi_assets.records.scrub import scrub_report_text
from cadbusi_assets_tests.deid.phi_support import leaked as _leaked
from cadbusi_assets_tests.deid.phi_support import through_channel as _run

R, IC, C, D = "report", "hdr:ImageComments", "cm", "desc"
T, S = "hdr:TransducerData", "hdr:StationName"


def _report(text: str, days: int = -17) -> str:
    return scrub_report_text(text, identifiers=("Kowalczyk^Agnieszka",), date_shift_days=days) or ""


def _removed(text: str) -> str:
    return scrub_report_text(text, identifiers=(), date_shift_days=0, remove_dates=True) or ""


# ------------------------------------------------------------ 1. an id split by a line break
def test_an_id_split_across_a_line_break():
    assert _report("MRN 4815\n1623 on file.") == "MRN [MRN] on file."
    assert _report("MRN: 4815-\n1623") == "MRN: [MRN]"
    assert _report("Medical record number 481\n51623") == "Medical record number [MRN]"
    assert _report("Accession 4815\n1623 reviewed.") == "Accession [ACCESSION] reviewed."
    assert _report("MRN 4815\r\n1623 on file.") == "MRN [MRN] on file."
    assert _report("MRN 4815 \t\n\t1623") == "MRN [MRN]"
    assert _report("MRN 4815162-\n3") == "MRN [MRN]"


def test_a_number_on_the_next_line_that_is_no_id_stays():
    for after in ("1.2 cm mass", "2. Mass at 3 o'clock", "4 BI-RADS", "10:30 seen",
                  "12 mm lesion", "3 lesions", "12. Impression", "3/4 of lesion",
                  "25% density", "2024 follow-up"):  # fmt: skip
        out = _report("MRN 4815\n" + after)
        assert out.startswith("MRN [MRN]\n"), out
    assert _report("MRN 4815\n12. Impression") == "MRN [MRN]\n12. Impression"
    # a short id and a short number: no id's shape
    assert _report("Visit 12\n34 lesions") == "Visit [ID]\n34 lesions"


# ------------------------------------------------------------ 2. weekdays
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
            "Mon", "Tue", "Tues", "Wed", "Thur", "Thurs", "Fri", "Sat", "Sun"]  # fmt: skip


@pytest.mark.parametrize("day", WEEKDAYS + [d.upper() for d in WEEKDAYS[:7]])
def test_a_weekday_is_no_name(day):
    assert _report(f"Seen {day}.") == f"Seen {day}."
    assert _report(f"Follow-up on {day} with ultrasound.") == f"Follow-up on {day} with ultrasound."


def test_a_weekday_and_an_ordinal_day_are_a_date():
    assert _report("Seen Tuesday the 3rd.") == "Seen the 17th."
    assert _report("Seen on Tue the 3rd.") == "Seen on the 17th."
    assert _report("Seen Tuesday 3rd.") == "Seen 17th."
    assert _report("Seen Tuesday, the 3rd.") == "Seen the 17th."
    assert _report("Seen Friday the 21st.", days=5) == "Seen the 26th."
    assert _report("Seen Monday the 30th.", days=5) == "Seen the 4th."
    assert _report("Seen Thursday the third.") == "Seen the seventeenth."
    assert _removed("Seen Tuesday the 3rd.") == "Seen [DATE]."
    assert _removed("on Tue the 3rd at noon") == "on [DATE] at noon"
    assert _removed("Tuesday, the 3rd") == "[DATE]"


def test_a_bare_ordinal_day_after_a_strong_cue():
    assert _report("Seen on the 3rd.") == "Seen on the 17th."
    assert _report("Results by the 21st.", days=5) == "Results by the 26th."
    assert _removed("Seen on the 3rd.") == "Seen on the [DATE]."
    assert _removed("Biopsy on the 3rd at 10:00.") == "Biopsy on the [DATE] at 10:00."
    for text in ("3rd ventricle", "the 3rd time", "3rd trimester", "3rd party payer",
                 "on the 3rd floor", "on the 3rd day", "on the 2nd attempt.",
                 "on the 3rd rib", "by the 2nd cycle", "Lesion is on the 3rd, 4th ribs",
                 "Tuesday the 3rd time", "on the 3rd image."):  # fmt: skip
        assert _report(text) == text, text
        assert _removed(text) == text, text


# ------------------------------------------------------------ more inputs around both shapes
ADVERSARY: list[tuple[str, str, tuple[str, ...]]] = [
    (R, "MRN 4815\n1623 on file.", ("1623",)),
    (R, "MRN: 4815-\n1623", ("1623",)),
    (R, "Medical record number 481\n51623", ("51623",)),
    (R, "Accession 4815\n1623", ("1623",)),
    (R, "Acc # 48151\r\n623 today", ("623",)),
    (R, "Hospital number 4815\n\t1623", ("1623",)),
    (R, "Patient ID 4815\n1623", ("1623",)),
    (R, "NHS no. 481 516\n2342", ("2342",)),
    (R, "Chart # 7741-\n0923", ("0923",)),
    (R, "MR# 4815\r\n1623.", ("1623",)),
    (R, "Unit number 4815\n1623 and BI-RADS 4.", ("1623",)),
    (R, "Order 99123\n4471 placed.", ("4471",)),
    (R, "mrn 4815  \n  1623", ("1623",)),
    (IC, "MRN 4815\n1623", ("1623",)),
    (T, "MRN 4815\n1623", ("1623",)),
    (S, "MRN: 4815-\r\n1623", ("1623",)),
    (C, "Accession 4815\n\t1623", ("1623",)),
    (T, "HOSP NO. 4815 1623\n442", ("442",)),
    (R, "Seen Tuesday the 3rd.", ("3rd",)),
    (R, "Seen on Wed the 14th for biopsy.", ("14th",)),
    (R, "Booked Thurs the 21st.", ("21st",)),
    (R, "Seen Friday, the 2nd.", ("2nd",)),
    (R, "Seen Saturday 9th.", ("9th",)),
    (R, "Returns Mon the 1st at 9:00.", ("1st",)),
    (R, "Seen SUNDAY THE 3RD.", ("3rd",)),
    (R, "Seen on the 3rd.", ("3rd",)),
    (R, "Results by the 21st.", ("21st",)),
    (R, "Seen on Tuesday the twenty-first.", ("twenty-first",)),
    (R, "Surgery until the 12th; recheck.", ("12th",)),
    (IC, "seen Tue the 3rd", ("3rd",)),
]


@pytest.mark.parametrize(("channel", "text", "secrets"), ADVERSARY)
def test_no_round_15_input_leaks(channel, text, secrets, pseudonymizer):
    assert _leaked(_run(channel, text, pseudonymizer), secrets) == []


def test_the_weekdays_keep_their_words_beside_dates():
    # the existing forms: a weekday before a month and day goes with the date
    assert _report("Seen Tuesday, March 3.") == "Seen February 14."
    assert _removed("Seen Tuesday, March 3.") == "Seen [DATE]."
    # a weekday alone and weekdays in a list stay
    assert _report("Clinic Monday to Friday.") == "Clinic Monday to Friday."
    assert _report("Mon-Fri 8-5") == "Mon-Fri 8-5"


def test_an_id_split_across_a_line_break_in_short_text():
    assert scrub_identifier_shapes("MRN 4815\n1623") == "MRN [id]"
    assert scrub_identifier_shapes("MRN: 4815-\n1623") == "MRN: [id]"
    assert scrub_identifier_shapes("MRN 4815\r\n\t1623 x", "station name") == "MRN [id] x"
    for text in ("MRN 4815\n1.2 cm", "MRN 4815\n10:30", "MRN 4815\n12 mm", "MRN 4815\n3/4"):
        assert scrub_identifier_shapes(text) == text.replace("4815", "[id]"), text
    assert scrub_identifier_shapes("ACC 12\n345") == "ACC 12\n345"  # no id's shape
    assert scrub_identifier_shapes("MRN 4815\n2024") == "MRN [id]\n2024"  # a year


def test_thu_stays_a_given_name_alone():
    """``Thu`` is a given name (the names lists hold it); before a day it is a weekday."""
    assert _report("Seen by Thu.") == "Seen by [NAME]."
    assert _report("Seen Thu the 3rd.") == "Seen the 17th."
    assert _report("Seen Thu 3 Mar.") == "Seen 14 Feb."


def test_short_text_keeps_weekdays_and_days():
    """Short text removes no date but a birth date (the study's dates go elsewhere)."""
    for text in ("Tuesday", "TUESDAY", "Friday clinic", "Thurs", "Seen Tuesday the 3rd"):
        assert scrub_identifier_shapes(text) == text, text


def test_a_weekday_before_a_shifted_or_removed_date_goes():
    """Kept beside a shifted date, the original weekday would no longer hold and would tell the
    shift (its distance to the shifted date's weekday); beside ``[DATE]`` it tells the day. It
    went before a month and a day (``Tuesday, March 3``) only; now before every date form."""
    cases = [
        ("Seen Tuesday 3 March 2024.", "Seen 15 February 2024.", "Seen [DATE]."),
        ("Seen Tue, 3 March.", "Seen 14 February.", "Seen [DATE]."),
        ("Seen Tuesday the 3rd of March.", "Seen the 14th of February.", "Seen the [DATE]."),
        ("Seen Tuesday March the 3rd.", "Seen February the 14th.", "Seen [DATE]."),
        ("Seen Tuesday 03/03/2024.", "Seen 02/15/2024.", "Seen [DATE]."),
        ("Seen Monday, 2024-03-04.", "Seen 2024-02-16.", "Seen [DATE]."),
        ("Seen Tuesday the third of March 2024.", "Seen the fifteenth of February 2024.",
         "Seen the [DATE]."),
    ]  # fmt: skip
    for text, shifted, removed in cases:
        assert _report(text) == shifted, text
        assert _removed(text) == removed, text
    # no date after it: the weekday stays
    assert _report("Seen Monday 3/4 ratio") == "Seen Monday 3/4 ratio"
    assert _report("Clinic Monday, 3 rooms") == "Clinic Monday, 3 rooms"


#: a second batch around both shapes: other labels, line breaks (``\r``, ``\u2028``, a hyphen
#: after a space, hyphenated groups), weekdays written otherwise (``Weds``, ``Thu.``, lower
#: case, capitals, in brackets, before a tab), "scheduled for the 21st", "the 3rd of this month"
SECOND: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("id break", R, "MRN\n4815\n1623", ("1623",)),
    ("id break", R, "MRN 4815\r1623 noted", ("1623",)),
    ("id break", R, "MRN 4815 -\n 1623", ("1623",)),
    ("id break", R, "MRN 48-15-\n16-23", ("16-23",)),
    ("id break", R, "MRN AB4815\n1623", ("1623",)),
    ("id break", R, "Acct 4815\n16230 billed", ("16230",)),
    ("id break", R, "Specimen 4815\n1623 sent", ("1623",)),
    ("id break", R, "Encounter # 4815\n162 closed", ("162",)),
    ("id break", R, "CSN: 48151\n623", ("623",)),
    ("id break", R, "Medical record no. 4815\n1623.", ("1623",)),
    ("id break", R, "Accession number: 4815\u2028 1623", ("1623",)),
    ("id break", IC, "ACC 4815\r\n1623", ("1623",)),
    ("id break", T, "PID 4815-\n1623", ("1623",)),
    ("id break", D, "MRN 4815\n1623", ("1623",)),
    ("weekday", R, "Biopsy Wednesday the 14th at 10:00.", ("14th",)),
    ("weekday", R, "Seen on Weds the 14th.", ("14th",)),
    ("weekday", R, "Returns Thu. the 21st.", ("21st",)),
    ("weekday", R, "Seen Tues., the 2nd.", ("2nd",)),
    ("weekday", R, "Seen (Tuesday the 3rd).", ("3rd",)),
    ("weekday", R, "Seen tuesday the 3rd.", ("3rd",)),
    ("weekday", R, "Seen Tuesday the 3rd\nImpression: benign.", ("3rd",)),
    ("weekday", R, "Seen Tuesday\tthe 3rd.", ("3rd",)),
    ("weekday", R, "Seen Tuesday the 3rd and Friday the 6th.", ("3rd", "6th")),
    ("weekday", R, "Seen Tuesday the 3rd, 2024.", ("3rd",)),
    ("weekday", R, "Seen Saturday the thirty-first.", ("thirty-first",)),
    ("weekday", R, "SEEN TUESDAY THE 3RD", ("3rd",)),
    ("bare day", R, "Scheduled for the 3rd.", ("3rd",)),
    ("bare day", R, "Seen on the 3rd of this month.", ("3rd",)),
    ("bare day", R, "Biopsy done on the 3rd", ("3rd",)),
    ("bare day", R, "Returns on the 21st at 9 am.", ("21st",)),
    ("bare day", R, "Surgery booked for the 21st.", ("21st",)),
    ("weekday", IC, "seen Tuesday the 3rd", ("3rd",)),
    ("weekday", D, "Seen Tuesday the 3rd", ("3rd",)),
]


@pytest.mark.parametrize(
    ("kind", "channel", "text", "secrets"),
    SECOND,
    ids=[f"{a[0]}-{i}" for i, a in enumerate(SECOND)],
)
def test_no_round_15_second_batch_input_leaks(kind, channel, text, secrets, pseudonymizer):
    assert _leaked(_run(channel, text, pseudonymizer), secrets) == []


def test_the_second_batch_keeps_what_is_no_date_or_id():
    for text in ("for the 3rd time.", "Scored 4 for the 2nd.", "Scheduled for the 3rd cycle.",
                 "Seen Weds.", "sun the 3rd", "Open Monday to Friday, 8 to 5."):  # fmt: skip
        assert _report(text) == text, text
    assert _report("MRN 4815-\n12-14 mm") == "MRN [MRN]-\n12-14 mm"
    assert _report("Seen on the 3rd of this month.") == "Seen on the 17th of this month."
    assert _report("Mon. the 3rd") == "the 17th"


def test_a_blank_line_parts_an_id_from_the_next_number():
    """A blank line ends the id's paragraph; the number after it is read as the next
    paragraph's (``MRN 4815\n\n2 lesions``). Since round 17 (``test_adversarial_phi_16.py``)
    three digits or more alone on their line go with the id (``MRN 4815\n\n1623``)."""
    assert _report("MRN 4815\n\n1623 lesions") == "MRN [MRN]\n\n1623 lesions"
    assert _report("MRN 4815\n\n1623") == "MRN [MRN]"


def test_the_weekdays_left_as_names():
    """Over-scrubbing left on purpose: ``Thu`` alone is a given name. A weekday of another
    language was a word no vocabulary knew (``Seen [NAME].``); since round 16 it is a weekday
    (``test_adversarial_phi_15.py``), unless a names list has it (``Freitag``)."""
    assert _report("Seen Thu.") == "Seen [NAME]."
    assert _report("Seen Dienstag.") == "Seen Dienstag."
    assert _report("Seen Freitag.") == "Seen [NAME]."


def test_a_weekday_after_a_title_is_still_a_name():
    """A weekday is no name by itself nor after a relative's word (``her daughter Tuesday``
    reads as a day as well: ``seen with her daughter Tuesday``); after a title it is one."""
    assert _report("Dr. Friday reviewed.") == "[NAME] reviewed."
    assert _report("Seen by Dr Sunday.") == "Seen by [NAME]."
    assert _report("Tuesday Quimbrell called.") == "Tuesday [NAME] called."
    assert _report("Her daughter Tuesday attended.") == "Her daughter Tuesday attended."


@pytest.mark.parametrize(
    ("text", "shifted", "removed"),
    [
        ("Seen March 3, Tuesday.", "Seen February 14.", "Seen [DATE]."),
        (
            "Seen March 3, 2024, Tuesday, for follow-up.",
            "Seen February 15, 2024, for follow-up.",
            "Seen [DATE], for follow-up.",
        ),
        ("Biopsy 03/03/2024 (Tue) was benign.", "Biopsy 02/15/2024 was benign.", None),
        ("Dated 2024-03-03, Sunday.", "Dated 2024-02-15.", "Dated [DATE]."),
        ("On 3 March 2024 Mon. the patient", "On 15 February 2024 the patient", None),
    ],
)
def test_a_weekday_after_a_shifted_or_removed_date_goes(text, shifted, removed):
    """Round 15 left the weekday after a date (``March 3, Tuesday``): beside the shifted date it
    told the shift (mod 7), beside ``[DATE]`` the date's day. It goes, as before a date."""
    assert _report(text) == shifted
    if removed is not None:
        assert _removed(text) == removed


def test_a_weekday_after_a_date_that_is_no_date_of_its_own_stays():
    assert _report("Seen March 3, Tuesdays are clinic days.") == (
        "Seen February 14, Tuesdays are clinic days."
    )
    assert _report("Follow-up in 6 months, Tuesday clinic.") == (
        "Follow-up in 6 months, Tuesday clinic."
    )
