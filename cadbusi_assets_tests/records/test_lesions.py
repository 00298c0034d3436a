"""extract_lesions: deterministic rules, and the optional LLM interface with a fake client."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl
import pytest

from cadbusi_assets.records.lesions import (
    LESIONS_SCHEMA_EXTRA,
    Lesion,
    LesionLLM,
    LesionRequest,
    extract_lesions,
    lesions_from_json,
    normalize_clock,
)

FINDINGS = (
    "Left breast 2:00, 3 cm from the nipple: irregular hypoechoic mass with angular margins, "
    "not parallel, with posterior shadowing, measuring 1.4 x 1.1 x 1.0 cm. "
    "At 10 o'clock 5 cm FN there is an oval anechoic cyst, 8 mm. "
    "No suspicious lymph nodes. Normal axillary lymph node 1.2 cm. Fatty tissue 1.2 cm deep."
)


def test_rules_find_each_described_lesion():
    lesions = extract_lesions(FINDINGS)
    assert lesions.schema == LESIONS_SCHEMA_EXTRA
    assert lesions.select(
        "lesion_index", "clock", "distance_cm", "size_cm", "lesion_type"
    ).rows() == [
        (1, "2:00", 3.0, 1.4, "mass"),
        (2, "10:00", 5.0, 0.8, "cyst"),
        (3, None, None, 1.2, "lymph node"),
    ]
    first = lesions.row(0, named=True)
    assert first["side"] == "LEFT" and first["method"] == "rules"
    assert first["descriptors"] == "angular, irregular, not parallel, hypoechoic, shadowing"


@pytest.mark.parametrize(
    ("sentence", "clock", "distance", "size"),
    [
        ("Mass at 11:30, 4 cm FN, 12 x 9 mm.", "11:30", 4.0, 1.2),
        ("RIGHT BREAST 8:00 6 CM FN: 0.7 X 0.4 X 0.7 CM OVAL MASS.", "8:00", 6.0, 0.7),
        (
            "Cyst at the 12 o'clock position 25 mm from the nipple measuring 2.2 cm.",
            "12:00",
            2.5,
            2.2,
        ),
        ("Hypoechoic mass measuring 1.2 x 0.8 cm, 3.5 cm from nipple.", None, 3.5, 1.2),
        ("Lesion at 3:00 in the subareolar region.", "3:00", None, None),
    ],
)
def test_rules_phrasings(sentence, clock, distance, size):
    row = extract_lesions(sentence).row(0, named=True)
    assert (row["clock"], row["distance_cm"], row["size_cm"]) == (clock, distance, size)


def test_decimals_are_never_clock_positions():
    lesions = extract_lesions("Mass 1.2 cm in size. Node measuring 10.5 mm.")
    assert lesions["clock"].to_list() == [None, None]
    assert lesions["size_cm"].to_list() == [1.2, 1.05]


def test_sentences_without_lesion_or_measure_are_skipped():
    assert extract_lesions("No suspicious mass. Normal fibroglandular tissue at 2:00.").height == 0
    assert extract_lesions("").height == 0


def test_frame_input_keeps_keys_and_uses_study_laterality():
    frame = pl.DataFrame(
        {
            "patient_id": ["P1", "P2", "P3"],
            "accession_number": ["A1", "A2", "A3"],
            "study_laterality": ["RIGHT", "BILATERAL", "LEFT"],
            "findings": [
                "Oval mass at 9:00, 1 cm.",
                "Cyst at 1:00, 2 cm. Cyst at 4:00, 3 mm.",
                None,
            ],
        }
    )
    lesions = extract_lesions(frame)
    assert lesions.select("accession_number", "lesion_index", "side", "clock").rows() == [
        ("A1", 1, "RIGHT", "9:00"),
        ("A2", 1, None, "1:00"),
        ("A2", 2, None, "4:00"),
    ]
    assert lesions.columns[:2] == ["patient_id", "accession_number"]


class FakeLLM:
    """Answers out of order, skips one request and invents an id: results must still land on
    the right rows (joined by request id, not position)."""

    def __init__(self) -> None:
        self.requests: list[LesionRequest] = []

    def extract(self, requests: Sequence[LesionRequest]) -> Mapping[str, Sequence[Lesion]]:
        self.requests = list(requests)
        answers = {
            r.request_id: [
                Lesion(clock="2" if "two" in r.text else "7:30", size_cm=1.0, distance_cm=None)
            ]
            for r in reversed(requests)
            if "skip" not in r.text
        }
        answers["row-999"] = [Lesion(clock="1:00")]
        return answers


def test_llm_is_pluggable_and_joined_by_request_id():
    frame = pl.DataFrame(
        {
            "patient_id": ["MRN77", "MRN78", "MRN79"],
            "accession_number": ["ACC1", "ACC2", "ACC3"],
            "findings": [
                "Mass at two o'clock. Patient MRN77 seen 03/04/2021 by Dr. Who.",
                "skip this one",
                "Another mass.",
            ],
        }
    )
    llm = FakeLLM()
    assert isinstance(llm, LesionLLM)
    lesions = extract_lesions(frame, llm=llm)
    assert lesions.select("accession_number", "clock", "method").rows() == [
        ("ACC1", "2:00", "llm"),
        ("ACC3", "7:30", "llm"),
    ]
    sent = llm.requests[0].text
    assert "MRN77" not in sent and "03/04/2021" not in sent and "Who" not in sent
    assert "two o'clock" in sent


def test_llm_is_off_by_default():
    assert extract_lesions("Mass at 2:00, 1 cm.")["method"].to_list() == ["rules"]


def test_llm_json_answers():
    text = '```json\n[{"direction": "10", "distance": "na", "size": "1.5 cm", "type": "oval"}, "junk"]\n```'
    assert lesions_from_json(text) == [
        Lesion(clock="10:00", distance_cm=None, size_cm=1.5, descriptors="oval")
    ]
    assert lesions_from_json("not json") == []
    assert lesions_from_json('{"a": 1}') == []
    assert [normalize_clock(v) for v in ("12", "0:30", "13:00", "3 o’clock")] == [
        "12:00",
        None,
        None,
        "3:00",
    ]
