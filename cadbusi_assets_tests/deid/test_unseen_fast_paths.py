"""Faster paths of the search for text the upright reading cannot see
(:func:`cadbusi_assets.deid.ocr.unseen_text`): each must give, bit for bit, what the
straightforward code it replaced gives."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import cadbusi_assets  # noqa: F401  (before cadbusi_demo)
from cadbusi_assets.deid.ocr import (
    _BOLD_KERNEL,
    TINY_GAP,
    _components,
    _quarter_turn,
    light_panels,
    tiny_lines,
)
from cadbusi_assets.ultrasound.textlines import Box, brightness, text_ink
from cadbusi_demo.screens_heldout import TUNING_FAMILIES, render_screen


def _masks() -> list[np.ndarray]:
    """Binary masks like those the search labels: a tuning frame's tiny-text ink joined,
    its light areas closed, and random masks of every density (odd and even sizes)."""
    masks = []
    for k, family in enumerate(TUNING_FAMILIES):
        level = brightness(render_screen(family, 100 + k).frame)
        ink = text_ink(level)
        masks.append(cv2.morphologyEx(ink, cv2.MORPH_CLOSE, np.ones((1, TINY_GAP + 1), np.uint8)))
        light = cv2.threshold(cv2.medianBlur(level, 5), 127, 1, cv2.THRESH_BINARY)[1]
        masks.append(cv2.morphologyEx(light, cv2.MORPH_CLOSE, _BOLD_KERNEL))
    rng = np.random.default_rng(3)
    for shape in [(1, 1), (1, 7), (5, 1), (7, 9), (33, 64), (101, 257)]:
        for density in (0.0, 0.05, 0.3, 0.5, 0.7, 1.0):
            masks.append((rng.random(shape) < density).astype(np.uint8))
    return masks


def test_components_are_opencvs_default_labelling() -> None:
    for mask in _masks():
        expected = cv2.connectedComponentsWithStats(mask, connectivity=8)
        got = _components(mask)
        assert got[0] == expected[0]
        for a, b in zip(got[1:], expected[1:], strict=True):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)


def test_blob_stats_are_opencvs_whole_image_labelling() -> None:
    from cadbusi_assets.deid.ocr import _blob_stats

    for mask in _masks():
        got = _blob_stats(mask)
        expected = _opencv_blob_stats(mask)
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)
        # off the frame's even rows and columns (the labelled box starts on an odd one)
        for crop in (mask[1:, 1:], mask[3:, :-1]):
            if crop.size == 0:
                continue
            np.testing.assert_array_equal(_blob_stats(crop), _opencv_blob_stats(crop))


def test_components_of_a_crop_are_opencvs() -> None:
    mask = _masks()[0]
    crop = mask[3:200, 5:333]  # not contiguous
    expected = cv2.connectedComponentsWithStats(crop, connectivity=8)
    got = _components(crop)
    assert got[0] == expected[0]
    for a, b in zip(got[1:], expected[1:], strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("shape", [(1, 1), (1, 2), (3, 8), (8, 3), (31, 64), (768, 1024)])
def test_quarter_turn_is_rot90(shape: tuple[int, int]) -> None:
    image = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    for source in (image, image[1:, :-1], cv2.bitwise_not(image)):
        turned = _quarter_turn(source)
        expected = np.ascontiguousarray(np.rot90(source, 1))
        assert turned.flags.c_contiguous
        assert turned.shape == expected.shape and turned.dtype == expected.dtype
        np.testing.assert_array_equal(turned, expected)


def _opencv_blob_stats(binary: np.ndarray) -> np.ndarray:
    return cv2.connectedComponentsWithStats(binary, connectivity=8)[2][1:]


def _reference_tiny_lines(level: np.ndarray, seen: np.ndarray) -> list[Box]:
    """tiny_lines's candidates as first written (OpenCV's default labelling of the whole
    image)."""
    from cadbusi_assets.deid import ocr

    original = ocr._components, ocr._blob_stats
    ocr._components = lambda binary: cv2.connectedComponentsWithStats(binary, connectivity=8)
    ocr._blob_stats = _opencv_blob_stats
    try:
        return ocr.tiny_lines(level, seen)
    finally:
        ocr._components, ocr._blob_stats = original


def _reference_light_panels(level: np.ndarray) -> list[Box]:
    from cadbusi_assets.deid import ocr

    original = ocr._blob_stats
    ocr._blob_stats = _opencv_blob_stats
    try:
        return ocr.light_panels(level)
    finally:
        ocr._blob_stats = original


@pytest.mark.parametrize("family", TUNING_FAMILIES)
def test_tiny_lines_and_light_panels_unchanged(family: str) -> None:
    for seed in (110, 211):
        level = brightness(render_screen(family, seed).frame)
        seen = np.zeros(level.shape, bool)
        seen[: level.shape[0] // 3] = True
        for mask in (np.zeros_like(seen), seen):
            assert tiny_lines(level, mask) == _reference_tiny_lines(level, mask)
        assert light_panels(level) == _reference_light_panels(level)


def _reference_holds_ink(dark: np.ndarray, level: np.ndarray, panel: Box) -> bool:
    """_holds_ink as first written: the median and the flat pixels counted by numpy."""
    from cadbusi_assets.deid.ocr import (
        PANEL_FLAT_LEVELS,
        PANEL_FLAT_SHARE,
        PANEL_INK_LEVEL,
        PANEL_MARGIN,
        PANEL_MIN_INK,
    )

    x0, y0, x1, y1 = panel
    m = PANEL_MARGIN
    core = dark[y0 + m : y1 + 1 - m, x0 + m : x1 + 1 - m]
    if core.size == 0 or int(np.count_nonzero(core <= PANEL_INK_LEVEL)) < PANEL_MIN_INK:
        return False
    light = level[y0 + m : y1 + 1 - m, x0 + m : x1 + 1 - m][core > PANEL_INK_LEVEL]
    if light.size == 0:
        return False
    flat = np.abs(light.astype(np.int16) - int(np.median(light))) <= PANEL_FLAT_LEVELS
    return int(np.count_nonzero(flat)) >= PANEL_FLAT_SHARE * light.size


def test_holds_ink_is_the_numpy_median_count() -> None:
    from cadbusi_assets.deid.ocr import _holds_ink

    rng = np.random.default_rng(5)
    outcomes = set()
    for trial in range(3000):
        rows, cols = rng.integers(1, 40, 2)
        # labels of every kind: flat around a median, two levels, spread, pale, near 0/255
        base = int(rng.integers(0, 256))
        spread = int(rng.choice([0, 3, 8, 9, 12, 40, 255]))
        level = np.clip(base + rng.integers(-spread, spread + 1, (rows, cols)), 0, 255)
        level = level.astype(np.uint8)
        if trial % 3 == 0:  # two flat levels, half and half (an even count's median)
            level[: rows // 2] = np.uint8(min(255, base + int(rng.integers(0, 30))))
        dark = level.copy()
        ink = rng.random((rows, cols)) < rng.choice([0.0, 0.05, 0.3, 0.9, 1.0])
        dark[ink] = rng.integers(0, 81, int(ink.sum()))
        panel = (
            int(rng.integers(0, 3)),
            int(rng.integers(0, 3)),
            int(cols - 1 - rng.integers(0, 3)),
            int(rows - 1 - rng.integers(0, 3)),
        )
        expected = _reference_holds_ink(dark, level, panel)
        assert _holds_ink(dark, level, panel) == expected, (trial, panel)
        outcomes.add(expected)
    assert outcomes == {True, False}


def test_darkness_is_the_channels_minimum() -> None:
    from cadbusi_assets.deid.ocr import _darkness

    rng = np.random.default_rng(2)
    for shape in [(1, 1, 3), (1, 5, 3), (7, 1, 3), (33, 65, 3), (768, 1024, 3), (9, 9, 4)]:
        frame = rng.integers(0, 256, shape, dtype=np.uint8)
        crops = [frame[1:, 1:]] if min(shape[:2]) > 1 else []  # (not contiguous)
        for image in (frame, *crops):
            got = _darkness(image, image[..., :3].max(axis=2))
            expected = image[..., :3].min(axis=2)
            assert got.dtype == np.uint8
            np.testing.assert_array_equal(got, expected)


def test_a_panels_darkness_taken_on_the_panel_is_the_frames() -> None:
    """unseen_text takes the darkest channel and the ink test on each panel's crop: the same
    verdicts and the same inverted crops as on the whole frame's darkest channel."""
    from cadbusi_assets.deid.ocr import _crop, _darkness, _holds_ink
    from cadbusi_assets_tests.adversarial_leaks import LEAKS, LEAKS_2

    frames = [render_screen(family, 120 + k).frame for k, family in enumerate(TUNING_FAMILIES)]
    frames += [make() for make in LEAKS.values()]
    frames += [make() for make in LEAKS_2.values()]
    verdicts = set()
    for frame in frames:
        level = brightness(frame)
        whole = _darkness(frame, level)
        for box in light_panels(level):
            dark = _darkness(_crop(frame, box), _crop(level, box))
            np.testing.assert_array_equal(dark, _crop(whole, box))
            inside = (0, 0, box[2] - box[0], box[3] - box[1])
            verdict = _holds_ink(dark, _crop(level, box), inside)
            assert verdict == _holds_ink(whole, level, box)
            verdicts.add(verdict)
    assert verdicts == {True, False}


def _drawn_frames() -> list[np.ndarray]:
    """Brightness images with text drawn upright and turned (odd and even sizes, random
    speckle under it), and a tuning frame."""
    rng = np.random.default_rng(11)
    frames = [brightness(render_screen(TUNING_FAMILIES[0], 101).frame)]
    for rows, cols in [(97, 213), (160, 120), (241, 333), (64, 64), (13, 300)]:
        level = (rng.random((rows, cols)) ** 3 * 255).astype(np.uint8)
        _ = cv2.putText(level, "DOE 12", (3, rows // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.5, 230, 1)
        turned = np.zeros((cols, rows), np.uint8)
        _ = cv2.putText(turned, "JANE", (2, rows // 3), cv2.FONT_HERSHEY_PLAIN, 1.0, 255, 1)
        level = np.maximum(level, np.ascontiguousarray(np.rot90(turned, -1)))
        frames.append(level)
    return frames


def test_a_turned_views_top_hat_is_the_upright_one_turned() -> None:
    from cadbusi_assets.ultrasound.textlines import find_text, stroke_contrast

    for level in _drawn_frames():
        view = _quarter_turn(level)
        derived = _quarter_turn(stroke_contrast(level))
        np.testing.assert_array_equal(derived, stroke_contrast(view))
        assert find_text(view, tophat=derived) == find_text(view)
        # (turned the other way it is not: the derivation's direction matters)
        if level.shape[0] != level.shape[1]:
            continue
        wrong = cv2.rotate(stroke_contrast(level), cv2.ROTATE_90_CLOCKWISE)
        assert not np.array_equal(wrong, stroke_contrast(view))


def test_ink_and_rules_leaves_a_given_top_hat_as_it_is() -> None:
    from cadbusi_assets.deid.ocr import _ink_and_rules
    from cadbusi_assets.ultrasound.textlines import stroke_contrast

    for level in _drawn_frames():
        seen = np.zeros(level.shape, bool)
        seen[: level.shape[0] // 3] = True
        tophat = stroke_contrast(level)
        kept = tophat.copy()
        got = _ink_and_rules(level, seen, tophat)
        np.testing.assert_array_equal(tophat, kept)
        want = _ink_and_rules(level, seen)
        for a, b in zip(got, want, strict=True):
            assert (a is None) == (b is None)
            if a is not None:
                np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("upright", [False, True])
def test_search_with_the_upright_top_hat_reads_what_its_own_would(
    upright: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The search of the turned (and, for a panel, upright) view given the upright top-hat
    sends tesseract the images that each view's own top-hat gives."""
    from cadbusi_assets.deid import ocr
    from cadbusi_assets.ultrasound import textlines

    def search(level: np.ndarray) -> list[str]:
        images: list[str] = []

        def read(image: np.ndarray) -> str:
            images.append(f"{image.shape} {hash(image.tobytes())}")
            return ""

        seen = np.zeros(level.shape, bool)
        ocr._search(level, (0, 0), seen, read, upright=upright)
        return images

    frames = _drawn_frames()
    got = [search(level) for level in frames]
    own = textlines.find_text

    def own_top_hat(frame: np.ndarray, **kwargs: object) -> textlines.FoundText:
        return own(frame)

    monkeypatch.setattr(ocr, "find_text", own_top_hat)
    want = [search(level) for level in frames]
    assert got == want
    assert sum(map(len, want)) > 0
