"""Faster paths that must give the outputs of the code they replaced, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from cadbusi_assets.ultrasound.ocr import _percentiles


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e6])
def test_percentiles_of_floats_are_numpys(scale: float) -> None:
    # the fan's inner and outer radii (fov._sector_polygon) come from _percentiles of float
    # radii: the same floats as np.percentile, whatever the count
    rng = np.random.default_rng(7)
    for n in [*range(1, 40), 997, 60_001]:
        values = rng.uniform(0, 500, n) * scale
        expected = [float(q) for q in np.percentile(values, [0.2, 99.8])]
        assert _percentiles(values.copy(), 0.2, 99.8) == expected
