"""The test suite of cadbusi_assets.

Importing the package (pytest's conftest, or a fixture recorder run as ``python -m
cadbusi_assets_tests.<module>``) first puts numpy on its AVX2 code paths
(:func:`_numpy_on_avx2_paths`), so that a recorder writes the fixtures the tests compare with.
"""

from __future__ import annotations

import os
from pathlib import Path


def _numpy_on_avx2_paths() -> None:
    """Run numpy on its AVX2 code paths on an AVX-512 machine (before numpy is imported;
    subprocesses and xdist workers inherit it): its AVX-512 paths of exp, sin, log, arctan2
    and the like round a last bit differently, so the screen generator would draw other
    frames there than those whose hashes and outputs the equivalence fixtures record (made
    on AVX2 machines). A setting the caller made stays; numpy imported
    already keeps its paths (the package is imported before numpy by the conftest and by
    ``python -m cadbusi_assets_tests...``)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return
    if " avx512f" in flags:
        os.environ.setdefault("NPY_DISABLE_CPU_FEATURES", "X86_V4 AVX512_ICL AVX512_SPR")


_numpy_on_avx2_paths()
