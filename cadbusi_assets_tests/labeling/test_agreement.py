"""Annotator agreement on consensus images: radio questions and lesion boxes, from export rows
through the label tables, and in the ingestion report."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

import polars as pl
import pytest

from cadbusi_assets.labeling.agreement import annotator_agreement
from cadbusi_assets.labeling.ndjson import parse_export_rows
from cadbusi_assets.stages import labeling as stage
from cadbusi_assets.storage import open_zone


def _label(
    label_id: str,
    answers: Mapping[str, str],
    boxes: Iterable[tuple[float, float, float, float]] = (),
    comment: str | None = None,
) -> dict[str, Any]:
    classifications: list[dict[str, Any]] = [
        {"name": q, "radio_answer": {"name": a, "classifications": []}} for q, a in answers.items()
    ]
    if comment is not None:
        classifications.append({"name": "comment", "text_answer": {"content": comment}})
    return {
        "id": label_id,
        "label_details": {
            "created_at": "2026-03-02T10:00:00.000+00:00",
            "updated_at": "2026-03-02T10:00:00.000+00:00",
            "created_by": f"{label_id}@example.org",
        },
        "annotations": {
            "objects": [
                {
                    "feature_id": f"{label_id}-box{n}",
                    "name": "lesion_box",
                    "annotation_kind": "ImageBoundingBox",
                    "bounding_box": {"left": x, "top": y, "width": w, "height": h},
                    # a nested radio under the box is not a global question
                    "classifications": [{"name": "laterality", "radio_answer": {"name": "x"}}],
                }
                for n, (x, y, w, h) in enumerate(boxes)
            ],
            "classifications": classifications,
        },
    }


def _row(image_id: str, labels: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "data_row": {"id": f"dr-{image_id}", "global_key": image_id},
        "projects": {
            "p1": {"name": "BUS", "labels": labels, "project_details": {"workflow_status": "DONE"}}
        },
    }


ROWS = [
    # three annotators: laterality agrees, BI-RADS 2 of 3, boxes identical / shifted / none
    _row(
        "img-1",
        [
            _label("a1", {"laterality": "left", "birads": "4a"}, [(10, 10, 20, 20)], "round"),
            _label("a2", {"laterality": "left", "birads": "4a"}, [(10, 10, 20, 20)], "oval"),
            _label("a3", {"laterality": "left", "birads": "3"}, [(20, 10, 20, 20)]),
        ],
    ),
    # two annotators disagree on laterality; one draws a box, the other none
    _row(
        "img-2",
        [
            _label("b1", {"laterality": "left", "birads": "2"}, [(0, 0, 5, 5)]),
            _label("b2", {"laterality": "right", "birads": "2"}),
        ],
    ),
    # a single label: not a consensus image, never counted
    _row("img-3", [_label("c1", {"laterality": "right", "birads": "5"}, [(0, 0, 9, 9)])]),
]


def test_question_agreement_over_consensus_images_only():
    report = annotator_agreement(parse_export_rows(ROWS))
    assert report.consensus_images == 2
    questions = {r["question"]: r for r in report.questions.iter_rows(named=True)}
    assert set(questions) == {"laterality", "birads"}  # no free text, no nested radio
    assert questions["laterality"]["images"] == 2
    assert questions["laterality"]["share_all_agree"] == 0.5
    assert questions["laterality"]["pairwise_agreement"] == pytest.approx(3 / 4)  # 3 of 3, 0 of 1
    assert questions["birads"]["share_all_agree"] == 0.5
    assert questions["birads"]["pairwise_agreement"] == pytest.approx(2 / 4)  # 1 of 3, 1 of 1
    disagreements = report.disagreements.select("image_id", "question", "answers").rows()
    assert disagreements == [
        ("img-1", "birads", ["3", "4a"]),
        ("img-2", "laterality", ["left", "right"]),
    ]


def test_box_agreement_is_the_mean_best_match_iou_over_label_pairs():
    boxes = annotator_agreement(parse_export_rows(ROWS)).boxes.row(0, named=True)
    assert boxes["label_pairs"] == 4  # img-1: 3 pairs, img-2: 1 pair
    assert boxes["presence_agreement"] == pytest.approx(3 / 4)  # img-2: box vs no box
    # img-1 pairs: (a1,a2) IoU 1 both ways; (a1,a3), (a2,a3): 200/600 = 1/3 both ways
    assert boxes["matched_boxes"] == 6
    assert boxes["mean_iou"] == pytest.approx((2 * 1 + 4 * (1 / 3)) / 6)
    assert boxes["share_iou_at_least_0_5"] == pytest.approx(2 / 6)


def test_no_consensus_gives_empty_tables():
    report = annotator_agreement(parse_export_rows(ROWS[2:]))
    assert report.consensus_images == 0
    assert report.questions.height == 0 and report.disagreements.height == 0
    assert report.boxes.row(0, named=True)["label_pairs"] == 0
    assert report.counts() == {"consensus_images": 0.0}


def test_ingestion_reports_and_stores_agreement(tmp_path):
    class Source:
        def export_rows(self, since):
            return copy.deepcopy(ROWS)

    zone = open_zone(tmp_path / "research", "research")
    report = stage.ingest_labels(zone, Source())
    assert report.counts["consensus_images"] == 2
    assert report.counts["agreement_laterality"] == 0.5
    assert report.counts["agreement_box_mean_iou"] == pytest.approx(0.5556, abs=1e-4)
    stored = zone.read_parquet(*stage.LABELS_DIR, stage.AGREEMENT_FILE)
    assert stored.equals(report.tables["agreement_questions"])
    assert isinstance(zone.read_parquet(*stage.LABELS_DIR, stage.BOX_AGREEMENT_FILE), pl.DataFrame)
