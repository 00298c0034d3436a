"""A synthetic ultrasound object with PHI canaries in every place identifiers hide.

Places: top-level patient/study attributes, an unlisted text attribute, free-text descriptors,
two levels deep inside an *unlisted* sequence, a private block, overlay groups (60xx), curve
groups (50xx), the file meta, and a burned-in text band in the pixels (outside the region).
Every canary is fictitious.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian

NAME = "CANARYLAST^CANARYFIRST"
MRN = "00CANARY4242"
ACCESSION = "ACCCANARY77"
BIRTH = dt.date(1961, 2, 3)
STAFF = "CANARYDOC^ALICE"
NESTED_NAME = "CANARYNESTED^BOB"
INSTITUTION = "CANARY GENERAL HOSPITAL"
STUDY_UID = "1.2.826.0.1.3680043.99999.1.1"
SERIES_UID = "1.2.826.0.1.3680043.99999.1.2"
SOP_UID = "1.2.826.0.1.3680043.99999.1.3"
REFERENCED_UID = "1.2.826.0.1.3680043.99999.1.4"
STUDY_DATE = "20170302"

#: Strings that must not survive anywhere in a de-identified output (upper case).
CANARIES = (
    "CANARYLAST",
    "CANARYFIRST",
    "CANARYDOC",
    "CANARYNESTED",
    "CANARY4242",
    "ACCCANARY77",
    "19610203",
    "02/03/1961",
    "CANARY GENERAL",
    "CANARYPRIVATE",
    "CANARYOVERLAY",
    "CANARYCURVE",
    "CANARYMETA",
    "99999.1.",
)

ROWS, COLS = 240, 320
REGION = (0, 48, COLS - 1, ROWS - 1)  # x0, y0, x1, y1: the text band y < 48 is outside


def burned_in_pixels(
    colour: bool = True, text: str = "CANARYLAST CANARYFIRST 02/03/1961"
) -> np.ndarray:
    """Speckle-like image with a bright header band of text above the region."""
    rng = np.random.default_rng(7)
    grey = rng.integers(20, 120, size=(ROWS, COLS), dtype=np.uint8)
    grey[:48] = 0
    image = Image.fromarray(grey)
    draw = ImageDraw.Draw(image)
    draw.text((4, 8), text, fill=255, font=ImageFont.load_default(size=18))
    arr = np.asarray(image).copy()
    if colour:
        arr = np.stack([arr, arr, (arr * 0.8).astype(np.uint8)], axis=-1)
    return arr


def canary_dataset(colour: bool = True) -> Dataset:
    ds = Dataset()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.6.1"
    meta.MediaStorageSOPInstanceUID = SOP_UID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.SourceApplicationEntityTitle = "CANARYMETA"
    meta.add_new(0x00020100, "UI", "1.2.826.0.1.3680043.99999.1.9")  # PrivateInformationCreatorUID
    meta.add_new(0x00020102, "OB", b"CANARYMETA " + NAME.encode())  # PrivateInformation
    ds.file_meta = meta

    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.6.1"
    ds.SOPInstanceUID = SOP_UID
    ds.StudyInstanceUID = STUDY_UID
    ds.SeriesInstanceUID = SERIES_UID
    ds.Modality = "US"
    ds.Manufacturer = "Acme Ultrasound"
    ds.ManufacturerModelName = "Model 7 " + MRN  # unlisted text attribute holding the MRN
    ds.StationName = "US-ROOM-3"
    ds.DeviceSerialNumber = "SN-1234"
    ds.InstitutionName = INSTITUTION
    ds.InstitutionAddress = "1 Canary Street"
    ds.PatientName = NAME
    ds.PatientID = MRN
    ds.IssuerOfPatientID = "CANARY GENERAL"
    ds.OtherPatientIDs = ["CANARY4242-B"]
    ds.PatientBirthDate = BIRTH.strftime("%Y%m%d")
    ds.PatientSex = "F"
    ds.PatientAge = "056Y"
    ds.AccessionNumber = ACCESSION
    ds.StudyID = "CANARY4242"
    ds.StudyDate = STUDY_DATE
    ds.SeriesDate = STUDY_DATE
    ds.ContentDate = STUDY_DATE
    ds.StudyTime = "172457"
    ds.AcquisitionDateTime = STUDY_DATE + "172457.000000+0100"
    ds.ReferringPhysicianName = STAFF
    ds.OperatorsName = STAFF
    ds.StudyDescription = "US BREAST LT for CANARYLAST"
    ds.SeriesDescription = "Adv Breast L12-5"
    ds.ImageComments = f"RT 10:00 3CM FN; MRN {MRN} DOB 02/03/1961"
    ds.BurnedInAnnotation = "NO"  # wrong on purpose: US is always cleaned

    # Two levels deep inside an unlisted sequence (DerivationCodeSequence is not in E.1-1).
    inner = Dataset()
    inner.OperatorsName = NESTED_NAME
    inner.PatientBirthDate = BIRTH.strftime("%Y%m%d")
    inner.AccessionNumber = ACCESSION
    inner.ReferencedSOPInstanceUID = REFERENCED_UID
    inner.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.6.1"
    middle = Dataset()
    middle.CodeValue = "113040"
    middle.CodingSchemeDesignator = "DCM"
    middle.CodeMeaning = "Lossy Compression"
    middle.PurposeOfReferenceCodeSequence = Sequence([inner])  # unlisted, nested
    ds.DerivationCodeSequence = Sequence([middle])

    # A request sequence with the accession inside (kept under Clean Descriptors).
    request = Dataset()
    request.AccessionNumber = ACCESSION
    request.RequestedProcedureID = "CANARY4242-RP"
    request.ScheduledProcedureStepDescription = "US BREAST for CANARYLAST^CANARYFIRST"
    ds.RequestAttributesSequence = Sequence([request])

    # Private block with the name and a DOB string.
    block = ds.private_block(0x0011, "CANARYPRIVATE CREATOR", create=True)
    block.add_new(0x10, "LO", NAME)
    block.add_new(0x11, "LO", "DOB 19610203")

    # Overlay and curve groups.
    ds.add_new(0x60000010, "US", 16)
    ds.add_new(0x60000011, "US", 16)
    ds.add_new(0x60000022, "LO", "CANARYOVERLAY description")
    ds.add_new(0x60004000, "LT", "CANARYOVERLAY comment for " + NAME)
    ds.add_new(0x50000020, "CS", "CANARYCURVE")

    region = Dataset()
    region.RegionSpatialFormat = 1
    region.RegionDataType = 1
    region.RegionFlags = 0
    region.RegionLocationMinX0, region.RegionLocationMinY0 = REGION[0], REGION[1]
    region.RegionLocationMaxX1, region.RegionLocationMaxY1 = REGION[2], REGION[3]
    region.PhysicalUnitsXDirection = 3
    region.PhysicalUnitsYDirection = 3
    region.PhysicalDeltaX = 0.01
    region.PhysicalDeltaY = 0.01
    ds.SequenceOfUltrasoundRegions = Sequence([region])

    pixels = burned_in_pixels(colour)
    ds.set_pixel_data(pixels, "RGB" if colour else "MONOCHROME2", 8, generate_instance_uid=False)
    return ds


#: Non-ASCII patient names in three character sets (issue 10): case →
#: (SpecificCharacterSet, PatientName, burned-in text, codec of the header bytes, words that
#: must not survive anywhere, (StudyDescription, ImageComments) as the issue found them).
#: Tesseract reads Latin only, so the burned-in text is the transliterated spelling a
#: scanner would print.
NON_ASCII_NAMES: dict[str, tuple[object, str, str, str, tuple[str, ...], tuple[str, str]]] = {
    "utf8-german": (
        "ISO_IR 192",
        "Müller^Zoë",
        "MUELLER ZOE 02/03/1961",
        "utf-8",
        ("MÜLLER", "MULLER", "MUELLER", "ZOË", "ZOE"),
        ("US BREAST Muller", "Pt Mueller Zoe; MULLER ZOE"),
    ),
    "latin1-norwegian": (
        "ISO_IR 100",
        "Ødegård^Åse",
        "ODEGARD ASE 02/03/1961",
        "latin-1",
        ("ØDEGÅRD", "ODEGARD", "OEDEGAARD", "ÅSE", "AASE"),
        ("US BREAST Oedegaard", "Odegard Ase"),
    ),
    "jis-japanese": (
        ["", "ISO 2022 IR 87"],
        "Yamada^Tarou=山田^太郎=やまだ^たろう",
        "YAMADA TAROU 02/03/1961",
        "iso2022_jp",
        ("YAMADA", "TAROU", "山田", "太郎", "やまだ", "たろう"),
        ("乳腺エコー 山田", "山田太郎 様; Yamada Tarou"),
    ),
}


def non_ascii_canary(case: str) -> Dataset:
    """:func:`canary_dataset` with a non-ASCII patient name (every component group) written
    in descriptors, a request sequence, a private block, an overlay comment and the pixels."""
    charset, name, burned, _, _, (study, comments) = NON_ASCII_NAMES[case]
    groups = name.split("=")
    ds = canary_dataset()
    ds.SpecificCharacterSet = charset
    ds.PatientName = name
    ds.OtherPatientNames = groups[0]
    ds.StudyDescription = study
    ds.ImageComments = comments
    ds.RequestAttributesSequence[
        0
    ].ScheduledProcedureStepDescription = f"US BREAST for {groups[-1]}"
    block = ds.private_block(0x0011, "CANARYPRIVATE CREATOR")
    block.add_new(0x12, "LO", groups[-1])
    ds.add_new(0x60004000, "LT", f"CANARYOVERLAY comment for {name}")
    pixels = burned_in_pixels(True, text=burned)
    ds.set_pixel_data(pixels, "RGB", 8, generate_instance_uid=False)
    return ds
