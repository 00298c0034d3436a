"""Random lesions consistent with a BI-RADS category (lexicon, size, position)."""

from __future__ import annotations

import numpy as np

from cadbusi_demo.model import Finding


def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def random_clock(rng: np.random.Generator) -> str:
    hour = int(rng.integers(1, 13))
    minute = 30 if rng.random() < 0.25 else 0
    return f"{hour}:{minute:02d}"


def random_distance(rng: np.random.Generator) -> float:
    whole = int(rng.integers(1, 9))
    return whole + (0.5 if rng.random() < 0.2 else 0.0)


def _size(
    rng: np.random.Generator, low: float, high: float, taller: bool
) -> tuple[float, float, float]:
    width = round(float(rng.uniform(low, high)), 1)
    ratio = float(rng.uniform(1.05, 1.4)) if taller else float(rng.uniform(0.45, 0.85))
    height = max(0.3, round(width * ratio, 1))
    length = max(0.3, round(width * float(rng.uniform(0.7, 1.1)), 1))
    return (width, height, length)


def make_finding(
    rng: np.random.Generator, side: str, birads: str, kind: str | None = None
) -> Finding:
    """A lesion whose appearance fits ``birads`` (cysts and oval masses for 2/3, irregular
    shadowing masses for 4B-6, lymph nodes when ``kind='node'``)."""
    clock, distance = random_clock(rng), random_distance(rng)
    if kind == "node":
        abnormal = birads not in {"1", "2"}
        return Finding(
            side,
            clock,
            distance,
            _size(rng, 0.8, 1.8, False),
            "node",
            "oval",
            "circumscribed" if not abnormal else "indistinct",
            "parallel",
            "hypoechoic",
            "none",
            birads,
        )
    if kind is None:
        if birads == "2":
            kind = "cyst" if rng.random() < 0.6 else "solid"
        elif birads == "3":
            kind = "cyst" if rng.random() < 0.2 else "solid"
        elif birads == "4A":
            kind = "complex" if rng.random() < 0.4 else "solid"
        else:
            kind = "solid"
    if kind == "cyst":
        simple = birads == "2"
        return Finding(
            side,
            clock,
            distance,
            _size(rng, 0.4, 2.2, False),
            "cyst",
            _pick(rng, ("oval", "round")),
            "circumscribed",
            "parallel",
            "anechoic" if simple else "hypoechoic",
            "enhancement",
            birads,
        )
    if kind == "complex":
        return Finding(
            side,
            clock,
            distance,
            _size(rng, 0.6, 2.0, False),
            "complex",
            _pick(rng, ("oval", "irregular")),
            _pick(rng, ("indistinct", "microlobulated")),
            "parallel",
            "complex cystic and solid",
            _pick(rng, ("enhancement", "none")),
            birads,
        )
    if birads in {"2", "3"}:
        return Finding(
            side,
            clock,
            distance,
            _size(rng, 0.5, 2.5, False),
            "solid",
            "oval",
            "circumscribed",
            "parallel",
            _pick(rng, ("hypoechoic", "isoechoic")),
            _pick(rng, ("none", "enhancement")),
            birads,
        )
    if birads == "4A":
        return Finding(
            side,
            clock,
            distance,
            _size(rng, 0.5, 1.8, False),
            "solid",
            _pick(rng, ("oval", "irregular")),
            _pick(rng, ("indistinct", "microlobulated")),
            "parallel",
            "hypoechoic",
            _pick(rng, ("none", "enhancement")),
            birads,
        )
    taller = rng.random() < 0.7
    return Finding(
        side,
        clock,
        distance,
        _size(rng, 0.6, 2.8, taller),
        "solid",
        "irregular",
        _pick(rng, ("indistinct", "angular", "microlobulated", "spiculated")),
        "not parallel" if taller else "parallel",
        _pick(rng, ("hypoechoic", "heterogeneous")),
        "shadowing" if rng.random() < 0.65 else "none",
        birads,
    )
