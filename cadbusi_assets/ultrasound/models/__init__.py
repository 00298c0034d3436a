"""The committed weights of the learned components (float16 ``torch`` state dicts)."""

from __future__ import annotations

from importlib import resources
from typing import Any

from cadbusi_assets.settings import TORCH_PRECISION_VAR


def packaged_state(name: str) -> dict[str, Any]:
    """The state dict stored in this package as ``name``, loaded onto the CPU."""
    import torch

    with resources.files(__name__).joinpath(name).open("rb") as handle:
        state: dict[str, Any] = torch.load(handle, map_location="cpu", weights_only=True)
    return state


#: Environment variable that sets the precision of the caliper networks' CPU inference
#: (:mod:`..caliper_net`; the line reader stays float32, :mod:`..glyphs`): ``auto`` (default:
#: bfloat16 where the CPU has native bfloat16 instructions, else float32), ``fp32`` or
#: ``bf16`` (an error where the CPU has no native bfloat16).
PRECISION_ENV_VAR = TORCH_PRECISION_VAR
PRECISIONS = ("auto", "fp32", "bf16")


def native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16, which the CPUs with AMX
    have too). ``torch.ops.mkldnn._is_mkldnn_bf16_supported`` is no such test: it is true on
    any AVX-512 CPU, where oneDNN emulates bfloat16."""
    import torch

    check = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    return bool(check()) if check is not None else False


def inference_dtype(device: Any, choice: str | None = None) -> Any:
    """The dtype a learned component runs in on ``device`` (a ``torch.device``): ``choice``,
    else :data:`PRECISION_ENV_VAR`, else ``auto``. ``auto``: bfloat16 on a CPU with native
    bfloat16 (:func:`native_bf16`), float32 elsewhere (CUDA included: the GPU path is
    unchanged). ``bf16`` where the CPU has no native bfloat16, or on another device, is an
    error, not a silent float32 run."""
    import os

    import torch

    picked = (choice or os.environ.get(PRECISION_ENV_VAR, "") or "auto").strip().lower()
    if picked not in PRECISIONS:
        raise ValueError(f"{PRECISION_ENV_VAR}={picked!r}: use one of {', '.join(PRECISIONS)}")
    on_cpu = torch.device(device).type == "cpu"
    if picked == "bf16" and not (on_cpu and native_bf16()):
        where = "this CPU has no native bfloat16" if on_cpu else f"the device is {device}"
        raise ValueError(
            f"{PRECISION_ENV_VAR}=bf16 asked for, but {where} "
            f"(unset {PRECISION_ENV_VAR} or set it to 'auto' or 'fp32')"
        )
    if picked == "fp32" or not on_cpu:
        return torch.float32
    return torch.bfloat16 if picked == "bf16" or native_bf16() else torch.float32
