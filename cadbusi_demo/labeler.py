"""Simulated annotators for the demo: label the images that were sent to the label folder.

Reads the data rows in ``<labels>/outbox/*.ndjson`` (sent by the ``labelbox_data_rows`` asset),
finds each image's ground truth (the generator's JSON, matched through the pseudonymized SOP
Instance UID, which only the holder of the key can compute), and writes a Labelbox-format export
``<labels>/exports/demo-labels.ndjson``: a ``laterality`` answer (a question of the built-in
ontology, :meth:`~cadbusi_assets.labeling.ontology.OntologySpec.default`) and a ``lesion``
bounding box where the ground truth has one. About 70 % of the sent images are
labelled, deterministically, so a later export can show labelled and unlabelled images.

For about a third of the labelled images with a lesion (:data:`MASK_SHARE`), the annotator
draws the lesion with the ``lesion_mask`` tool instead of a box: the ground-truth ellipse,
written as a Labelbox-style composite mask (RGB, the object in its ``color_rgb``) to
``<labels>/masks/<label id>.png`` and named by the export's ``composite_mask.url`` (a path
relative to the label folder), so the label ingestion fetches, checks and stores it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from cadbusi_assets.identity import Pseudonymizer, PseudonymKey, image_id_for
from cadbusi_assets.labeling import FolderLabelSource

PROJECT_ID = "cdemoproject000001"
EXPORT_NAME = "demo-labels.ndjson"
LABELLED_SHARE = 7  # out of 10
MASK_SHARE = 3  # out of 10 labelled images with a lesion: a mask instead of a box
MASKS_DIR = "masks"
#: the composite mask colour of the lesion_mask object (Labelbox assigns one per object)
MASK_COLOUR = (255, 96, 0)
#: the answers of the ontology's ``laterality`` question
SIDES = ("left", "right")


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


def _ellipse_mask(truth: dict[str, Any]) -> np.ndarray | None:
    """The ground-truth lesion ellipse of the frame (bool, rows x columns), if it has one."""
    lesion = truth.get("frame_truth", {}).get("lesion") or truth.get("lesion")
    rows, columns = truth.get("rows"), truth.get("columns")
    if not lesion or not rows or not columns:
        return None
    (cx, cy), (hw, hh) = lesion["centre"], lesion["half_axes"]
    if hw <= 0 or hh <= 0:
        return None
    tilt = math.radians(float(lesion.get("tilt_deg") or 0.0))
    yy, xx = np.mgrid[: int(rows), : int(columns)].astype(np.float64)
    dx, dy = xx - cx, yy - cy
    u = dx * math.cos(tilt) + dy * math.sin(tilt)
    v = -dx * math.sin(tilt) + dy * math.cos(tilt)
    inside = (u / hw) ** 2 + (v / hh) ** 2 <= 1.0
    return inside if inside.any() else None


def _composite_png(pixels: np.ndarray) -> bytes:
    rgb = np.zeros((*pixels.shape, 3), np.uint8)
    rgb[pixels] = MASK_COLOUR
    buffer = io.BytesIO()
    Image.fromarray(rgb, mode="RGB").save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _draws_mask(image_id: str) -> bool:
    return int(hashlib.sha256(f"mask:{image_id}".encode()).hexdigest(), 16) % 10 < MASK_SHARE


def _row(
    image_id: str,
    row_data: str,
    truth: dict[str, Any],
    when: dt.datetime,
    labels_root: Path | None = None,
) -> dict[str, Any]:
    frame = truth.get("frame_truth", {})
    stamp = when.isoformat(timespec="milliseconds")
    objects: list[dict[str, Any]] = []
    box = _box(frame, truth)
    label_id = "lb" + image_id[:20]
    mask = _ellipse_mask(truth) if box and labels_root and _draws_mask(image_id) else None
    if mask is not None and labels_root is not None:
        relative = f"{MASKS_DIR}/{label_id}.png"
        target = labels_root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(_composite_png(mask))
        objects.append(
            {
                "feature_id": "m" + image_id[:20],
                "feature_schema_id": "schema-lesion-mask",
                "name": "lesion_mask",
                "value": "lesion_mask",
                "annotation_kind": "ImageSegmentationMask",
                "composite_mask": {"url": relative, "color_rgb": list(MASK_COLOUR)},
                "classifications": [],
            }
        )
    elif box:
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
    # the built-in ontology's questions only (a question it lacks is counted as unknown)
    side = str(frame.get("laterality") or "").lower()
    answers = [{"name": "laterality", "radio_answer": {"name": side}}] if side in SIDES else []
    return {
        "data_row": {
            "id": "dr" + image_id[:20],
            "global_key": image_id,
            "external_id": image_id,
            "row_data": row_data,
        },
        "media_attributes": {"mime_type": "image/png"}
        | (
            {"width": int(truth["columns"]), "height": int(truth["rows"])}
            if truth.get("rows") and truth.get("columns")
            else {}
        ),
        "projects": {
            PROJECT_ID: {
                "name": "cadbusi demo: caliper and lesion review",
                "labels": [
                    {
                        "id": label_id,
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
                            "classifications": answers,
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
                image_id,
                sent["row_data"],
                truth[image_id],
                base + dt.timedelta(minutes=len(rows)),
                Path(labels_root),
            )
        )
    target = source.exports_dir / EXPORT_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
    return len(rows)
