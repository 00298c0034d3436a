from pathlib import Path

import pytest

from cadbusi_assets.settings import SettingsError, load_settings


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
