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
    caliper_measurement,
    caliper_pairs,
    extract_lesions,
    lesion_table,
    lesions_from_json,
    link_images,
    link_pathology,
    normalize_clock,
    part_locations,
)
from cadbusi_assets_tests.defs.conftest import (  # noqa: F401  (session fixtures of the demo run)
    cohort_dir,
    definitions,
    key_file,
    pipeline,
)
from cadbusi_assets_tests.support import time_limit

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


# -- calipers, linking, and accuracy against the demo ground truth ---------------------------


def test_four_caliper_marks_pair_into_crossing_axes_whatever_their_order():
    width = ((100, 200), (300, 210))
    height = ((190, 150), (205, 260))
    for order in ([0, 1, 2, 3], [0, 2, 1, 3], [3, 0, 2, 1]):
        marks = [[*p] for p in (width[0], width[1], height[0], height[1])]
        shuffled = [marks[i] for i in order]
        pairs = caliper_pairs(shuffled)
        assert sorted(tuple(sorted(s)) for s in pairs) == sorted(
            [
                tuple(sorted((tuple(map(float, width[0])), tuple(map(float, width[1]))))),
                tuple(sorted((tuple(map(float, height[0])), tuple(map(float, height[1]))))),
            ]
        )
    m = caliper_measurement(marks, 0.01, 0.01)
    assert m["box"] == (100, 150, 300, 260)
    assert m["size_cm"] == pytest.approx(2.0, abs=0.01)
    assert caliper_measurement(marks, None)["size_cm"] is None  # no spacing, no cm


def test_one_caliper_pair_gives_a_box_along_it():
    m = caliper_measurement([[100, 100], [200, 100]], 0.02)
    assert m["box"] == (100, 75, 200, 125) and m["size_cm"] == 2.0
    assert caliper_measurement([], 0.02)["box"] is None


def _report_lesions() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "accession_pseudo": ["A1", "A1"],
            "patient_pseudo": ["P1", "P1"],
            "lesion_index": [1, 2],
            "side": ["RIGHT", "RIGHT"],
            "clock": ["2:00", "10:00"],
            "distance_cm": [3.0, 5.0],
            "size_cm": [1.4, 0.8],
        },
        schema_overrides={"lesion_index": pl.Int32},
    )


def _images() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "image_id": ["i1", "i2", "i3", "i4", "i5"],
            "accession_pseudo": ["A1"] * 5,
            "laterality": ["RIGHT", "RIGHT", "LEFT", "RIGHT", "RIGHT"],
            "clock_position": ["2:00", "10:00", "2:00", None, "6:00"],
            "nipple_distance_cm": [3.0, 5.0, 3.0, 5.0, 3.0],
            "caliper_size_cm": [1.38, None, None, None, None],
            "box_x0": [10, None, None, None, None],
            "box_y0": [20, None, None, None, None],
            "box_x1": [50, None, None, None, None],
            "box_y1": [60, None, None, None, None],
        }
    )


def test_images_link_to_the_lesion_at_their_location_with_evidence():
    links = link_images(
        _report_lesions().with_columns(
            pl.format("{}-L{}", "accession_pseudo", "lesion_index").alias("lesion_id")
        ),
        _images(),
    )
    got = dict(zip(links["image_id"], links["lesion_id"], strict=True))
    # i3: other breast; i5: 6:00 is 4 h from both lesions; i4: no clock, distance 5 cm → lesion 2
    assert got == {"i1": "A1-L1", "i2": "A1-L2", "i4": "A1-L2"}
    first = links.filter(pl.col("image_id") == "i1").row(0, named=True)
    assert first["score"] == 1.0 and first["box_x0"] == 10
    assert "clock 2:00 vs 2:00 (0.0 h)" in first["evidence"]
    assert "caliper size 1.38 vs 1.4 cm" in first["evidence"]
    assert links.filter(pl.col("image_id") == "i4")["score"][0] < 1.0


def test_pathology_parts_link_by_location_and_stay_in_their_breast():
    parts = part_locations(
        pl.DataFrame(
            {
                "accession_pseudo": ["A1", "A1", "A1"],
                "side": ["RIGHT", "RIGHT", "RIGHT"],
                "specimen_pseudo": ["X1", "X1", "X1"],
                "part_letter": ["A", "B", "C"],
                "laterality": ["RIGHT", "RIGHT", "LEFT"],
                "part_text": [
                    "RIGHT BREAST, 10:00, 5 CM FN, US-GUIDED CORE BIOPSY: FIBROADENOMA",
                    "RIGHT BREAST, 2 O'CLOCK, 30 MM FROM NIPPLE: INVASIVE DUCTAL CARCINOMA",
                    "LEFT BREAST, 2:00, 3 CM FN: BENIGN",
                ],
                "interpretation": ["BENIGN", "MALIGNANT", "BENIGN"],
                "cancer_type": [None, "IDC", None],
            }
        )
    )
    assert parts["part_clock"].to_list() == ["10:00", "2:00", "2:00"]
    assert parts["part_distance_cm"].to_list() == [5.0, 3.0, 3.0]
    lesions, links = lesion_table(_report_lesions(), _images(), parts.drop("part_text"))
    by_lesion = {r["lesion_id"]: r for r in lesions.iter_rows(named=True)}
    assert by_lesion["A1-L1"]["part_letter"] == "B"
    assert by_lesion["A1-L1"]["interpretation"] == "MALIGNANT"
    assert by_lesion["A1-L2"]["part_letter"] == "A"
    assert by_lesion["A1-L1"]["n_images"] == 1 and by_lesion["A1-L2"]["n_images"] == 2
    assert links.height == 3


def test_a_lone_unlocated_part_goes_to_the_lone_lesion_of_its_breast():
    lesions = (
        _report_lesions()
        .head(1)
        .with_columns(
            pl.lit("A1-L1").alias("lesion_id"),
            pl.lit(None, dtype=pl.Utf8).alias("clock"),
            pl.lit(None, dtype=pl.Float64).alias("distance_cm"),
        )
    )
    parts = pl.DataFrame(
        {
            "accession_pseudo": ["A1"],
            "side": ["RIGHT"],
            "specimen_pseudo": ["X1"],
            "part_letter": ["A"],
            "laterality": ["RIGHT"],
            "part_clock": [None],
            "part_distance_cm": [None],
            "interpretation": ["BENIGN"],
            "cancer_type": [None],
        },
        schema_overrides={"part_clock": pl.Utf8, "part_distance_cm": pl.Float64},
    )
    linked = link_pathology(lesions, parts)
    assert linked["pathology_score"].to_list() == [0.4]
    assert "only part and lesion" in linked["pathology_evidence"][0]


@pytest.mark.integration
@pytest.mark.xdist_group("pipeline")
def test_lesion_links_match_the_demo_ground_truth(request):
    """The lesions asset on the end-to-end demo run: >= 95 % of the images that show a lesion
    whose location is burned in and reported are linked to the right report lesion."""
    from cadbusi_assets.identity import Pseudonymizer, load_key
    from cadbusi_assets.storage import open_zone, read_all_partition_tables
    from cadbusi_assets_tests.defs.conftest import run
    from cadbusi_assets_tests.records.lesion_truth import score_against_truth

    with time_limit(900):
        pipeline = request.getfixturevalue("pipeline")
        definitions = request.getfixturevalue("definitions")
        key_file = request.getfixturevalue("key_file")
        cohort_dir = request.getfixturevalue("cohort_dir")
        result = run(definitions, pipeline.env, ["lesions"], pipeline.instance)
    assert result.success
    research = open_zone(str(pipeline.env.research), "research")
    lesions = research.read_parquet("lesions", "lesions.parquet")
    links = research.read_parquet("lesions", "lesion_images.parquet")
    figures = score_against_truth(
        cohort_dir / "ground_truth",
        lesions,
        links,
        Pseudonymizer(load_key(key_file)),
        set(read_all_partition_tables(research, "image_features")["image_id"]),
        set(read_all_partition_tables(research, "studies")["accession_pseudo"]),
    )
    print("lesion matching on the demo cohort:", figures)  # shown with pytest -s
    assert figures["images_eligible"] > 10, figures
    assert figures["image_accuracy"] >= 0.95, figures
    assert figures["report_lesions_found"] >= 0.95 * figures["report_lesions_true"], figures
    assert figures["links_to_frames_with_lesion"] >= 0.95 * figures["links"], figures
    if figures["boxes_scored"]:
        assert figures["box_iou_median"] >= 0.5, figures
    if figures["pathology_links"]:
        assert figures["pathology_correct"] >= 0.95 * figures["pathology_links"], figures


def test_biopsy_notes_give_their_lesions_from_the_history_line(tmp_path, test_key):
    """Biopsy notes have no findings section: before, their lesions (and both lesions of a
    bilateral biopsy) were missing. The structured fields come from the HISTORY line; no raw
    text reaches the research zone."""
    from cadbusi_assets.identity import Pseudonymizer
    from cadbusi_assets.stages.lesions import history_lesions
    from cadbusi_assets.storage import open_zone, write_partition_table

    pseudonymizer = Pseudonymizer(test_key)
    raw = open_zone(str(tmp_path / "raw"), "raw")
    note = (
        "EXAM: US BIOPSY BREAST BILATERAL CORE W US GUIDANCE\n"
        "HISTORY: Suspicious sonographic finding: left breast 6:00, 6 cm from the nipple; "
        "right breast 10:00, 6.5 cm FN.\nPROCEDURE: core samples were obtained.\n"
    )
    write_partition_table(
        raw,
        "radiology_reports",
        "2026-09-15",
        pl.DataFrame({"accession_number": ["ACC1", "ACC2"], "report_text": [note, note]}),
    )
    studies = pl.DataFrame(
        {
            "accession_pseudo": [pseudonymizer.accession_number("ACC1"), "other"],
            "patient_pseudo": ["P1", "P2"],
            "study_laterality": ["BILATERAL", "LEFT"],
            "findings": [None, "Mass at 2:00."],
        }
    )
    found = history_lesions(raw, studies, pseudonymizer)
    assert found.select("accession_pseudo", "side", "clock", "distance_cm").rows() == [
        (pseudonymizer.accession_number("ACC1"), "LEFT", "6:00", 6.0),
        (pseudonymizer.accession_number("ACC1"), "RIGHT", "10:00", 6.5),
    ]
    assert found["text"].null_count() == 2 and set(found["method"]) == {"rules-history"}
