"""The shared time limit of the end-to-end tests really stops a hang."""

from __future__ import annotations

import signal
import time

import pytest

from cadbusi_assets_tests.support import time_limit


def test_a_block_over_its_time_limit_fails_and_the_alarm_is_restored():
    before = signal.getsignal(signal.SIGALRM)
    started = time.monotonic()
    with (
        pytest.raises(TimeoutError, match="the hang took longer than 1 s"),
        time_limit(1, "the hang"),
    ):
        time.sleep(10)
    assert time.monotonic() - started < 5
    assert signal.getsignal(signal.SIGALRM) == before
    assert signal.alarm(0) == 0  # no alarm left pending
    with time_limit(5):
        pass


def test_a_fixture_recorder_runs_numpy_on_the_paths_the_tests_run():
    """A recorder started as ``python -m cadbusi_assets_tests.<module>`` (no conftest) imports
    the package first, which puts numpy on its AVX2 paths on an AVX-512 machine as the
    tests' conftest does: the fixtures it writes are the ones the tests compare with (an
    AVX-512 run drew other generator frames for 11 of caliper_equivalence's 36)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if k != "NPY_DISABLE_CPU_FEATURES"}
    probe = (
        "import cadbusi_assets_tests, os\n"
        "from numpy._core._multiarray_umath import __cpu_features__ as f\n"
        "print(os.environ.get('NPY_DISABLE_CPU_FEATURES', ''), f.get('AVX512_ICL', False))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()
    if " avx512f" in Path("/proc/cpuinfo").read_text():
        assert out[:3] == ["X86_V4", "AVX512_ICL", "AVX512_SPR"]
        assert out[-1] == "False"
    else:
        assert out == ["False"]
