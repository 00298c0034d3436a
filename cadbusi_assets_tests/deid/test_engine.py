"""Header engine details: private allow-list, sequence actions, unlisted elements."""

from __future__ import annotations

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from cadbusi_assets.deid import DEFAULT_PROFILE, OriginalIdentifiers
from cadbusi_assets.deid.engine import clean_header
from cadbusi_assets.deid.profile import DeidProfile


def _dataset() -> Dataset:
    ds = Dataset()
    ds.PatientID = "MRN-55501"
    ds.StudyDate = "20200105"
    block = ds.private_block(0x0019, "SAFE VENDOR 1.0", create=True)
    block.add_new(0x01, "DS", "1.5")  # allowed
    block.add_new(0x02, "LO", "MRN-55501")  # not allowed
    other = ds.private_block(0x0021, "OTHER VENDOR", create=True)
    other.add_new(0x01, "DS", "2.5")
    referenced = Dataset()
    referenced.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.6.1"
    referenced.ReferencedSOPInstanceUID = "1.2.3.4.5.6"
    ds.ReferencedImageSequence = Sequence([referenced])  # X/Z/U*: keep, remap inside
    ds.add_new(0x00191234, "UN", b"raw")  # private without creator
    ds.add_new(0x00091001, "LO", "orphan")
    ds.add_new(0x00290000, "UL", 4)
    return ds


def test_private_allow_list_is_keyed_by_creator(pseudonymizer):
    profile = DeidProfile(
        name="safe-private",
        options=DEFAULT_PROFILE.options | {"retain_safe_private"},
        private_allow_list=frozenset({(0x0019, "SAFE VENDOR 1.0", 0x01)}),
    )
    ds = _dataset()
    ids = OriginalIdentifiers(patient_ids=("MRN-55501",))
    result = clean_header(ds, pseudonymizer, profile, ids)
    private = {(e.tag.group, e.tag.element): e.value for e in ds if e.tag.is_private}
    assert private == {(0x0019, 0x0010): "SAFE VENDOR 1.0", (0x0019, 0x1001): "1.5"}
    assert result.actions["private-kept"] == 1


def test_default_profile_removes_all_private_and_recurses_u_star(pseudonymizer):
    ds = _dataset()
    clean_header(ds, pseudonymizer, DEFAULT_PROFILE, OriginalIdentifiers())
    assert not [e for e in ds if e.tag.is_private]
    item = ds.ReferencedImageSequence[0]
    assert item.ReferencedSOPInstanceUID == pseudonymizer.uid("1.2.3.4.5.6")
    assert item.ReferencedSOPClassUID == "1.2.840.10008.5.1.4.1.1.6.1"
    assert ds.PatientID == pseudonymizer.patient_id("MRN-55501")


def test_unlisted_names_dates_and_unknown_vr(pseudonymizer):
    ds = Dataset()
    ds.PatientID = "P1"
    ds.add_new(0x00181201, "TM", "101500")  # Time of Last Calibration (listed)
    ds.add_new(0x0018A001, "SQ", Sequence([Dataset()]))  # Contributing Equipment Sequence
    ds.ContributingEquipmentSequence[0].ContributionDateTime = "20200105101500"
    ds.ContributingEquipmentSequence[0].add_new(0x00081070, "PN", "TECH^ONE")
    ds.add_new(0x00431001, "UN", b"x")  # private group
    ds.add_new(0x00189999, "UN", b"unknown public element")
    result = clean_header(ds, pseudonymizer, DEFAULT_PROFILE, OriginalIdentifiers())
    item = ds.ContributingEquipmentSequence[0]
    shift = pseudonymizer.date_shift_days("P1")
    assert result.date_shift_days == shift
    assert item.ContributionDateTime != "20200105101500" and item.ContributionDateTime.endswith(
        "101500"
    )
    assert "OperatorsName" not in item
    assert 0x00189999 not in ds
    assert ds[0x00181201].value == "101500"  # time of day kept under a whole-day shift
