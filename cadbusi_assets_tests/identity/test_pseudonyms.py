import datetime as dt
import re

from cadbusi_assets.identity import Pseudonymizer, PseudonymKey
from cadbusi_assets.identity.pseudonyms import MAX_SHIFT_DAYS, image_id_for
from cadbusi_assets_tests.support import TEST_KEY

OTHER_KEY = PseudonymKey(bytes(range(1, 33)))


def test_same_key_same_pseudonyms_across_instances():
    a, b = Pseudonymizer(TEST_KEY), Pseudonymizer(PseudonymKey(TEST_KEY.secret_bytes()))
    assert a.patient_id("01234567") == b.patient_id("01234567")
    assert a.uid("1.2.840.1") == b.uid("1.2.840.1")
    assert a.date_shift_days("01234567") == b.date_shift_days("01234567")


def test_different_keys_give_different_pseudonyms():
    a, b = Pseudonymizer(TEST_KEY), Pseudonymizer(OTHER_KEY)
    assert a.patient_id("01234567") != b.patient_id("01234567")
    assert a.uid("1.2.3") != b.uid("1.2.3")


def test_domains_are_separated():
    p = Pseudonymizer(TEST_KEY)
    values = {p.patient_id("123"), p.accession_number("123"), p.other_identifier("study", "123")}
    assert len(values) == 3


def test_identifier_formats_fit_dicom_value_representations():
    p = Pseudonymizer(TEST_KEY)
    assert re.fullmatch(r"A[A-Z2-7]{15}", p.accession_number("0000123456"))  # SH <= 16
    assert re.fullmatch(r"P[A-Z2-7]{15}", p.patient_id("00012345"))
    uid = p.uid("1.2.826.0.1.3680043.8.498.12345")
    assert re.fullmatch(r"2\.25\.[1-9][0-9]*", uid) and len(uid) <= 64
    assert int(uid.split(".")[2]) < 2**128


def test_uids_are_a_consistent_one_to_one_mapping():
    p = Pseudonymizer(TEST_KEY)
    originals = [f"1.2.3.{i}" for i in range(2000)]
    mapped = [p.uid(u) for u in originals]
    assert len(set(mapped)) == len(originals)
    assert mapped == [p.uid(u) for u in originals]


def test_date_shift_keeps_intervals_within_a_patient():
    p = Pseudonymizer(TEST_KEY)
    first, second = dt.date(2024, 1, 31), dt.date(2024, 3, 2)
    shifted = [p.shift_date(d, "00012345") for d in (first, second)]
    assert shifted[1] - shifted[0] == second - first
    assert -MAX_SHIFT_DAYS <= p.date_shift_days("00012345") <= -1


def test_shifts_vary_between_patients():
    p = Pseudonymizer(TEST_KEY)
    assert len({p.date_shift_days(f"{i:08d}") for i in range(50)}) > 40


def test_batch_names_hide_dates():
    p = Pseudonymizer(TEST_KEY)
    name = p.batch_name("2026-09-01")
    assert "2026" not in name and name == p.batch_name("2026-09-01")
    assert name != p.batch_name("2026-09-02")


def test_image_ids_depend_on_uid_and_frame_only():
    assert image_id_for("2.25.1", 0) != image_id_for("2.25.1", 1)
    assert image_id_for("2.25.1", 0) == image_id_for("2.25.1", 0)
