from __future__ import annotations

from cadbusi_assets.ultrasound.doppler import colour_share, is_doppler
from cadbusi_assets.ultrasound.overlay import to_grey
from cadbusi_assets_tests.ultrasound.synthetic import YELLOW, make_frame


def test_colour_flow_is_doppler():
    frame = make_frame(seed=1, doppler=True, jpeg=True)
    assert colour_share(frame.rgb, frame.crop_box, frame.fov_mask) > 0.005
    assert is_doppler(frame.rgb, frame.crop_box, frame.fov_mask)


def test_coloured_calipers_and_grey_frames_are_not_doppler():
    frame = make_frame(
        seed=2, calipers=[(200, 200, "+", YELLOW), (300, 250, "x", YELLOW)], thickness=2, jpeg=True
    )
    assert not is_doppler(frame.rgb, frame.crop_box, frame.fov_mask)
    assert not is_doppler(to_grey(frame.rgb), frame.crop_box)
    assert colour_share(to_grey(frame.rgb), frame.crop_box) == 0.0
