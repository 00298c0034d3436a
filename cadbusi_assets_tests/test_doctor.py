"""`cadbusi doctor` checks for real: each broken part gives a non-zero exit and a line naming
it; a healthy demo-like configuration passes; real PostgreSQL and Orthanc servers answer."""

from __future__ import annotations

import stat
from pathlib import Path

import duckdb
import pytest

from cadbusi_assets import doctor
from cadbusi_assets.cli import main
from cadbusi_assets.identity import generate_key_file
from cadbusi_assets.settings import demo_paths, load_settings
from cadbusi_assets_tests.support import free_port, require_tesseract, require_tool


def _healthy_home(home: Path) -> dict[str, Path]:
    """A demo-like deployment: warehouse file with the exam table, folder PACS, label folder,
    key (mode 0600) outside the zones."""
    paths = demo_paths(home)
    paths["pacs"].mkdir(parents=True)
    (paths["pacs"] / "1.2.3").mkdir()
    paths["labelbox"].mkdir(parents=True)
    with duckdb.connect(str(paths["warehouse"])) as con:
        con.execute(
            "CREATE TABLE radiology_exams (exam_date DATE, accession_number VARCHAR, "
            "modality VARCHAR, study_instance_uid VARCHAR)"
        )
        con.execute("INSERT INTO radiology_exams VALUES ('2026-09-01', 'A1', 'US', '1.2.3')")
    generate_key_file(paths["key"])
    return paths


@pytest.fixture
def home(tmp_path, monkeypatch) -> dict[str, Path]:
    monkeypatch.setenv("CADBUSI_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CADBUSI_OCR", raising=False)
    return _healthy_home(tmp_path / "home")


def _doctor(capsys, *args: str) -> tuple[int, list[str]]:
    code = main(["doctor", "--timeout", "3", *args])
    return code, capsys.readouterr().out.splitlines()


def _line(lines: list[str], name: str) -> str:
    found = [line for line in lines if line[9:23].strip() == name]
    assert found, lines
    return found[0]


def test_a_healthy_demo_like_configuration_passes(home, capsys):
    require_tesseract()
    code, lines = _doctor(capsys)
    assert code == 0, lines
    assert lines[-1] == "ok"
    for name in ("warehouse", "PACS", "raw zone", "research zone", "pseudonym key", "tesseract"):
        assert _line(lines, name).startswith("ok "), lines
    assert "1 ultrasound studies on 2026-09-01" in _line(lines, "warehouse")
    # the probes are gone
    assert not any(p.name.startswith(".cadbusi-doctor") for p in home["raw"].iterdir())


def test_a_missing_warehouse_file_is_a_problem_and_is_not_created(home, capsys):
    home["warehouse"].unlink()
    code, lines = _doctor(capsys)
    assert code == 1
    line = _line(lines, "warehouse")
    assert line.startswith("PROBLEM") and "does not exist" in line
    assert not home["warehouse"].exists()
    assert lines[-1].startswith("1 problem")


@pytest.mark.parametrize("variable", ["CADBUSI_WAREHOUSE", "CADBUSI_PACS", "CADBUSI_LABELBOX"])
def test_an_unsupported_uri_scheme_is_a_problem(home, capsys, monkeypatch, variable):
    monkeypatch.setenv(variable, "ftp://host/somewhere")
    code, lines = _doctor(capsys)
    assert code == 1
    name = {"CADBUSI_WAREHOUSE": "warehouse", "CADBUSI_PACS": "PACS", "CADBUSI_LABELBOX": "labels"}
    line = _line(lines, name[variable])
    assert line.startswith("PROBLEM") and "ftp" in line.lower()


def test_a_zone_that_cannot_be_written_is_a_problem(home, capsys, monkeypatch, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the zone's parent folder should be")
    monkeypatch.setenv("CADBUSI_RESEARCH_ZONE", str(blocker / "research"))
    code, lines = _doctor(capsys)
    assert code == 1
    line = _line(lines, "research zone")
    assert line.startswith("PROBLEM") and "cannot write a probe" in line
    assert _line(lines, "raw zone").startswith("ok ")


def test_a_raw_zone_other_users_may_open_is_a_warning_and_a_new_one_is_private(
    home, capsys, monkeypatch, tmp_path
):
    """With the usual umask (022) the raw zone's root was made mode 0755 and its DICOM 0644:
    every account of the machine could read the PHI. A raw zone root this package creates is
    mode 0700 now; an existing open one is left as it is (a group may be meant) and doctor
    warns with the command that closes it."""
    fresh = tmp_path / "new-raw"
    monkeypatch.setenv("CADBUSI_RAW_ZONE", str(fresh))
    _code, lines = _doctor(capsys)
    assert _line(lines, "raw zone").startswith("ok "), lines
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o700
    fresh.chmod(0o755)
    _code, lines = _doctor(capsys)
    line = _line(lines, "raw zone")
    assert line.startswith("WARNING") and f"chmod 700 {fresh}" in line, line
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o755  # not changed behind the user's back


def test_nested_zones_are_a_problem(home, capsys, monkeypatch):
    monkeypatch.setenv("CADBUSI_RESEARCH_ZONE", str(home["raw"] / "research"))
    code, lines = _doctor(capsys)
    assert code == 1
    assert "one lies inside the other" in _line(lines, "zones")


def test_a_key_file_inside_a_data_zone_is_a_problem(home, capsys, monkeypatch):
    inside = home["research"] / "secrets" / "pseudonym.key"
    generate_key_file(inside)
    monkeypatch.setenv("CADBUSI_PSEUDONYM_KEY_FILE", str(inside))
    code, lines = _doctor(capsys)
    assert code == 1
    line = _line(lines, "pseudonym key")
    assert line.startswith("PROBLEM") and "inside a data zone" in line


def test_key_rules(home, capsys, monkeypatch, tmp_path):
    home["key"].chmod(0o644)
    code, lines = _doctor(capsys)
    warning = _line(lines, "pseudonym key")
    assert warning.startswith("WARNING") and "readable by every user" in warning
    assert "chmod 600" in warning
    assert "1 warning" in lines[-1]
    short = tmp_path / "short.key"
    short.write_text("ab" * 8)
    short.chmod(stat.S_IRUSR | stat.S_IWUSR)
    monkeypatch.setenv("CADBUSI_PSEUDONYM_KEY_FILE", str(short))
    code, lines = _doctor(capsys)
    assert code == 1 and "too short" in _line(lines, "pseudonym key")
    monkeypatch.setenv("CADBUSI_PSEUDONYM_KEY_FILE", str(tmp_path / "nope.key"))
    code, lines = _doctor(capsys)
    assert code == 1 and "cadbusi keygen" in _line(lines, "pseudonym key")


def test_tesseract_missing_with_ocr_on_is_a_problem_and_ocr_off_is_ok(
    home, capsys, monkeypatch, tmp_path
):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    code, lines = _doctor(capsys)
    assert code == 1
    line = _line(lines, "tesseract")
    assert line.startswith("PROBLEM")
    assert "apt-get install tesseract-ocr tesseract-ocr-eng" in line and "CADBUSI_OCR=0" in line
    monkeypatch.setenv("CADBUSI_OCR", "0")
    code, lines = _doctor(capsys)
    line = _line(lines, "tesseract")
    assert line.startswith("ok ") and "OCR is off" in line


def test_a_missing_label_folder_and_a_missing_api_key_are_problems(home, capsys, monkeypatch):
    home["labelbox"].rmdir()
    code, lines = _doctor(capsys)
    assert code == 1 and "does not exist" in _line(lines, "labels")
    monkeypatch.setenv("CADBUSI_LABELBOX", "labelbox://project123")
    monkeypatch.delenv("LABELBOX_API_KEY", raising=False)
    code, lines = _doctor(capsys)
    assert code == 1 and "LABELBOX_API_KEY" in _line(lines, "labels")


def test_bigquery_without_credentials_is_a_clear_problem(tmp_path, monkeypatch):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    check = doctor.check_warehouse("bigquery://project/dataset", "2026-09-01", timeout=3)
    assert check.failed
    assert "credentials" in check.detail.lower() or "credentials" in check.fix.lower()


# -- real servers -----------------------------------------------------------------------------


@pytest.mark.integration
def test_postgresql_closed_port_is_a_problem_open_server_passes(postgres, monkeypatch):
    import psycopg2

    with psycopg2.connect(postgres.dsn) as con, con.cursor() as cur:
        cur.execute(
            "CREATE TABLE IF NOT EXISTS radiology_exams (exam_date date, accession_number text,"
            " modality text, study_instance_uid text)"
        )
    monkeypatch.setenv("CADBUSI_WAREHOUSE_PASSWORD", postgres.password)
    ok = doctor.check_warehouse(postgres.uri(), "2026-09-01", timeout=3)
    assert ok.status == doctor.OK, ok.line()
    assert postgres.password not in ok.line()

    closed = f"postgresql://{postgres.user}@127.0.0.1:{free_port()}/postgres"
    refused = doctor.check_warehouse(closed, "2026-09-01", timeout=3)
    assert refused.failed and "cannot connect" in refused.detail

    monkeypatch.setenv("CADBUSI_WAREHOUSE_PASSWORD", "wrong-password")
    wrong = doctor.check_warehouse(postgres.uri(), "2026-09-01", timeout=3)
    assert wrong.failed and "wrong-password" not in wrong.line()


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory):
    from cadbusi_assets.pacs.orthanc_server import INSTALL_HINT, OrthancServer

    require_tool("Orthanc", INSTALL_HINT)
    server = OrthancServer(tmp_path_factory.mktemp("doctor-orthanc"))
    server.start()
    yield server
    server.stop(graceful=False)


@pytest.mark.integration
def test_orthanc_answers_qido_and_c_echo_closed_ports_do_not(orthanc):
    qido = doctor.check_pacs("dicomweb+" + orthanc.dicomweb_url, timeout=3)
    assert qido.status == doctor.OK, qido.line()
    echo = doctor.check_pacs(
        f"dimse://{orthanc.aet}@127.0.0.1:{orthanc.dicom_port}?calling_aet=CADBUSI", timeout=3
    )
    assert echo.status == doctor.OK and "C-ECHO" in echo.detail, echo.line()
    closed = doctor.check_pacs(f"dimse://{orthanc.aet}@127.0.0.1:{free_port()}", timeout=3)
    assert closed.failed and "no DICOM association" in closed.detail
    no_web = doctor.check_pacs(f"dicomweb+http://127.0.0.1:{free_port()}/dicom-web", timeout=3)
    assert no_web.failed


def test_the_torch_settings_are_checked_and_what_runs_is_said(home, capsys, monkeypatch):
    monkeypatch.setenv("CADBUSI_OCR", "0")
    monkeypatch.setenv("CADBUSI_TORCH_PRECISION", "fp32")
    monkeypatch.setenv("CADBUSI_INPAINT_DEVICE", "cpu")
    code, lines = _doctor(capsys)
    line = _line(lines, "torch")
    assert line.startswith("ok ") and "inpainting on cpu" in line and "float32" in line, line
    monkeypatch.setenv("CADBUSI_TORCH_PRECISION", "half")
    code, lines = _doctor(capsys)
    assert code == 1
    line = _line(lines, "torch")
    assert line.startswith("PROBLEM") and "CADBUSI_TORCH_PRECISION='half'" in line, line


def test_run_checks_reports_each_check_as_it_finishes(home, monkeypatch):
    monkeypatch.setenv("CADBUSI_OCR", "0")
    seen: list[str] = []
    checks = doctor.run_checks(load_settings(), timeout=3, on_check=lambda c: seen.append(c.name))
    assert seen == [c.name for c in checks]
    assert {"warehouse", "PACS", "raw zone", "research zone", "pseudonym key", "labels"} <= set(
        seen
    )
