"""The ``cadbusi deidentify`` / ``cadbusi verify`` command functions on a temporary tree."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from cadbusi_assets.deid.command import deidentify_command, verify_command
from cadbusi_assets.dicom import dataset_to_bytes
from cadbusi_assets_tests.deid import canary
from cadbusi_assets_tests.deid.conftest import deid_data_ultrasounds, pydicom_file
from cadbusi_assets_tests.support import TEST_KEY


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("deid_cmd")
    source = root / "in"
    phi_folder = source / f"{canary.MRN}_{canary.ACCESSION}"  # PHI in the input path
    phi_folder.mkdir(parents=True)
    data = dataset_to_bytes(canary.canary_dataset())
    (phi_folder / "canary.dcm").write_bytes(data)
    (phi_folder / "canary_copy.dcm").write_bytes(data)  # same SOP Instance UID
    shutil.copy(deid_data_ultrasounds() / "GREYSCALE_IMAGE.dcm", source / "epiq.dcm")
    shutil.copy(pydicom_file("color-pl.dcm"), source / "no_region.dcm")
    (source / "corrupt.dcm").write_bytes(b"DICM but not really" * 10)
    key = root / "secrets" / "pseudonym.key"
    key.parent.mkdir()
    key.write_text(TEST_KEY.secret_bytes().hex())
    return {"root": root, "input": source, "key": key}


def _run(tree, out: Path, layout: str = "study", jobs: int = 1, report: Path | None = None):
    lines: list[str] = []
    code = deidentify_command(
        tree["input"],
        out,
        key_file=tree["key"],
        profile="research-breast-us",
        jobs=jobs,
        layout=layout,
        report=report,
        verify_ocr=False,
        echo=lines.append,
    )
    return code, lines


@pytest.fixture(scope="module")
def study_run(tree):
    out = tree["root"] / "out_study"
    report = tree["root"] / "reports" / "deid.csv"
    code, lines = _run(tree, out, report=report)
    return {"code": code, "lines": lines, "out": out, "report": report}


def test_exit_code_and_report(study_run):
    assert study_run["code"] == 1  # corrupt + no-region inputs were quarantined
    report = pl.read_csv(study_run["report"])
    assert report.height == 5
    by_input = {
        Path(p).name: row for p, row in zip(report["input_path"], report.to_dicts(), strict=True)
    }
    assert by_input["corrupt.dcm"]["status"] == "quarantined"
    assert "not a DICOM file" in by_input["corrupt.dcm"]["reason"]
    assert by_input["no_region.dcm"]["status"] == "quarantined"
    assert "no usable ultrasound region" in by_input["no_region.dcm"]["reason"]
    assert by_input["epiq.dcm"]["status"] == "ok"
    statuses = sorted(by_input[n]["status"] for n in ("canary.dcm", "canary_copy.dcm"))
    assert statuses == ["duplicate", "ok"]
    # the duplicate names the file the earlier input wrote
    assert by_input["canary.dcm"]["output_path"] == by_input["canary_copy.dcm"]["output_path"]
    assert by_input["canary.dcm"]["output_path"].endswith(".dcm")


def test_outputs_and_paths_hold_no_original_identifiers(study_run):
    out = study_run["out"]
    files = sorted(p for p in out.rglob("*") if p.is_file())
    # DICOM and PNG frames in patient/study/series folders, and the two research tables
    assert sorted(p.name for p in files if len(p.relative_to(out).parts) == 1) == [
        "images.parquet",
        "instances.parquet",
    ]
    dicoms = [p for p in files if p.suffix == ".dcm"]
    assert len(dicoms) == 2
    images = pl.read_parquet(out / "images.parquet")
    assert sorted(images["png_path"]) == sorted(
        p.relative_to(out).as_posix() for p in files if p.suffix == ".png"
    )
    instances = pl.read_parquet(out / "instances.parquet")
    assert sorted(instances["dicom_path"]) == sorted(p.relative_to(out).as_posix() for p in dicoms)
    for path in files:
        relative = str(path.relative_to(out)).upper()
        assert "CANARY" not in relative and "4242" not in relative
        if path.suffix != ".parquet":
            assert len(path.relative_to(out).parts) == 4  # patient/study/series/file
        header = path.read_bytes()
        if path.suffix == ".dcm":
            header = header[: header.rfind(b"\xe0\x7f\x10\x00")]
        assert b"CANARY" not in header.upper()
    for table in (images, instances):  # no input path, no original identifier
        text = "\n".join(str(v) for row in table.iter_rows() for v in row).upper()
        assert "CANARY" not in text and "4242" not in text
    assert not (study_run["out"] / ".staging").exists()
    # Screen lines name inputs only by their path under INPUT (here a folder deliberately named
    # by MRN and accession); no identifier from inside the files is ever printed.
    inputs = pl.read_csv(study_run["report"])["input_path"].to_list()

    def without_input_paths(line: str) -> str:
        for path in inputs:
            line = line.replace(f": {path}: ", ": <input>: ")
        return line.upper()

    assert not any("CANARY" in without_input_paths(line) for line in study_run["lines"])
    assert any(
        line.startswith("done: 2 de-identified, 2 quarantined") for line in study_run["lines"]
    )


def test_quarantined_and_duplicate_inputs_are_named_in_the_report_and_by_row_on_screen(
    study_run,
):
    """The screen points at the report's row (an input's name may name the patient, and a
    terminal's output is pasted into tickets); the report, raw side, names the input."""
    lines = study_run["lines"]
    named = [line for line in lines if line.startswith("[")]
    assert len(named) == 3, lines  # ok inputs are counted on the bar, not listed
    report = pl.read_csv(study_run["report"])
    paths = report["input_path"].to_list()
    by_name = {}
    for line in named:
        index, total = line[1:].split("]")[0].split("/")
        assert total == "5" and line.endswith(f" (report row {index})")
        assert not any(path in line for path in paths)
        by_name[paths[int(index) - 1]] = line
    assert "] quarantined: corrupt DICOM: not a DICOM file" in by_name["corrupt.dcm"]
    assert "] quarantined: " in by_name["no_region.dcm"]
    duplicate = next(v for k, v in by_name.items() if k.endswith("canary_copy.dcm"))
    assert "] duplicate: " in duplicate and "same SOP Instance UID" in duplicate
    assert sorted(report.filter(pl.col("status") == "quarantined")["input_path"]) == [
        "corrupt.dcm",
        "no_region.dcm",
    ]


def test_the_report_is_written_by_default_beside_not_inside_the_output(tree):
    out = tree["root"] / "out_default_report"
    code, lines = _run(tree, out)
    assert code == 1
    report = tree["root"] / "out_default_report.report.csv"
    assert report.is_file() and any(str(report) in line for line in lines)
    assert not any(p.suffix == ".csv" for p in out.rglob("*"))
    rows = pl.read_csv(report)
    assert rows.height == 5
    assert set(rows.filter(pl.col("status") == "quarantined")["input_path"]) == {
        "corrupt.dcm",
        "no_region.dcm",
    }


def test_output_and_report_inside_input_are_not_read_back_as_inputs(tree, tmp_path):
    source = tmp_path / "in"
    shutil.copytree(tree["input"], source)
    local = {**tree, "input": source}
    out = source / "deid"
    assert _run(local, out)[0] == 1
    assert (source / "deid.report.csv").is_file()
    code, lines = _run(local, out)  # a re-run must not pick up the report or the outputs
    assert code == 1
    assert pl.read_csv(source / "deid.report.csv").height == 5
    assert not any("deid.report.csv" in line for line in lines if line.startswith("["))


def test_ocr_on_without_tesseract_stops_with_the_install_command(tree, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    lines: list[str] = []
    out = tmp_path / "out"
    code = deidentify_command(
        tree["input"],
        out,
        key_file=tree["key"],
        profile="research-breast-us",
        jobs=1,
        layout="flat",
        report=None,
        verify_ocr=True,
        echo=lines.append,
    )
    assert code == 2
    assert "apt-get install tesseract-ocr tesseract-ocr-eng" in lines[-1]
    assert "--no-ocr" in lines[-1]
    assert not out.exists()


def test_runs_are_byte_identical_and_flat_layout_matches(tree, study_run):
    code, _ = _run(tree, tree["root"] / "out_flat", layout="flat", jobs=2)
    assert code == 1
    flat = {
        p.name: p.read_bytes()
        for p in (tree["root"] / "out_flat").iterdir()
        if p.suffix in (".dcm", ".png")
    }
    study = {
        p.name: p.read_bytes() for p in study_run["out"].rglob("*") if p.suffix in (".dcm", ".png")
    }
    assert flat == study and len(flat) > 2


def test_verify_clean_outputs_then_a_leak(tree, study_run):
    lines: list[str] = []
    report = tree["root"] / "reports" / "verify.parquet"
    code = verify_command(
        study_run["out"],
        report=report,
        identifiers_from=tree["input"],
        echo=lines.append,
        ocr=False,
    )
    assert code == 0, lines
    assert pl.read_parquet(report)["status"].to_list() == ["clean", "clean"]

    leaked = tree["root"] / "out_leaky"
    shutil.copytree(study_run["out"], leaked)
    shutil.copy(
        tree["input"] / f"{canary.MRN}_{canary.ACCESSION}" / "canary.dcm", leaked / "raw.dcm"
    )
    lines = []
    code = verify_command(
        leaked, report=None, identifiers_from=tree["input"], echo=lines.append, ocr=False
    )
    assert code == 1
    flagged = [line for line in lines if "] flagged: raw.dcm: " in line]
    assert any("patient_name" in line and "private element" in line for line in flagged)
    assert not any("CANARY" in line.upper() for line in lines)


def test_key_and_usage_errors_exit_2(tree):
    out = tree["root"] / "out_err"
    lines: list[str] = []
    common = dict(profile="research-breast-us", jobs=1, layout="flat", verify_ocr=False)
    missing = deidentify_command(
        tree["input"],
        out,
        key_file=tree["root"] / "nope.key",
        report=None,
        echo=lines.append,
        **common,
    )
    weak = tree["root"] / "weak.key"
    weak.write_text("00" * 32)
    weak_code = deidentify_command(
        tree["input"], out, key_file=weak, report=None, echo=lines.append, **common
    )
    inside = deidentify_command(
        tree["input"], out, key_file=tree["key"], report=out / "r.csv", echo=lines.append, **common
    )
    bad_profile = deidentify_command(
        tree["input"],
        out,
        key_file=tree["key"],
        report=None,
        echo=lines.append,
        **{**common, "profile": "nope"},
    )
    assert (missing, weak_code, inside, bad_profile) == (2, 2, 2, 2)
    assert not any(TEST_KEY.secret_bytes().hex()[:16] in line for line in lines)
    assert not out.exists()


def test_a_run_again_into_the_same_output_leaves_only_what_its_tables_list(tree, tmp_path):
    """An ``--analyze`` run, then a plain run into the same OUTPUT with one input gone: the
    gone input's DICOM and PNGs, the analysis's tables and its inpainted PNGs go (an earlier
    run's outputs listed by nothing would be shipped with OUTPUT; adversary s37); files that
    are not ours stay."""
    source = tmp_path / "in"
    shutil.copytree(tree["input"], source)
    out = tmp_path / "out"
    mine = out / "notes.txt"

    def deidentify(analyze: bool) -> list[str]:
        lines: list[str] = []
        deidentify_command(
            source, out, key_file=tree["key"], profile="research-breast-us", jobs=1,
            layout="study", report=None, verify_ocr=False, analyze=analyze, echo=lines.append,
        )  # fmt: skip
        return lines

    deidentify(analyze=True)
    assert (out / "image_features.parquet").is_file()
    first = {p for p in out.rglob("*.png")}
    mine.write_text("the user's own file")
    (source / "epiq.dcm").unlink()
    lines = deidentify(analyze=False)
    listed = {
        out / path
        for table, column in (("images.parquet", "png_path"), ("instances.parquet", "dicom_path"))
        for path in pl.read_parquet(out / table)[column].drop_nulls().to_list()
    }
    left = {p for p in out.rglob("*") if p.is_file()} - listed
    assert left == {out / "images.parquet", out / "instances.parquet", mine}
    assert not (out / "image_features.parquet").exists()
    assert {p for p in out.rglob("*.png")} < first
    assert any(line.startswith("removed ") for line in lines), lines
