from pathlib import Path

import pytest

from cadbusi_assets.settings import (
    TESSERACT_INSTALL,
    OcrUnavailableError,
    SettingsError,
    load_settings,
    require_compute,
    require_ocr,
    tesseract_problem,
)
from cadbusi_assets_tests.support import require_tesseract


def test_demo_defaults_live_under_home(tmp_path):
    settings = load_settings({"CADBUSI_HOME": str(tmp_path)})
    assert settings.is_demo
    assert settings.warehouse_uri == f"duckdb://{tmp_path / 'sources' / 'warehouse.duckdb'}"
    assert Path(settings.raw_zone_uri) != Path(settings.research_zone_uri)
    assert not Path(settings.key_file).is_relative_to(Path(settings.research_zone_uri))
    assert not Path(settings.key_file).is_relative_to(Path(settings.raw_zone_uri))


def test_overrides_win(tmp_path):
    settings = load_settings(
        {"CADBUSI_HOME": str(tmp_path), "CADBUSI_PACS": "dimse://PACS@host:104"}
    )
    assert settings.pacs_uri == "dimse://PACS@host:104"


def test_production_requires_explicit_uris():
    settings = load_settings({"CADBUSI_DEPLOYMENT": "production"})
    with pytest.raises(SettingsError, match="CADBUSI_WAREHOUSE"):
        settings.require("warehouse_uri")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CADBUSI_DEPLOYMENT": "staging"}, "CADBUSI_DEPLOYMENT"),
        ({"CADBUSI_FIRST_STUDY_DATE": "2026/01/01"}, "CADBUSI_FIRST_STUDY_DATE"),
        ({"CADBUSI_CINE_FRAME_STEP": "0"}, "CADBUSI_CINE_FRAME_STEP"),
    ],
)
def test_bad_values_name_the_variable(env, message):
    with pytest.raises(SettingsError, match=message):
        load_settings(env)


def test_ocr_is_on_unless_switched_off_explicitly():
    assert load_settings({}).ocr
    for off in ("0", "false", "off", "no"):
        assert not load_settings({"CADBUSI_OCR": off}).ocr


def test_missing_tesseract_is_an_error_naming_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    problem = tesseract_problem()
    assert problem is not None and TESSERACT_INSTALL in problem
    assert TESSERACT_INSTALL == "apt-get install tesseract-ocr tesseract-ocr-eng"
    with pytest.raises(OcrUnavailableError, match="CADBUSI_OCR=0") as raised:
        require_ocr(True)
    assert TESSERACT_INSTALL in str(raised.value)
    require_ocr(False)  # OCR off on purpose: nothing to check


def test_tesseract_without_english_data_is_a_problem(tmp_path, monkeypatch):
    fake = tmp_path / "tesseract"
    fake.write_text("#!/bin/sh\necho 'List of available languages (1):'\necho osd\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    problem = tesseract_problem()
    assert problem is not None and "English" in problem and TESSERACT_INSTALL in problem


def test_installed_tesseract_passes():
    require_tesseract()
    assert tesseract_problem() is None
    require_ocr(True)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CADBUSI_INPAINT_DEVICE": "gpu"}, "CADBUSI_INPAINT_DEVICE='gpu': use auto"),
        ({"CADBUSI_TORCH_PRECISION": "half"}, "CADBUSI_TORCH_PRECISION='half': use auto"),
    ],
)
def test_a_wrong_torch_setting_is_a_settings_error_naming_it(monkeypatch, env, message):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message):
        require_compute()


def test_torch_settings_that_cannot_run_here_are_settings_errors(monkeypatch):
    import torch

    from cadbusi_assets.ultrasound import models

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("CADBUSI_INPAINT_DEVICE", "cuda:1")
    with pytest.raises(SettingsError, match="no CUDA device"):
        require_compute()
    monkeypatch.setenv("CADBUSI_INPAINT_DEVICE", "cpu")
    monkeypatch.setenv("CADBUSI_TORCH_PRECISION", "bf16")
    monkeypatch.setattr(models, "native_bf16", lambda: False)
    with pytest.raises(SettingsError, match="no native bfloat16"):
        require_compute()
    monkeypatch.setattr(models, "native_bf16", lambda: True)
    require_compute()  # where the CPU has it, bf16 is a valid choice


@pytest.mark.parametrize("device", ["", "auto", "CPU", "cpu"])
@pytest.mark.parametrize("precision", ["", "auto", "fp32", "FP32"])
def test_the_usual_torch_settings_pass(monkeypatch, device, precision):
    monkeypatch.setenv("CADBUSI_INPAINT_DEVICE", device)
    monkeypatch.setenv("CADBUSI_TORCH_PRECISION", precision)
    require_compute()
