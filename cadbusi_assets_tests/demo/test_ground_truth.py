"""Ground truth agrees with the pixels: crop boxes, calipers and clean frames, twins, text."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cadbusi_demo.render import geometries
from cadbusi_demo.tissue import SPECKLE_MAX

UNCOMPRESSED = {"RGB", "MONOCHROME2"}


def grey(frame: np.ndarray) -> np.ndarray:
    return frame.max(axis=-1) if frame.ndim == 3 else frame


def inside(box, outer) -> bool:
    return outer[0] <= box[0] <= box[2] <= outer[2] and outer[1] <= box[1] <= box[3] <= outer[3]


def fov_masks(truth) -> list[tuple[tuple[int, int, int, int], np.ndarray]]:
    return [(g.bbox, g.mask) for g in geometries(truth["layout"], truth["is_dual_view"])]


def clean_png(demo_cohort, sop: str, frame: int) -> np.ndarray:
    with Image.open(demo_cohort.ground_truth_dir / "clean" / f"{sop}_f{frame}.png") as image:
        return np.asarray(image)


def test_crop_box_lies_in_the_region_and_hugs_the_speckle(decoded, truths):
    for sop, truth in truths.items():
        for k, frame_truth in enumerate(truth["frames"]):
            for view in frame_truth["views"]:
                region = truth["regions"][view["region_index"]]["box"]
                x0, y0, x1, y1 = view["crop_box"]
                assert inside(view["crop_box"], region)
                image = grey(decoded[sop][k]).astype(int)
                box = image[y0 : y1 + 1, x0 : x1 + 1]
                lit = (box > 0).mean()
                assert lit > (0.97 if view["fov_shape"] == "rectangle" else 0.6), (sop, lit)
                if truth["photometric"] in UNCOMPRESSED:
                    for edge in (box[0], box[-1], box[:, 0], box[:, -1]):
                        assert edge.max() > 0  # the box is tight
                if truth["photometric"] in UNCOMPRESSED and view["fov_shape"] == "rectangle":
                    ring = np.concatenate(
                        [
                            image[y0 - 1, x0 - 1 : x1 + 2],
                            image[y1 + 1, x0 - 1 : x1 + 2],
                            image[y0 - 1 : y1 + 2, x0 - 1],
                            image[y0 - 1 : y1 + 2, x1 + 1],
                        ]
                    )
                    assert ring.max() == 0  # and nothing lit just outside a rectangular FOV
            assert frame_truth["crop_box"] == frame_truth["views"][0]["crop_box"]


def test_field_of_view_polygon_matches_the_crop_box(truths):
    for truth in truths.values():
        frame = truth["frames"][0]
        xs = [p[0] for p in frame["fov_polygon"]]
        ys = [p[1] for p in frame["fov_polygon"]]
        x0, y0, x1, y1 = frame["crop_box"]
        assert abs(min(xs) - x0) <= 1.5 and abs(max(xs) - x1) <= 1.5
        assert abs(min(ys) - y0) <= 1.5 and abs(max(ys) - y1) <= 1.5


def test_speckle_is_capped_and_never_caliper_coloured(decoded, truths):
    for sop, truth in truths.items():
        if truth["photometric"] not in UNCOMPRESSED or truth["has_calipers"]:
            continue
        for k, frame_truth in enumerate(truth["frames"]):
            frame = decoded[sop][k]
            for (x0, y0, x1, y1), mask in fov_masks(truth):
                tissue = frame[y0 : y1 + 1, x0 : x1 + 1][mask]
                if frame_truth["is_doppler"]:
                    continue
                assert tissue.max() <= SPECKLE_MAX
            if frame.ndim == 3:
                yellow = (frame[..., 0] == 255) & (frame[..., 1] == 255) & (frame[..., 2] == 0)
                assert not yellow.any()


def test_calipers_change_only_their_own_pixels(demo_cohort, decoded, truths):
    checked = 0
    for sop, truth in truths.items():
        for k, frame_truth in enumerate(truth["frames"]):
            if not frame_truth["has_calipers"]:
                continue
            clean = clean_png(demo_cohort, sop, k)
            frame = decoded[sop][k]
            assert clean.shape == frame.shape
            assert (clean.ndim == 3) == (truth["decoded_mode"] == "RGB")
            points = np.array(frame_truth["caliper_points"])
            assert len(points) in (2, 4)
            assert frame_truth["caliper_style"] in {"+", "x"}
            assert 9 <= frame_truth["caliper_size_px"] <= 15
            lesion = frame_truth["lesion_box"]
            for x, y in points:
                assert lesion[0] - 3 <= x <= lesion[2] + 3 and lesion[1] - 3 <= y <= lesion[3] + 3
            if truth["photometric"] not in UNCOMPRESSED:
                assert np.abs(clean.astype(int) - frame.astype(int)).mean() < 3  # pre-JPEG pixels
                continue
            checked += 1
            changed = clean != frame
            if changed.ndim == 3:
                changed = changed.any(axis=-1)
            for x, y in points:
                assert changed[y, x]
                colour = frame[y, x]
                assert tuple(np.atleast_1d(colour)) == tuple(
                    frame_truth["caliper_colour"][: np.size(colour)]
                )
            ys, xs = np.nonzero(changed)
            near_point = np.min(
                np.hypot(xs[:, None] - points[:, 0], ys[:, None] - points[:, 1]), axis=1
            )
            allowed = near_point <= frame_truth["caliper_size_px"] / 2 * 1.5 + 2
            for x0, y0, x1, y1 in frame_truth["caliper_lines"]:
                t = np.clip(
                    ((xs - x0) * (x1 - x0) + (ys - y0) * (y1 - y0))
                    / ((x1 - x0) ** 2 + (y1 - y0) ** 2),
                    0,
                    1,
                )
                allowed |= np.hypot(xs - (x0 + t * (x1 - x0)), ys - (y0 + t * (y1 - y0))) <= 1.5
            assert allowed.all()
    assert checked


def test_twins_are_the_clean_frames(demo_cohort, decoded, truths):
    twins = [t for t in truths.values() if t["twin_of"]]
    assert twins
    for twin in twins:
        main = truths[twin["twin_of"]]
        assert main["clean_twin_sop_instance_uid"] == twin["sop_instance_uid"]
        assert main["frames"][0]["clean_twin_sop_instance_uid"] == twin["sop_instance_uid"]
        assert twin["frames"][0]["twin_of"] == main["sop_instance_uid"]
        assert main["has_calipers"] and not twin["has_calipers"]
        assert twin["series_instance_uid"] == main["series_instance_uid"]
        assert twin["regions"] == main["regions"]
        assert twin["frames"][0]["crop_box"] == main["frames"][0]["crop_box"]
        assert twin["instance_number"] + 1 == main["instance_number"]
        twin_pixels = decoded[twin["sop_instance_uid"]][0]
        clean = clean_png(demo_cohort, main["sop_instance_uid"], 0)
        if main["photometric"] in UNCOMPRESSED:
            assert np.array_equal(twin_pixels, clean)
            differ = twin_pixels != decoded[main["sop_instance_uid"]][0]
            differ = differ.any(axis=-1) if differ.ndim == 3 else differ
            x, y = main["frames"][0]["caliper_points"][0]
            assert differ[y, x]
            assert differ.mean() < 0.002
        else:
            assert np.abs(twin_pixels.astype(int) - clean.astype(int)).mean() < 3


def test_burned_in_text_is_placed_where_it_belongs(decoded, truths):
    for sop, truth in truths.items():
        frame_truth = truth["frames"][0]
        image = grey(decoded[sop][0])
        region = truth["regions"][0]["box"]
        masks = fov_masks(truth)
        kinds = {t["kind"] for t in frame_truth["burned_in_text"]}
        assert kinds == {"phi", "annotation", "ui"}
        for text in frame_truth["burned_in_text"]:
            x0, y0, x1, y1 = text["box"]
            assert image[y0 : y1 + 1, x0 : x1 + 1].max() >= 150, text
            if text["kind"] == "phi":
                assert y1 < min(
                    r["box"][1] for r in truth["regions"]
                )  # header band above the region
            if text["kind"] == "annotation":
                assert inside(text["box"], region)
                for (bx0, by0, bx1, by1), mask in masks:
                    ox0, oy0, ox1, oy1 = max(x0, bx0), max(y0, by0), min(x1, bx1), min(y1, by1)
                    if ox0 <= ox1 and oy0 <= oy1:
                        assert not mask[oy0 - by0 : oy1 - by0 + 1, ox0 - bx0 : ox1 - bx0 + 1].any()
        fields = {t["field"]: t["text"] for t in frame_truth["burned_in_text"]}
        assert {
            "patient_name",
            "mrn",
            "exam_date",
            "institution",
            "laterality",
            "orientation",
        } <= set(fields)
        assert frame_truth["laterality"] in {"LEFT", "RIGHT"}
        assert frame_truth["body_area"] in {"breast", "axilla"}
        if frame_truth["body_area"] == "breast":
            hour, minute = frame_truth["clock_position"].split(":")
            assert 1 <= int(hour) <= 12 and minute in {"00", "30"}
            assert fields["clock_position"] == frame_truth["clock_position"]
            assert f"{frame_truth['nipple_distance_cm']:g}" in fields["nipple_distance"]
        else:
            assert fields.get("body_area") == "AXILLA"
        assert fields["laterality"].startswith(frame_truth["laterality"][0])


def test_dual_view_images_have_two_regions_side_by_side(truths):
    duals = [t for t in truths.values() if t["is_dual_view"]]
    for truth in duals:
        (a, b) = (r["box"] for r in truth["regions"])
        assert a[2] < b[0] and a[1] == b[1]
        assert len(truth["frames"][0]["views"]) == 2
    assert all(len(t["regions"]) == 1 for t in truths.values() if not t["is_dual_view"])


@pytest.mark.parametrize("field", ["patient_name", "mrn"])
def test_header_text_is_ocr_readable(decoded, truths, field):
    from cadbusi_assets_tests.support import require_tool

    require_tool("tesseract", "apt-get install tesseract-ocr")
    import pytesseract

    seen = set()
    for sop, truth in truths.items():
        if truth["layout"] in seen or truth["photometric"] not in UNCOMPRESSED:
            continue
        seen.add(truth["layout"])
        text = next(t for t in truth["frames"][0]["burned_in_text"] if t["field"] == field)
        x0, y0, x1, y1 = text["box"]
        crop = grey(decoded[sop][0])[max(0, y0 - 6) : y1 + 7, max(0, x0 - 6) : x1 + 7]
        image = Image.fromarray(255 - crop).resize((crop.shape[1] * 2, crop.shape[0] * 2))
        read = pytesseract.image_to_string(image, config="--psm 7").strip()
        expected = text["text"].split(": ")[-1]
        assert expected.replace(" ", "") in read.replace(" ", ""), (read, expected)
    assert len(seen) >= 2
