"""The committed weights of the learned components (float16 ``torch`` state dicts)."""

from __future__ import annotations

from importlib import resources
from typing import Any


def packaged_state(name: str) -> dict[str, Any]:
    """The state dict stored in this package as ``name``, loaded onto the CPU."""
    import torch

    with resources.files(__name__).joinpath(name).open("rb") as handle:
        state: dict[str, Any] = torch.load(handle, map_location="cpu", weights_only=True)
    return state
