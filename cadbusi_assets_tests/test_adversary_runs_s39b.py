"""Adversary, round 6: withdrawals of consent (``CADBUSI_OPT_OUT_FILE``) and what is left
after a purge.

1. Ids that should match and do not: opt-out lists in the forms a consent office hands over
   (a Parquet whose ``patient_id`` column is float, as pandas writes an integer column with a
   missing value; a CSV saved under ``.txt``; a tab-separated list; an id in another letter
   case) are read without error and match nobody, so the withdrawn patient's instances go on
   through the de-identification (and the exports, Labelbox) as if the list were empty. The
   loader refuses a CSV without a ``patient_id`` column, but these lists pass silently.
2. A file whose header has no PatientID is released under the empty id's pseudonym: the
   exports' and Labelbox's opt-out filter (by the image's ``patient_pseudo``) misses it, and
   one study gets two patient pseudonyms.
3. ``cadbusi deidentify`` never reads the configured opt-out list.
4. The export's stratified splits: one withdrawal moves other patients between splits.
5. ``inpainted_images`` alone (its own partition lock) writes a purged batch's inpainted
   image and table back after the de-identification's leak purge."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from cadbusi_assets.identity.optout import (
    OPT_OUT_ENV_VAR,
    OptOutError,
    load_opt_out,
    split_opted_out,
)
from cadbusi_assets.stages import StageFailure, records, retrieval
from cadbusi_assets.stages import deidentification as deid
from cadbusi_assets.storage import open_zone, read_partition_table, write_partition_table

pytestmark = [pytest.mark.xdist_group("adversary_runs_s39b")]

DAY = "2026-09-25"
WITHDRAWN = "12345"  # the warehouse's id of the patient who withdrew (synthetic)
STAYING = "67890"


def _raw_zone(root: Path):
    """A raw zone as ``raw_dicom`` leaves one date: two studies, one per patient, one stored
    instance each (partition_inputs reads the tables only, not the files)."""
    raw = open_zone(str(root / "raw"), "raw").ensure()
    manifest = pl.DataFrame(
        {
            "status": ["stored", "stored"],
            "raw_path": [f"dicom/{DAY}/0000.dcm", f"dicom/{DAY}/0001.dcm"],
            "instance_key": ["0000", "0001"],
            "study_instance_uid": ["1.2.3.1", "1.2.3.2"],
        }
    )
    cohort = pl.DataFrame(
        {
            "study_instance_uid": ["1.2.3.1", "1.2.3.2"],
            "accession_number": ["ACC1", "ACC2"],
            "patient_id": [WITHDRAWN, STAYING],
        }
    )
    write_partition_table(raw, retrieval.INSTANCES_TABLE, DAY, manifest)
    write_partition_table(raw, records.COHORT_TABLE, DAY, cohort)
    return raw


def _kept_patients(opt_out: Path, monkeypatch, tmp_path: Path) -> set[str]:
    """The patients whose instances the de-identification would process with this list,
    or an empty set when the list is refused (an OptOutError/StageFailure stops the date:
    nothing of the withdrawn patient goes on either)."""
    monkeypatch.setenv(OPT_OUT_ENV_VAR, str(opt_out))
    raw = _raw_zone(tmp_path)
    try:
        inputs, _ = deid.partition_inputs(raw, DAY)
    except StageFailure as exc:  # the list refused: fail closed, which is fine
        assert OPT_OUT_ENV_VAR in str(exc) and "does not exist" not in str(exc)
        return set()
    return {task.expected_patient_id for task in inputs if task.expected_patient_id}


def test_a_parquet_opt_out_list_with_a_float_id_column_leaves_the_patient_out(
    tmp_path: Path, monkeypatch
):
    """pandas writes an integer id column that has a missing value as float64: ``12345.0``.
    The loader casts it to the text ``"12345.0"``, which matches no warehouse id: the withdrawn
    patient's instances are de-identified again on the date's re-run (and the exports and
    Labelbox, which read the same list, hand them out)."""
    opt_out = tmp_path / "opt_out.parquet"
    pl.DataFrame({"patient_id": [float(WITHDRAWN), None]}).write_parquet(opt_out)
    kept = _kept_patients(opt_out, monkeypatch, tmp_path)
    assert WITHDRAWN not in kept, "a withdrawn patient listed in a float column was processed"


def test_the_harness_sees_an_integer_parquet_list_leave_the_patient_out(
    tmp_path: Path, monkeypatch
):
    """Control: the same list with an integer column works (the raw zone above is usable)."""
    opt_out = tmp_path / "opt_out.parquet"
    pl.DataFrame({"patient_id": [int(WITHDRAWN), None]}).write_parquet(opt_out)
    assert _kept_patients(opt_out, monkeypatch, tmp_path) == {STAYING}


def test_a_float_id_in_a_parquet_opt_out_list_excludes_the_patient_from_the_cohort(
    tmp_path: Path,
):
    """The cohort stage's own exclusion (split_opted_out with the loaded list), same list."""
    opt_out = tmp_path / "opt_out.parquet"
    pl.DataFrame({"patient_id": [float(WITHDRAWN), None]}).write_parquet(opt_out)
    rows = pl.DataFrame({"patient_id": [WITHDRAWN, STAYING], "accession_number": ["A", "B"]})
    kept, excluded = split_opted_out(rows, load_opt_out(opt_out))
    assert excluded["accession_number"].to_list() == ["A"]
    assert kept["accession_number"].to_list() == ["B"]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        # a CSV the consent office saved as .txt: one id a line is not what it holds
        ("opt_out.txt", f"patient_id,withdrawn_on\r\n{WITHDRAWN},2026-11-02\r\n"),
        # a tab-separated export of the consent table
        ("opt_out.tsv", f"patient_id\twithdrawn_on\n{WITHDRAWN}\t2026-11-02\n"),
    ],
    ids=["csv-saved-as-txt", "tsv"],
)
def test_an_opt_out_list_in_another_layout_is_refused_or_matches_the_patient(
    tmp_path: Path, monkeypatch, name: str, text: str
):
    """A list whose lines are not one id each is read as ids like ``"12345,2026-11-02"``
    (and ``"patient_id,withdrawn_on"``) that match nobody: no error, the withdrawn patient is
    processed. It must either be read as a table or refused (README: a configured list that
    cannot be read stops those stages with its reason)."""
    opt_out = tmp_path / name
    opt_out.write_bytes(text.encode())
    try:
        ids = load_opt_out(opt_out)
    except OptOutError:
        return  # refused: the stages stop, nothing of the patient goes on
    assert WITHDRAWN in ids, f"read as {len(ids)} id(s) none of which is the patient's"
    assert WITHDRAWN not in _kept_patients(opt_out, monkeypatch, tmp_path)


def test_one_patient_withdrawing_moves_no_other_patient_to_another_split():
    """The export's splits (the default ``stratified`` method) are dealt in one running order
    over all patients: leaving one withdrawn patient out (WITHDRAWN_REASON, and later their
    date's re-run, which removes them from the catalog) shifts the deal of every patient after
    them. With 300 synthetic patients, one withdrawal moved a median of 45 others between
    train/val/test (20 draws: 2 to 123): a researcher's test patients of the export before
    become training patients of the one after. The other patients' splits must not change.
    Fixed by sticky splits: the next export inherits the previous one's (``previous``), as
    ``build_export`` does when the previous export has the same split settings."""
    from cadbusi_assets.exports.build import ExportConfig
    from cadbusi_assets.exports.splits import stratified_splits

    config = ExportConfig(key="2026-12-01")
    rows = [
        {
            "patient_pseudo": f"P{p:03d}",
            "label": (p * 7) % 3 == 0,
            "model": "AB"[(p * 5) % 2],
        }
        for p in range(60)
        for _ in range(1 + (p * 11) % 4)
    ]
    images = pl.DataFrame(rows).with_columns(pl.col("label").cast(pl.Int32))

    def splits(frame: pl.DataFrame, previous=None) -> dict[str, str]:
        table = stratified_splits(
            frame.select("patient_pseudo", "label", "model"),
            salt=config.split_salt,
            ratios=config.split_ratios,
            folds=config.folds,
            method=config.split_method,
            previous=previous,
        )
        return dict(table.select("patient_pseudo", "split").iter_rows())

    before = splits(images)
    inherited = {p: (s, None) for p, s in before.items()}
    moved_most = 0
    for patient in sorted(before):
        after = splits(images.filter(pl.col("patient_pseudo") != patient), inherited)
        moved = sum(after[p] != before[p] for p in after)
        moved_most = max(moved_most, moved)
    assert moved_most == 0, f"one withdrawal moved up to {moved_most} of 59 other patients"


def test_cadbusi_deidentify_leaves_out_a_patient_on_the_configured_opt_out_list(tmp_path: Path):
    """``cadbusi deidentify`` "runs the steps of the stage behind the deidentified_images asset"
    and writes the same bytes; with the deployment's ``CADBUSI_OPT_OUT_FILE`` set, the asset
    leaves a withdrawn patient out, but the command de-identifies their file and writes its
    PNG into OUT as if the list were not there (it never reads it). It must leave the file out
    (or refuse)."""
    import os
    import subprocess
    import sys

    from cadbusi_assets.dicom import dataset_to_bytes
    from cadbusi_assets.identity import generate_key_file
    from cadbusi_assets_tests.deid import canary

    source, out = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    # the synthetic canary study: released by the command when no list is set
    (source / "withdrawn.dcm").write_bytes(dataset_to_bytes(canary.canary_dataset()))
    opt_out = tmp_path / "opt_out.txt"
    opt_out.write_text(f"{canary.MRN}\n")
    key = generate_key_file(tmp_path / "secrets" / "pseudonym.key")
    command = [sys.executable, "-m", "cadbusi_assets.cli", "deidentify", str(source), str(out)]
    command += ["--key-file", str(key), "--jobs", "1", "--layout", "flat", "--no-ocr"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADBUSI_")}
    root = Path(__file__).resolve().parents[1]
    env.update(
        CADBUSI_WORKERS="1",
        CADBUSI_OCR="0",
        CADBUSI_OPT_OUT_FILE=str(opt_out),
        PYTHONPATH=os.pathsep.join([str(root), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
    )
    done = subprocess.run(command, env=env, capture_output=True, timeout=240, check=False)
    assert done.returncode in (0, 1, 2), done.stderr.decode()[-2000:]
    written = sorted(p.name for p in out.rglob("*") if p.suffix in (".png", ".dcm"))
    assert not written, f"the withdrawn patient's file was de-identified: {len(written)} file(s)"


def test_a_leak_purge_is_not_undone_by_inpainted_images_alone_running_on_the_date(
    tmp_path: Path, monkeypatch
):
    """``deidentified_images`` alone and ``inpainted_images`` alone on the same date hold
    different partition locks (one per asset key, reporting.run_per_day). The inpainting reads
    the date's tables and frames; the de-identification's blocking leak scan purges the batch
    (purge_research_batch: every table and file of every stage); the inpainting then writes
    its PNGs, made from the purged frames, and its table: the purged batch's inpainted images
    are back in the research zone, listed by a table, with no images table beside them. After
    a purge nothing of the batch may be left."""
    import threading

    from cadbusi_assets.stages import analysis
    from cadbusi_assets.stages.purge import purge_research_batch
    from cadbusi_assets.ultrasound.png import encode_png

    research = open_zone(str(tmp_path / "research"), "research").ensure()
    batch = "B0000000000000001"
    frame = pl.Series(list(range(256)) * 300).cast(pl.UInt8).to_numpy()[: 240 * 320]
    png = encode_png(frame.reshape(240, 320))
    png_path = f"images/{batch}/img1.png"
    research.write_bytes(tuple(png_path.split("/")), png)
    write_partition_table(
        research,
        deid.IMAGES_TABLE,
        batch,
        pl.DataFrame({"image_id": ["img1"], "png_path": [png_path], "patient_pseudo": ["P1"]}),
    )
    write_partition_table(
        research,
        analysis.FEATURES_TABLE,
        batch,
        pl.DataFrame(
            {
                "image_id": ["img1"],
                "has_calipers": [True],
                "caliper_points": [[[100, 100], [150, 120]]],
                "crop_x0": [10],
                "crop_y0": [10],
                "crop_x1": [300],
                "crop_y1": [230],
                "is_doppler": [False],
                "exclusion_reason": [None],
            },
            schema_overrides={"caliper_points": pl.List(pl.List(pl.Int64))},
        ),
    )

    computed, resume = threading.Event(), threading.Event()
    real = analysis.inpaint_frames

    def slow_inpaint(*args, **kwargs):
        out = real(*args, **kwargs)  # the frames are read and inpainted...
        computed.set()
        assert resume.wait(60)  # ...and the purge runs before their PNGs are written
        return out

    monkeypatch.setattr(analysis, "inpaint_frames", slow_inpaint)
    errors: list[BaseException] = []

    def inpaint() -> None:
        try:
            analysis.inpaint_partition(research, batch, method="telea", workers=1, previews=0)
        except BaseException as exc:  # a refusal is fine: it is looked at below
            errors.append(exc)

    worker = threading.Thread(target=inpaint)
    worker.start()
    assert computed.wait(120), "the inpainting did not start"
    purge_research_batch(research, batch)  # the de-identification's leak scan, meanwhile
    resume.set()
    worker.join(120)
    # the inpainting may finish or refuse (it finds the batch purged): what counts is below
    assert not worker.is_alive() and all(isinstance(e, StageFailure) for e in errors), errors
    table = read_partition_table(research, analysis.INPAINTED_TABLE, batch)
    left = sorted(
        str(p.relative_to(research.local_path()))
        for p in Path(research.local_path()).rglob("*.png")
    )
    assert table is None and not left, (
        f"after the purge: inpainted table {'present' if table is not None else 'absent'}, "
        f"PNG(s) of the purged batch in the research zone: {left}"
    )


def test_an_opt_out_id_in_other_letter_case_leaves_the_patient_out(tmp_path: Path, monkeypatch):
    """Ids are compared after trimming spaces and leading zeros "erring on the side of the
    patient", but not across letter case: a consent office's ``e0012345`` does not match the
    warehouse's ``E0012345`` (MRNs with a letter prefix), and the patient is processed."""
    raw = _raw_zone(tmp_path)
    cohort = pl.DataFrame(
        {
            "study_instance_uid": ["1.2.3.1", "1.2.3.2"],
            "accession_number": ["ACC1", "ACC2"],
            "patient_id": ["E0012345", STAYING],
        }
    )
    write_partition_table(raw, records.COHORT_TABLE, DAY, cohort)
    opt_out = tmp_path / "opt_out.txt"
    opt_out.write_text("e0012345\n")
    monkeypatch.setenv(OPT_OUT_ENV_VAR, str(opt_out))
    inputs, _ = deid.partition_inputs(raw, DAY)
    assert {task.expected_patient_id for task in inputs} == {STAYING}


def test_an_image_whose_header_has_no_patient_id_is_matched_to_its_withdrawn_patient(
    tmp_path: Path, monkeypatch
):
    """The de-identification compares the header's PatientID with the warehouse's only when
    the header has one; a file without it (or with an empty one) is released with the
    pseudonym of the empty id (``Pseudonymizer.patient_id("")``, the same for every such file
    of every patient), not its study's patient's. The exports and ``labelbox_data_rows`` leave
    out withdrawn patients by that image column (``patient_pseudo``, the catalog's too; the
    study's is ``study_patient_pseudo``): the withdrawn patient's image is not among the
    pseudonyms :func:`withdrawn_patients` gives, so an export cut after the withdrawal keeps
    it and Labelbox is sent it."""
    from cadbusi_assets.dicom import dataset_to_bytes
    from cadbusi_assets.identity import Pseudonymizer, generate_key_file, load_key
    from cadbusi_assets.stages.safety import withdrawn_patients
    from cadbusi_assets_tests.builders import DEMO_DAY, raw_zone_like_raw_dicom
    from cadbusi_assets_tests.deid import canary

    pacs = tmp_path / "pacs"
    pacs.mkdir()
    ds = canary.canary_dataset()
    del ds.PatientID  # the PACS file carries no PatientID; the warehouse knows the patient
    (pacs / "0001.dcm").write_bytes(dataset_to_bytes(ds))
    raw = raw_zone_like_raw_dicom(tmp_path, pacs)
    cohort = pl.DataFrame(
        {
            "study_instance_uid": [str(ds.StudyInstanceUID)],
            "accession_number": [str(ds.AccessionNumber)],
            "patient_id": [canary.MRN],
        }
    )
    write_partition_table(raw, records.COHORT_TABLE, DEMO_DAY, cohort)
    research = open_zone(str(tmp_path / "research"), "research").ensure()
    pseudonymizer = Pseudonymizer(load_key(generate_key_file(tmp_path / "secrets" / "k.key")))
    monkeypatch.delenv(OPT_OUT_ENV_VAR, raising=False)
    deid.deidentify_partition(
        raw, research, pseudonymizer, DEMO_DAY, verify_ocr=False, workers=1, previews=0
    )
    images = read_partition_table(research, deid.IMAGES_TABLE, pseudonymizer.batch_name(DEMO_DAY))
    assert images is not None and images.height, "the canary file was not released"

    opt_out = tmp_path / "opt_out.txt"
    opt_out.write_text(f"{canary.MRN}\n")  # the patient withdraws
    monkeypatch.setenv(OPT_OUT_ENV_VAR, str(opt_out))
    withdrawn = withdrawn_patients(raw, pseudonymizer)
    escaped = images.filter(~pl.col("patient_pseudo").is_in(sorted(withdrawn))).height
    empty = images.filter(pl.col("patient_pseudo") == pseudonymizer.patient_id("")).height
    assert escaped == 0, (
        f"{escaped} image(s) of the withdrawn patient escape the filter "
        f"({empty} under the pseudonym of the empty id)"
    )


def test_the_images_of_one_study_carry_one_patient_pseudonym(tmp_path: Path, monkeypatch):
    """Same cause, beyond consent: a study with one file that names its patient and one whose
    header has no PatientID gets two patient pseudonyms (the patient's and the empty id's,
    shared with every such file of every other patient). The export deals splits per
    ``patient_pseudo``, so one patient's images can land in train and in test."""
    from pydicom.uid import generate_uid

    from cadbusi_assets.dicom import dataset_to_bytes
    from cadbusi_assets.identity import Pseudonymizer, generate_key_file, load_key
    from cadbusi_assets_tests.builders import DEMO_DAY, raw_zone_like_raw_dicom
    from cadbusi_assets_tests.deid import canary

    pacs = tmp_path / "pacs"
    pacs.mkdir()
    named = canary.canary_dataset()
    (pacs / "0001.dcm").write_bytes(dataset_to_bytes(named))
    nameless = canary.canary_dataset()
    nameless.SOPInstanceUID = nameless.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    nameless.InstanceNumber = 2
    del nameless.PatientID
    pixels = bytearray(nameless.PixelData)  # other pixels: not a re-sent copy of the first
    pixels[len(pixels) // 2] ^= 0xFF
    nameless.PixelData = bytes(pixels)
    (pacs / "0002.dcm").write_bytes(dataset_to_bytes(nameless))
    raw = raw_zone_like_raw_dicom(tmp_path, pacs)
    cohort = pl.DataFrame(
        {
            "study_instance_uid": [str(named.StudyInstanceUID)],
            "accession_number": [str(named.AccessionNumber)],
            "patient_id": [canary.MRN],
        }
    )
    write_partition_table(raw, records.COHORT_TABLE, DEMO_DAY, cohort)
    research = open_zone(str(tmp_path / "research"), "research").ensure()
    pseudonymizer = Pseudonymizer(load_key(generate_key_file(tmp_path / "secrets" / "k.key")))
    monkeypatch.delenv(OPT_OUT_ENV_VAR, raising=False)
    deid.deidentify_partition(
        raw, research, pseudonymizer, DEMO_DAY, verify_ocr=False, workers=1, previews=0
    )
    images = read_partition_table(research, deid.IMAGES_TABLE, pseudonymizer.batch_name(DEMO_DAY))
    assert images is not None and images.height == 2, "both canary files should be released"
    assert images["patient_pseudo"].n_unique() == 1, "one study, two patient pseudonyms"
    assert images["patient_pseudo"][0] == pseudonymizer.patient_id(canary.MRN)
