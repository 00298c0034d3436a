"""The PS3.15 table data, profile resolution, dates and text scrubbing."""

from __future__ import annotations

import datetime as dt

import pytest
from pydicom.datadict import dictionary_VR

from cadbusi_assets.deid import DEFAULT_PROFILE, PROFILE_NAMES, get_profile
from cadbusi_assets.deid.dates import shift_da, shift_dt
from cadbusi_assets.deid.identifiers import OriginalIdentifiers
from cadbusi_assets.deid.profile import DeidProfile
from cadbusi_assets.deid.table import confidentiality_table
from cadbusi_assets.deid.text import scrub_text


def test_table_is_complete_and_consistent():
    table = confidentiality_table()
    assert len(table) >= 600
    basics = {rule.basic for rule in table.rules}
    assert basics <= {"D", "Z", "X", "U", "Z/D", "X/Z", "X/D", "X/Z/D", "X/Z/U*"}
    for rule in table.rules:
        if "x" in rule.tag or not rule.keyword:
            continue
        vr = dictionary_VR(int(rule.tag, 16))
        if rule.basic == "U":
            assert vr == "UI", rule.keyword
        if rule.options.get("retain_modified_dates"):
            assert vr in {"DA", "DT", "TM", "SH", "OB"}, rule.keyword
    option_counts = {
        column: sum(column in rule.options for rule in table.rules)
        for column in ("retain_uids", "retain_device_identity", "clean_descriptors")
    }
    assert option_counts["retain_uids"] >= 50
    assert option_counts["retain_device_identity"] >= 30
    assert option_counts["clean_descriptors"] >= 100


@pytest.mark.parametrize(
    ("keyword_tag", "default", "basic"),
    [
        (0x00100010, "Z", "Z"),  # PatientName
        (0x00100030, "Z", "Z"),  # PatientBirthDate
        (0x00101010, "K", "X"),  # PatientAge: Retain Patient Characteristics
        (0x00081030, "C", "X"),  # StudyDescription: Clean Descriptors
        (0x00080020, "C", "Z"),  # StudyDate: Modified Dates
        (0x00081010, "K", "X"),  # StationName X/Z/D, Retain Device Identity
        (0x00080080, "X", "X"),  # InstitutionName X/Z/D
        (0x0020000D, "U", "U"),  # StudyInstanceUID
        (0x00081140, "U*", "U*"),  # ReferencedImageSequence X/Z/U*
        (0x60004000, "X", "X"),  # Overlay Comments (repeating group)
        (0x60224000, "X", "X"),
        (0x00102110, "C", "X"),  # Allergies: two options, both C
    ],
)
def test_profile_actions(keyword_tag, default, basic):
    assert DEFAULT_PROFILE.action(keyword_tag) == default
    assert get_profile("basic").action(keyword_tag) == basic


def test_unlisted_tags_have_no_action():
    assert DEFAULT_PROFILE.action(0x00280010) is None  # Rows
    assert DEFAULT_PROFILE.action(0x00080070) is None  # Manufacturer


def test_profiles_and_codes():
    assert set(PROFILE_NAMES) >= {"research-breast-us", "basic"}
    assert get_profile(None) is DEFAULT_PROFILE
    codes = [c.value for c in DEFAULT_PROFILE.codes()]
    assert codes[0] == "113100" and "113101" in codes and "113107" in codes
    with pytest.raises(ValueError, match="unknown de-identification profile"):
        get_profile("nope")
    with pytest.raises(ValueError, match="unknown de-identification options"):
        DeidProfile(name="x", options=frozenset({"clean_everything"}))
    with pytest.raises(ValueError, match="choose one"):
        DeidProfile(name="x", options=frozenset({"retain_full_dates", "retain_modified_dates"}))


def test_date_shifts_keep_intervals_precision_and_zones():
    a, b = shift_da("20170302", -400), shift_da("20170315", -400)
    da = dt.datetime.strptime(a, "%Y%m%d")
    db = dt.datetime.strptime(b, "%Y%m%d")
    assert (db - da).days == 13
    assert shift_da("2017", -3) == "2016"
    assert shift_da("201701", -3) == "201612"
    assert shift_dt("20170302000000-0500", -1) == "20170301000000-0500"
    assert shift_dt("201703021230", -1) == "201703011230"
    assert shift_da("20171345", -1) is None
    assert shift_dt("not a date", -1) is None
    assert shift_da("", -1) == ""


def test_scrub_text_keeps_clinical_words():
    ids = OriginalIdentifiers(patient_names=("SMITH^JANE",), accession_numbers=("A123",))
    assert scrub_text("LT BREAST 2:00 4CM FN L12-5", ids) == "LT BREAST 2:00 4CM FN L12-5"
    cleaned = scrub_text("Jane Smith acc A123 on 12-Mar-2019 call (555) 123-4567", ids)
    assert "SMITH" not in cleaned.upper() and "A123" not in cleaned and "2019" not in cleaned
    assert "4567" not in cleaned
    assert scrub_text("seen by Mrs. Doe", None) == "seen by [name]"
