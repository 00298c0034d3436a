"""Golden BI-RADS phrasings: one report snippet per supported form."""

from __future__ import annotations

import polars as pl
import pytest

from cadbusi_assets.records.birads import HIERARCHY, birads_columns, extract_birads

GOLDEN = [
    # category forms
    ("BI-RADS Category 4A: Suspicious", "4A"),
    ("BI-RADS CATEGORY 4C: HIGH SUSPICION FOR MALIGNANCY", "4C"),
    ("BI-RADS 3", "3"),
    ("BIRADS 2", "2"),
    ("Bi-Rads: 5", "5"),
    ("BI RADS 1", "1"),
    ("BI-RADS=0", "0"),
    ("BI-RADS - 2 - Benign.", "2"),
    ("(BI-RADS 2)", "2"),
    ("BI-RADS 4a", "4A"),
    ("BI-RADS 4 B", "4B"),
    ("BI-RADS category four", "4"),
    ("BI-RADS category Five (highly suggestive of malignancy)", "5"),
    # trademark signs
    ("BI-RADS® 1: Negative", "1"),
    ("BI-RADS(R) Category: 4b - Moderate suspicion", "4B"),
    ("BI-RADS™ 2", "2"),
    # assessment / code / atlas forms
    ("ASSESSMENT: BI-RADS 2 - Benign", "2"),
    ("BI-RADS ASSESSMENT: CODE: 4-Suspicious", "4"),
    ("BI-RADS Assessment Category 3: Probably benign", "3"),
    ("BI-RADS ATLAS category (overall): 2", "2"),
    ("Final Assessment: 3 (Probably Benign)", "3"),
    ("FINAL ASSESSMENT: 4B - Suspicious", "4B"),
    ("ASSESSMENT: 2 - Benign", "2"),
    ("Category 4 (Suspicious abnormality)", "4"),
    ("Category 2: Benign finding(s)", "2"),
    # ACR codes and modality prefixes
    ("ACR code 5", "5"),
    ("ACR Category 3", "3"),
    ("ACR BI-RADS category 4A", "4A"),
    ("US BI-RADS: 4B", "4B"),
    ("ULTRASOUND BI-RADS: 3", "3"),
    ("Mammogram BI-RADS 1", "1"),
    # impression-only forms
    ("IMPRESSION: Known left breast cancer. BI-RADS 6 - Known biopsy-proven malignancy", "6"),
    ("IMPRESSION:\nBenign-appearing cyst.\nBI-RADS 2: Benign", "2"),
    # words only
    ("ASSESSMENT: Probably benign. Follow-up in 6 months.", "3"),
    ("Overall assessment: Negative", "1"),
    ("ASSESSMENT: Suspicious", "4"),
    ("ASSESSMENT: Highly suggestive of malignancy", "5"),
    ("ASSESSMENT: Known biopsy-proven malignancy", "6"),
    ("ASSESSMENT: Incomplete - need additional imaging evaluation", "0"),
    # nothing to find
    ("No assessment given.", None),
    ("ACR BI-RADS Atlas, 5th edition, was used.", None),
    ("Two lesions were seen at 2:00.", None),
    ("", None),
]


@pytest.mark.parametrize(("text", "expected"), GOLDEN)
def test_golden_phrasings(text, expected):
    assert extract_birads([text]).to_list() == [expected]


def test_null_text_gives_null():
    assert extract_birads([None]).to_list() == [None]


@pytest.mark.parametrize(
    ("text", "expected", "source"),
    [
        (
            "RIGHT BREAST: BI-RADS 2.\nLEFT BREAST: BI-RADS 3.\nOVERALL ASSESSMENT: BI-RADS 4C",
            "4C",
            "overall",
        ),
        ("Right: BI-RADS 4A. Left: BI-RADS 2. Final Assessment: BI-RADS 2", "2", "overall"),
        (
            "HISTORY: prior BI-RADS 4 biopsy, benign.\nIMPRESSION: Stable. BI-RADS 2",
            "2",
            "impression",
        ),
        ("Comparison with previous BI-RADS 5 exam. Nothing else.", None, None),
        ("FINDINGS: Per the prior report, BI-RADS 3.\nIMPRESSION: BI-RADS 4A", "4A", "impression"),
        ("Right breast BI-RADS 2. Left breast BI-RADS 4B.", "4B", "report"),
        ("Right breast BI-RADS 6. Left breast BI-RADS 3.", "6", "report"),
        ("Right breast BI-RADS 0. Left breast BI-RADS 6.", "0", "report"),
        (
            "IMPRESSION: BI-RADS 2.\nADDENDUM: After review, the assessment is changed to BI-RADS 4A.",
            "4A",
            "addendum",
        ),
        (
            "IMPRESSION: BI-RADS 4A.\nADDENDUM: downgraded to BI-RADS 3 after comparison.",
            "3",
            "addendum",
        ),
        ("IMPRESSION: Benign.\nASSESSMENT: 1: Pathology benign, concordant", None, None),
        ("ASSESSMENT: Probably benign.\nBI-RADS 4A", "4A", "impression"),
    ],
)
def test_preferences_between_several_assessments(text, expected, source):
    frame = pl.DataFrame({"t": [text]}).select(birads_columns(pl.col("t")))
    assert frame.row(0) == (expected, source)


def test_hierarchy_order_is_the_acr_combination_order():
    assert HIERARCHY.index("6") < HIERARCHY.index("0") < HIERARCHY.index("4") < HIERARCHY.index("5")
    assert HIERARCHY.index("3") < HIERARCHY.index("6")


def test_an_addendum_that_gives_an_assessment_decides_it():
    """An addendum's assessment without "changed to" wording was not read as one (and a
    comma after "prior" made it a prior assessment): the original BI-RADS 3 stayed."""
    from cadbusi_assets.records.birads import extract_birads

    texts = [
        "IMPRESSION: BI-RADS 3.\nADDENDUM: on review of the prior, BI-RADS 5: highly suggestive.",
        "IMPRESSION: BI-RADS 4A.\nADDENDUM: BI-RADS 2 after correlation with the MRI.",
        "IMPRESSION: BI-RADS 2. Prior BI-RADS 4 was resolved.",  # a prior one stays ignored
        "Compared with the prior, BI-RADS 2: benign.",
    ]
    assert extract_birads(texts).to_list() == ["5", "2", "2", "2"]
