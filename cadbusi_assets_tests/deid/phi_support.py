"""What the PHI adversary tests (``test_adversarial_phi_*.py``, ``test_adversarial_dicom_2.py``)
share: one way of saying what a reader sees, the datasets and channels a planted text goes
through into the research zone, and ``cadbusi deidentify`` run on a folder in its own process.
Not a test module (nothing here is collected)."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import subprocess
import sys
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import polars as pl
import pydicom
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian

from cadbusi_assets.deid import DEFAULT_PROFILE, OriginalIdentifiers
from cadbusi_assets.deid.engine import clean_header
from cadbusi_assets.deid.text import scrub_descriptor_text
from cadbusi_assets.identity import generate_key_file
from cadbusi_assets.records.scrub import scrub_report_text
from cadbusi_assets_tests.deid.canary import canary_dataset

#: the patient of the header datasets (invented)
PATIENT = "Kowalczyk^Agnieszka"


def seen(text: object) -> str:
    """What a reader sees, case folded (format characters dropped, NFKC)."""
    text = "".join(c for c in str(text or "") if unicodedata.category(c) != "Cf")
    return unicodedata.normalize("NFKC", text).casefold()


def leaked(out: str, secrets: tuple[str, ...]) -> list[str]:
    """The ``secrets`` a reader still sees in ``out``."""
    return [s for s in secrets if seen(s) in seen(out)]


def original_ids() -> OriginalIdentifiers:
    return OriginalIdentifiers(patient_names=(PATIENT,), patient_ids=("00987654",))


def header_dataset(**values: str) -> Dataset:
    """A small header of :data:`PATIENT` with ``values`` (keyword → text) set."""
    ds = Dataset()
    ds.PatientID = "00987654"
    ds.PatientName = PATIENT
    ds.StudyDate = "20260304"
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    return ds


def through_channel(channel: str, text: str, pseudonymizer: Any) -> str:
    """``text`` through one way into the research zone: a report, a short descriptor, a
    header field (``hdr:Keyword``) or a code meaning (``cm``)."""
    if channel == "report":
        out = scrub_report_text(text, identifiers=(PATIENT,), date_shift_days=-17)
        return out or ""
    if channel == "desc":
        return scrub_descriptor_text(text)
    if channel == "cm":
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = "X1", "99LOCAL", text
        ds = header_dataset()
        ds.ProcedureCodeSequence = Sequence([item])
        clean_header(ds, pseudonymizer, DEFAULT_PROFILE, original_ids())
        return str(ds.ProcedureCodeSequence[0].get("CodeMeaning", ""))
    keyword = channel.split(":", 1)[1]
    ds = header_dataset(**{keyword: text})
    clean_header(ds, pseudonymizer, DEFAULT_PROFILE, original_ids())
    return str(ds.get(keyword, ""))


def code_meaning_sequence(meaning: str) -> Sequence:
    """A Procedure Code Sequence of one local code whose meaning is ``meaning``."""
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = "X1", "99LOCAL", meaning
    return Sequence([item])


#: a keyed pseudonym of an identifier (:mod:`cadbusi_assets.identity.pseudonyms`)
_PSEUDONYM = re.compile(r"[PAX][A-Z2-7]{15}")


def released_elements(ds: Dataset) -> Iterator[DataElement]:
    """Every element of ``ds``'s file meta and data set at any depth (sequence items walked,
    the sequences themselves and Pixel Data left out): what the PHI rounds scan of a
    released file."""

    def walk(data: Dataset) -> Iterator[DataElement]:
        for element in data:
            if element.VR == "SQ":
                for item in element.value:
                    yield from walk(item)
            elif element.tag != 0x7FE00010:
                yield element

    yield from walk(ds.file_meta)
    yield from walk(ds)


def released_text(path: Path) -> str:
    """Every value a reader of a released file sees as text, upper-cased: each element of the
    file meta and data set at any depth, but UIDs and whole pseudonyms (``P``, ``A`` or ``X``
    and 15 base32 letters: new random values on every run, the key being new; a planted
    ``0173`` turned up in a UID now and then, and ``JOY`` in an accession pseudonym once in a
    full run of the suite) and the pixel data; bytes (private ``UN``, ``OB``) decoded as
    UTF-8."""
    values: list[str] = []
    for element in released_elements(pydicom.dcmread(path)):
        if element.VR != "UI" and element.value is not None:
            value = element.value
            if isinstance(value, bytes):
                value = value.decode("utf-8", "replace")
            if not _PSEUDONYM.fullmatch(str(value)):
                values.append(str(value))
    return "\n".join(values).upper()


def run_deidentify(
    root: Path, source: Path, out: Path, *options: str, timeout: float = 240
) -> tuple[subprocess.CompletedProcess[str], dict[str, Mapping[str, str]], Path]:
    """``cadbusi deidentify SOURCE OUT`` in its own process (a new key under ``root``, one job,
    no OCR, ``options`` added), its report read. The finished process, the report's rows by
    input stem, and the report's path."""
    key = generate_key_file(root / "secrets" / "pseudonym.key")
    command = [sys.executable, "-m", "cadbusi_assets.cli", "deidentify", str(source), str(out)]
    command += ["--key-file", str(key), "--jobs", "1", "--layout", "study", "--no-ocr"]
    command += list(options)
    env = {**os.environ, "CADBUSI_WORKERS": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    report = out.parent / f"{out.name}.report.csv"
    with report.open() as handle:
        rows = {Path(r["input_path"]).stem: r for r in csv.DictReader(handle)}
    return done, rows, report


def deidentify_in_process(
    tmp_path: Path, source: Path, out: Path, expected: set[str]
) -> tuple[subprocess.CompletedProcess[str], dict[str, Mapping[str, str]], Path]:
    """:func:`run_deidentify`, asserting every input in ``expected`` (file stems) was written
    ``ok``."""
    done, rows, report = run_deidentify(tmp_path, source, out)
    assert set(rows) == expected, done.stderr[-2000:]
    assert {r["status"] for r in rows.values()} == {"ok"}, rows
    return done, rows, report


def dicom_code_meanings() -> list[str]:
    """pydicom's 18,495 code meanings (its concept dictionary), sorted: a stress set of
    clinical and anatomical text that the header rules must leave as it is."""
    from pydicom.sr import _concepts_dict

    concepts: dict[str, dict[str, Any]] = _concepts_dict.concepts
    return sorted(
        {
            meaning
            for scheme in concepts.values()
            for codes in scheme.values()
            for meaning, _ in codes.values()
        }
    )


def command_attacks(
    tmp_path: Path,
    attacks: Mapping[str, tuple[Mapping[str, str], tuple[str, ...]]],
    prepare: Callable[[str, Dataset], None] | None = None,
) -> tuple[dict[str, list[str]], Path, dict[str, Mapping[str, str]]]:
    """Each attack (name -> header values, planted words) written as a canary file in UTF-8
    (ISO_IR 192, so that every script is carried; ``prepare`` may add to a dataset), all run
    through ``cadbusi deidentify`` in its own process (:func:`deidentify_in_process`). The
    planted words found in each released file (:func:`released_text`; only names with a
    finding), the output folder and the report's rows by name."""
    from pydicom.uid import UID

    from cadbusi_assets_tests.deid.canary import canary_dataset

    source, out = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    for name, (values, _) in attacks.items():
        ds = canary_dataset(colour=False)
        ds.SpecificCharacterSet = "ISO_IR 192"
        for keyword, value in values.items():
            setattr(ds, keyword, value)
        if prepare is not None:
            prepare(name, ds)
        uid = UID(f"{ds.SOPInstanceUID}.{len(name)}{sum(map(ord, name))}")
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid
        ds.save_as(source / f"{name}.dcm", enforce_file_format=True)
    _, rows, _ = deidentify_in_process(tmp_path, source, out, set(attacks))
    found = {}
    for name, row in rows.items():
        data = released_text(out / row["output_path"])
        words = [w for w in attacks[name][1] if w.upper() in data]
        if words:
            found[name] = words
    return found, out, rows


def dataset_item(**values: object) -> Dataset:
    """A sequence item (or any data set) with ``values`` set by keyword."""
    item = Dataset()
    for keyword, value in values.items():
        setattr(item, keyword, value)
    return item


def canary_patient(name: str, patient_id: str, birth: str) -> Dataset:
    """The canary image of the patient, with the canary's own planted words taken out (other
    rounds plant them); file meta in Explicit VR Little Endian."""
    ds = canary_dataset(colour=False)
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = name, patient_id, birth
    for keyword in (
        "ManufacturerModelName",
        "StudyDescription",
        "ImageComments",
        "RequestAttributesSequence",
        "DerivationCodeSequence",
        "InstitutionName",
        "InstitutionAddress",
        "IssuerOfPatientID",
        "OtherPatientIDs",
        "ReferringPhysicianName",
        "OperatorsName",
        "AccessionNumber",
        "StudyID",
    ):
        delattr(ds, keyword)
    for tag in [e.tag for e in ds if e.tag.group in (0x0011, 0x5000, 0x6000)]:
        del ds[tag]
    ds.AccessionNumber = "ACC19CHANNELS"  # the warehouse's study (the assets' pass joins on it)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    return ds


class SecretScan:
    """Where planted words (``secrets``: names, their parts, ids, phones) are in an output,
    as a reader may read it: text as it is, as a reader sees it (:func:`seen`: full-width
    letters, zero-width joiners), without spaces or accents (combining marks), with each
    word written backwards, and UTF-8 bytes read as Latin-1 repaired; bytes in UTF-8,
    UTF-16 and ``codecs`` (a script's legacy character sets), in upper, lower and title
    case. Round 20's scan, shared from round 21 on."""

    def __init__(self, secrets: Iterable[str], codecs: Iterable[str] = ()) -> None:
        self.secrets = sorted(set(secrets))
        self.codecs = {"utf-8", "utf-16-le", "utf-16-be", *codecs}

    @staticmethod
    def folded(text: str) -> str:
        return "".join(
            c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
        ).upper()

    def in_text(self, text: str) -> list[str]:
        forms = {text.upper(), self.folded(text), seen(text).upper(), self.folded(seen(text))}
        with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
            forms.add(text.encode("latin-1").decode("utf-8").upper())
        forms |= {re.sub(r"[^\W\d_]+", lambda m: m.group(0)[::-1], f) for f in forms}
        forms |= {f.replace(" ", "").replace("\\", "") for f in forms}
        return sorted(
            {s for s in self.secrets for f in forms if s.upper() in f or self.folded(s) in f}
        )

    def in_bytes(self, data: bytes) -> list[str]:
        upper = data.upper()
        found = set()
        for secret in self.secrets:
            for form in {secret, secret.lower(), secret.title(), self.folded(secret)}:
                for codec in self.codecs:
                    try:
                        encoded = form.encode(codec)
                    except UnicodeEncodeError:
                        continue
                    if encoded in data or (form.isascii() and encoded.upper() in upper):
                        found.add(secret)
        return sorted(found)

    def in_dicom(self, data: bytes) -> list[str]:
        """The secrets in a DICOM file's bytes and in every value of its file meta and data
        set at any depth but Pixel Data (bytes read as UTF-8 and Latin-1; each multi-value
        also with its values joined)."""
        found = set(self.in_bytes(data))
        for element in released_elements(pydicom.dcmread(io.BytesIO(data))):
            value = element.value
            if isinstance(value, bytes):
                texts = [value.decode("latin-1"), value.decode("utf-8", "replace")]
            elif isinstance(value, list | pydicom.multival.MultiValue):
                texts = [" ".join(map(str, value)), "".join(map(str, value))]
            else:
                texts = [str(value)]
            for text in texts:
                found |= set(self.in_text(text))
        return sorted(found)


def deidentify_channel_files(
    root: Path, files: Mapping[str, bytes], timeout: float
) -> tuple[Path, dict[str, Mapping[str, str]], str, str]:
    """Every file of ``files`` (name → bytes) through ``cadbusi deidentify --analyze`` in its
    own process: the output folder, the report's rows by name, what it printed, the report's
    text."""
    source, out = root / "in", root / "out"
    source.mkdir()
    for name, data in files.items():
        (source / f"{name}.dcm").write_bytes(data)
    done, rows, report = run_deidentify(root, source, out, "--analyze", timeout=timeout)
    return out, rows, done.stdout + done.stderr, report.read_text()


def assert_command_wrote_none(scan: SecretScan, out: Path, printed: str, report: str) -> None:
    """Nothing but the DICOM files the command wrote (tables, PNGs and their chunks), nothing
    it printed and nothing in its report holds a secret of ``scan``."""
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            assert scan.in_text(str(pl.read_parquet(path).rows())) == [], path.name
        elif path.suffix != ".dcm":  # PNGs (their chunks), anything else
            assert scan.in_bytes(path.read_bytes()) == [], path.name
    assert scan.in_text(printed) == []
    assert scan.in_text(report) == []


def assert_assets_pass_wrote_none(
    scan: SecretScan, tmp_path: Path, files: list[bytes], pseudonymizer: Any, refused: int = 0
) -> Any:
    """Every file through the pass behind the ``deidentified_images``, ``image_features`` and
    ``inpainted_images`` assets (``process_partition``): every file but ``refused`` of them
    de-identified (those quarantined, each with a reason in the research zone's quarantine
    table), and nothing in the research zone or in what the partition reports (counts,
    tables, problems: the run's metadata) holds a secret of ``scan``. The caller checks what
    was logged. The partition's result."""
    from cadbusi_assets.stages import imaging
    from cadbusi_assets.storage import open_zone
    from cadbusi_assets_tests.builders import DEMO_DAY, raw_zone_like_raw_dicom

    pacs = tmp_path / "pacs"
    pacs.mkdir()
    for index, data in enumerate(files):
        (pacs / f"{index:02d}.dcm").write_bytes(data)
    raw = raw_zone_like_raw_dicom(tmp_path, pacs)
    research = open_zone(tmp_path / "research", "research").ensure()
    result = imaging.process_partition(raw, research, pseudonymizer, DEMO_DAY, ocr=False, workers=1)
    report = result.deidentification.report
    assert report.counts["instances_deidentified"] == len(files) - refused, report.problems
    assert report.counts["instances_quarantined"] == refused, report.problems
    if refused:
        quarantine = pl.concat(
            pl.read_parquet(p)
            for p in (tmp_path / "research").rglob("*.parquet")
            if "quarantine" in p.parts  # the research zone's quarantine table
        )
        assert quarantine.height == refused
        assert all(str(reason or "").strip() for reason in quarantine["reason"]), quarantine
    for path in sorted(p for p in (tmp_path / "research").rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            assert scan.in_text(str(pl.read_parquet(path).rows())) == [], path.name
        elif path.suffix == ".dcm":
            assert scan.in_dicom(path.read_bytes()) == [], path.name
        else:
            assert scan.in_bytes(path.read_bytes()) == [], path.name
    for part in (report, result.features, result.inpainting):
        shown = [*map(str, part.counts), *part.problems]
        shown += [str(table.rows()) for table in part.tables.values()]
        assert scan.in_text("\n".join(shown)) == []
    return result
