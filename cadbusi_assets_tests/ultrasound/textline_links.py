"""The links of the text detector's glyph chains, two ways: from :func:`textlines._chains`
(the vectorized code) and pair by pair as the chaining was first written. Shared by
``test_textlines_parts.py`` and ``test_text_fast_paths.py``."""

from __future__ import annotations

import numpy as np

from cadbusi_assets.ultrasound import textlines


def chain_links(boxes: np.ndarray) -> list[tuple[int, int]]:
    """The links of :func:`textlines._chains`' chains, sorted, once it is checked that every
    box is in one chain exactly."""
    members, starts = textlines._chains(boxes)
    assert sorted(members.tolist()) == list(range(len(boxes)))
    ends = [*starts.tolist()[1:], members.size]
    return sorted(
        (int(members[k]), int(members[k + 1]))
        for start, end in zip(starts.tolist(), ends, strict=True)
        for k in range(start, end - 1)
    )


def links_pair_by_pair(boxes: list) -> list:
    """The chains' links as first written: every pair asked :func:`textlines.joins`, each
    box linked to its nearest joining box on the right (then the most overlapping, then the
    first) when that box's nearest on the left is this one."""

    def rank(a: int, b: int) -> tuple:
        first, second = boxes[a], boxes[b]
        overlap = min(first[3], second[3]) - max(first[1], second[1]) + 1
        return (second[0] - first[2], -overlap)

    n = len(boxes)
    pairs = [
        (a, b) for a in range(n) for b in range(n) if a != b and textlines.joins(boxes[a], boxes[b])
    ]
    right = {
        a: min((p for p in pairs if p[0] == a), key=lambda p: (*rank(*p), p[1])) for a, _ in pairs
    }
    left = {
        b: min((p for p in pairs if p[1] == b), key=lambda p: (*rank(*p), p[0])) for _, b in pairs
    }
    return sorted(p for p in right.values() if left[p[1]] == p)
