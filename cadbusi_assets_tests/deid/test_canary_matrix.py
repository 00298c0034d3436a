"""The PHI canary matrix: every place identifiers hide × every pixel encoding we receive.

Places (planted by ``canary.canary_dataset``): top-level patient/study attributes, an unlisted
text attribute, free-text descriptors, two levels deep inside an unlisted sequence, a private
block, overlay (60xx) and curve (50xx) groups, the file meta, and a burned-in text band in the
pixels. Encodings: RGB, RGB with planar configuration 1, MONOCHROME2, JPEG baseline
YBR_FULL_422, and a JPEG baseline multi-frame cine. Each output is checked three ways: a byte
scan of the written file (outside Pixel Data), an element walk, and OCR of every output frame.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from pydicom.encaps import encapsulate
from pydicom.uid import ExplicitVRLittleEndian, JPEGBaseline8Bit

from cadbusi_assets.deid import OriginalIdentifiers, deidentify_dataset, ocr_identifiers
from cadbusi_assets.deid.scan import find_identifiers_in_dataset, find_identifiers_in_file_bytes
from cadbusi_assets.dicom import dataset_to_bytes, iter_frames, read_dataset
from cadbusi_assets_tests.deid import canary
from cadbusi_assets_tests.support import require_tool

ENCODINGS = ["rgb", "rgb-planar", "monochrome2", "jpeg-ybr422", "jpeg-cine"]
CINE_FRAMES = 5


def _jpeg(frame: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(frame).save(out, format="JPEG", quality=92, subsampling="4:2:2")
    return out.getvalue()


def encoded_canary(encoding: str):
    ds = canary.canary_dataset(colour=encoding != "monochrome2")
    frame = canary.burned_in_pixels(colour=encoding != "monochrome2")
    if encoding == "rgb-planar":
        ds.PixelData = np.ascontiguousarray(frame.transpose(2, 0, 1)).tobytes()
        ds.PlanarConfiguration = 1
    elif encoding.startswith("jpeg"):
        frames = [frame] * (CINE_FRAMES if encoding == "jpeg-cine" else 1)
        ds.PixelData = encapsulate([_jpeg(f) for f in frames])
        ds["PixelData"].VR = "OB"
        ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
        ds.PhotometricInterpretation = "YBR_FULL_422"
        ds.LossyImageCompression = "01"
        if encoding == "jpeg-cine":
            ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.3.1"
            ds.NumberOfFrames = CINE_FRAMES
            ds.FrameTime = 33.3
            ds.FrameIncrementPointer = 0x00181063
    else:
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    # every encoding goes through a real file round trip, as it would arrive from a PACS
    return read_dataset(dataset_to_bytes(ds))


def identifiers() -> OriginalIdentifiers:
    return OriginalIdentifiers(
        patient_names=(canary.NAME, canary.STAFF, canary.NESTED_NAME),
        patient_ids=(canary.MRN,),
        accession_numbers=(canary.ACCESSION,),
        birth_dates=(canary.BIRTH,),
        other=tuple(canary.CANARIES),
    )


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_the_planted_canaries_are_present_before(encoding):
    """The matrix is meaningful: every input really carries the canaries (header and pixels)."""
    require_tool("tesseract", "apt-get install tesseract-ocr")
    ds = encoded_canary(encoding)
    assert find_identifiers_in_dataset(ds, identifiers())
    _, first = next(iter_frames(ds))
    assert ocr_identifiers(first, identifiers())


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_no_canary_survives_any_place_in_any_encoding(encoding, pseudonymizer):
    require_tool("tesseract", "apt-get install tesseract-ocr")
    source = encoded_canary(encoding)
    result = deidentify_dataset(source, pseudonymizer, verify_ocr=True)
    data = dataset_to_bytes(result.dataset)
    written = read_dataset(data)
    assert find_identifiers_in_file_bytes(data, identifiers()) == []
    assert find_identifiers_in_dataset(written, identifiers()) == []
    header = data.replace(bytes(written.PixelData), b"").upper()
    for value in canary.CANARIES:
        assert value.encode() not in header, f"{value} survived in the bytes ({encoding})"
    frames = list(iter_frames(written))
    assert len(frames) == (CINE_FRAMES if encoding == "jpeg-cine" else 1)
    for index, frame in frames:
        assert ocr_identifiers(frame, identifiers()) == [], f"readable text in frame {index}"
    # inside the kept region the pixels are unchanged (lossless write-back)
    x0, y0, x1, y1 = canary.REGION
    _, before = next(iter_frames(source))
    assert np.array_equal(frames[0][1][y0 : y1 + 1, x0 : x1 + 1], before[y0 : y1 + 1, x0 : x1 + 1])
    assert written.BurnedInAnnotation == "NO" and written.PatientIdentityRemoved == "YES"


# -- a row for non-ASCII names in three character sets ------------------------------------


def _header_bytes(data: bytes, written) -> bytes:
    return data.replace(bytes(written.PixelData), b"")


def _encoded(word: str, codec: str) -> list[bytes]:
    out = []
    for text in {word, word.lower(), word.title()}:
        try:
            encoded = text.encode(codec)
        except UnicodeEncodeError:
            continue
        out.append(encoded.replace(b"\x1b$B", b"").replace(b"\x1b(B", b""))
    return out


@pytest.mark.parametrize("case", sorted(canary.NON_ASCII_NAMES))
def test_non_ascii_names_are_present_before(case):
    require_tool("tesseract", "apt-get install tesseract-ocr")
    ds = read_dataset(dataset_to_bytes(canary.non_ascii_canary(case)))
    ids = OriginalIdentifiers.from_dataset(ds)
    found = find_identifiers_in_dataset(ds, ids)
    assert "StudyDescription: patient_name" in found and "ImageComments: patient_name" in found
    _, first = next(iter_frames(ds))
    assert "patient_name" in ocr_identifiers(first, ids)


@pytest.mark.parametrize("case", sorted(canary.NON_ASCII_NAMES))
def test_no_non_ascii_name_survives_in_any_character_set(case, pseudonymizer):
    require_tool("tesseract", "apt-get install tesseract-ocr")
    _, _, _, codec, words, _ = canary.NON_ASCII_NAMES[case]
    source = read_dataset(dataset_to_bytes(canary.non_ascii_canary(case)))
    ids = OriginalIdentifiers.from_dataset(source)
    result = deidentify_dataset(source, pseudonymizer, verify_ocr=True)
    data = dataset_to_bytes(result.dataset)
    written = read_dataset(data)
    assert find_identifiers_in_file_bytes(data, ids) == []
    assert find_identifiers_in_dataset(written, ids) == []
    header = _header_bytes(data, written)
    for word in words:
        for encoded in _encoded(word, codec) + _encoded(word, "utf-8"):
            assert encoded not in header, f"a name word survived in the bytes ({case})"
    texts = " ".join(
        str(written.get(k, "")) for k in ("StudyDescription", "ImageComments", "PatientName")
    ).upper()
    assert not any(word in texts for word in words)
    for index, frame in iter_frames(written):
        assert ocr_identifiers(frame, ids) == [], f"readable name in frame {index} ({case})"
