"""Score the lesion table against the demo cohort's ground truth (used by tests and to measure)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from cadbusi_assets.identity import Pseudonymizer, image_id_for


def _clock(value: str | None) -> str | None:
    if not value:
        return None
    hour, _, minute = value.partition(":")
    return f"{int(hour)}:{minute or '00'}"


def _iou(a, b) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def score_against_truth(
    ground_truth_dir: Path,
    lesions: pl.DataFrame,
    links: pl.DataFrame,
    pseudonymizer: Pseudonymizer,
    exported_images: set[str] | None = None,
    studies: set[str] | None = None,
) -> dict[str, Any]:
    """Figures of the lesion table against the truth. ``exported_images``: the image ids the
    pipeline produced (frames it never sampled are not counted); ``studies``: the accession
    pseudonyms that reached the research zone."""
    exams = json.loads((ground_truth_dir / "records" / "exams.json").read_text())
    specimens = json.loads((ground_truth_dir / "records" / "specimens.json").read_text())
    findings = {
        pseudonymizer.accession_number(e["accession_number"]): [
            (f["side"], _clock(f["clock"]), float(f["distance_cm"])) for f in e["findings"]
        ]
        for e in exams
        if studies is None or pseudonymizer.accession_number(e["accession_number"]) in studies
    }
    # report lesions: extraction accuracy (side, clock, distance) per accession
    extracted = {}
    for row in lesions.iter_rows(named=True):
        extracted.setdefault(row["accession_pseudo"], []).append(
            (row["side"], row["clock"], row["distance_cm"])
        )
    true_lesions = sum(len(v) for v in findings.values())
    found = sum(
        sum(1 for t in truth if t in extracted.get(acc, [])) for acc, truth in findings.items()
    )
    lesion_of = {r["lesion_id"]: r for r in lesions.iter_rows(named=True)}
    link_of = {r["image_id"]: r for r in links.iter_rows(named=True)}
    eligible = correct = with_lesion_linked = no_lesion_linked = 0
    ious: list[float] = []
    for path in sorted(ground_truth_dir.glob("*.json")):
        data = json.loads(path.read_text())
        accession = pseudonymizer.accession_number(data["accession_number"])
        if accession not in findings:
            continue
        pseudo_uid = pseudonymizer.uid(data["sop_instance_uid"])
        for frame in data["frames"]:
            image_id = image_id_for(pseudo_uid, int(frame["index"]))
            if exported_images is not None and image_id not in exported_images:
                continue
            truth = (
                frame.get("laterality"),
                _clock(frame.get("clock_position")),
                frame.get("nipple_distance_cm"),
            )
            link = link_of.get(image_id)
            if frame.get("lesion") is None:
                no_lesion_linked += link is not None
                continue
            with_lesion_linked += link is not None
            located = truth[1] is not None or truth[2] is not None
            if not located or truth not in findings.get(accession, []):
                continue  # the information does not exist (no burned-in location, or no report)
            eligible += 1
            if link is None:
                continue
            lesion = lesion_of[link["lesion_id"]]
            ok = (lesion["side"], lesion["clock"], lesion["distance_cm"]) == truth
            correct += ok
            if ok and link["box_x0"] is not None and frame.get("has_calipers"):
                box = (link["box_x0"], link["box_y0"], link["box_x1"], link["box_y1"])
                ious.append(_iou(box, frame["lesion_box"]))
    # pathology: the part whose location is the lesion's
    part_truth = {}
    for s in specimens:
        for part in s["parts"]:
            key = (part["side"], _clock(part["clock"]), part["distance_cm"])
            part_truth[
                (
                    pseudonymizer.other_identifier("specimen", s["specimen_accession"]),
                    part["letter"],
                )
            ] = key
    path_linked = path_ok = 0
    for row in lesions.filter(pl.col("part_letter").is_not_null()).iter_rows(named=True):
        path_linked += 1
        truth = part_truth.get((row["specimen_pseudo"], row["part_letter"]))
        path_ok += truth == (row["side"], row["clock"], row["distance_cm"])
    linked_total = len(link_of)
    return {
        "report_lesions_true": true_lesions,
        "report_lesions_found": found,
        "images_eligible": eligible,
        "images_correct": correct,
        "image_accuracy": correct / eligible if eligible else None,
        "links": linked_total,
        "links_to_frames_with_lesion": with_lesion_linked,
        "links_to_frames_without_lesion": no_lesion_linked,
        "box_iou_median": sorted(ious)[len(ious) // 2] if ious else None,
        "boxes_scored": len(ious),
        "pathology_links": path_linked,
        "pathology_correct": path_ok,
    }
