"""The recorded caliper detections of ``test_caliper_equivalence.py`` (``caliper_equivalence.json``):
the frames, how a frame's detections are computed and the record. Also used by
``test_torch_precision.py``. Record again (after a deliberate change of the detector's output,
the json's diff reviewed) with ``PYTHONPATH=. python -m cadbusi_assets_tests.ultrasound.caliper_record``."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from cadbusi_assets.ultrasound.calipers import detect_calipers
from cadbusi_assets.ultrasound.overlay import ColourMaps, to_grey
from cadbusi_demo.screens_heldout import TUNING_FAMILIES, render_screen

RECORD = Path(__file__).with_name("caliper_equivalence.json")
#: (family, seed): six frames of each tuning family and of the demo style.
FRAMES = [(family, seed) for family in (*TUNING_FAMILIES, "demo") for seed in range(6)]


def detections(family: str, seed: int) -> dict[str, Any]:
    """The frame's hash and ``detect_calipers``'s output, as the json records them."""
    screen = render_screen(family, seed)
    frame = screen.frame
    grey = to_grey(frame)
    maps = ColourMaps.of(frame) if frame.ndim == 3 else None
    if maps is None or cv2.countNonZero(maps.chroma) == 0:  # as analyze_frame does
        work, maps = grey, None
    else:
        work = frame
    found = detect_calipers(work, screen.fov_box, grey=grey, maps=maps)
    return {
        "frame_sha256": hashlib.sha256(np.ascontiguousarray(frame).tobytes()).hexdigest(),
        "points": [list(p) for p in found.points],
        "scores": list(found.scores),
        "styles": list(found.styles),
    }


@cache
def recorded() -> dict[str, Any]:
    return json.loads(RECORD.read_text())


def main() -> None:
    """Record the detections of :data:`FRAMES` from the current code."""
    record = {f"{family}/{seed}": detections(family, seed) for family, seed in FRAMES}
    RECORD.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    print(f"recorded {len(record)} frames in {RECORD}")


if __name__ == "__main__":
    main()
