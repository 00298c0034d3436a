"""The benchmarks' real-file frames: a file not installed is named and left out on a
developer machine; in CI its missing package stops the benchmark (nothing silently dropped)."""

from __future__ import annotations

import numpy as np
import pytest

import cadbusi_assets_tests.ultrasound.real_file_set as real
from benchmarks.real_files import real_file_frames


def test_a_file_not_installed_is_named_and_left_out(monkeypatch, capsys):
    """On a developer machine (CI unset) the regression set's own missing-package path
    (``missing_package``, which fails in CI) names the file and the benchmark goes on."""
    monkeypatch.delenv("CI", raising=False)
    keys = list(real.EXPECTED)[:3]
    monkeypatch.setattr(real, "EXPECTED", {k: real.EXPECTED[k] for k in keys})

    def decoded(key):
        if key == keys[1]:
            real.missing_package("deid-data")
        return np.zeros((4, 4), np.uint8), []

    monkeypatch.setattr(real, "decoded", decoded)
    found = real_file_frames()
    assert [key for key, _, _ in found] == [keys[0], keys[2]]
    assert f"real file {keys[1]} left out: deid-data is not available offline" in (
        capsys.readouterr().err
    )


def test_in_ci_a_missing_package_stops_the_benchmark(monkeypatch):
    monkeypatch.setenv("CI", "true")
    monkeypatch.setattr(real, "EXPECTED", {"deid-data/X.dcm": {}})
    monkeypatch.setattr(real, "decoded", lambda key: real.missing_package("deid-data"))
    with pytest.raises(pytest.fail.Exception, match="CI must install"):
        real_file_frames()
