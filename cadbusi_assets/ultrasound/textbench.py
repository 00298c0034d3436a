"""Text detection and reading measured on the held-out screen generator
(:mod:`cadbusi_assets.demo.screens_heldout`): numbers, never assertions.

Per layout family and for the held-out families together: text-box recall, false boxes per
frame, annotation fields read, and the time of de-identification OCR verification per frame.

* A true text box is **found** when detected boxes holding at least half its height cover at
  least :data:`COVERED` of its columns.
* A detected box is **false** when it overlaps no true text box and no UI graphic (depth
  scale, body mark, grey bar) by at least :data:`OVERLAP` of the smaller of the two.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Box = tuple[int, int, int, int]

COVERED = 0.7
OVERLAP = 0.3
FIELDS = ("laterality", "clock_position", "nipple_distance_cm", "orientation", "body_area")


def _area(box: Box) -> int:
    return max(0, box[2] - box[0] + 1) * max(0, box[3] - box[1] + 1)


def _intersection(a: Box, b: Box) -> int:
    return _area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))


def covered_share(truth: Box, found: Sequence[Box]) -> float:
    """Share of ``truth``'s columns covered by boxes of ``found`` that hold at least half
    of its height (a line box may leave out descenders or a halo)."""
    x0, y0, x1, y1 = truth
    columns = np.zeros(x1 - x0 + 1, bool)
    for b in found:
        rows = min(b[3], y1) - max(b[1], y0) + 1
        if rows >= 0.5 * (y1 - y0 + 1) and b[0] <= x1 and b[2] >= x0:
            columns[max(b[0], x0) - x0 : min(b[2], x1) - x0 + 1] = True
    return float(columns.mean())


def match_boxes(
    truth: Sequence[Box], ignore: Sequence[Box], found: Sequence[Box]
) -> tuple[int, int]:
    """(true boxes found, detected boxes that are false)."""
    hits = sum(covered_share(t, found) >= COVERED for t in truth)
    false = 0
    for b in found:
        if not any(
            _intersection(b, t) >= OVERLAP * min(_area(b), _area(t)) for t in (*truth, *ignore)
        ):
            false += 1
    return hits, false


def expected_fields(text: str) -> dict[str, Any]:
    from cadbusi_assets.ultrasound.annotations import parse_annotation

    parsed = parse_annotation(text)
    return {f: getattr(parsed, f) for f in FIELDS}


@dataclass
class FamilyScore:
    family: str
    frames: int = 0
    truth_boxes: int = 0
    found_boxes: int = 0
    false_boxes: int = 0
    fields_expected: int = 0
    fields_read: int = 0
    verify_ms: list[float] | None = None

    @property
    def recall(self) -> float:
        return self.found_boxes / self.truth_boxes if self.truth_boxes else 1.0

    @property
    def false_per_frame(self) -> float:
        return self.false_boxes / self.frames if self.frames else 0.0

    @property
    def fields_share(self) -> float | None:
        return self.fields_read / self.fields_expected if self.fields_expected else None

    def as_dict(self) -> dict[str, Any]:
        ms = self.verify_ms or []
        return {
            "family": self.family,
            "frames": self.frames,
            "text_box_recall": round(self.recall, 4),
            "false_boxes_per_frame": round(self.false_per_frame, 4),
            "annotation_fields_read": None
            if self.fields_share is None
            else round(self.fields_share, 4),
            "verify_ms_per_frame": round(statistics.median(ms), 1) if ms else None,
        }

    def add(self, other: FamilyScore) -> None:
        self.frames += other.frames
        self.truth_boxes += other.truth_boxes
        self.found_boxes += other.found_boxes
        self.false_boxes += other.false_boxes
        self.fields_expected += other.fields_expected
        self.fields_read += other.fields_read
        self.verify_ms = (self.verify_ms or []) + (other.verify_ms or [])


def score_family(
    family: str,
    frames: int,
    seed: int,
    detect: Callable[[np.ndarray, np.ndarray], list[Box]],
    read_fields: Callable[[np.ndarray, np.ndarray], dict[str, Any]] | None = None,
    verify: Callable[[np.ndarray], Any] | None = None,
) -> FamilyScore:
    """Score ``detect(frame, fov_mask)`` (and optionally ``read_fields`` and the timing of
    ``verify(frame)``) on ``frames`` frames of ``family``."""
    from cadbusi_assets.demo.screens_heldout import render_screen

    score = FamilyScore(family, verify_ms=[])
    for k in range(frames):
        screen = render_screen(family, seed + k)
        found = detect(screen.frame, screen.fov_mask)
        truth = [t.box for t in screen.readable_texts]
        ignore = [t.box for t in screen.texts if t.kind == "scale"] + list(screen.ui_boxes)
        hits, false = match_boxes(truth, ignore, found)
        score.frames += 1
        score.truth_boxes += len(truth)
        score.found_boxes += hits
        score.false_boxes += false
        if read_fields is not None:
            want = expected_fields(screen.annotation_text)
            got = read_fields(screen.frame, screen.fov_mask)
            for name in FIELDS:
                if want[name] is not None:
                    score.fields_expected += 1
                    score.fields_read += got.get(name) == want[name]
        if verify is not None:
            start = time.process_time()
            verify(screen.frame)
            assert score.verify_ms is not None
            score.verify_ms.append(1000 * (time.process_time() - start))
    return score
