"""Nothing from a header reaches a log, and bombs are quarantined (issue 10, items 5 and 6).

* pydicom warned ``Invalid value for VR DA: '13.04.1961'`` (a birth date) and printed it into
  the Dagster compute logs; the same happened for other header values.
* A DICOM that inflates from 1 MB to 1 GiB (Deflated Explicit VR Little Endian) or declares a
  huge Rows × Columns × Frames exhausted memory.

All data here is synthetic (the fake birth date and UIDs are invented).
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import textwrap
import warnings
import zlib
from pathlib import Path

import pytest
from pydicom import config
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import DeflatedExplicitVRLittleEndian, JPEGBaseline8Bit

from cadbusi_assets.deid import OriginalIdentifiers
from cadbusi_assets.dicom import DicomLimitError, dataset_to_bytes, quiet_pydicom, read_dataset
from cadbusi_assets.identity import Pseudonymizer
from cadbusi_assets.stages import deidentification as stage
from cadbusi_assets.storage import open_zone
from cadbusi_assets_tests.deid import canary
from cadbusi_assets_tests.support import TEST_KEY

FAKE_BIRTH = "13.04.1961"
FAKE_UID = "1.2.826.0.1.3680043.99999.7.13041961"
REPO = Path(__file__).resolve().parents[2]


def malformed_dicom() -> bytes:
    """The canary object with a birth date written as ``13.04.1961`` in DA and AS elements
    and a malformed Study Instance UID (pydicom warns about all of them)."""
    saved = (config.settings.reading_validation_mode, config.settings.writing_validation_mode)
    config.settings.reading_validation_mode = config.IGNORE
    config.settings.writing_validation_mode = config.IGNORE
    try:
        ds = canary.canary_dataset()
        ds.PatientBirthDate = FAKE_BIRTH
        ds.ContentDate = FAKE_BIRTH
        ds.PatientAge = FAKE_BIRTH
        ds.StudyInstanceUID = FAKE_UID + ".x"
        return dataset_to_bytes(ds)
    finally:
        config.settings.reading_validation_mode, config.settings.writing_validation_mode = saved


def _task(tmp_path: Path, data: bytes) -> stage.DeidTask:
    raw = open_zone(tmp_path / "raw", "raw")
    raw.write_bytes(("dicom", "2026-09-25", "x.dcm"), data)
    return stage.DeidTask(
        raw_zone=raw,
        research_zone=open_zone(tmp_path / "research", "research"),
        raw_path="dicom/2026-09-25/x.dcm",
        raw_instance_key="k" * 32,
        pseudonymizer=Pseudonymizer(TEST_KEY),
        profile="research-breast-us",
        frame_step=1,
        verify_ocr=False,
        expected_patient_id=None,
        study_identifiers=OriginalIdentifiers(),
    )


def _values_in(text: str) -> list[str]:
    return [v for v in (FAKE_BIRTH, "1961", FAKE_UID) if v in text]


def test_no_header_value_reaches_warnings_logs_or_output(tmp_path, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    data = malformed_dicom()
    with warnings.catch_warnings(record=True) as escaped:
        warnings.simplefilter("always")
        ds = read_dataset(data)
        _ = (ds.PatientBirthDate, ds.ContentDate, ds.PatientAge, ds.StudyInstanceUID)
        outcome = stage.deidentify_one(_task(tmp_path, data))
    out, err = capsys.readouterr()
    assert _values_in(out + err) == []
    assert _values_in(caplog.text) == []
    assert [str(w.message) for w in escaped if _values_in(str(w.message))] == []
    assert outcome.instance is not None  # the object itself is fine: it is de-identified
    written = read_dataset(_task_output(tmp_path, outcome))
    assert "PatientAge" not in written or written.PatientAge != FAKE_BIRTH


def _task_output(tmp_path: Path, outcome) -> bytes:
    research = open_zone(tmp_path / "research", "research")
    return research.read_bytes(*outcome.instance["dicom_path"].split("/"))


def test_captured_notes_keep_the_category_only():
    data = malformed_dicom()
    with quiet_pydicom() as notes:
        ds = read_dataset(data)
        assert str(ds.PatientBirthDate) == FAKE_BIRTH  # the value is read, just not told
    assert any(k.endswith(("invalid value for VR UI", "invalid value for VR DA")) for k in notes)
    assert _values_in(repr(notes)) == []


def test_compute_log_of_a_worker_holds_no_header_value(tmp_path):
    """What Dagster captures is the process's stderr and its Python log records."""
    (tmp_path / "in.dcm").write_bytes(malformed_dicom())
    script = textwrap.dedent(
        f"""
        import logging, sys, warnings
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
        warnings.simplefilter("default")
        from pathlib import Path
        from cadbusi_assets_tests.dicom.test_logs_and_limits import _task
        from cadbusi_assets.stages.deidentification import deidentify_one
        from cadbusi_assets.dicom import read_dataset
        data = Path({str(tmp_path / "in.dcm")!r}).read_bytes()
        ds = read_dataset(data)
        print(ds.PatientBirthDate is not None)
        outcome = deidentify_one(_task(Path({str(tmp_path)!r}), data))
        print("quarantine", outcome.quarantine)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert _values_in(result.stdout + result.stderr) == [], "a header value reached the log"


def test_an_unexpected_error_is_quarantined_without_its_message(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise ValueError(f"Invalid value for VR DA: '{FAKE_BIRTH}'")

    monkeypatch.setattr(stage, "deidentify_dataset", boom)
    outcome = stage.deidentify_one(_task(tmp_path, dataset_to_bytes(canary.canary_dataset())))
    assert outcome.quarantine is not None
    reason = outcome.quarantine["reason"]
    assert "ValueError" in reason and _values_in(reason) == []


# -- resource limits -------------------------------------------------------------------------

BOMB_BYTES = 1 << 30  # what the bomb inflates to


def deflate_bomb() -> bytes:
    meta, body = deflate_bomb_parts()
    return meta + body


def deflate_bomb_parts() -> tuple[bytes, bytes]:
    """(preamble + file meta, deflated data set) of a Deflated Explicit VR Little Endian file (~1 MB) whose data set inflates to 1 GiB.

    Built in well under a second: one full-flushed deflate block of 1 MiB of zeros is a
    self-contained piece of the stream, so it is repeated 1024 times.
    """
    header = Dataset()
    header.SOPClassUID = "1.2.840.10008.5.1.4.1.1.6.1"
    header.SOPInstanceUID = "1.2.826.0.1.3680043.99999.8.1"
    header.Modality = "US"
    header.SamplesPerPixel = 1
    header.PhotometricInterpretation = "MONOCHROME2"
    header.Rows = 1024
    header.Columns = 1024
    header.BitsAllocated = 8
    header.BitsStored = 8
    header.HighBit = 7
    header.PixelRepresentation = 0
    raw = io.BytesIO()
    from pydicom.filebase import DicomFileLike

    fp = DicomFileLike(raw)
    fp.is_little_endian, fp.is_implicit_VR = True, False
    write_dataset(fp, header)
    pixel_header = b"\xe0\x7f\x10\x00OB\x00\x00" + (BOMB_BYTES).to_bytes(4, "little")
    first = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = first.compress(raw.getvalue() + pixel_header) + first.flush(zlib.Z_FULL_FLUSH)
    zeros = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = zeros.compress(bytes(1 << 20)) + zeros.flush(zlib.Z_FULL_FLUSH)
    body = start + block * (BOMB_BYTES >> 20) + zeros.flush()

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = header.SOPClassUID
    meta.MediaStorageSOPInstanceUID = header.SOPInstanceUID
    meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    out = io.BytesIO()
    out.write(b"\x00" * 128 + b"DICM")
    write_file_meta_info(DicomFileLike(out), meta)
    return out.getvalue(), body


def test_the_bomb_is_small_on_disk_and_really_inflates_to_1_gib():
    meta, body = deflate_bomb_parts()
    assert len(meta + body) < 2 << 20
    inflater = zlib.decompressobj(-15)
    total, tail = 0, body
    while tail and not inflater.eof:
        total += len(inflater.decompress(tail, 64 << 20))
        tail = inflater.unconsumed_tail
    assert total > BOMB_BYTES


def test_deflate_bomb_is_quarantined_within_a_memory_limit(tmp_path):
    """Read under an address-space limit of +512 MiB: the bounded inflate stops it early."""
    bomb = tmp_path / "bomb.dcm"
    bomb.write_bytes(deflate_bomb())
    script = textwrap.dedent(
        f"""
        import resource, sys
        from pathlib import Path
        from cadbusi_assets.dicom import DicomReadError, read_dataset
        data = Path({str(bomb)!r}).read_bytes()
        vm = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmSize"))
        resource.setrlimit(resource.RLIMIT_AS, (vm + (512 << 20), resource.RLIM_INFINITY))
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            read_dataset(data)
            print("READ")
        except DicomReadError as exc:
            print("REASON", type(exc).__name__, exc)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print("PEAK_GROWTH_KB", after - before)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines() if " " in line)
    assert lines["REASON"].startswith("DicomLimitError"), result.stdout
    assert "inflates to more than" in lines["REASON"]
    assert int(lines["PEAK_GROWTH_KB"]) < 64 * 1024  # streaming: a few chunks, not the data


def test_deflate_bomb_is_quarantined_by_the_stage_with_a_reason(tmp_path):
    outcome = stage.deidentify_one(_task(tmp_path, deflate_bomb()))
    assert outcome.quarantine is not None
    assert outcome.quarantine["reason"].startswith("resource limit: deflated data set inflates")


def pixel_size_bomb(rows: int = 60000, columns: int = 60000, frames: int = 500) -> bytes:
    """A JPEG-baseline 'cine' of 60000 × 60000 × 500 RGB pixels (5 TB decoded) in 1 KB."""
    ds = canary.canary_dataset()
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.3.1"
    ds.Rows, ds.Columns, ds.NumberOfFrames = rows, columns, frames
    ds.PhotometricInterpretation = "YBR_FULL_422"
    ds.PixelData = encapsulate([b"\xff\xd8\xff\xd9"] * 2)
    ds["PixelData"].VR = "OB"
    return dataset_to_bytes(ds)


def test_declared_pixel_size_bomb_is_refused_before_decoding(tmp_path):
    data = pixel_size_bomb()
    assert len(data) < 64 << 10
    with pytest.raises(DicomLimitError, match=r"declared pixel data of \d+ MiB exceeds the limit"):
        read_dataset(data)
    read_dataset(data, stop_before_pixels=True)  # headers alone (PACS listing) still read
    outcome = stage.deidentify_one(_task(tmp_path, data))
    assert outcome.quarantine is not None
    assert outcome.quarantine["reason"].startswith("resource limit: declared pixel data")


def test_too_many_frames_is_refused():
    with pytest.raises(DicomLimitError, match="frames"):
        read_dataset(pixel_size_bomb(rows=8, columns=8, frames=10**6))
