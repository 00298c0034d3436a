"""A small learned caliper finder: a heat map over the field of view and a patch refiner.

The hand rules of :func:`cadbusi_assets.ultrasound.calipers.detect_calipers` miss marks whose
pixels no rule turns into a candidate (JPEG-smeared small marks and arrows, marks on an
elastography colour map, large white crosses on speckle). :class:`CaliperNet` looks at the
whole crop once:

* ``CalNet`` (four 3x3 convolutions, two of stride 2, the last two dilated; 6.1 k
  parameters) gives, per 4x4 cell of the crop, the probability that a caliper point (a
  cross's centre, an arrow's tip) lies in it and the point's offset from the cell's centre;
  :meth:`CaliperNet.find` keeps the cells that are the most probable of their 3x3
  neighbourhood (:func:`cell_points`);
* ``RefineNet`` (49.7 k parameters) looks at a :data:`PATCH` px patch around each such point
  that no rule explains (version 2: and at the :data:`CONTEXT` px around it at half
  resolution, 50.2 k parameters) and says whether a caliper point lies within :data:`REACH`
  px, and where (:meth:`CaliperNet.refine`): the heat map finds, the refiner decides and
  places. A weights file names its refiner's version (:data:`VERSION_KEY`; absent: 1), and
  :class:`CaliperNet` refuses refiner weights that do not fit that version.

``detect_calipers`` adds the refined points it is sure of where no rule found a mark, and
drops the rules' doubtful marks that the refiner is sure are none
(:func:`~cadbusi_assets.ultrasound.calipers._net_marks`). Arrow tips come out within about
1 px of the tip on average (the refiner trained with arrow tips drawn as a quarter of its
positives; before, 3-4 px into the arrow's head), crosses within 2 px.

Both are trained by ``tools/train_caliper_net.py`` on screens of the generator's *tuning*
families (:data:`cadbusi_demo.screens_heldout.TUNING_FAMILIES`) and the demo style, never on
the held-out ones; :data:`WEIGHTS` (float16, 0.22 MB) holds the heat map (``coarse.*``)
and a version 3 refiner: a version 2 one that decides (``refine.*``) and a version 1 one that
places (``refine_place.*``), ``detect_calipers`` taking a point either is sure of
(``calipers.NET_REFINE_PROB``, ``NET_PLACE_PROB``). Deterministic: fixed seeds; inference
on one CPU thread (same crop, same points) unless CUDA is present (then on the GPU, crops of one size in one batch, the
refiner's patches in one batch). A crop is searched on its own 4-px grid: the same frame
cropped at another origin may give other points.

**Precision.** On a CPU with native bfloat16 (AVX512-BF16, AMX: :func:`.models.native_bf16`)
the three networks run in bfloat16 (float32 accumulation in oneDNN's kernels), elsewhere and
on CUDA in float32; ``CADBUSI_TORCH_PRECISION=fp32`` forces float32 (``bf16`` where the CPU
has none is an error: :func:`.models.inference_dtype`). bfloat16 takes the heat map from
about 5.2 to 3.2 CPU ms a tuning frame (the refiners 2.0 to 1.8) and finds the same points:
``benchmarks.caliper_misses tuning`` (seeds 100-439, 40 frames a family) prints the same
lines, mark for mark, in both, and the recorded frames of ``caliper_equivalence.json`` give
the same points and styles (scores within 1e-3). In bfloat16 a crop's heat map and a
point's refined verdict are the same bits alone or in a batch (float32: the heat map only);
the bits may differ between CPU generations (AMX against AVX512-BF16 kernels).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from cadbusi_assets.ultrasound.models import inference_dtype, packaged_state

if TYPE_CHECKING:
    import torch

WEIGHTS = "caliper_net.pt"
#: Output cells are STRIDE x STRIDE pixels of the crop.
STRIDE = 4
#: The refiner's patch side (px) and the reach of its verdict and offsets (px).
PATCH = 32
REACH = 6
#: Refiner version 2 also sees the CONTEXT px around the point at half resolution (the
#: mean of each 2x2 block: CONTEXT // 2 px a side, as many as the PATCH px patch).
CONTEXT = 64
#: The refiner versions this code knows: 1 (the PATCH px patch, RGB), 2 (the patch and
#: its CONTEXT at half resolution, 6 channels) and 3 (a version 2 refiner's verdict, the
#: ``refine.*`` entries, with a version 1 refiner's offsets, the :data:`PLACE_PREFIX`
#: entries: both run on each point). A weights file names its refiner's version in
#: :data:`VERSION_KEY` (absent: 1).
REFINER_VERSIONS = (1, 2, 3)
VERSION_KEY = "refiner_version"
#: Version 3: the prefix of the placing (version 1) refiner's entries.
PLACE_PREFIX = "refine_place."


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-logits)))


@dataclass(frozen=True)
class NetPoint:
    """A found point: crop ``(x, y)`` and the probability of its cell (refined: the
    refiner's; version 3: its version 2 refiner's, ``placer_prob`` its version 1 one's, and
    ``judged_at`` the point where the version 2 refiner's own offset puts it)."""

    x: int
    y: int
    prob: float
    placer_prob: float | None = None
    judged_at: tuple[int, int] | None = None


def _net() -> Any:
    from torch import nn

    class CalNet(nn.Module):
        """RGB crop (N, 3, H, W) in [0, 1], H and W multiples of STRIDE -> (N, 3, H/4, W/4):
        the logit of 'a caliper point lies in this cell' and its offset (x, y) from the
        cell's centre in units of STRIDE."""

        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(3, 8, 3, stride=2, padding=1),
                nn.ReLU(inplace=True),
                nn.Conv2d(8, 16, 3, stride=2, padding=1),
                nn.ReLU(inplace=True),
                nn.Conv2d(16, 16, 3, padding=2, dilation=2),
                nn.ReLU(inplace=True),
                nn.Conv2d(16, 16, 3, padding=2, dilation=2),
                nn.ReLU(inplace=True),
            )
            self.head = nn.Conv2d(16, 3, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.body(x - 0.5))

    return CalNet()


def build_model() -> Any:
    """An untrained ``CalNet`` (the training script's starting point)."""
    return _net()


def _channels(version: int) -> int:
    if version not in REFINER_VERSIONS:
        raise ValueError(
            f"caliper refiner version {version} is unknown (this code knows {REFINER_VERSIONS})"
        )
    return 3 if version == 1 else 6


def _judge_version(version: int) -> int:
    """The version of the refiner whose verdict (and, but for version 3, offsets) counts."""
    _channels(version)
    return 2 if version == 3 else version


def _refiner(version: int = 1) -> Any:
    from torch import nn

    channels = _channels(_judge_version(version))

    class RefineNet(nn.Module):
        """Patches (N, C, PATCH, PATCH) in [0, 1] centred on a heat-map point (C = 3: the RGB
        patch; version 2, C = 6: and its CONTEXT at half resolution, :func:`patches`) -> (N, 3):
        the logit of 'a caliper point lies within REACH px of the centre' and its offset
        (x, y) from the centre in units of REACH."""

        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(channels, 16, 3, padding=1),
                nn.ReLU(inplace=True),
                nn.Conv2d(16, 16, 3, stride=2, padding=1),
                nn.ReLU(inplace=True),
                nn.Conv2d(16, 32, 3, stride=2, padding=1),
                nn.ReLU(inplace=True),
                nn.Conv2d(32, 32, 3, stride=2, padding=1),
                nn.ReLU(inplace=True),
                nn.Flatten(),
                nn.Linear(32 * (PATCH // 8) ** 2, 64),
                nn.ReLU(inplace=True),
                nn.Linear(64, 3),
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.body(x - 0.5)

    return RefineNet()


def build_refiner(version: int = 1) -> Any:
    """An untrained ``RefineNet`` of ``version`` (:data:`REFINER_VERSIONS`)."""
    return _refiner(version)


def patches(crop: np.ndarray, centres: list[tuple[int, int]], version: int = 1) -> np.ndarray:
    """(N, C, PATCH, PATCH) float32 inputs of :func:`_refiner` of ``version``: the crop's
    pixels around each centre (the centre at row and column PATCH // 2), zeros beyond the
    crop; version 2 adds (channels 3-5) the CONTEXT px around the centre (the centre at row
    and column CONTEXT // 2) at half resolution, the mean of each 2x2 block."""
    return np.ascontiguousarray(np.moveaxis(_patches_last(crop, centres, version), 3, 1))


def _patches_last(crop: np.ndarray, centres: list[tuple[int, int]], version: int) -> np.ndarray:
    """:func:`patches` channels last, ``(N, PATCH, PATCH, C)``: the same float32 values. A
    block's mean is OpenCV's area resize of the float patches (the four whole numbers' sum
    times 0.25, exact) divided by 255, the same bits as the sum divided by 4 * 255 (a
    quotient keeps its rounding when both terms are scaled by 4)."""
    side = PATCH if _channels(_judge_version(version)) == 3 else CONTEXT
    rgb = cv2.cvtColor(crop, cv2.COLOR_GRAY2RGB) if crop.ndim == 2 else crop
    height, width = rgb.shape[:2]
    count = len(centres)
    out = np.zeros((count, side, side, 3), np.uint8)
    half = side // 2
    for k, (x, y) in enumerate(centres):
        x0, y0 = x - half, y - half
        sx0, sy0 = max(0, x0), max(0, y0)
        sx1, sy1 = min(width, x0 + side), min(height, y0 + side)
        if sx0 < sx1 and sy0 < sy1:
            out[k, sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = rgb[sy0:sy1, sx0:sx1]
    if side == PATCH:
        return out.astype(np.float32) / 255.0
    if count == 0:
        return np.zeros((0, PATCH, PATCH, 6), np.float32)
    lo = half - PATCH // 2
    centre = out[:, lo : lo + PATCH, lo : lo + PATCH].astype(np.float32) / 255.0
    # the patches one above the other: each 2x2 block within one patch (its side is even)
    stacked = out.reshape(count * side, side, 3).astype(np.float32)
    means = cv2.resize(stacked, (side // 2, count * side // 2), interpolation=cv2.INTER_AREA)
    context = np.divide(means, 255.0, out=means)
    both = cv2.merge([centre.reshape(count * PATCH, PATCH, 3), context])
    return both.reshape(count, PATCH, PATCH, 6)


def _patch_batch(crop: np.ndarray, centres: list[tuple[int, int]], version: int) -> torch.Tensor:
    """:func:`patches` as a ``torch`` tensor, strided channels last (a view of
    :func:`_patches_last`, no copy into NCHW order and back)."""
    import torch

    return torch.from_numpy(_patches_last(crop, centres, version)).permute(0, 3, 1, 2)


def refiner_version(state: dict[str, Any]) -> int:
    """The refiner version a weights file (state dict) names (absent: 1)."""
    value = state.get(VERSION_KEY)
    return 1 if value is None else int(value)


def input_array(crop: np.ndarray) -> np.ndarray:
    """An RGB or grey uint8 crop as the network's (3, H', W') float32 input in [0, 1], padded
    with zeros on the bottom and right to multiples of :data:`STRIDE`."""
    rgb = cv2.cvtColor(crop, cv2.COLOR_GRAY2RGB) if crop.ndim == 2 else crop
    height, width = rgb.shape[:2]
    out = np.zeros((3, -(-height // STRIDE) * STRIDE, -(-width // STRIDE) * STRIDE), np.float32)
    out[:, :height, :width] = np.moveaxis(rgb, 2, 0).astype(np.float32) / 255.0
    return out


def _padded_rgb(crop: np.ndarray) -> np.ndarray:
    """The crop as contiguous RGB uint8, zero-padded on the bottom and right to multiples of
    :data:`STRIDE` (the pixels of :func:`input_array`, channels last)."""
    rgb = cv2.cvtColor(crop, cv2.COLOR_GRAY2RGB) if crop.ndim == 2 else crop
    height, width = rgb.shape[:2]
    down, right = -height % STRIDE, -width % STRIDE
    if down or right:
        return cv2.copyMakeBorder(rgb, 0, down, 0, right, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    return np.ascontiguousarray(rgb)


@lru_cache(maxsize=1)
def _input_table() -> np.ndarray:
    """The heat map's input value of each uint8 level (float32 ``v / 255 - 0.5``, computed
    as the device computes it: the same bits), for ``cv2.LUT`` (read only).

    >>> import torch
    >>> levels = torch.arange(256, dtype=torch.uint8)
    >>> torch.equal(torch.from_numpy(_input_table()), levels.float().div_(255.0).sub_(0.5))
    True
    """
    import torch

    table = torch.arange(256, dtype=torch.uint8).float().div_(255.0).sub_(0.5).numpy()
    table.flags.writeable = False
    return table


@lru_cache(maxsize=1)
def _input_table_bf16() -> np.ndarray:
    """:func:`_input_table` rounded to bfloat16, as the bits of each value (int16, for
    ``cv2.LUT``; read as ``torch.bfloat16`` without a copy): the heat map's bfloat16 input,
    the same values as :func:`_input_table`'s converted by torch.

    >>> import torch
    >>> table = torch.from_numpy(_input_table_bf16()).view(torch.bfloat16)
    >>> torch.equal(table, torch.from_numpy(_input_table()).to(torch.bfloat16))
    True
    """
    import torch

    bits = torch.from_numpy(_input_table().copy()).to(torch.bfloat16).view(torch.int16).numpy()
    bits.flags.writeable = False
    return bits


def cell_points(out: np.ndarray, min_prob: float) -> list[NetPoint]:
    """Points from one crop's network output (3, h, w) (logits, offsets): cells at least
    ``min_prob`` and the most probable of their 3x3 neighbourhood (ties: the first in
    row-major order), each at its cell's centre plus the offset."""
    prob = _sigmoid(out[0].astype(np.float64))
    peak = cv2.dilate(prob.astype(np.float32), np.ones((3, 3), np.uint8))
    ys, xs = np.nonzero((prob >= min_prob) & (prob.astype(np.float32) >= peak))
    points: list[NetPoint] = []
    taken: set[tuple[int, int]] = set()
    for cy, cx in zip(ys.tolist(), xs.tolist(), strict=True):
        if any((cy + dy, cx + dx) in taken for dy in (-1, 0, 1) for dx in (-1, 0, 1)):
            continue  # a plateau: one point per neighbourhood
        taken.add((cy, cx))
        x = (cx + 0.5 + float(out[1, cy, cx])) * STRIDE - 0.5
        y = (cy + 0.5 + float(out[2, cy, cx])) * STRIDE - 0.5
        points.append(NetPoint(round(x), round(y), round(float(prob[cy, cx]), 4)))
    return points


#: The other seven orientations of a crop (:meth:`CaliperNet.find_views`): mirrored left to
#: right (``lr``), top to bottom (``ud``), both (``lrud``); transposed, rows for columns
#: (``t``), and then mirrored those three ways (``tlr``, ``tud``, ``tlrud``).
VIEWS = ("lr", "ud", "lrud", "t", "tlr", "tud", "tlrud")


def view_of(crop: np.ndarray, view: str) -> np.ndarray:
    """``crop`` seen as ``view`` (:data:`VIEWS`), contiguous."""
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r} (known: {VIEWS})")
    out = crop.swapaxes(0, 1) if view.startswith("t") else crop
    flips = view.removeprefix("t")
    if "lr" in flips:
        out = out[:, ::-1]
    if "ud" in flips:
        out = out[::-1]
    return np.ascontiguousarray(out)


def view_point(view: str, x: int, y: int, height: int, width: int) -> tuple[int, int]:
    """The point ``(x, y)`` of :func:`view_of` a ``height`` x ``width`` crop as ``view``, in
    the crop's own coordinates."""
    turned = view.startswith("t")
    flips = view.removeprefix("t")
    view_w, view_h = (height, width) if turned else (width, height)
    if "lr" in flips:
        x = view_w - 1 - x
    if "ud" in flips:
        y = view_h - 1 - y
    return (y, x) if turned else (x, y)


def _fusable() -> bool:
    """Whether this torch has oneDNN's convolution and linear primitives with a pointwise
    post-op (``torch.ops.mkldnn._convolution_pointwise``, ``_linear_pointwise``: what
    ``torch.compile`` fuses a convolution and its ReLU into on the CPU)."""
    import torch

    try:
        return bool(torch.backends.mkldnn.is_available()) and all(
            hasattr(torch.ops.mkldnn, name)
            for name in ("_convolution_pointwise", "_linear_pointwise")
        )
    except (AttributeError, RuntimeError):
        return False


def fused_forward(layers: Sequence[Any], x: torch.Tensor) -> torch.Tensor:
    """``layers`` (a ``Sequential``'s modules, in order) applied to ``x`` on the CPU, each
    ``Conv2d`` or ``Linear`` followed by a ``ReLU`` run as one oneDNN primitive with the ReLU
    as its post-op: the ReLU on the float32 accumulator before the rounding to the output's
    type, not on the rounded output in a second pass over it. The same values bit for bit
    (rounding to bfloat16 or float32 keeps a value's sign and order, so the largest of it
    and 0 rounds to the largest of its rounding and 0; a zero's sign aside, which no later
    layer's sum or ReLU sees) at about 0.85 of the time of the heat map (its ReLUs are a
    pass over as many values as the convolutions write). Other layers run as they are.
    Bit for bit the eager modules' output in bfloat16 on 157 frames (the heat map, both
    refiners, mirrored patches); in float32 the refiners' eager kernels differ, so
    :class:`CaliperNet` fuses in bfloat16 only."""
    import torch
    from torch import nn

    mkldnn = torch.ops.mkldnn
    k, count = 0, len(layers)
    while k < count:
        layer = layers[k]
        relu = k + 1 < count and isinstance(layers[k + 1], nn.ReLU)
        attr = "relu" if relu else "none"
        if (
            isinstance(layer, nn.Conv2d)
            and isinstance(layer.padding, tuple)
            and layer.padding_mode == "zeros"
        ):
            x = mkldnn._convolution_pointwise(
                x,
                layer.weight,
                layer.bias,
                list(layer.padding),
                list(layer.stride),
                list(layer.dilation),
                layer.groups,
                attr,
                [],
                "",
            )
        elif isinstance(layer, nn.Linear):
            x = mkldnn._linear_pointwise(x, layer.weight, layer.bias, attr, [], "")
        else:
            x = layer(x)
            relu = False
        k += 2 if relu else 1
    return x


class CaliperNet:
    """The trained network; one per process (:func:`caliper_net`)."""

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        import torch

        self.model = _net()
        if state is None:
            state = packaged_state(WEIGHTS)
        self.model.load_state_dict(
            {k[len("coarse.") :]: v.float() for k, v in state.items() if k.startswith("coarse.")}
        )
        self.model.eval()
        self.refiner_version = refiner_version(state)
        self.refiner = _refiner(self.refiner_version)
        try:
            self.refiner.load_state_dict(
                {
                    k[len("refine.") :]: v.float()
                    for k, v in state.items()
                    if k.startswith("refine.")
                }
            )
        except RuntimeError as error:
            raise ValueError(
                f"caliper net weights: the refine.* entries do not fit a version "
                f"{self.refiner_version} refiner (the file's {VERSION_KEY!r}; absent: 1)"
            ) from error
        self.refiner.eval()
        #: Version 3: the version 1 refiner that places the points (None: the refiner does).
        self.placer: Any = None
        place = {
            k[len(PLACE_PREFIX) :]: v.float()
            for k, v in state.items()
            if k.startswith(PLACE_PREFIX)
        }
        if self.refiner_version == 3:
            self.placer = _refiner(1)
            try:
                self.placer.load_state_dict(place)
            except RuntimeError as error:
                raise ValueError(
                    f"caliper net weights: the {PLACE_PREFIX}* entries do not fit the version 1 "
                    f"refiner that places a version 3 refiner's points"
                ) from error
            self.placer.eval()
        elif place:
            raise ValueError(
                f"caliper net weights: {PLACE_PREFIX}* entries belong to a version 3 refiner, "
                f"not version {self.refiner_version} (the file's {VERSION_KEY!r}; absent: 1)"
            )
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        #: float32, or bfloat16 on a CPU with native bfloat16 (:func:`.models.inference_dtype`)
        self.dtype = inference_dtype(self.device)
        # channels-last activations: about half the CPU time of NCHW for these few channels
        for module in (self.model, self.refiner, self.placer):
            if module is not None:
                module.to(self.device, self.dtype, memory_format=torch.channels_last)
        #: On the CPU in bfloat16: each convolution (and linear layer) with its ReLU in one
        #: primitive (:func:`fused_forward`, the same bits), where this torch has them. Not
        #: in float32: there the eager refiners take other kernels (their last bits differ).
        self.fused = self.device.type == "cpu" and self.dtype == torch.bfloat16 and _fusable()
        self._lock = threading.Lock()

    def _heat(self, batch: torch.Tensor) -> torch.Tensor:
        """The heat map's body and head on a converted batch (``x - 0.5`` done)."""
        model = self.model
        if self.fused:
            return fused_forward([*model.body, model.head], batch)
        return model.head(model.body(batch))

    def _refined(self, module: Any, batch: torch.Tensor) -> torch.Tensor:
        """A refiner (``RefineNet``) on ``batch``: its forward, fused on the CPU."""
        if self.fused:
            return fused_forward(list(module.body), batch - 0.5)
        return module(batch)

    @contextmanager
    def _inference(self) -> Iterator[None]:
        """One caller at a time, no autograd, and on the CPU one thread (the caller's
        processes use the other cores); the thread count restored after."""
        import torch

        with self._lock, torch.inference_mode():
            threads = torch.get_num_threads()
            if self.device.type == "cpu":
                torch.set_num_threads(1)
            try:
                yield
            finally:
                torch.set_num_threads(threads)

    def outputs(self, crops: list[np.ndarray]) -> list[np.ndarray]:
        """The network's (3, h, w) output for each crop, in one batch per crop size (on the
        CPU one thread: the caller's processes use the other cores)."""
        import torch

        # The padded uint8 crops (H', W', 3): as (1, 3, H', W') views they are channels-last
        # already; converted on the device (input_array's values, without its NCHW copy).
        arrays = [_padded_rgb(c) for c in crops]
        out: list[np.ndarray | None] = [None] * len(arrays)
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for k, a in enumerate(arrays):
            by_shape.setdefault(a.shape, []).append(k)
        with self._inference():
            for ks in by_shape.values():
                first = arrays[ks[0]]
                pixels = (
                    first[None]  # one crop: no copy (a view, read only)
                    if len(ks) == 1 and first.flags.writeable
                    else np.stack([arrays[k] for k in ks])  # writable: a new array
                )
                # CalNet.forward's ``x - 0.5`` done on the converted batch: body and head
                # called directly. On the CPU one table lookup per value (input_array's
                # values less 0.5, bit for bit: :func:`_input_table`) in place of a
                # conversion, a division and a subtraction; elsewhere converted on the
                # device (a quarter of the bytes to move).
                if self.device.type == "cpu":
                    flat = pixels.reshape(-1, *pixels.shape[2:])
                    bf16 = self.dtype == torch.bfloat16
                    table = _input_table_bf16() if bf16 else _input_table()
                    values = torch.from_numpy(cv2.LUT(flat, table).reshape(pixels.shape))
                    batch = (values.view(torch.bfloat16) if bf16 else values).permute(0, 3, 1, 2)
                else:
                    batch = (
                        torch.from_numpy(pixels)
                        .to(self.device)
                        .permute(0, 3, 1, 2)
                        .float()
                        .div_(255.0)
                        .sub_(0.5)
                        .to(self.dtype)
                        .contiguous(memory_format=torch.channels_last)
                    )
                result = self._heat(batch).float().cpu().numpy()
                for k, r in zip(ks, result, strict=True):
                    out[k] = r
        return [o for o in out if o is not None]

    def find(self, crops: list[np.ndarray], min_prob: float) -> list[list[NetPoint]]:
        """Caliper points (crop coordinates) the heat map finds in each crop."""
        return [cell_points(o, min_prob) for o in self.outputs(crops)]

    def find_views(
        self, crop: np.ndarray, min_prob: float, views: Sequence[str]
    ) -> list[list[NetPoint]]:
        """The heat map's points on ``crop`` seen another way (each of ``views``, names of
        :data:`VIEWS`: mirrored, transposed), in ``crop``'s own coordinates, one list per
        view (views of one shape in one batch)."""
        height, width = crop.shape[:2]
        found = self.outputs([view_of(crop, v) for v in views])
        out: list[list[NetPoint]] = []
        for v, o in zip(views, found, strict=True):
            points = []
            for p in cell_points(o, min_prob):
                x, y = view_point(v, p.x, p.y, height, width)
                if 0 <= x < width and 0 <= y < height:
                    points.append(NetPoint(x, y, p.prob))
            out.append(points)
        return out

    def refine(
        self,
        crop: np.ndarray,
        points: list[tuple[int, int]],
        place: Sequence[bool] | None = None,
        place_above: float = 0.0,
    ) -> list[NetPoint]:
        """The refiner's verdict on each point of ``crop``: the point moved by its offset,
        with the probability that a caliper point lies within :data:`REACH` px (version 3:
        the probability of the version 2 refiner, the offset of the version 1 one).
        Version 3, ``place`` given (one bool per point): the version 1 refiner looks only at
        the points marked True and those its version 2 refiner gives at least
        ``place_above``; the others keep the version 2 refiner's offset and no
        ``placer_prob`` (a caller that needs no second opinion on them saves its time)."""
        import torch

        if not points:
            return []
        with self._inference():
            batch = (
                _patch_batch(crop, points, self.refiner_version)
                .to(self.device, self.dtype)
                .contiguous(memory_format=torch.channels_last)
            )
            out = self._refined(self.refiner, batch).float().cpu().numpy().astype(np.float64)
            judged_at: list[tuple[int, int] | None] = [None] * len(points)
            placer_prob: list[float | None] = [None] * len(points)
            if self.placer is not None:
                judged_at = [
                    (round(x + float(o[1]) * REACH), round(y + float(o[2]) * REACH))
                    for (x, y), o in zip(points, out, strict=True)
                ]
                placed = np.ones(len(points), bool)
                if place is not None:
                    judged = _sigmoid(out[:, 0])
                    placed = np.asarray(place, bool) | (judged >= place_above)
                chosen = np.flatnonzero(placed)
                if chosen.size:
                    rgb = (
                        _patch_batch(crop, [points[k] for k in chosen], 1)
                        .to(self.device, self.dtype)
                        .contiguous(memory_format=torch.channels_last)
                    )
                    opinion = (
                        self._refined(self.placer, rgb).float().cpu().numpy().astype(np.float64)
                    )
                    out[chosen, 1:] = opinion[:, 1:]
                    for k, q in zip(chosen, _sigmoid(opinion[:, 0]), strict=True):
                        placer_prob[k] = round(float(q), 4)
        prob = _sigmoid(out[:, 0])
        return [
            NetPoint(
                round(x + float(o[1]) * REACH),
                round(y + float(o[2]) * REACH),
                round(float(p), 4),
                q,
                j,
            )
            for (x, y), o, p, q, j in zip(points, out, prob, placer_prob, judged_at, strict=True)
        ]

    def mirrored(
        self, crop: np.ndarray, points: list[tuple[int, int]], turned: bool = False
    ) -> np.ndarray:
        """(N, 3): the deciding refiner's probability (version 3: its version 2 refiner's)
        on each point's inputs mirrored left to right, top to bottom and both (a drawn mark
        is about symmetric; speckle and UI that fool the refiner at one orientation rarely
        do at all four). ``turned``: (N, 7), and the inputs transposed (rows for columns)
        and mirrored those three ways (the other four of a square's eight orientations)."""
        import torch

        views = 7 if turned else 3
        if not points:
            return np.zeros((0, views))
        with self._inference():
            batch = _patch_batch(crop, points, self.refiner_version).to(self.device, self.dtype)
            flips = [batch.flip(3), batch.flip(2), batch.flip(2, 3)]
            if turned:
                swapped = batch.transpose(2, 3)
                flips += [swapped, swapped.flip(3), swapped.flip(2), swapped.flip(2, 3)]
            logits = self._refined(
                self.refiner, torch.cat(flips).contiguous(memory_format=torch.channels_last)
            )
            out = logits[:, 0].float().cpu().numpy().astype(np.float64)
        return np.asarray(_sigmoid(out).reshape(views, len(points)).T)


@lru_cache(maxsize=1)
def caliper_net() -> CaliperNet:
    return CaliperNet()
