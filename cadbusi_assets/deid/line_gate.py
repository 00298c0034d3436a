"""A learned text / speckle gate in front of tesseract for the unseen-text search's turned
lines (:func:`cadbusi_assets.deid.ocr.unseen_text`).

The search finds lines in the frame turned a quarter and reads each with tesseract both ways
(about 2.5 reads a frame on the tuning screens, nearly all of them chains of bright speckle
in the fan). A small convolutional classifier (:class:`LineGate`, ~23k weights) looks at the
crop tesseract would read (:func:`~cadbusi_assets.deid.ocr.turned_line_image`) and says
whether it may hold text; a crop it scores at most :data:`THRESHOLD` is not read. Trained
by ``tools/train_turned_line_gate.py`` on the generator's tuning families only (seeds
100-339, text planted turned a quarter: PIL's default font and the Hershey fonts, 4-30 px,
levels 110-255, beside caliper marks, a quarter of it letter spaced); a crop is a positive
when tesseract, reading it as the search does, reads at least 4 characters in a row of the
planted text. The threshold was chosen on seeds 340-439 (the lowest positive scored -3.1;
:data:`THRESHOLD` leaves a margin). Letter-spaced text is in the training because a gate
trained on text drawn in one run scored identifiers spaced by about two thirds of the
letters' size -5.0 to -5.8 and skipped them (``tools/attack_line_gate.py --spacing``,
``cadbusi_assets_tests/test_adversarial_gate.py``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import cv2
import numpy as np

#: The crop is scaled to this height (its width in proportion, at most :data:`MAX_WIDTH`).
HEIGHT = 32
MAX_WIDTH = 384
#: A turned line whose score (a logit) is at most this is not read.
THRESHOLD = -5.0
#: A crop taller than this (a line over 40 px high; the training drew text at most 30 px
#: high) is read whatever its score: the gate is not trained on such lines (60 px letters
#: scored -7.9), and in the fan's speckle they are rare (4 of 382 turned lines on the tuning
#: screens, seeds 100-439).
MAX_HEIGHT = 52
WEIGHTS = "turned_line_gate.pt"


def _module() -> Any:
    import torch.nn as nn

    class LineGate(nn.Module):
        """Two 3x3 convolutions and poolings, two more at a quarter scale, a maximum over
        the crop, one linear unit."""

        def __init__(self, c: int = 16) -> None:
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(1, c, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Conv2d(c, 2 * c, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Conv2d(2 * c, 2 * c, 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(2 * c, 2 * c, 3, padding=1),
                nn.ReLU(),
            )
            self.head = nn.Linear(2 * c, 1)

        def forward(self, x: Any, valid: Any) -> Any:
            f = self.body(x)
            f = f.masked_fill(~valid[:, None, None, :], -1e4)
            return self.head(f.amax(dim=(2, 3)))[:, 0]

    return LineGate


def new_gate() -> Any:
    """An untrained :class:`LineGate` (for the training script)."""
    return _module()()


def prepare(image: np.ndarray) -> np.ndarray:
    """A dark-on-light line crop as the net reads it: bright on dark, float32 in [0, 1],
    :data:`HEIGHT` px high, at most :data:`MAX_WIDTH` wide."""
    h, w = image.shape[:2]
    width = max(8, min(MAX_WIDTH, round(w * HEIGHT / h)))
    scaled = cv2.resize(image, (width, HEIGHT), interpolation=cv2.INTER_AREA)
    return (255 - scaled).astype(np.float32) / 255


def batch(items: list[np.ndarray]) -> tuple[Any, Any]:
    """Prepared crops side by side, zero padded to one width (a multiple of 4), and the
    valid columns of the net's quarter-scale output."""
    import torch

    width = max(x.shape[1] for x in items)
    width += (-width) % 4
    x = np.zeros((len(items), 1, HEIGHT, width), np.float32)
    valid = np.zeros((len(items), width // 4), bool)
    for k, item in enumerate(items):
        x[k, 0, :, : item.shape[1]] = item
        valid[k, : max(1, item.shape[1] // 4)] = True
    return torch.from_numpy(x), torch.from_numpy(valid)


@lru_cache(maxsize=1)
def _gate() -> Any:
    from cadbusi_assets.ultrasound.models import packaged_state

    net = new_gate()
    state = {k: v.float() for k, v in packaged_state(WEIGHTS).items()}
    net.load_state_dict(state)
    net.eval()
    return net


def score(image: np.ndarray) -> float:
    """The gate's logit for a dark-on-light line crop (float32, on one CPU thread: a crop is
    small, and the callers parallelize by process)."""
    import torch

    x, valid = batch([prepare(image)])
    threads = torch.get_num_threads()
    with torch.inference_mode():
        torch.set_num_threads(1)
        try:
            return float(_gate()(x, valid)[0])
        finally:
            torch.set_num_threads(threads)


def may_be_text(image: np.ndarray) -> bool:
    """Whether tesseract should read this turned line crop: it is taller than
    :data:`MAX_HEIGHT`, or its :func:`score` is above :data:`THRESHOLD`."""
    return image.shape[0] > MAX_HEIGHT or score(image) > THRESHOLD
