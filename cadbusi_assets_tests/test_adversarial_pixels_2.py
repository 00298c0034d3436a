"""More burned-in text the upright reading cannot see, drawn where a cheap gate in front of
the search for it (:func:`cadbusi_assets.deid.ocr.unseen_text`) could look away: vertical
text over bright speckle, beside a depth scale or a TGC curve, in two lines, a phone number;
tiny text beside caliper marks and in colour; light labels at the frame's edge or partly
under upright text; text upside down beside the screen's own words.

Same contract and style as :mod:`cadbusi_assets_tests.test_adversarial_pixels`: each case is a
real leak (a reader with tesseract finds the identifier in the frame as drawn), and
``deidentify_dataset`` with the OCR verification quarantines it. Every name is invented.
"""

from __future__ import annotations

import pytest

from cadbusi_assets_tests.adversarial_leaks import EXPECTED_2 as EXPECTED
from cadbusi_assets_tests.adversarial_leaks import LEAKS_2 as LEAKS
from cadbusi_assets_tests.adversarial_leaks import PAGE_READER_MISSES_2 as PAGE_READER_MISSES
from cadbusi_assets_tests.adversarial_pixels import (
    assert_quarantined,
    assert_read,
    reader_kinds,
)
from cadbusi_assets_tests.support import require_tesseract_executable


@pytest.mark.parametrize("case", sorted(set(LEAKS) - set(EXPECTED) - PAGE_READER_MISSES))
def test_the_planted_identifier_is_readable_before(case):
    """Each case is a real leak: a reader finds the identifier in the frame as drawn."""
    require_tesseract_executable()
    assert reader_kinds(LEAKS[case]()), case


@pytest.mark.parametrize("case", sorted(LEAKS))
def test_the_verification_reads_it(case):
    assert_read(LEAKS[case](), EXPECTED.get(case))


@pytest.mark.parametrize("case", sorted(LEAKS))
def test_it_is_quarantined(case, pseudonymizer):
    assert_quarantined(LEAKS[case](), pseudonymizer)
