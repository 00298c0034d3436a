"""De-identify one DICOM object: header profile, pixel cleaning, bookkeeping, verification.

Pixel policy (lossless): frames are decoded once to 8-bit grey or RGB, blanked outside the
kept areas and written back **uncompressed** (Explicit VR Little Endian, PlanarConfiguration
0, MONOCHROME2 or RGB; palette and YBR inputs become RGB). Nothing is re-encoded lossily;
inputs that were lossy keep ``LossyImageCompression=01``.

Fail closed: anything that cannot be cleaned or verified raises
:class:`~cadbusi_assets.deid.errors.DeidentificationError` with a reason free of PHI.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.uid import (
    JPEG2000,
    UID,
    ExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLSNearLossless,
)
from pydicom.valuerep import PersonName

from cadbusi_assets.deid.engine import HeaderResult, clean_header, rebuild_file_meta
from cadbusi_assets.deid.errors import DeidentificationError
from cadbusi_assets.deid.identifiers import (
    MIN_OTHER_FAMILY,
    OTHER_NAME_KEYWORDS,
    PATIENT_NAME_KEYWORDS,
    OriginalIdentifiers,
    name_parts,
)
from cadbusi_assets.deid.name_variants import is_cjk
from cadbusi_assets.deid.ocr import (
    ocr_identifiers,
    verification_frame_indices,
    verification_frames,
)
from cadbusi_assets.deid.pixels import PixelPlan, blank_outside, describe, plan_pixel_cleaning
from cadbusi_assets.deid.profile import DEFAULT_PROFILE, DeidProfile
from cadbusi_assets.deid.scan import find_identifiers_in_dataset, number_bytes, reads_as_text
from cadbusi_assets.deid.shapes import name_like_words, relatives_named
from cadbusi_assets.dicom import (
    DecodeError,
    UltrasoundRegion,
    iter_frames,
    number_of_frames,
    quiet_pydicom,
    set_frames,
)
from cadbusi_assets.identity import Pseudonymizer

_LOSSY_SYNTAXES = {JPEGBaseline8Bit, JPEGExtended12Bit, JPEG2000, JPEGLSNearLossless}
_PALETTE_ELEMENTS = [
    (0x0028, e) for e in (0x1101, 0x1102, 0x1103, 0x1104, 0x1199, 0x1201, 0x1202, 0x1203, 0x1204)
] + [(0x0028, e) for e in (0x1214, 0x1221, 0x1222, 0x1223)]


@dataclass
class DeidentifiedObject:
    """One de-identified object. ``dataset`` is ready for ``dataset_to_bytes``."""

    dataset: Dataset
    frames: np.ndarray
    kept_regions: list[UltrasoundRegion]
    blanked_mask: np.ndarray
    pixel_cleaning: str
    identifiers: OriginalIdentifiers
    pseudo_patient_id: str
    pseudo_accession_number: str
    pseudo_study_uid: str
    pseudo_series_uid: str
    pseudo_sop_uid: str
    date_shift_days: int
    study_date_shifted: dt.date | None
    ocr_findings: list[str] = field(default_factory=list)
    actions: dict[str, int] = field(default_factory=dict)

    def __repr__(self) -> str:  # the dataset and identifiers stay out of logs
        return (
            f"DeidentifiedObject(sop={self.pseudo_sop_uid}, frames={self.frames.shape}, "
            f"pixel_cleaning={self.pixel_cleaning!r})"
        )


#: sequences nested deeper than this are refused: the header walks (copy, cleaning, the
#: identifier scan) recurse once a level, and real objects nest a few levels (SR: 5 in
#: pydicom's test files); ~100 levels ran out of Python's stack as an unexpected error
MAX_SEQUENCE_DEPTH = 32


def _check_nesting(ds: Dataset) -> None:
    """Refuse a data set whose sequences nest deeper than :data:`MAX_SEQUENCE_DEPTH` (walked
    with a stack, not by recursion: the walk itself cannot run out of stack)."""
    stack = [(ds, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_SEQUENCE_DEPTH:
            raise DeidentificationError(f"sequences nested deeper than {MAX_SEQUENCE_DEPTH} levels")
        for element in item:
            if element.VR == "SQ" and element.value:
                stack += [(child, depth + 1) for child in element.value]


#: free-text VRs read for the relatives they name (a report's Text Value is UT)
_FREE_TEXT_VRS = ("ST", "LT", "UT")
#: person-name keywords :meth:`OriginalIdentifiers.from_dataset` reads itself
_LISTED_NAME_KEYWORDS = frozenset(PATIENT_NAME_KEYWORDS + OTHER_NAME_KEYWORDS)
#: the exam's short descriptors and the station's name (kept, scrubbed for identifier shapes
#: only): a name-like word in two of them, or in one while free text names a relative, is
#: one person's name split across elements (``Breast Ysolde`` in Series Description,
#: ``Ñandúbarra`` in Protocol Name). Not the device fields: an unknown vendor's words read
#: like names there (``Acme Somatom``, ``Vevo 2100``), round 20.
_SPLIT_NAME_KEYWORDS = frozenset({
    "StudyDescription", "SeriesDescription", "ProtocolName", "PerformedProcedureStepDescription",
    "RequestedProcedureDescription", "ScheduledProcedureStepDescription", "StationName",
    "BodyPartExamined", "AcquisitionDeviceProcessingDescription", "DerivationDescription",
    "InstitutionalDepartmentName", "PerformedStationName", "PerformedLocation",
})  # fmt: skip
#: a half of a split name is a word or two (three with a particle); a descriptor with more
#: name-like words than that is no half (prose, or a long value made to be searched for
#: word by word: 5,000 random words took 23 s), with more than twice that not even read
_MAX_HALF_WORDS = 3
_MAX_SPLIT_WORDS = 2 * _MAX_HALF_WORDS


def header_identifiers(ds: Dataset) -> OriginalIdentifiers:
    """The header's own identifiers (:meth:`OriginalIdentifiers.from_dataset`) and the
    relatives its free text names after a relative's word (``sister Ottoline Vexworth`` in
    Image Comments or a report's Text Value, at any depth): each such word of at least
    :data:`~cadbusi_assets.deid.identifiers.MIN_OTHER_FAMILY` letters (two CJK) is searched
    for alone like a relative's surname, so that ``Acme Vexworth`` in a device field goes.
    """
    return header_identifiers_of(ds, OriginalIdentifiers.from_dataset(ds))


def header_identifiers_of(ds: Dataset, identifiers: OriginalIdentifiers) -> OriginalIdentifiers:
    """:func:`header_identifiers`, the header's own (``identifiers``) already read. Also
    read: the relatives a code's meaning names (an SR's ``CODE`` item: ``mother Ysolde
    Ñandúbarra: breast cancer``) and every person name of an element no list names (an
    SR's ``PNAME`` item's Person Name, at any depth), searched for as staff names are.
    And a name split across elements (:data:`_SPLIT_NAME_KEYWORDS`): the name-like words
    of the descriptors, when two of them hold one or free text names a relative, each
    searched for alone as a relative's surname is."""
    words: list[str] = []
    people: list[str] = []
    split: set[tuple[str, ...]] = set()  # the name-like words of each descriptor holding one
    for elem in ds.iterall():
        if not elem.value:
            continue
        if elem.keyword in _SPLIT_NAME_KEYWORDS:
            values = elem.value if isinstance(elem.value, MultiValue | list) else [elem.value]
            found = [w for v in values if isinstance(v, str) for w in name_like_words(v)]
            found = list(dict.fromkeys(found))
            if 0 < len(found) <= _MAX_SPLIT_WORDS:  # twice (a request's copy) is one
                split.add(tuple(found))
        if elem.VR in _FREE_TEXT_VRS or elem.keyword == "CodeMeaning":
            values = elem.value if isinstance(elem.value, MultiValue | list) else [elem.value]
            for value in values:
                if isinstance(value, str):
                    words += relatives_named(value)
        elif elem.VR == "PN" and elem.keyword not in _LISTED_NAME_KEYWORDS:
            values = elem.value if isinstance(elem.value, MultiValue | list) else [elem.value]
            people += [str(v).strip() for v in values if str(v).strip()]
    names = tuple(
        f"{word}^"
        for word in dict.fromkeys(words)
        if len(word) >= (2 if is_cjk(word) else MIN_OTHER_FAMILY)
    )
    names += tuple(dict.fromkeys(people))
    if len(split) + bool(words) >= 2:  # "Breast Ysolde" and "Ñandúbarra": one person
        names += _split_name_words(split, identifiers, bool(words))
    return identifiers.merge(OriginalIdentifiers(other=names)) if names else identifiers


def _split_name_words(
    split: set[tuple[str, ...]], identifiers: OriginalIdentifiers, relatives: bool
) -> tuple[str, ...]:
    """The name-like words of the descriptors (``split``: each descriptor's) to search for
    alone, as ``Ñandúbarra^``: those of no name the header already names (nor that name's
    letters backwards: found as that name is). A descriptor with such a word is one half of a
    split name; another such descriptor, or free text naming a relative (``relatives``), is
    the other. A descriptor with only the header's own names is no half (the patient's name
    in a request's description beside ``Gleason Score`` is no split name)."""
    known = frozenset().union(*map(name_parts, identifiers.patient_names + identifiers.other))

    def fresh(word: str) -> bool:
        return name_parts(word).isdisjoint(known) and name_parts(word[::-1]).isdisjoint(known)

    halves = {kept for kept in (tuple(filter(fresh, found)) for found in split) if kept}
    halves = {kept for kept in halves if len(kept) <= _MAX_HALF_WORDS}
    if len(halves) + relatives < 2:
        return ()
    return tuple(dict.fromkeys(f"{w}^" for half in sorted(halves) for w in half))


def _check_supported(ds: Dataset, profile: DeidProfile) -> None:
    sop_class = str(ds.get("SOPClassUID", "") or "")
    if not sop_class:
        raise DeidentificationError("no SOPClassUID: cannot choose a de-identification policy")
    if sop_class not in profile.sop_classes:
        name = UID(sop_class).name
        # a registered class is named with its UID; anything else is not quoted (the header
        # value could hold any text)
        label = f"{name} ({sop_class})" if name != sop_class else "(unregistered UID)"
        raise DeidentificationError(
            f"unsupported SOP class {label}: only ultrasound and secondary "
            "capture images are de-identified"
        )
    if not profile.has("clean_pixel_data"):
        raise DeidentificationError(
            f"profile {profile.name!r} lacks Clean Pixel Data, which US/SC objects require"
        )
    if "PixelData" not in ds:
        raise DeidentificationError("image object without PixelData")


#: Display transforms left out when decoding for write-back: the stored values are kept.
_DISPLAY_TRANSFORMS = (
    "WindowCenter",
    "WindowWidth",
    "WindowCenterWidthExplanation",
    "VOILUTFunction",
    "VOILUTSequence",
    "RescaleSlope",
    "RescaleIntercept",
    "RescaleType",
    "ModalityLUTSequence",
)


#: Removed when the input had more than 8 bits (the values no longer apply).
_HIGH_BIT_ELEMENTS = (
    *_DISPLAY_TRANSFORMS,
    "SmallestImagePixelValue",
    "LargestImagePixelValue",
    "PixelPaddingValue",
    "PixelPaddingRangeLimit",
)


def _stored_values_view(ds: Dataset) -> Dataset:
    """A shallow view of ``ds`` without VOI/modality transforms, so that the shared decoder
    returns stored values (8-bit data unchanged) rather than a display rendering."""
    view = Dataset()
    for elem in ds:
        if elem.keyword not in _DISPLAY_TRANSFORMS:
            view.add(elem)
    view.file_meta = getattr(ds, "file_meta", FileMetaDataset())
    return view


def decode_all_frames(ds: Dataset) -> np.ndarray:
    """All frames as one uint8 array ``(N, H, W)`` or ``(N, H, W, 3)`` (stored values)."""
    n = number_of_frames(ds)
    try:
        frames = [frame for _, frame in iter_frames(_stored_values_view(ds))]
    except DecodeError as exc:
        raise DeidentificationError(f"undecodable pixel data: {exc}") from None
    if len(frames) != n:
        raise DeidentificationError(f"decoded {len(frames)} of {n} frames")
    shapes = {f.shape for f in frames}
    if len(shapes) != 1:
        raise DeidentificationError("frames differ in size")
    if len(frames) == 1 and frames[0].flags.writeable and frames[0].flags.c_contiguous:
        return frames[0][np.newaxis]  # the decoder's own array: no copy of a single frame
    return np.stack(frames)


def _copy_element(elem: DataElement) -> DataElement:
    """A copy the header pass may change: sequences (and their items) and multi-values
    deep, other values shared (strings, numbers and bytes the engine replaces, never edits)."""
    if elem.VR == "SQ" or elem.is_buffered or not isinstance(elem.value, _SHARED_VALUES):
        return copy.deepcopy(elem)
    return copy.copy(elem)


#: Value types that a copied element may share with the original (immutable).
_SHARED_VALUES = (str, bytes, int, float, PersonName, type(None))


def _copy_header(ds: Dataset) -> Dataset:
    out = Dataset()
    for elem in ds:
        if elem.tag != 0x7FE00010:
            out.add(_copy_element(elem))
    out.file_meta = copy.deepcopy(getattr(ds, "file_meta", FileMetaDataset()))
    return out


def _write_pixels(out: Dataset, original: Dataset, frames: np.ndarray) -> None:
    syntax = getattr(getattr(original, "file_meta", None), "TransferSyntaxUID", None)
    multi = "NumberOfFrames" in original or frames.shape[0] > 1
    sop_uid = out.get("SOPInstanceUID")
    rebuild_file_meta(out, ExplicitVRLittleEndian)
    set_frames(out, frames if multi else frames[0])
    # set_pixel_data() draws a random SOP Instance UID; restore the pseudonymized one.
    if sop_uid is not None:
        out.SOPInstanceUID = sop_uid
    # the output is never a palette image: palette data go whatever the input's photometric
    # interpretation (in a grey image nothing reads them, and they can hold any bytes)
    for tag in _PALETTE_ELEMENTS:
        if tag in out:
            del out[tag]
    _trim_lut_data(out)
    if int(original.get("BitsStored", 8) or 8) > 8:
        for keyword in _HIGH_BIT_ELEMENTS:
            if keyword in out:
                delattr(out, keyword)
    if syntax in _LOSSY_SYNTAXES or str(original.get("LossyImageCompression", "")) == "01":
        out.LossyImageCompression = "01"
    rebuild_file_meta(out, ExplicitVRLittleEndian)


#: Sequences whose items hold a LUT Descriptor and its LUT Data.
_LUT_SEQUENCES = ("ModalityLUTSequence", "VOILUTSequence")


def _trim_lut_data(out: Dataset) -> None:
    """LUT Data past the last entry its LUT Descriptor declares goes: no reader uses it,
    and it can hold any bytes (a relative's name and phone after 256 entries). A LUT whose
    entries read as words or a phone (:func:`~cadbusi_assets.deid.scan.reads_as_text`) is no
    LUT: its sequence goes (the written pixels are the stored values; no pass needs it)."""
    for keyword in _LUT_SEQUENCES:
        for item in out.get(keyword) or []:
            descriptor = item.get("LUTDescriptor")
            data = item.get("LUTData")
            if descriptor is None or data is None or len(descriptor) < 1:
                continue
            entries = int(descriptor[0]) or 65536
            if isinstance(data, bytes | bytearray) and len(data) > 2 * entries:
                item.LUTData = bytes(data[: 2 * entries])  # 16 bits an entry (PS3.3 C.11.1)
            elif isinstance(data, MultiValue | list) and len(data) > entries:
                item.LUTData = data[:entries]
        if any(_lut_reads_as_text(item) for item in out.get(keyword) or []):
            delattr(out, keyword)


def _lut_reads_as_text(item: Dataset) -> bool:
    if "LUTData" not in item or item.LUTData is None:
        return False
    data = item.LUTData
    if isinstance(data, bytes | bytearray):
        return reads_as_text(bytes(data))
    packed = number_bytes(item["LUTData"])  # entries read as US or SS values
    return packed is not None and reads_as_text(packed)


def _bookkeeping(out: Dataset, profile: DeidProfile, pixels_cleaned: bool) -> None:
    out.PatientIdentityRemoved = "YES"
    out.DeidentificationMethod = profile.method_text()
    items = Sequence()
    for code in profile.codes():
        if code.value == "113101" and not pixels_cleaned:
            continue
        item = Dataset()
        item.CodeValue = code.value
        item.CodingSchemeDesignator = code.scheme_designator
        item.CodeMeaning = code.meaning
        items.append(item)
    out.DeidentificationMethodCodeSequence = items
    out.LongitudinalTemporalInformationModified = {
        "modified": "MODIFIED",
        "full": "UNMODIFIED",
        "removed": "REMOVED",
    }[profile.dates_policy]
    if pixels_cleaned:
        out.BurnedInAnnotation = "NO"


def ocr_frame_indices(n_frames: int) -> list[int]:
    """The sampled frames OCR verification reads whatever the frames hold
    (:func:`~cadbusi_assets.deid.ocr.verification_frame_indices`: all of a short object; the
    first, the last and every n-th frame of a cine); of a cine,
    :func:`~cadbusi_assets.deid.ocr.verification_frames` reads the frames whose text differs
    from theirs too.

    >>> ocr_frame_indices(1), ocr_frame_indices(30)
    ([0], [0, 10, 20, 29])
    """
    return verification_frame_indices(n_frames)


def deidentify_dataset(
    ds: Dataset,
    pseudonymizer: Pseudonymizer,
    profile: DeidProfile | None = None,
    *,
    verify_ocr: bool = False,
    extra_identifiers: OriginalIdentifiers | None = None,
) -> DeidentifiedObject:
    """De-identify ``ds`` (left unchanged) and return the cleaned copy with its pixels.

    Raises :class:`DeidentificationError` for an unsupported SOP class, an image without
    usable ultrasound regions or device rule, undecodable pixels, an identifier left in the
    header, or (with ``verify_ocr``) the study's identifiers readable in the cleaned pixels.
    pydicom's warnings and log records (they quote header values) are captured.
    """
    with quiet_pydicom():
        return _deidentify_dataset(
            ds,
            pseudonymizer,
            profile,
            verify_ocr=verify_ocr,
            extra_identifiers=extra_identifiers,
        )


def _deidentify_dataset(
    ds: Dataset,
    pseudonymizer: Pseudonymizer,
    profile: DeidProfile | None,
    *,
    verify_ocr: bool,
    extra_identifiers: OriginalIdentifiers | None,
) -> DeidentifiedObject:
    profile = profile or DEFAULT_PROFILE
    _check_supported(ds, profile)
    _check_nesting(ds)
    # free text is scrubbed first without the relatives it names itself (engine.HeaderCleaner)
    own = OriginalIdentifiers.from_dataset(ds).merge(extra_identifiers)
    identifiers = header_identifiers_of(ds, own)

    plan: PixelPlan = plan_pixel_cleaning(ds)
    frames = decode_all_frames(ds)
    if frames.shape[1:3] != plan.keep.shape:
        raise DeidentificationError("decoded frame size does not match Rows/Columns")
    blank_outside(frames, plan.keep)

    out = _copy_header(ds)
    header: HeaderResult = clean_header(out, pseudonymizer, profile, identifiers, own)
    _write_pixels(out, ds, frames)
    _bookkeeping(out, profile, pixels_cleaned=True)

    actions: Counter[str] = Counter(header.actions)
    actions["pixel-frames-cleaned"] += int(frames.shape[0])
    leaks = find_identifiers_in_dataset(out, identifiers)
    if leaks:
        raise DeidentificationError("identifier left after header cleaning: " + "; ".join(leaks))

    findings: list[str] = []
    if verify_ocr:
        indices = verification_frames(frames)
        for index in indices:
            kinds = ocr_identifiers(frames[index], identifiers)
            findings += [f"frame {index}: {kind}" for kind in kinds]
        actions["ocr-frames-read"] += len(indices)
        if findings:
            raise DeidentificationError(
                "identifying text still readable after pixel cleaning (" + "; ".join(findings) + ")"
            )

    return DeidentifiedObject(
        dataset=out,
        frames=frames,
        kept_regions=plan.kept_regions,
        blanked_mask=plan.blanked_mask,
        pixel_cleaning=describe(plan, frames.shape[0]),
        identifiers=identifiers,
        pseudo_patient_id=header.pseudo_patient_id,
        pseudo_accession_number=header.pseudo_accession_number,
        pseudo_study_uid=header.pseudo_study_uid,
        pseudo_series_uid=header.pseudo_series_uid,
        pseudo_sop_uid=header.pseudo_sop_uid,
        date_shift_days=header.date_shift_days,
        study_date_shifted=header.study_date_shifted,
        ocr_findings=findings,
        actions=dict(sorted(actions.items())),
    )
