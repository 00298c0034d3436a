"""Header leaks found by the adversarial end-to-end test (cadbusi_assets_tests/test_adversarial_phi.py),
reduced to unit tests. All names, numbers and dates are synthetic."""

from __future__ import annotations

from pydicom.dataset import Dataset

from cadbusi_assets.deid import DEFAULT_PROFILE, OriginalIdentifiers
from cadbusi_assets.deid.engine import clean_header


def _with_comments(text: str) -> Dataset:
    ds = Dataset()
    ds.PatientID = "00123456"
    ds.PatientName = "Müller^Zoë"
    ds.StudyDate = "20260901"
    ds.ImageComments = text
    return ds


def test_third_party_name_in_image_comments_is_scrubbed(pseudonymizer):
    """A relative's name without a title in Image Comments (LT, Clean Descriptors) reached the
    research DICOM: the header scrubber removed only the study's own identifiers."""
    ids = OriginalIdentifiers(patient_names=("Müller^Zoë",), patient_ids=("00123456",))
    ds = _with_comments("Pt Mueller Zoe; MULLER ZOE; sister Zelda Plimsoll 555-0142")
    clean_header(ds, pseudonymizer, DEFAULT_PROFILE, ids)
    comments = str(ds.get("ImageComments", ""))
    for word in ("Zelda", "Plimsoll", "Mueller", "Zoe", "MULLER", "555-0142"):
        assert word.lower() not in comments.lower(), word


def test_cjk_name_and_third_party_in_image_comments(pseudonymizer):
    name = "Yamada^Tarou=山田^太郎=やまだ^たろう"
    ids = OriginalIdentifiers(patient_names=(name,), patient_ids=("00123456",))
    ds = _with_comments("山田太郎 様; daughter Hortensia Quackenbush (617) 555-0199")
    clean_header(ds, pseudonymizer, DEFAULT_PROFILE, ids)
    comments = str(ds.get("ImageComments", ""))
    for word in ("山田", "太郎", "Hortensia", "Quackenbush", "555-0199"):
        assert word.lower() not in comments.lower(), word


def test_clinical_image_comments_kept(pseudonymizer):
    ds = _with_comments("RT BREAST 10:00 3CM FN RADIAL")
    clean_header(ds, pseudonymizer, DEFAULT_PROFILE, OriginalIdentifiers(patient_ids=("1",)))
    assert str(ds.ImageComments) == "RT BREAST 10:00 3CM FN RADIAL"


def test_burned_in_relative_phone_inside_the_image_region_is_found():
    """A relative's name and phone typed inside the ultrasound region stay after pixel cleaning
    (the region is kept) and reached the research PNGs and the export: OCR verification looked
    only for the study's own identifiers. A phone number of anyone now fails verification."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    from cadbusi_assets.deid.ocr import THIRD_PARTY_CONTACT, ocr_identifiers
    from cadbusi_assets_tests.support import require_tool

    require_tool("tesseract", "apt-get install tesseract-ocr tesseract-ocr-eng")
    image = Image.fromarray(np.full((300, 640), 40, np.uint8))
    draw = ImageDraw.Draw(image)
    draw.text((60, 120), "ZELDA PLIMSOLL 555-0142", font=ImageFont.load_default(size=30), fill=255)
    draw.text((60, 220), "LT BREAST 10:00 3CM FN", font=ImageFont.load_default(size=22), fill=255)
    frame = np.asarray(image)
    ids = OriginalIdentifiers(patient_names=("Müller^Zoë",), patient_ids=("00123456",))
    assert ocr_identifiers(frame, ids) == [THIRD_PARTY_CONTACT]
    clinical = np.asarray(image.crop((0, 200, 640, 300)))
    assert ocr_identifiers(clinical, ids) == []


def test_leak_finder_knows_long_and_short_birth_date_forms():
    """``cadbusi verify`` and the blocking check missed a birth date written ``April 13, 1961``,
    ``13 April 1961``, ``4/13/61`` or ``13.4.1961``."""
    import datetime as dt

    from cadbusi_assets.deid.scan import find_identifiers_in_text

    ids = OriginalIdentifiers(patient_ids=("00123456",), birth_dates=(dt.date(1961, 4, 13),))
    for text in ("April 13, 1961", "born April 13 1961", "13 April 1961", "4/13/61", "13.4.1961"):
        assert find_identifiers_in_text(text, ids) == ["birth_date"], text
    assert find_identifiers_in_text("LT BREAST 4CM FN 13:00 4/13/2026", ids) == []
