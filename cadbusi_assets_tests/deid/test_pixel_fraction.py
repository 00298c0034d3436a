"""The blanked and kept fractions (``deid.pixels._fraction``, the instances table's
``blanked_fraction``) are counted, not averaged: the same floats as ``mask.mean()``."""

from __future__ import annotations

import numpy as np
import pytest

from cadbusi_assets.deid.pixels import _fraction


@pytest.mark.parametrize("shape", [(720, 960), (600, 800), (1080, 1920), (7, 13), (1, 1)])
def test_fraction_is_the_mean_to_the_last_bit(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(shape))
    for share in (0.0, 1e-6, 0.1, 1 / 3, 0.5, 0.999, 1.0):
        mask = rng.random(shape) < share
        assert _fraction(mask) == float(mask.mean())
        assert 100.0 * _fraction(mask) == 100.0 * float(mask.mean())  # describe()'s percentage
