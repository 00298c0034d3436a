"""Every device layout fits its worst case: longest names, every depth, dual view, axilla."""

from __future__ import annotations

import dataclasses

import pytest

from cadbusi_demo.acquisition import plan_acquisitions
from cadbusi_demo.layouts import LAYOUTS
from cadbusi_demo.names import FEMALE_FIRST_NAMES, LAST_NAMES, OUTSIDE_SITE, SITES
from cadbusi_demo.render import _static_screen, geometries


@pytest.fixture(scope="module")
def template(default_plan):
    return plan_acquisitions(default_plan)[0]


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("depth", [3.0, 5.0])
def test_screen_furniture_never_overlaps_or_enters_the_fov(template, layout, depth):
    longest_last = max(LAST_NAMES, key=len)
    longest_first = max(FEMALE_FIRST_NAMES, key=len)
    site = max((*SITES, OUTSIDE_SITE), key=lambda s: len(s.name))
    patient = dataclasses.replace(
        template.patient, last_name=longest_last, first_name=longest_first
    )
    study = dataclasses.replace(template, layout=layout, depth_cm=depth, patient=patient, site=site)
    base = template.views[0]
    variants = [
        dataclasses.replace(
            base,
            body_area="breast",
            clock="10:30",
            distance_cm=12.5,
            distance_text="12.5 CM FN",
            laterality_text="RT BREAST",
            orientation="ARAD",
        ),
        dataclasses.replace(
            base,
            body_area="axilla",
            clock=None,
            distance_cm=None,
            distance_text=None,
            laterality_text="LEFT",
            orientation="TRANS",
        ),
    ]
    for dual in [False, True] if LAYOUTS[layout].dual_regions else [False]:
        geos = geometries(layout, dual)
        for view in variants:
            canvas, painter = _static_screen(
                study,
                dataclasses.replace(view, dual=dual),
                LAYOUTS[layout],
                geos,
                depth / geos[0].fov.depth_span_px,
            )
            assert all(0 <= t.box[0] <= t.box[2] < canvas.shape[1] for t in painter.texts)
            assert {t.field for t in painter.texts} >= {
                "patient_name",
                "mrn",
                "laterality",
                "orientation",
            }
