"""The header engine: apply a :class:`DeidProfile` to every element of a data set.

It walks every element at every sequence depth, in place:

* private elements are removed unless the profile retains safe private elements and the
  ``(group, private creator, element offset)`` triple is on its allow-list;
* repeating groups 50xx (curves) and 60xx (overlays) and group lengths are removed;
* listed attributes get the Table E.1-1 action resolved for the profile's options;
* unlisted attributes: sequences are recursed into, person names emptied, dates handled by
  the profile's date policy, UIDs remapped (registered SOP class / transfer syntax / coding
  UIDs excepted), free text (ST, LT, UT) scrubbed like a listed ``C`` attribute (a third
  party's name, a date), public elements of unknown VR (UN) removed;
* whatever the table says: public elements that no data dictionary knows, binary values
  (OB, OW, OF, ...) but the few that describe the pixels (:data:`BINARY_KEPT`; Pixel Data
  only at the top level, where the pixel pass replaces it), URLs (UR) are removed; ages of
  90 years and over become ``090Y`` at every depth; a Specific Character Set keeps only
  defined terms;
* kept text (a device field of Retain Device Identity, short unlisted LO/SH/UC such as Code
  Meaning or Transducer Data) keeps the device and product but loses identifier shapes: a
  person after a title or a relative's word, a phone, an e-mail, a labelled MRN, a date in
  a station name (:mod:`~cadbusi_assets.deid.shapes`);
* PatientID, AccessionNumber and StudyID get keyed pseudonyms (the same functions the record
  pipeline uses), every DA/DT is shifted by the per-patient offset;
* a last pass removes the study's own identifiers from any text element that kept them, and
  (unless full dates are kept) the header's own original dates written out in one
  (``Model 7 scanned 20170302``: the true date beside the shifted ones).

The file meta is rebuilt from scratch (nothing of the original meta survives).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

from pydicom import __version__ as pydicom_version
from pydicom.charset import python_encoding
from pydicom.datadict import dictionary_VM, dictionary_VR, keyword_for_tag
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag, Tag
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID, ExplicitVRLittleEndian
from pydicom.valuerep import MAX_VALUE_LEN

from cadbusi_assets.deid.dates import age_string, parse_da_value, shift_da, shift_dt, valid_tm
from cadbusi_assets.deid.identifiers import OriginalIdentifiers, parse_da
from cadbusi_assets.deid.profile import DeidProfile
from cadbusi_assets.deid.scan import (
    ASCII_VRS,
    BINARY_NUMBER_FORMATS,
    MIN_NUMBER_TERM,
    backwards_identifiers_turned,
    find_identifiers_in_number_bytes,
    find_identifiers_in_text,
    may_hold_identifiers,
    number_bytes,
    reads_as_text,
    spaced_letters_joined,
    split_identifier_values,
    utf8_reading,
)
from cadbusi_assets.deid.shapes import (
    device_kind,
    person_folder_values,
    scrub_identifier_shapes,
)
from cadbusi_assets.deid.text import scrub_descriptor_text, scrub_free_text, scrub_text
from cadbusi_assets.identity import Pseudonymizer

_TEXT_VRS = {"LO", "SH", "ST", "LT", "UT", "UC"}
#: Free-text VRs: also scrubbed for third parties (relatives, staff) like report text.
_FREE_TEXT_VRS = {"ST", "LT", "UT"}
#: Short descriptors: also scrubbed for third parties, names only in a name context (they
#: are full of product names that are in no vocabulary).
_DESCRIPTOR_VRS = {"LO", "SH", "UC"}
_SCANNED_VRS = _TEXT_VRS | {"AE", "CS", "UR", "PN"}
#: Kept text (a device field of Retain Device Identity, short unlisted text): scrubbed for
#: identifier shapes only (:mod:`~cadbusi_assets.deid.shapes`).
_KEPT_TEXT_VRS = _TEXT_VRS | {"AE"}
_BINARY_VRS = {"OB", "OW", "OD", "OF", "OL", "OV", "UN"}
_NUMBER_VRS = {"IS", "DS", "US", "UL", "SS", "SL", "FL", "FD", "UV", "SV", "AT"}
#: Numbers written as text: scanned for the study's identifiers of at least
#: :data:`~cadbusi_assets.deid.scan.MIN_NUMBER_TERM` characters (an MRN in Instance Number).
_TEXT_NUMBER_VRS = {"IS", "DS"}
_DUMMY_DATES = {"DA": "19000101", "DT": "19000101000000", "TM": "000000"}

#: UIDs of a class or syntax are not remapped when registered (a private or made-up one can
#: embed a date or an MRN: remapped); UIDs of a scheme (HL7 OIDs, which no DICOM dictionary
#: lists) are never remapped.
_SCHEME_UID_SUFFIXES = ("CodingSchemeUID", "MappingResourceUID")

#: Binary elements kept (palette and LUT data describe how the pixels look; Pixel Data only
#: at the top level, where the pixel pass rewrites it). Every other OB/OW/OF/OD/OL/OV/UN
#: value goes: a thumbnail, a waveform, an ICC profile's text, a name in a blob of any kind.
BINARY_KEPT = frozenset(
    {
        *(0x00280000 | e for e in (0x1201, 0x1202, 0x1203, 0x1204, 0x1221, 0x1222, 0x1223)),
        0x00283006,  # LUT Data (Modality / VOI LUT Sequence)
    }
)
PIXEL_DATA = 0x7FE00010
#: Dictionary VRs restored on an element written as plain text (it would escape the UID
#: remapping, the person-name emptying and the date shift).
_RETYPED_VRS = frozenset({"UI", "PN", "DA", "DT", "TM"})
#: Attributes that get the pipeline's keyed pseudonyms (:meth:`HeaderCleaner._special`).
_SPECIAL_KEYWORDS = frozenset({"PatientID", "AccessionNumber", "StudyID"})
#: Control characters no text value may hold (TAB, LF, FF and CR are allowed in free text):
#: a space before matching, or removed where only that shows the study's identifiers (a name
#: split by a NUL, "DOE\x00JANE", is found; "BREAST\x00DOE" stays two words).
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_CONTROL_RUN_RE = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]+")
#: Defined terms of Specific Character Set (pydicom's codecs); anything else is dropped.
_CHARSET_TERMS = frozenset(python_encoding)

#: Elements removed although the table does not list them (they can carry the originals).
EXTRA_REMOVALS = {
    0x04000500,  # Encrypted Attributes Sequence (original values, encrypted)
    0x00880200,  # Icon Image Sequence (a thumbnail with burned-in text; also in the table)
    # a DICOMDIR's file IDs (folders named after a patient or a relative: ``DATA\\VEXWORTH_O``)
    # and its file set's: no research use reads them
    0x00041500,  # Referenced File ID
    0x00041130,  # File-set ID
    0x00041141,  # File-set Descriptor File ID
}


#: a UID as PS3.5 9.1 writes it: digits in components separated by dots, 64 characters at most
_UID_SYNTAX = re.compile(r"[0-9]+(?:\.[0-9]+)*")


def is_uid(value: str) -> bool:
    """Whether ``value`` is written as a UID (``2.16.840.1.113883.6.96``); a value with
    letters (``2.16.840.1.113883.6.96.QUIMBRELL``) is not.

    >>> is_uid("2.16.840.1.113883.6.96"), is_uid("1.2.840.99.QUIMBRELL"), is_uid("1..2")
    (True, False, False)
    """
    value = value.rstrip("\0 ")
    return len(value) <= 64 and _UID_SYNTAX.fullmatch(value) is not None


def is_instance_uid(keyword: str, value: str) -> bool:
    """True for UIDs that identify instances (remapped); False for registered/class UIDs.

    >>> is_instance_uid("SOPClassUID", "1.2.840.10008.5.1.4.1.1.6.1")
    False
    >>> is_instance_uid("ReferencedSOPInstanceUID", "1.2.3.4.5")
    True
    >>> is_instance_uid("ReferencedSOPClassUID", "1.2.840.99.20170302.4242")  # unregistered
    True
    >>> is_instance_uid("CodingSchemeUID", "2.16.840.1.113883.6.96")  # SNOMED CT's OID
    False
    """
    if not value or keyword.endswith(_SCHEME_UID_SUFFIXES):
        return False
    return UID(value).type == ""


@dataclass
class HeaderResult:
    """What the header pass did (no original values)."""

    pseudo_patient_id: str
    pseudo_accession_number: str
    pseudo_study_uid: str
    pseudo_series_uid: str
    pseudo_sop_uid: str
    date_shift_days: int
    study_date_shifted: dt.date | None
    actions: Counter[str] = field(default_factory=Counter)


class HeaderCleaner:
    """Applies one profile with one key to data sets of one patient."""

    def __init__(
        self,
        pseudonymizer: Pseudonymizer,
        profile: DeidProfile,
        identifiers: OriginalIdentifiers,
        patient_id: str,
        original_dates: frozenset[dt.date] = frozenset(),
        prose_identifiers: OriginalIdentifiers | None = None,
    ) -> None:
        self.pseudonymizer = pseudonymizer
        self.profile = profile
        self.identifiers = identifiers
        # what free text (ST, LT, UT) is scrubbed with first: not the relatives that free text
        # itself names (``sister Zelda Plimsoll``), which its third-party rule takes whole; one
        # word of such a name replaced first (``sister [id] Plimsoll``) hid the rest from it.
        # The last line (:meth:`_residual`) looks for every identifier.
        self.prose_identifiers = identifiers if prose_identifiers is None else prose_identifiers
        self.patient_id = patient_id
        self.shift_days = pseudonymizer.date_shift_days(patient_id)
        self.actions: Counter[str] = Counter()
        self._dates_re = date_text_regex(original_dates) if profile.dates_policy != "full" else None

    # -- values ----------------------------------------------------------------------------
    def _uid(self, value: str) -> str:
        self.actions["uid-remapped"] += 1
        return self.pseudonymizer.uid(value)

    def _map_uids(self, elem: DataElement) -> None:
        if self.profile.has("retain_uids"):
            return
        keyword = elem.keyword

        def remapped(value: str) -> bool:  # a value that is no UID is remapped (any keyword)
            return is_instance_uid(keyword, value) or (bool(value) and not is_uid(value))

        if isinstance(elem.value, MultiValue | list):
            elem.value = [self._uid(v) if remapped(str(v)) else v for v in elem.value]
        elif elem.value and remapped(str(elem.value)):
            elem.value = self._uid(str(elem.value))

    def _shift(self, vr: str, value: str, days: int | None = None) -> str | None:
        days = self.shift_days if days is None else days
        if vr == "DA":
            return shift_da(value, days)
        if vr == "DT":
            return shift_dt(value, days)
        # TM: a whole-day shift keeps the time of day (a value that is no time goes)
        return value if valid_tm(value) else None

    def _apply_dates(self, ds: Dataset, elem: DataElement) -> None:
        """Date policy for a DA/DT/TM element: shift, keep or remove (a value that is no
        date or time, a name written in a date, goes under every policy)."""
        policy = self.profile.dates_policy
        if policy == "full":
            if not self._removed_not_a_date(ds, elem):
                self.actions["K"] += 1
            return
        if policy == "removed":
            del ds[elem.tag]
            self.actions["X"] += 1
            return
        values = elem.value if isinstance(elem.value, MultiValue | list) else [elem.value]
        shifted = [self._shift(elem.VR, str(v)) if v not in (None, "") else "" for v in values]
        if any(s is None for s in shifted):
            del ds[elem.tag]  # unparseable date: cannot be shifted, so it goes
            self.actions["date-removed-unparseable"] += 1
            return
        if elem.VR != "TM" and any(v not in (None, "") for v in values):
            self.actions["date-shifted"] += 1
        elem.value = shifted if len(shifted) != 1 else shifted[0]

    def _removed_not_a_date(self, ds: Dataset, elem: DataElement) -> bool:
        """Remove a kept DA, DT or TM value that is no date or time (``QUIMBRELL`` in a TM:
        nothing shifts or checks a kept one; an old ``2017.03.02`` is a date). True if
        removed."""
        values = elem.value if isinstance(elem.value, MultiValue | list) else [elem.value]
        if all(
            v in (None, "")
            or self._shift(elem.VR, str(v), 0) is not None
            or (elem.VR == "DA" and _any_da(str(v)) is not None)
            for v in values
        ):
            return False
        del ds[elem.tag]
        self.actions["date-removed-unparseable"] += 1
        return True

    def _empty(self, elem: DataElement) -> None:
        elem.value = Sequence() if elem.VR == "SQ" else None

    def _dummy(self, ds: Dataset, elem: DataElement) -> None:
        vr = elem.VR
        if vr == "SQ":
            elem.value = Sequence()  # a dummy item could only repeat what we removed
        elif vr in _DUMMY_DATES:
            if self.profile.dates_policy == "removed":
                elem.value = _DUMMY_DATES[vr]
            else:
                self._apply_dates(ds, elem)
                return
        elif vr == "UI":
            elem.value = self._uid(str(elem.value or elem.keyword or "dummy"))
        elif vr == "PN":
            elem.value = "ANONYMIZED"
        elif vr in _NUMBER_VRS:
            elem.value = 0
        elif vr in {"LO", "SH", "CS", "AE"}:
            token = self.pseudonymizer.other_identifier(
                elem.keyword or "value", str(elem.value or "")
            )
            elem.value = token[: MAX_VALUE_LEN.get(vr, 16)]
        elif vr in _TEXT_VRS:
            elem.value = "ANONYMIZED"
        else:
            del ds[elem.tag]
            self.actions["X"] += 1
            return
        self.actions["D"] += 1

    def _clean(
        self, ds: Dataset, elem: DataElement, identifiers: OriginalIdentifiers | None = None
    ) -> None:
        vr = elem.VR
        if identifiers is None:
            identifiers = self.prose_identifiers if vr in _FREE_TEXT_VRS else self.identifiers
        if vr in _DUMMY_DATES:
            self._apply_dates(ds, elem)
            return
        if vr == "SQ":
            self.actions["C"] += 1
            self._recurse(elem)
            return
        if vr in _TEXT_VRS or vr == "PN":
            values = elem.value if isinstance(elem.value, MultiValue | list) else [elem.value]
            scrub = (
                scrub_free_text
                if vr in _FREE_TEXT_VRS
                else scrub_descriptor_text
                if vr in _DESCRIPTOR_VRS
                else scrub_text
            )
            # the identifiers' patterns are compiled only for a value that may hold one (the
            # scrub of a value that holds none is the generic one)
            cleaned = [
                scrub(str(v), identifiers if may_hold_identifiers(str(v), identifiers) else None)
                if v
                else v
                for v in values
            ]
            if len(values) > 2 and vr != "PN":  # "C:\\Users\\zquimbrell\\...": a split path
                for i, what in person_folder_values([str(v) for v in values]).items():
                    cleaned[i] = f"[{what.upper()}]"
            limit = MAX_VALUE_LEN.get(vr)
            if limit:
                cleaned = [c[:limit] if isinstance(c, str) else c for c in cleaned]
            if cleaned != [str(v) if v else v for v in values]:
                self.actions["text-scrubbed"] += 1
            elem.value = cleaned if len(cleaned) != 1 else cleaned[0]
        elif vr in _BINARY_VRS:
            del ds[elem.tag]  # binary values (e.g. a timestamp) cannot be cleaned in place
            self.actions["X"] += 1
            return
        self.actions["C"] += 1

    # -- special attributes ----------------------------------------------------------------
    def _special(self, ds: Dataset, elem: DataElement) -> bool:
        """Pseudonyms for the identifiers the pipeline joins on. True if handled."""
        keyword = elem.keyword
        if keyword not in _SPECIAL_KEYWORDS:
            return False  # (before str(): a sequence's text is its whole pretty-printed tree)
        value = str(elem.value or "").strip()
        if keyword == "PatientID":
            elem.value = self.pseudonymizer.patient_id(value)
        elif keyword == "AccessionNumber":
            elem.value = self.pseudonymizer.accession_number(value) if value else ""
        elif keyword == "StudyID":
            elem.value = (
                self.pseudonymizer.other_identifier("study_id", value)[:16] if value else ""
            )
        else:
            return False
        self.actions["pseudonymized"] += 1
        return True

    # -- private elements ------------------------------------------------------------------
    def _clean_private(self, ds: Dataset) -> None:
        allow = self.profile.private_allow_list if self.profile.has("retain_safe_private") else ()
        kept_blocks: set[tuple[int, int]] = set()
        for elem in list(ds):
            tag = elem.tag
            if not tag.is_private or 0x0010 <= tag.element <= 0x00FF:
                continue
            block = tag.element >> 8
            creator_elem = ds.get(Tag(tag.group, block)) if block >= 0x10 else None
            creator = str(creator_elem.value).strip() if creator_elem is not None else None
            if allow and creator is not None and (tag.group, creator, tag.element & 0xFF) in allow:
                kept_blocks.add((tag.group, block))
                self.actions["private-kept"] += 1
                if elem.VR == "SQ":
                    self._recurse(elem)
                continue
            del ds[tag]
            self.actions["private-removed"] += 1
        for elem in list(ds):
            tag = elem.tag
            if (
                tag.is_private
                and tag.element <= 0x00FF
                and (tag.group, tag.element) not in kept_blocks
            ):
                del ds[tag]
                self.actions["private-removed"] += 1

    # -- the walk --------------------------------------------------------------------------
    def clean_dataset(self, ds: Dataset, nested: bool = False) -> None:
        """Clean ``ds`` and every nested item in place (``nested``: ``ds`` is a sequence
        item, where Pixel Data is one more binary value to remove)."""
        self._clean_private(ds)
        for elem in list(ds):
            self._clean_element(ds, elem, nested)

    def _recurse(self, elem: DataElement) -> None:
        for item in elem.value or []:
            self.clean_dataset(item, nested=True)

    def _clean_element(self, ds: Dataset, elem: DataElement, nested: bool = False) -> None:
        tag: BaseTag = elem.tag
        if tag.is_private:
            return  # handled by _clean_private
        group = tag.group
        if tag.element == 0x0000:
            del ds[tag]
            self.actions["group-length-removed"] += 1
            return
        if 0x5000 <= group <= 0x50FF and group % 2 == 0:
            del ds[tag]
            self.actions["curve-removed"] += 1
            return
        if 0x6000 <= group <= 0x60FF and group % 2 == 0:
            del ds[tag]
            self.actions["overlay-removed"] += 1
            return
        if int(tag) in EXTRA_REMOVALS:
            del ds[tag]
            self.actions["X"] += 1
            return
        if self._removed_whatever_listed(ds, elem, nested):
            return
        if elem.VR in BINARY_NUMBER_FORMATS and self._removed_number(ds, elem):
            return
        if elem.VR in _TEXT_VRS:
            self._dictionary_vr(elem)
        if elem.VR in _SCANNED_VRS:
            self._strip_controls(elem)
        if self._special(ds, elem):
            return
        action = self.profile.action(int(tag))
        if action is None:
            self._unlisted(ds, elem)
        elif action == "X":
            del ds[tag]
            self.actions["X"] += 1
            return
        elif action == "Z":
            self._empty(elem)
            self.actions["Z"] += 1
        elif action == "D":
            self._dummy(ds, elem)
        elif action == "C":
            self._clean(ds, elem)
        elif action in {"K", "U", "U*"}:
            if elem.VR in _DUMMY_DATES and self._removed_not_a_date(ds, elem):
                return
            self.actions[action.rstrip("*")] += 1
            if elem.VR == "SQ":
                self._recurse(elem)
        if tag not in ds:
            return
        if elem.VR in _KEPT_TEXT_VRS and (
            action == "K" or (action is None and elem.VR in _DESCRIPTOR_VRS)
        ):
            self._shapes(elem, action)
        if elem.VR == "UI":
            self._map_uids(elem)
        elif elem.VR == "AS":
            self._cap_age(ds, elem)
        elif elem.keyword == "SpecificCharacterSet":
            self._defined_charset(elem)
        if tag in ds and elem.VR in _SCANNED_VRS | _TEXT_NUMBER_VRS:
            self._residual(ds, elem)
        if self._dates_re is not None and tag in ds and elem.VR in _TEXT_VRS:
            self._original_dates(elem, self._dates_re)

    def _shapes(self, elem: DataElement, action: str | None) -> None:
        """A kept text value (a device field, short unlisted text) loses the identifier
        shapes of :func:`~cadbusi_assets.deid.shapes.scrub_identifier_shapes`: a person's name
        after a title, a phone, an e-mail, a labelled MRN, a date in a station name."""
        kind = device_kind(elem.keyword) if action == "K" and self._device(elem) else "text"
        values = elem.value if isinstance(elem.value, MultiValue | list) else [elem.value]
        cleaned = [scrub_identifier_shapes(v, kind) if isinstance(v, str) else v for v in values]
        if len(values) > 2 and kind != "serial":  # "C:\\Users\\zquimbrell\\...": a split path
            for i, what in person_folder_values(list(values)).items():
                cleaned[i] = f"[{what}]"
        if cleaned == list(values):
            return
        limit = MAX_VALUE_LEN.get(elem.VR)
        cleaned = [c[:limit] if isinstance(c, str) and limit else c for c in cleaned]
        elem.value = cleaned if len(cleaned) != 1 else cleaned[0]
        self.actions["shapes-scrubbed"] += 1

    def _device(self, elem: DataElement) -> bool:
        rule = self.profile.rule(int(elem.tag))
        return rule is not None and rule.options.get("retain_device_identity") == "K"

    def _original_dates(self, elem: DataElement, regex: re.Pattern[str]) -> None:
        """The header's own original dates written in a kept text value become ``[date]``."""
        values = elem.value if isinstance(elem.value, MultiValue | list) else [elem.value]
        if not any(isinstance(v, str) and regex.search(v) for v in values):
            return
        limit = MAX_VALUE_LEN.get(elem.VR)
        cleaned = [regex.sub("[date]", v)[:limit] if isinstance(v, str) else v for v in values]
        elem.value = cleaned if len(cleaned) != 1 else cleaned[0]
        self.actions["original-date-removed"] += 1

    def _removed_whatever_listed(self, ds: Dataset, elem: DataElement, nested: bool) -> bool:
        """Remove what no table action may keep: an element no dictionary knows (nobody can
        say what it holds), a binary value but pixel and palette data, a URL. True if
        removed."""
        tag = int(elem.tag)
        if not keyword_for_tag(tag):
            reason = "unknown-removed"
        elif elem.VR in _BINARY_VRS and tag not in BINARY_KEPT and (nested or tag != PIXEL_DATA):
            reason = "binary-removed"
        elif elem.VR == "UR":
            reason = "url-removed"
        else:
            return False
        del ds[tag]
        self.actions[reason] += 1
        return True

    def _removed_number(self, ds: Dataset, elem: DataElement) -> bool:
        """Remove a binary number (US, UL, FD, ...) that holds more values than the data
        dictionary allows, or whose bytes spell the study's identifiers: a number is
        written back as the bytes it was read from, and twelve ``US`` values of a
        four-valued Acquisition Matrix, or one ``FD``, can be any text. True if removed."""
        values = elem.value if isinstance(elem.value, MultiValue | list) else [elem.value]
        count = sum(v is not None for v in values)
        most = _most_values(int(elem.tag))
        if count > most:
            reason = "multiplicity-exceeded-removed"
        else:
            data = number_bytes(elem)
            if not data:
                return False
            if find_identifiers_in_number_bytes(data, self.identifiers):
                reason = "residual-scrubbed"
            elif most == math.inf and reads_as_text(data):
                # a table of any length (Table of X Break Points) whose bytes read as
                # words or a phone: a third party's, which no identifier names
                reason = "text-in-numbers-removed"
            else:
                return False
        del ds[elem.tag]
        self.actions[reason] += 1
        return True

    def _dictionary_vr(self, elem: DataElement) -> None:
        """A UID, person name or date written as plain text (``Series Instance UID`` as LO)
        gets its dictionary VR back, so that it is remapped, emptied or shifted as one."""
        try:
            vr = dictionary_VR(elem.tag)
        except KeyError:
            return
        if vr in _RETYPED_VRS and vr != elem.VR:
            value = elem.value
            elem.VR = vr
            elem.value = value  # converted for the new VR (PersonName, UID)
            self.actions["vr-restored"] += 1

    def _strip_controls(self, elem: DataElement) -> None:
        value = elem.value
        if isinstance(value, str):
            if _CONTROL_RE.search(value):
                elem.value = self._without_controls(value)
                self.actions["controls-removed"] += 1
        elif isinstance(value, MultiValue | list) and any(
            isinstance(v, str) and _CONTROL_RE.search(v) for v in value
        ):
            elem.value = [self._without_controls(v) if isinstance(v, str) else v for v in value]
            self.actions["controls-removed"] += 1

    def _without_controls(self, value: str) -> str:
        """``value`` with each run of control characters a space (``BREAST\\x00QUIMBRELL``:
        two words; removed, the name glued to the word matched nothing), or removed where
        only that shows the study's identifiers (``DOE\\x00JANE`` split inside a name)."""
        spaced = _CONTROL_RUN_RE.sub(" ", value)
        removed = _CONTROL_RE.sub("", value)
        if find_identifiers_in_text(spaced, self.identifiers):
            return spaced
        return removed if find_identifiers_in_text(removed, self.identifiers) else spaced

    def _cap_age(self, ds: Dataset, elem: DataElement) -> None:
        """An age (at any depth): 90 years and over become ``090Y``, a malformed one goes."""
        age = str(elem.value or "").strip()
        if not age:
            return
        if not _AGE_RE.match(age):
            del ds[elem.tag]
            self.actions["age-removed"] += 1
        elif age.endswith("Y") and int(age[:-1]) >= 90 and age != "090Y":
            elem.value = "090Y"
            self.actions["age-capped"] += 1

    def _defined_charset(self, elem: DataElement) -> None:
        """Keep only the defined terms of a Specific Character Set: any other value (free
        text in a CS) becomes ``ISO_IR 192`` (UTF-8 encodes every value read)."""
        values = elem.value if isinstance(elem.value, MultiValue | list) else [elem.value]
        terms = [str(v or "").strip() for v in values]
        if all(t in _CHARSET_TERMS for t in terms):
            return
        elem.value = "ISO_IR 192"
        self.actions["charset-replaced"] += 1

    def _unlisted(self, ds: Dataset, elem: DataElement) -> None:
        vr = elem.VR
        if vr == "SQ":
            self._recurse(elem)
        elif vr == "PN":
            self._empty(elem)
            self.actions["Z"] += 1
        elif vr in _DUMMY_DATES:
            self._apply_dates(ds, elem)
        elif vr == "UN":
            del ds[elem.tag]
            self.actions["X"] += 1
        elif vr in _FREE_TEXT_VRS:
            # prose (a third party's name, a date) scrubbed as if listed C; short unlisted
            # descriptors (LO, SH) are product names that the scrub would take for names
            self._clean(ds, elem)

    def _residual(self, ds: Dataset, elem: DataElement) -> None:
        """Last line: a kept text element must not hold the study's own identifiers (also
        split across values, ``QUIM\\BRELL``, or with its letters spaced, ``Z E L D A``)."""
        if not elem.value:
            return
        if elem.VR not in _TEXT_NUMBER_VRS:
            self._hidden_identifiers(elem)
            if not elem.value:
                return
        text = (
            "\\".join(str(v) for v in elem.value)
            if isinstance(elem.value, MultiValue | list)
            else str(elem.value)
        )
        if elem.VR in _TEXT_NUMBER_VRS:
            if find_identifiers_in_text(text, self.identifiers, min_length=MIN_NUMBER_TERM):
                del ds[elem.tag]
                self.actions["residual-scrubbed"] += 1
            return
        if not find_identifiers_in_text(text, self.identifiers):
            return
        if elem.VR in _TEXT_VRS:
            self._clean(ds, elem, self.identifiers)
            self.actions["C"] -= 1
            if find_identifiers_in_text(str(elem.value), self.identifiers):
                del ds[elem.tag]
        else:
            self._empty(elem)
        self.actions["residual-scrubbed"] += 1

    def _found(self, text: str) -> bool:
        return bool(find_identifiers_in_text(text, self.identifiers))

    def _hidden_identifiers(self, elem: DataElement) -> None:
        """Values that spell the study's identifiers only joined to their neighbours go
        (``ORIGINAL\\PRIMARY\\QUIM\\BRELL``: the others stay), and so does a value of a
        VR read without the character set whose UTF-8 reading holds one; a name with its
        letters spaced out is written joined, for the residual pass to find and clean."""
        multi = isinstance(elem.value, MultiValue | list)
        values = list(elem.value) if multi else [elem.value]
        if not all(isinstance(v, str) for v in values):
            return
        read = [utf8_reading(v) if elem.VR in ASCII_VRS else v for v in values]
        misread = {i for i, r in enumerate(read) if r != values[i] and self._found(r)}
        if multi and len(values) > 1:
            misread |= split_identifier_values(read, self.identifiers)
        if misread:  # "ä¹\x85ç\x9f³" in a code string: the UTF-8 bytes of "久石"
            values = [v for i, v in enumerate(values) if i not in misread]
            elem.value = values if len(values) != 1 else values[0]
            self.actions["split-identifier-removed"] += 1
            if not values:
                return
        joined = [spaced_letters_joined(v) for v in values]
        changed = [
            j if j != v and self._found(j) else v for v, j in zip(values, joined, strict=True)
        ]
        if changed != values:
            elem.value = changed if len(changed) != 1 else changed[0]
            self.actions["spaced-letters-joined"] += 1
        turned = [backwards_identifiers_turned(v, self.identifiers) for v in changed]
        if turned != changed:  # "LLERBMIUQ": the name written backwards, turned forwards
            elem.value = turned if len(turned) != 1 else turned[0]
            self.actions["backwards-name-turned"] += 1


@lru_cache(maxsize=4096)
def _most_values(tag: int) -> float:
    """The most values the data dictionary allows the element (``inf`` for ``1-n``,
    ``2-2n`` and an element it does not know).

    >>> _most_values(0x00181310), _most_values(0x00281101), _most_values(0x00186058)
    (4, 3, inf)
    """
    try:
        vm = dictionary_VM(tag)
    except KeyError:
        return math.inf
    top = vm.split("-")[-1].strip()
    return int(top) if top.isdigit() else math.inf


def original_dates(ds: Dataset) -> frozenset[dt.date]:
    """Every full date of the header's top-level DA and DT values (before cleaning; the
    dates in sequence items are the study's own, a walk through them costs more)."""
    found: set[dt.date] = set()
    for elem in ds:
        if elem.VR not in ("DA", "DT") or not elem.value:
            continue
        values = elem.value if isinstance(elem.value, MultiValue | list) else [elem.value]
        for value in map(str, values):
            parts = [value] if elem.VR == "DA" else [value[:8]]
            if elem.VR == "DA" and _any_da(value) is None:
                parts = value.split("-")  # a range
            found.update(d for d in map(_any_da, parts) if d is not None)
    return frozenset(found)


def _any_da(value: str) -> dt.date | None:
    """A DA value as a date, also in the old ``YYYY.MM.DD`` / ``YYYY-MM-DD`` forms."""
    return parse_da_value(value) or parse_da(value)


def date_text_regex(dates: frozenset[dt.date]) -> re.Pattern[str] | None:
    """A pattern for ``dates`` as text writes them (``20170302``, ``2017-03-02``,
    ``2017.03.02``, ``2017/03/02``, ``03/02/2017``, ``02/03/2017``, ``02.03.2017``), not
    inside a longer run of digits but for a DT's time after the compact form
    (``20170302172457.123``: the hour, minutes and seconds stay); ``None`` for no dates.

    >>> regex = date_text_regex(frozenset({dt.date(2017, 3, 2)}))
    >>> regex.sub("[date]", "Model 7 scanned 20170302, 03/02/2017; v20170302.1 120170302")
    'Model 7 scanned [date], [date]; v[date].1 120170302'
    >>> regex.sub("[date]", "acq 20170302172457.123+0100; build 201703021; id 2017030212345678")
    'acq [date]172457.123+0100; build 201703021; id 2017030212345678'
    """
    if not dates:
        return None
    forms: set[str] = set()
    compact: set[str] = set()
    for day in dates:
        y, m, d = f"{day.year:04d}", f"{day.month:02d}", f"{day.day:02d}"
        compact.add(y + m + d)
        forms |= {*(y + sep + m + sep + d for sep in "-./")}
        forms |= {m + sep + d + sep + y for sep in "/-"} | {d + sep + m + sep + y for sep in "/.-"}
    alternatives = "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))
    compacts = "|".join(sorted(compact))
    return re.compile(
        rf"(?<!\d)(?:(?:{alternatives})(?!\d)"
        rf"|(?:{compacts})(?=(?:\d{{2}}(?:\d{{2}}(?:\d{{2}}(?:\.\d{{1,6}})?)?)?)?(?!\d)))"
    )


def shifted_study_date(ds: Dataset) -> dt.date | None:
    return parse_da_value(str(ds.get("StudyDate", "") or ""))


#: A valid Age String (AS): three digits and D, W, M or Y.
_AGE_RE = re.compile(r"^\d{3}[DWMY]$")


def _set_age(ds: Dataset, original: Dataset, profile: DeidProfile) -> None:
    if not profile.has("retain_patient_characteristics"):
        return
    age = str(ds.get("PatientAge", "") or "").strip()
    if age and not _AGE_RE.match(age):
        del ds.PatientAge  # not an AS value (it could be a date of birth): recomputed below
        age = ""
    if age:
        if age.endswith("Y") and int(age[:-1]) >= 90:
            ds.PatientAge = "090Y"
        return
    birth = parse_da_value(str(original.get("PatientBirthDate", "") or ""))
    on = parse_da_value(str(original.get("StudyDate", "") or ""))
    if birth and on:
        computed = age_string(birth, on)
        if computed:
            ds.PatientAge = computed


def rebuild_file_meta(ds: Dataset, transfer_syntax: str | None = None) -> None:
    """Replace the file meta with a minimal one (nothing from the original meta is kept)."""
    old = getattr(ds, "file_meta", None)
    syntax = transfer_syntax or (old.get("TransferSyntaxUID") if old is not None else None)
    meta = FileMetaDataset()
    meta.FileMetaInformationVersion = b"\x00\x01"
    if "SOPClassUID" in ds:
        meta.MediaStorageSOPClassUID = ds.SOPClassUID
    if "SOPInstanceUID" in ds:
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = UID(syntax or ExplicitVRLittleEndian)
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = f"PYDICOM {pydicom_version}"[:16]
    ds.file_meta = meta


def clean_header(
    ds: Dataset,
    pseudonymizer: Pseudonymizer,
    profile: DeidProfile,
    identifiers: OriginalIdentifiers,
    prose_identifiers: OriginalIdentifiers | None = None,
) -> HeaderResult:
    """De-identify the header of ``ds`` in place (pixels untouched) and rebuild its meta.
    ``prose_identifiers``: what free text is scrubbed with first (default ``identifiers``;
    see :class:`HeaderCleaner`)."""
    original = Dataset()
    for keyword in ("PatientID", "PatientBirthDate", "StudyDate", "AccessionNumber"):
        if keyword in ds:
            original.add(DataElement(ds[keyword].tag, ds[keyword].VR, ds[keyword].value))
    patient_id = str(original.get("PatientID", "") or "").strip()
    cleaner = HeaderCleaner(
        pseudonymizer, profile, identifiers, patient_id, original_dates(ds), prose_identifiers
    )
    cleaner.clean_dataset(ds)
    _set_age(ds, original, profile)
    meta = getattr(ds, "file_meta", None)
    if meta is not None:
        cleaner.actions["file-meta-rebuilt"] += 1
    rebuild_file_meta(ds)
    return HeaderResult(
        pseudo_patient_id=str(ds.get("PatientID", "") or pseudonymizer.patient_id(patient_id)),
        pseudo_accession_number=str(ds.get("AccessionNumber", "") or ""),
        pseudo_study_uid=str(ds.get("StudyInstanceUID", "") or ""),
        pseudo_series_uid=str(ds.get("SeriesInstanceUID", "") or ""),
        pseudo_sop_uid=str(ds.get("SOPInstanceUID", "") or ""),
        date_shift_days=cleaner.shift_days,
        study_date_shifted=shifted_study_date(ds) if profile.dates_policy != "removed" else None,
        actions=cleaner.actions,
    )
