"""A small learned line reader (CNN + CTC) for burned-in ultrasound text, used as a *gate*.

The de-identification's OCR verification (:func:`cadbusi_assets.deid.ocr.ocr_identifiers`)
must read every text line of a frame; tesseract costs ~5-15 ms a line. Most lines left on a
cleaned frame are the scanner's own vocabulary: gain and dynamic range ("Gn 36", "DR 72"),
probe and frequency ("L12-5 14MHz"), the annotation ("RT BREAST 10:00 3CMFN", "TRANS"),
caliper measurements ("D1 1.58 cm"). :class:`LineReader` reads all lines of a frame in one
pass (a few milliseconds on one CPU core; on CUDA when present); a line whose reading
is confident *and* made only of that vocabulary (:func:`is_screen_vocabulary`) is taken as
read; every other line (a name, an ID, a date, anything the model is unsure of) still goes to
tesseract. The verification stays fail-closed: the model can only spare tesseract a line that
it read, with high confidence, as words no identifier can be.

The model (``LineNet``, 153 k parameters, :data:`WEIGHTS` float16, 0.3 MB) is
trained by ``tools/train_line_reader.py`` on lines rendered with the *tuning* families of
:mod:`cadbusi_demo.screens_heldout` (and random strings, a quarter of them names, IDs, dates
and phone numbers, some with a graphic touching them, in every face of the generator and in
OpenCV's Hershey fonts; the script's docstring gives the command and the figures); the
held-out families measure it. Deterministic: fixed seeds, and
inference runs in float32 on the CPU (same input, same text) unless CUDA is used. Float32
whatever ``CADBUSI_TORCH_PRECISION`` (the caliper networks' bfloat16): in bfloat16 (tried:
weights and activations, 8.7 -> 6.2 CPU ms for all lines of a tuning frame) confidences moved
by up to 0.46 and the gate's verdicts changed on 18 of 3,900 lines of 340 tuning frames,
two of them newly spared tesseract (a misread "T1 4" read "1 4", held as no identifier);
the gate's thresholds are calibrated on float32 confidences.

Inference (:func:`_forward`) runs the trained module's function with its batch norms folded
into the convolutions, on channels-last activations, each line between :data:`GAP` blank
columns (the receptive field's reach): the same texts and gate verdicts as the module itself
(confidences within 1e-4) at about 0.6x its CPU time. A frame's lines are read side by side
in one strip (:meth:`LineReader._read`), each reading bit for bit as the line alone: the
network's fixed cost per pass (~0.9 ms of a core, most of a short line's) is paid once per
frame, not per line (the learned reading of a frame's lines in about half the CPU time).
"""

from __future__ import annotations

import hashlib
import itertools
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from cadbusi_assets.ultrasound.models import packaged_state

if TYPE_CHECKING:
    import torch

#: Classes of the CTC output (index 0 is the blank). Lower case is read as upper case.
CHARSET = " 0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ:.,-/'%^()+#*=&@"
#: Model input height (pixels); the width follows the line's aspect ratio.
INPUT_HEIGHT = 24
#: Horizontal downsampling of the network (input columns per output frame).
STRIDE = 4
WEIGHTS = "line_reader.pt"
#: Blank columns on both sides of a line as it is read: the network's receptive field reaches
#: 23 input columns left and 26 right of an output frame's own 4 (3x3 convolutions, 2x2
#: poolings, then 1-D kernels of 3 and 5 frames), so with 24 no output frame of the line
#: meets the strip's edges: the line reads as between endless blank columns.
GAP = 24
#: A line counts as read when every output frame's classes that leave its text as read
#: (:func:`frame_confidences`) have at least this probability. Calibrated on tuning lines
#: only (617 lines of tuning-family screens, seeds 300000-300059, and 1000 synthetic lines of
#: ``tools/train_line_reader.py``, seed 12345): from 0.3 to 0.6 no line holding a name, ID,
#: date or random characters was read as vocabulary at or above it; 0.5 keeps 538 of the 707
#: vocabulary lines (349 of 368 on the screens; 531 and 345 when a frame's confidence was its
#: greedy class's probability alone) with 12 of them misread as other vocabulary, 0.45 543
#: with 13, 0.6 504 with 7 (figures of the weights before 317b21b; with these, measured by
#: ``python -m tools.calibrate_identifier_gate``, no identifier line passes the vocabulary
#: gate at 0.4 and up, and 0.5 spares 383 of 401 other tuning-screen lines, 369 before).
MIN_CONFIDENCE = 0.5
#: A reading that holds no identifier (:func:`holds_no_identifier`) spares tesseract in the
#: verification when read with at least this confidence. Chosen on tuning material only:
#: of 239 lines holding a name, ID or date on tuning-family screens (seeds 300000-300059)
#: and 2000 synthetic name, ID, date and phone lines (every generator face and the Hershey
#: fonts, over speckle, some blurred or JPEG re-encoded; seed 4242) none was read as such a
#: reading at 0.3 or above; on those screens 0.3 and 0.4 spare tesseract 13 other lines,
#: 0.5 10 (weights before 317b21b; with these, ``python -m tools.calibrate_identifier_gate``:
#: no identifier line of 2260, 788 glued to graphics, passes at 0.35 and up, one glued line
#: at 0.3; 0.4 spares 273 of 401 other tuning-screen lines, 264 before).
NO_IDENTIFIER_CONFIDENCE = 0.4
#: Line readings kept per process (:meth:`LineReader.read`).
CACHE_SIZE = 4096


def input_image(line: np.ndarray) -> np.ndarray:
    """A dark-on-light line image (:func:`cadbusi_assets.ultrasound.ocr.clean_line_image`)
    as the network's float32 input: :data:`INPUT_HEIGHT` high, light text on 0, in [0, 1]."""
    height, width = line.shape[:2]
    new_width = max(STRIDE * 2, round(width * INPUT_HEIGHT / max(1, height)))
    interpolation = cv2.INTER_AREA if height > INPUT_HEIGHT else cv2.INTER_LINEAR
    small = cv2.resize(line, (new_width, INPUT_HEIGHT), interpolation=interpolation)
    return (255.0 - small.astype(np.float32)) / 255.0


def encode(text: str) -> list[int]:
    """Class indices of ``text`` (upper-cased; characters outside :data:`CHARSET` dropped)."""
    return [CHARSET.index(c) + 1 for c in text.upper() if c in CHARSET]


def _net() -> Any:
    import torch
    from torch import nn

    class LineNet(nn.Module):
        """Conv layers that fold the height away, then 1-D convolutions along the line."""

        def __init__(self) -> None:
            super().__init__()

            def block(cin: int, cout: int, pool: tuple[int, int] | None) -> list[nn.Module]:
                layers: list[nn.Module] = [
                    nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                    nn.BatchNorm2d(cout),
                    nn.ReLU(inplace=True),
                ]
                if pool is not None:
                    layers.append(nn.MaxPool2d(pool, pool))
                return layers

            self.features = nn.Sequential(
                *block(1, 16, (2, 2)),  # 12 x W/2
                *block(16, 32, (2, 2)),  # 6 x W/4
                *block(32, 48, (2, 1)),  # 3 x W/4
                *block(48, 64, None),
            )
            self.sequence = nn.Sequential(
                nn.Conv1d(64 * 3, 96, 3, padding=1),
                nn.ReLU(inplace=True),
                nn.Conv1d(96, 96, 5, padding=2),
                nn.ReLU(inplace=True),
                nn.Conv1d(96, len(CHARSET) + 1, 1),
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            """(N, 1, H, W) -> log-probabilities (T, N, C) with T = W / STRIDE."""
            f = self.features(x)
            n, c, h, w = f.shape
            out = self.sequence(f.reshape(n, c * h, w))
            return torch.log_softmax(out.permute(2, 0, 1), dim=2)

    return LineNet()


def build_model() -> Any:
    """An untrained :class:`LineNet` (the training script's starting point)."""
    return _net()


def batch(images: list[np.ndarray]) -> tuple[np.ndarray, list[int]]:
    """Inputs (:func:`input_image`) padded on the right to one width, and their widths."""
    widths = [i.shape[1] for i in images]
    width = -(-max(widths) // STRIDE) * STRIDE
    out = np.zeros((len(images), 1, INPUT_HEIGHT, width), np.float32)
    for k, image in enumerate(images):
        out[k, 0, :, : image.shape[1]] = image
    return out, widths


@dataclass(frozen=True)
class Reading:
    text: str
    #: the lowest, over the line's output frames, probability that the frame's class leaves
    #: the reading as it is (:func:`frame_confidences`)
    confidence: float


def frame_confidences(probs: np.ndarray, best: np.ndarray) -> np.ndarray:
    """For each output frame, the probability of the classes that, put in that frame alone,
    decode to the same text as ``best`` (the greedy path): its own class, and

    * at a blank, a character of the frame before or after (it only lengthens that
      character), unless both neighbours hold that character (it would join a double
      letter into one);
    * at a character, the blank when exactly one neighbour holds the same character (it
      only shortens it; with both neighbours it would split it in two, with none drop it).

    A character's edge (a frame shared between it and the blank after it, each at about
    0.5) is no doubt about the text; the probability of the greedy class alone called it
    one, and sent lines read right to tesseract. A frame that could hold another character,
    or lose one, keeps the probability of its own class only. Frames beyond the line are
    blanks (a line is read between blank columns)."""
    before = np.concatenate(([0], best[:-1]))
    after = np.concatenate((best[1:], [0]))
    return _confidences(probs, best, before, after)


def _confidences(
    probs: np.ndarray, best: np.ndarray, before: np.ndarray, after: np.ndarray
) -> np.ndarray:
    """:func:`frame_confidences` given each frame's neighbours' classes."""
    frames = np.arange(len(best))
    own = probs[frames, best]
    blank = best == 0
    lengthen_before = blank & (before != 0) & (after != before)
    lengthen_after = blank & (after != 0) & (after != before)
    shorten = ~blank & ((before == best) != (after == best))
    return (
        own
        + np.where(lengthen_before, probs[frames, before], 0.0)
        + np.where(lengthen_after, probs[frames, after], 0.0)
        + np.where(shorten, probs[:, 0], 0.0)
    )


def decode(log_probs: np.ndarray, frames: int) -> Reading:
    """Greedy CTC decoding of one line's (T, C) log-probabilities over its first ``frames``."""
    probs = np.exp(log_probs[:frames])
    best = probs.argmax(axis=1)
    # a class starts a character where it is no blank and differs from the frame before
    starts = (best != 0) & (best != np.concatenate(([0], best[:-1])))
    chars = "".join(CHARSET[cls - 1] for cls in best[starts])
    confidence = min(1.0, float(frame_confidences(probs, best).min())) if len(best) else 1.0
    return Reading(" ".join(chars.split()), round(confidence, 4))


def decode_lines(log_probs: np.ndarray, starts: list[int], frames: list[int]) -> list[Reading]:
    """:func:`decode` of many lines at once: line ``k`` is the ``frames[k]`` output frames
    of the (T, C) ``log_probs`` from ``starts[k]`` (lines apart, in order). The same
    readings as each line's own :func:`decode` (the same float32 arithmetic frame by frame,
    each line's first and last frames with blanks beyond them), without a dozen numpy
    calls per line."""
    if not starts:
        return []
    if min(frames) < 1:  # (a line of no frames reads as decode reads it: nothing, sure)
        return [
            Reading("", 1.0) if n < 1 else decode_lines(log_probs, [start], [n])[0]
            for start, n in zip(starts, frames, strict=True)
        ]
    bounds = np.column_stack((starts, np.add(starts, frames))).reshape(-1)
    span = slice(int(bounds[0]), int(bounds[-1]))
    probs = np.exp(log_probs[span])
    best = probs.argmax(axis=1)
    ends = bounds[1::2] - bounds[0]
    firsts = bounds[0::2] - bounds[0]
    # each line's neighbours, blanks beyond its first and last frames
    before = np.concatenate(([0], best[:-1]))
    before[firsts] = 0
    after = np.concatenate((best[1:], [0]))
    after[ends - 1] = 0
    confidences = _confidences(probs, best, before, after)
    lowest = np.minimum.reduceat(confidences, bounds[:-1] - bounds[0])[0::2]
    starts_char = (best != 0) & (best != before)
    out = []
    for first, end, low in zip(firsts.tolist(), ends.tolist(), lowest.tolist(), strict=True):
        line = best[first:end][starts_char[first:end]]
        chars = "".join(CHARSET[cls - 1] for cls in line.tolist())
        out.append(Reading(" ".join(chars.split()), round(min(1.0, low), 4)))
    return out


class LineReader:
    """The trained line reader; one per process (:func:`line_reader`)."""

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        import torch

        self.model = _net()
        if state is None:
            state = packaged_state(WEIGHTS)
        self.model.load_state_dict({k: v.float() for k, v in state.items()})
        self.model.eval()
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.model.to(self.device)
        self._convs, self._sequence = _inference_weights(self.model)
        self._lock = threading.Lock()
        self._cache: OrderedDict[bytes, Reading] = OrderedDict()

    def read(self, lines: list[np.ndarray]) -> list[Reading]:
        """Read dark-on-light line images (as tesseract gets them), each on its own
        (:meth:`_read`). On the CPU on one thread: the passes are small, and threads fighting
        the caller's processes for cores cost more than they gain.

        Readings are cached per line image (:data:`CACHE_SIZE`, like tesseract's): the
        static text a scanner draws on every frame (gain, probe, the annotation of a cine)
        is read once per process and only new lines enter the pass."""
        keys = [
            hashlib.blake2b(
                np.ascontiguousarray(line).tobytes(),
                digest_size=16,
                person=str(line.shape).encode()[:16],
            ).digest()
            for line in lines
        ]
        with self._lock:
            new = [k for k, key in enumerate(keys) if key not in self._cache]
            if new:
                for k, reading in zip(new, self._read([lines[k] for k in new]), strict=True):
                    self._cache[keys[k]] = reading
            out = []
            for key in keys:
                self._cache.move_to_end(key)
                out.append(self._cache[key])
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return out

    def _read(self, lines: list[np.ndarray]) -> list[Reading]:
        """The lines side by side in one strip (on the CPU; a pass per line on CUDA), each
        between :data:`GAP` blank columns: one pass of the network for a frame's lines, and
        a line's reading depends on its own pixels only, bit for bit (the same as read
        alone: :func:`_logits` fixes the convolutions' algorithm, and the log-softmax of
        each output frame is its own: taken on the whole strip, a line's frames hold what
        they held taken on the line's window, tested). Before, a pass per line: the network's
        fixed cost per call (~0.9 ms) was most of a short line's; and earlier, side by side
        without those two, a line's confidence moved with the company it kept (by up to
        0.28: the strip's edges, and the float sums of a wider input), so the fields of the
        same frame could differ between the one pass and the stages, or with the lines a
        process had cached."""
        import torch

        if not lines:
            return []
        threads = torch.get_num_threads()
        out: list[Reading] = []
        images = [input_image(line) for line in lines]
        per_pass = _passes([-(-i.shape[1] // STRIDE) * STRIDE for i in images], self.device.type)
        with torch.inference_mode():
            if self.device.type == "cpu":
                torch.set_num_threads(1)
            try:
                for group in per_pass:
                    out += self._read_side_by_side([images[k] for k in group])
            finally:
                torch.set_num_threads(threads)
        return out

    def _read_side_by_side(self, images: list[np.ndarray]) -> list[Reading]:
        """Readings of :func:`input_image` lines read in one strip (see :meth:`_read`)."""
        import torch

        widths = [-(-i.shape[1] // STRIDE) * STRIDE for i in images]
        strip = np.zeros((1, 1, INPUT_HEIGHT, GAP + sum(w + GAP for w in widths)), np.float32)
        starts = []
        x = GAP
        for image, width in zip(images, widths, strict=True):
            strip[0, 0, :, x : x + image.shape[1]] = image
            starts.append(x)
            x += width + GAP
        logits = _logits(self._convs, self._sequence, torch.from_numpy(strip).to(self.device))
        # the log-softmax of each output frame on its own (the frames a line's window holds
        # read bit for bit as in a strip of the line alone: tested), all lines decoded at once
        log_probs = _log_probs(logits).cpu().numpy()[:, 0, :]
        return decode_lines(
            log_probs, [x // STRIDE for x in starts], [width // STRIDE for width in widths]
        )


#: Widest strip (input columns) of one pass: bounds the pass's memory (its im2col buffers),
#: not its readings.
MAX_PASS_COLUMNS = 4096


def _passes(widths: list[int], device: str) -> list[list[int]]:
    """Indices of the lines of ``widths`` read in each pass: consecutive lines up to
    :data:`MAX_PASS_COLUMNS` columns on the CPU, one line a pass elsewhere (CUDA picks its
    convolution algorithms by size).

    >>> _passes([1000, 2000, 1500, 500], "cpu"), _passes([100, 100], "cuda")
    ([[0, 1], [2, 3]], [[0], [1]])
    """
    groups: list[list[int]] = []
    used = MAX_PASS_COLUMNS
    for k, width in enumerate(widths):
        if device != "cpu" or used + width + GAP > MAX_PASS_COLUMNS:
            groups.append([])
            used = GAP
        groups[-1].append(k)
        used += width + GAP
    return groups


Weights = list[tuple["torch.Tensor", "torch.Tensor"]]


def _inference_weights(model: Any) -> tuple[Weights, Weights]:
    """The weights of a :class:`LineNet` in eval mode for :func:`_logits`: each batch norm
    folded into the convolution before it; the 1-D kernels as 2-D ones of one row."""
    import torch
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    layers = list(model.features)
    convs = [
        fuse_conv_bn_eval(conv, bn)
        for conv, bn in itertools.pairwise(layers)
        if isinstance(conv, torch.nn.Conv2d)
    ]
    sequence = [m for m in model.sequence if isinstance(m, torch.nn.Conv1d)]

    def weights(conv: Any) -> tuple[Any, Any]:
        weight = conv.weight.detach()
        return (
            weight if weight.dim() == 4 else weight.unsqueeze(2)
        ).contiguous(), conv.bias.detach()

    return [weights(c) for c in convs], [weights(c) for c in sequence]


#: Pooling of the 2-D blocks of :class:`LineNet` (the last block has none).
_POOLS = ((2, 2), (2, 2), (2, 1), None)


def _conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """A stride-1 convolution padded to keep the size. On the CPU always by im2col and one
    matrix product (``aten::_slow_conv2d_forward``): ``F.conv2d`` switches to oneDNN for
    inputs over a size (20,480 values), so the values of a line's columns would depend on
    how wide the strip around it is; the matrix product gives each output column the same
    sums whatever the columns beside it (tested: a line reads bit for bit the same alone or
    beside others)."""
    import torch
    import torch.nn.functional as F

    padding = [weight.shape[2] // 2, weight.shape[3] // 2]
    if x.device.type != "cpu":
        return F.conv2d(x, weight, bias, padding=padding)
    return torch.ops.aten._slow_conv2d_forward(x, weight, weight.shape[2:], bias, [1, 1], padding)


def _max_pool(x: torch.Tensor, pool: tuple[int, int], channels_last: bool = False) -> torch.Tensor:
    """``F.max_pool2d(x, pool, pool)`` for pools of 1 or 2 per side (floor sizes), as the
    maxima of strided views: the same values (a maximum is exact), at a fifth of the cost
    on a CPU core, where ``max_pool2d`` is slow on NCHW tensors and the copy to
    channels-last costs more than the pooling. ``channels_last``: the pooled tensor laid
    out channels-last, written so by the last maximum (no copy after it; the same values,
    though the maximum of +0 and -0 may come out with the other sign on this loop, which no
    sum, exponential or comparison after it tells apart: the logits are the same, tested).

    >>> import torch
    >>> x = torch.randn(1, 3, 6, 9)
    >>> torch.equal(_max_pool(x, (2, 2)), torch.nn.functional.max_pool2d(x, (2, 2), (2, 2)))
    True
    >>> torch.equal(_max_pool(x, (2, 1)), torch.nn.functional.max_pool2d(x, (2, 1), (2, 1)))
    True
    """
    import torch

    for dim, size in ((2, pool[0]), (3, pool[1])):
        if size == 2:
            even = x.shape[dim] // 2 * 2
            first = x.narrow(dim, 0, even)[(slice(None),) * dim + (slice(0, None, 2),)]
            second = x.narrow(dim, 0, even)[(slice(None),) * dim + (slice(1, None, 2),)]
            last = dim == 3 or pool[1] == 1
            if channels_last and last:
                out = torch.empty(
                    first.shape, dtype=x.dtype, device=x.device, memory_format=torch.channels_last
                )
                x = torch.maximum(first, second, out=out)
            else:
                x = torch.maximum(first, second)
        elif size != 1:
            raise ValueError(f"pool {pool}: sides of 1 or 2 only")
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def _logits(convs: Weights, sequence: Weights, x: torch.Tensor) -> torch.Tensor:
    """``LineNet.forward`` before its log-softmax, on :func:`_inference_weights`, as (N, C,
    T): the same function (the folded batch norms move a log-probability by about 3e-5),
    at about half the cost on a CPU core: no batch-norm pass, and each block pooled
    (:func:`_max_pool`) before its ReLU (the same values: the two commute) on a quarter
    of the activations."""
    import torch.nn.functional as F

    for (weight, bias), pool in zip(convs, _POOLS, strict=True):
        x = _conv(x, weight, bias)
        if pool is not None:
            # channels-last into the next convolution, as its sums were always made
            x = _max_pool(x, pool, channels_last=True)
        x = F.relu_(x)
    n, c, h, w = x.shape
    x = x.contiguous().reshape(n, c * h, 1, w)
    for k, (weight, bias) in enumerate(sequence):
        x = _conv(x, weight, bias)
        if k < len(sequence) - 1:
            x = F.relu_(x)
    return x[:, :, 0, :]


def _log_probs(logits: torch.Tensor) -> torch.Tensor:
    """(N, C, T) logits -> (T, N, C) log-probabilities."""
    import torch

    return torch.log_softmax(logits.permute(2, 0, 1).float(), dim=2)


def _forward(convs: Weights, sequence: Weights, x: torch.Tensor) -> torch.Tensor:
    """``LineNet.forward`` on :func:`_inference_weights`: (N, 1, H, W) -> (T, N, C)
    log-probabilities (:func:`_logits`)."""
    return _log_probs(_logits(convs, sequence, x))


@lru_cache(maxsize=1)
def line_reader() -> LineReader:
    return LineReader()


# ---------------------------------------------------------------------------------------
# The screen's own vocabulary: words no identifier can be

_WORDS = [
    "LT",
    "RT",
    "L",
    "R",
    "LEFT",
    "RIGHT",
    "BREAST",
    "BR",
    "AXILLA",
    "AX",
    "CM",
    "MM",
    "FN",
    "CMFN",
    "FROM",
    "NIPPLE",
    "O'CLOCK",
    "OCLOCK",
    "RAD",
    "RADIAL",
    "ARAD",
    "ANTIRAD",
    "ANTIRADIAL",
    "ANTI-RAD",
    "A-RAD",
    "TRANS",
    "TRANSVERSE",
    "TRV",
    "SAG",
    "SAGITTAL",
    "LONG",
    "LONGITUDINAL",
    "OBL",
    "OBLIQUE",
    "SUBAREOLAR",
    "RETROAREOLAR",
    "UOQ",
    "UIQ",
    "LOQ",
    "LIQ",
    "GN",
    "DR",
    "FR",
    "MI",
    "TIS",
    "TIB",
    "TIC",
    "MHZ",
    "HZ",
    "KHZ",
    "DB",
    "FPS",
    "DIST",
    "DEPTH",
    "D1",
    "D2",
    "D3",
    "D4",
    "AREA",
    "VOL",
    "RES",
    "2D",
    "PW",
    "CF",
    "M/S",
    "CM/S",
    "ML",
]
_NUMBER = r"\d{1,2}(?:[.:]\d{1,2})?"
_TOKEN = re.compile(
    rf"(?:{'|'.join(re.escape(w) for w in sorted(_WORDS, key=len, reverse=True))})"
    rf"|{_NUMBER}(?:CM|MM|MHZ|HZ|%|CMFN)?"
    r"|[-+]?\d{1,2}[-+]?"  # depth-scale marks: "-6", "6+"
    # probe names: 14L5, 9L4 | L12-5, C5-1, ML6-15, EL18-4 | HFL50X
    r"|\d{1,2}[A-Z]\d{1,2}|[A-Z]{1,3}\d{1,2}-\d{1,2}|[A-Z]{1,3}\d{2}X"
)


_BARE_NUMBER = re.compile(r"[-+]?\d{1,2}(?:[.:]\d{1,2})?[-+]?")


def is_screen_vocabulary(text: str) -> bool:
    """True when every word of ``text`` is one of the screen's own words, a short number
    (with a unit) or a probe name: text that holds no name, ID or date.

    >>> is_screen_vocabulary("Gn 36"), is_screen_vocabulary("RT BREAST 10:00 3CMFN")
    (True, True)
    >>> is_screen_vocabulary("ID 03908483"), is_screen_vocabulary("KOWALSKA^ANNA")
    (False, False)
    >>> is_screen_vocabulary("01/13/1982"), is_screen_vocabulary("ACC0412"), is_screen_vocabulary("")
    (False, False, False)
    """
    words = text.upper().split()
    if not words or not all(_TOKEN.fullmatch(word) for word in words):
        return False
    # numbers alone ("12 35 45": a time whose colons were lost) are not the screen's words;
    # a lone depth mark ("-6") is
    return not all(_BARE_NUMBER.fullmatch(w) for w in words) or (
        len(words) == 1 and len(words[0]) <= 3
    )


# ---------------------------------------------------------------------------------------
# Readings that can hold no identifier: short words and numbers, the screen's own words

#: A word of a reading with no identifier in it: a vocabulary token, a word of one or two
#: letters, a number of one or two digits (a decimal, a clock or time: "0.6", "3:30"), or
#: punctuation alone (what the reader reads in speckle: "&", "@").
_SHORT_WORD = re.compile(r"[A-Z]{1,2}|\d{1,2}(?:[.:]\d{1,2})?|[^A-Z0-9]+")
#: In a reading with its spaces taken out (as the OCR matching compacts a line): three
#: letters or more in a row, three digits or more in a row, a date's two separators
#: ("1.2.3"), or letters and digits in one run of six or more (a name or an ID with a
#: character or two read as its look-alike: "K0WALSKA", "O39O8483").
_LETTERS = re.compile(r"[A-Z]{3,}")
_IDENTIFIER_SHAPE = re.compile(r"\d{3}|\d[./-]\d{1,2}[./-]\d|[A-Z0-9]{6}")


def holds_no_identifier(text: str) -> bool:
    """True when ``text`` (a learned reading) can hold none of the identifiers the OCR
    verification matches (:func:`cadbusi_assets.deid.ocr.find_identifiers_in_ocr_text`:
    names of three letters and more, IDs, dates; phone numbers and e-mail addresses), with
    its spaces or without: every word is a vocabulary token (:func:`is_screen_vocabulary`'s),
    a word of one or two letters, a number of one or two digits (a decimal, a clock or a
    time) or punctuation alone; and with the spaces taken out no three letters in a row
    but a vocabulary word, no three digits in a row, no date ("1.2.3"), no run of six
    letters and digits. A misread measurement or UI line ("M 0.6 TS 0.3", "VL 0.03 ML"), a
    clock alone ("3:30"), what the reader reads in speckle ("&").

    >>> holds_no_identifier("M 0.6 TS 0.3"), holds_no_identifier("3:30"), holds_no_identifier("&")
    (True, True, True)
    >>> holds_no_identifier("AN NA"), holds_no_identifier("ID 039 084"), holds_no_identifier("1.2.82")
    (False, False, False)
    >>> holds_no_identifier("KOWALSKA"), holds_no_identifier("K0 WA L5 KA"), holds_no_identifier("")
    (False, False, False)
    """
    words = text.upper().split()
    if not words or not all(_TOKEN.fullmatch(w) or _SHORT_WORD.fullmatch(w) for w in words):
        return False
    compact = "".join(words)
    if _IDENTIFIER_SHAPE.search(compact):
        return False
    return all(run in _VOCABULARY for run in _LETTERS.findall(compact))


_VOCABULARY = frozenset(_WORDS)

#: A reading of fewer than this many characters (spaces aside) must explain its line's ink
#: (:func:`explains_ink`).
SHORT_READING = 3
#: ... an ink component wider than this many times the line image's height is a graphic
#: (a box, a bar, an underline), not a glyph.
GRAPHIC_WIDTH = 1.5


def explains_ink(text: str, image: np.ndarray) -> bool:
    """False when a short reading (under :data:`SHORT_READING` characters) of a dark-on-light
    line image leaves its ink unexplained: an ink component (8-connected, darker than 128)
    wider than :data:`GRAPHIC_WIDTH` times the image's height, or more components of 4 pixels
    or more than twice the characters read plus two. An identifier glued to a graphic (in a
    box, beside a body-mark box or a probe icon) can read as one or two letters ("E", "BB");
    such a line goes to tesseract. Chosen on tuning material
    (``tools/calibrate_identifier_gate.py``): 15 of the 16 synthetic identifier lines glued to
    graphics that the committed gate spared are caught (the 16th has no text ink left after
    cleaning: nothing to read), and no tuning-screen line the gate spared is lost.

    >>> line = np.full((40, 160), 255, np.uint8)
    >>> _ = cv2.rectangle(line, (4, 4), (155, 35), 0, 1)
    >>> explains_ink("E", line), explains_ink("GN 36", line)
    (False, True)
    """
    if len("".join(text.split())) >= SHORT_READING:
        return True
    ink = (np.asarray(image) < 128).astype(np.uint8)
    _, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    stats = stats[1:]
    if not len(stats):
        return True
    if stats[:, cv2.CC_STAT_WIDTH].max() > GRAPHIC_WIDTH * ink.shape[0]:
        return False
    chars = len("".join(text.split()))
    return int((stats[:, cv2.CC_STAT_AREA] >= 4).sum()) <= 2 * chars + 2
