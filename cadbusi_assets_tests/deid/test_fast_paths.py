"""The fast paths of de-identification give the same bytes as the plain ones (issue 12, item 6).

Each speed-up keeps a plain path beside it: the identifier pre-check
(:func:`~cadbusi_assets.deid.scan.may_hold_identifiers`, else every pattern is compiled and
run), the rectangle blanking (:func:`~cadbusi_assets.deid.pixels.blank_rectangles`, else the
boolean mask), the 8-bit pixel write-back (else ``Dataset.set_pixel_data``), the header
copy that shares immutable values (else ``copy.deepcopy`` of every element), the Pixel
Data appended to the serialised header (else pydicom writes it) and that header written
through pydicom's writers without ``dcmwrite``'s copy of the file meta (else ``save_as``), the
JPEG frames copied once from Pillow's packer (:func:`~cadbusi_assets.dicom.pixels.image_array`,
else ``np.asarray``). Here the same inputs go through both and every output byte is
compared: the side-by-side corpus (studies of several files, raw RGB and JPEG), the deid-data
ultrasound files and cines, and headers whose free text names the patient.
"""

from __future__ import annotations

import contextlib
import copy
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from cadbusi_assets.deid import deidentify as deidentify_module
from cadbusi_assets.deid import deidentify_dataset
from cadbusi_assets.deid import engine as engine_module
from cadbusi_assets.deid import pixels as pixels_module
from cadbusi_assets.deid import scan as scan_module
from cadbusi_assets.deid.pixels import blank_outside, blank_rectangles, keep_mask
from cadbusi_assets.dicom import dataset_to_bytes, read_dataset
from cadbusi_assets.dicom import io as dicom_io
from cadbusi_assets.dicom import pixels as dicom_pixels
from cadbusi_assets_tests.deid.conftest import deid_data_ultrasounds


@contextlib.contextmanager
def plain_paths(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every fast path off: the pre-check always says "maybe", blanking uses the mask."""
    with monkeypatch.context() as patch:
        patch.setattr(scan_module, "may_hold_identifiers", lambda text, ids: True)
        patch.setattr(engine_module, "may_hold_identifiers", lambda text, ids: True)
        patch.setattr(pixels_module, "blank_rectangles", lambda keep: None)
        patch.setattr(dicom_pixels, "_set_uint8_pixels", lambda ds, frames, colour: False)
        patch.setattr(deidentify_module, "_copy_element", copy.deepcopy)
        patch.setattr(dicom_io, "_pixel_tail", lambda ds: None)
        patch.setattr(dicom_io, "_save_explicit_little", dicom_io._save)
        patch.setattr(dicom_pixels, "image_array", np.asarray)
        yield


def _inputs(tmp_path: Path) -> list[tuple[str, object]]:
    from benchmarks.sidebyside import write_corpus

    found: list[tuple[str, object]] = [
        (p.name, read_dataset(p)) for p in write_corpus(tmp_path / "corpus", 8, per_study=3)
    ]
    folder = deid_data_ultrasounds()
    for name in ("GREYSCALE_IMAGE.dcm", "RGB_IMAGE.dcm", "ultrasound-multiframe.dcm"):
        found.append((name, read_dataset(folder / name)))
    for name in ("GREYSCALE_CINE", "RGB_CINE"):
        with zipfile.ZipFile(folder / f"{name}.zip") as archive:
            member = next(m for m in archive.namelist() if m.endswith(".dcm"))
            found.append((name, read_dataset(archive.read(member))))
    # free text that names the patient (scrubbed with the identifiers' patterns)
    named = copy.deepcopy(found[0][1])
    named.PatientName = "Müller^Zoë"
    named.ImageComments = "Pt Mueller Zoe; MULLER ZOE 03/04/1962, seen by Dr. Smith"
    named.StudyDescription = "US BREAST Muller"
    named.OperatorsName = "Garcia^Ana"
    named.PerformedProcedureStepDescription = "garcia left breast"
    found.append(("named", named))
    return found


def _outputs(inputs, pseudonymizer) -> list[bytes]:
    out = []
    for _, ds in inputs:
        before = dataset_to_bytes(copy.deepcopy(ds))
        result = deidentify_dataset(ds, pseudonymizer)
        assert dataset_to_bytes(copy.deepcopy(ds)) == before  # the input is left unchanged
        out.append(dataset_to_bytes(result.dataset))
        out.append(result.pixel_cleaning.encode() + np.packbits(result.blanked_mask).tobytes())
    return out


def test_the_fast_paths_write_the_bytes_of_the_plain_paths(tmp_path, pseudonymizer, monkeypatch):
    inputs = _inputs(tmp_path)
    fast = _outputs(inputs, pseudonymizer)
    scan_module._text_regexes.cache_clear()
    with plain_paths(monkeypatch):
        plain = _outputs(inputs, pseudonymizer)
    assert len(fast) == len(plain) == 2 * len(inputs)
    for index, (a, b) in enumerate(zip(fast, plain, strict=True)):
        assert a == b, f"{inputs[index // 2][0]} differs"
    assert b"[name]" in fast[-2]  # the named header was scrubbed with the patterns


@pytest.mark.parametrize("seed", range(5))
def test_rectangle_blanking_equals_the_boolean_mask(seed):
    rng = np.random.default_rng(seed)
    for _ in range(20):
        rows, cols = int(rng.integers(1, 60)), int(rng.integers(1, 60))
        boxes = [
            (
                int(rng.integers(-5, cols)),
                int(rng.integers(-5, rows)),
                int(rng.integers(-5, cols + 5)),
                int(rng.integers(-5, rows + 5)),
            )
            for _ in range(int(rng.integers(0, 5)))
        ]
        masks = [keep_mask((rows, cols), boxes), ~keep_mask((rows, cols), boxes)]
        masks.append(rng.random((rows, cols)) < 0.5)  # irregular: the boolean fallback
        for keep in masks:
            for shape in ((2, rows, cols), (1, rows, cols, 3)):
                frames = rng.integers(1, 256, shape, dtype=np.uint8)
                expected = frames.copy()
                expected[:, ~keep] = 0
                assert np.array_equal(blank_outside(frames, keep), expected)
    irregular = np.indices((40, 40)).sum(axis=0) % 2 == 0
    assert blank_rectangles(irregular) is None


def test_the_written_out_cid7050_codes_are_pydicoms():
    from pydicom.sr.codedict import codes

    from cadbusi_assets.deid.profile import BASIC_PROFILE_CODE, OPTION_CODES

    cid = codes.cid7050
    found = [getattr(cid, name) for name in dir(cid) if name[:1].isupper()]
    by_value = {c.value: c for c in found if hasattr(c, "value")}
    assert len(OPTION_CODES) == 12
    for code in [BASIC_PROFILE_CODE, *OPTION_CODES.values()]:
        theirs = by_value[code.value]
        assert (code.scheme_designator, code.meaning) == (theirs.scheme_designator, theirs.meaning)


def _meta(ds) -> list[tuple[int, str, object]]:
    return [(int(e.tag), e.VR, e.value) for e in ds.file_meta]


def test_the_header_writer_writes_what_save_as_writes(tmp_path, pseudonymizer, monkeypatch):
    """:func:`~cadbusi_assets.dicom.io._save_explicit_little` against pydicom's ``save_as``
    on de-identified headers (sequences, pseudonymized UIDs, a preamble of its own, no SOP
    Instance UID) and on the cases it hands to ``save_as`` itself (a group length in the
    file meta, another transfer syntax, a Media Storage UID that ``dcmwrite`` would
    correct): the same bytes, and the data set's file meta left as it was."""
    from pydicom.dataset import Dataset
    from pydicom.uid import ImplicitVRLittleEndian

    headers = []
    for _, ds in _inputs(tmp_path):
        header = copy.deepcopy(deidentify_dataset(ds, pseudonymizer).dataset)
        del header.PixelData
        headers.append(header)
    own_preamble = copy.deepcopy(headers[0])
    own_preamble.preamble = bytes(range(128))
    group_length = copy.deepcopy(headers[1])
    group_length.file_meta.FileMetaInformationGroupLength = 1
    implicit = copy.deepcopy(headers[2])
    implicit.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    stale_uid = copy.deepcopy(headers[3])
    stale_uid.file_meta.MediaStorageSOPInstanceUID = "1.2.3"
    no_sop = copy.deepcopy(headers[4])
    del no_sop.SOPInstanceUID
    extra = [own_preamble, group_length, implicit, stale_uid, no_sop]
    sequence = Dataset()
    sequence.CodeValue = "113100"
    headers[0].DeidentificationMethodCodeSequence.append(sequence)
    save = dicom_io._save
    handed_on = []
    monkeypatch.setattr(dicom_io, "_save", lambda ds: handed_on.append(ds) or save(ds))
    for header in [*headers, *extra]:
        before = _meta(header)
        written = dicom_io._save_explicit_little(header)
        assert _meta(header) == before
        assert written == save(copy.deepcopy(header))
    assert len(headers) > 5
    # written by save_as itself: what dcmwrite would change first; the rest (an own preamble
    # and a header without SOP Instance UID included) by the fast path
    assert [id(ds) for ds in handed_on] == [id(ds) for ds in (group_length, implicit, stale_uid)]
