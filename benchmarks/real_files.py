"""The real ultrasound files of the regression set (``cadbusi_assets_tests/ultrasound/real_file_set.py``) for benchmarks.

A file whose data package is not installed is named on stderr and left out; in CI
(``CI=true``) a missing package stops the run, as it fails the tests
(:func:`cadbusi_assets_tests.support.missing`)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from cadbusi_assets.dicom import UltrasoundRegion


def real_file_frames() -> list[tuple[str, np.ndarray, list[UltrasoundRegion]]]:
    """(key, first frame, ultrasound regions) of every installed real file, in the
    expectations' order."""
    from cadbusi_assets_tests.ultrasound import real_file_set as real

    out = []
    for key in real.EXPECTED:
        try:
            frame, regions = real.decoded(key)
        except pytest.skip.Exception as skipped:  # not installed here (CI fails instead)
            print(f"real file {key} left out: {skipped.msg}", file=sys.stderr)
            continue
        out.append((key, frame, regions))
    return out
