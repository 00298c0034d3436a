"""Simulated annotators for the demo: label the images that were sent to the label folder.

Reads the data rows in ``<labels>/outbox/*.ndjson`` (sent by the ``labelbox_data_rows`` asset),
finds each image's ground truth (the generator's JSON, matched through the pseudonymized SOP
Instance UID, which only the holder of the key can compute), and writes a Labelbox-format export
``<labels>/exports/demo-labels.ndjson``: a ``has_calipers`` answer, an ``image_quality`` answer and
a ``lesion`` bounding box where the ground truth has one. About 70 % of the sent images are
labelled, deterministically, so a later export can show labelled and unlabelled images.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

from cadbusi_assets.identity import Pseudonymizer, PseudonymKey, image_id_for
from cadbusi_assets.labeling import FolderLabelSource

PROJECT_ID = "cdemoproject000001"
EXPORT_NAME = "demo-labels.ndjson"
LABELLED_SHARE = 7  # out of 10


def _ground_truth_by_image(
    ground_truth_dir: Path, pseudonymizer: Pseudonymizer
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(ground_truth_dir.glob("*.json")):
        truth = json.loads(path.read_text())
        sop = truth.get("sop_instance_uid")
        if not sop:
            continue
        pseudo = pseudonymizer.uid(sop)
        for index, frame in enumerate(truth.get("frames") or [{}]):
            out[image_id_for(pseudo, index)] = {**truth, "frame_truth": frame}
    return out


def _box(frame: dict[str, Any], truth: dict[str, Any]) -> dict[str, float] | None:
    box = frame.get("lesion_box") or truth.get("lesion_box")
    if not box or len(box) != 4:
        return None
    x0, y0, x1, y1 = (float(v) for v in box)
    return {"left": x0, "top": y0, "width": x1 - x0 + 1, "height": y1 - y0 + 1}


def _row(image_id: str, row_data: str, truth: dict[str, Any], when: dt.datetime) -> dict[str, Any]:
    frame = truth.get("frame_truth", {})
    stamp = when.isoformat(timespec="milliseconds")
    objects = []
    box = _box(frame, truth)
    if box:
        objects.append(
            {
                "feature_id": "f" + image_id[:20],
                "feature_schema_id": "schema-lesion",
                "name": "lesion",
                "value": "lesion",
                "annotation_kind": "ImageBoundingBox",
                "bounding_box": box,
                "classifications": [],
            }
        )
    has_calipers = bool(frame.get("has_calipers"))
    return {
        "data_row": {
            "id": "dr" + image_id[:20],
            "global_key": image_id,
            "external_id": image_id,
            "row_data": row_data,
        },
        "media_attributes": {"mime_type": "image/png"},
        "projects": {
            PROJECT_ID: {
                "name": "cadbusi demo: caliper and lesion review",
                "labels": [
                    {
                        "id": "lb" + image_id[:20],
                        "label_kind": "Default",
                        "label_details": {
                            "created_at": stamp,
                            "updated_at": stamp,
                            "created_by": "annotator-1@demo.invalid",
                        },
                        "performance_details": {
                            "seconds_to_create": 30 + int(image_id[:2], 16) % 90
                        },
                        "annotations": {
                            "objects": objects,
                            "classifications": [
                                {
                                    "name": "has_calipers",
                                    "radio_answer": {"name": "yes" if has_calipers else "no"},
                                },
                                {"name": "image_quality", "radio_answer": {"name": "good"}},
                            ],
                            "relationships": [],
                        },
                    }
                ],
                "project_details": {"workflow_status": "DONE"},
            }
        },
    }


def label_sent_images(labels_root: Path, ground_truth_dir: Path, key: PseudonymKey) -> int:
    """Write the simulated export; returns the number of labelled data rows."""
    source = FolderLabelSource(labels_root)
    truth = _ground_truth_by_image(Path(ground_truth_dir), Pseudonymizer(key))
    base = dt.datetime(2026, 10, 15, 9, 0, tzinfo=dt.UTC)
    rows: list[dict[str, Any]] = []
    for sent in sorted(source.sent_data_rows(), key=lambda r: r["global_key"]):
        image_id = sent["global_key"]
        if image_id not in truth:
            continue
        if int(hashlib.sha256(image_id.encode()).hexdigest(), 16) % 10 >= LABELLED_SHARE:
            continue
        rows.append(
            _row(
                image_id, sent["row_data"], truth[image_id], base + dt.timedelta(minutes=len(rows))
            )
        )
    target = source.exports_dir / EXPORT_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
    return len(rows)
