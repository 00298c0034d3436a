"""Ultrasound image analysis: field of view, calipers, Doppler, quality, twins, inpainting.

Plain functions on numpy frames and polars tables; no Dagster here. The ``image_features``
and ``inpainted_images`` assets and the ``cadbusi analyze`` command call these.

The names below are imported on first use (:mod:`cadbusi_assets.lazy`): importing one module
of the package (``ultrasound.png`` for the de-identification's PNGs, ``ultrasound.ocr`` for its
verification) does not import the analysis and everything it needs.
"""

from typing import TYPE_CHECKING

from cadbusi_assets.lazy import lazy_exports

if TYPE_CHECKING:
    from cadbusi_assets.ultrasound.analysis import (
        FEATURES_SCHEMA,
        FrameAnalysis,
        analyze_frame,
        features_frame,
        resolve_laterality,
    )
    from cadbusi_assets.ultrasound.calipers import CaliperDetection, detect_calipers
    from cadbusi_assets.ultrasound.fov import FieldOfView, find_field_of_view
    from cadbusi_assets.ultrasound.inpaint import caliper_mask, inpaint_batch, inpaint_calipers
    from cadbusi_assets.ultrasound.ocr import FrameText, TextLine, read_frame_text
    from cadbusi_assets.ultrasound.png import encode_png
    from cadbusi_assets.ultrasound.preview import preview_png
    from cadbusi_assets.ultrasound.quality import darkness, exclusion_reasons
    from cadbusi_assets.ultrasound.twins import find_twins, image_signature

_MODULES = {
    "analysis": (
        "FEATURES_SCHEMA",
        "FrameAnalysis",
        "analyze_frame",
        "features_frame",
        "resolve_laterality",
    ),
    "calipers": ("CaliperDetection", "detect_calipers"),
    "fov": ("FieldOfView", "find_field_of_view"),
    "inpaint": ("caliper_mask", "inpaint_batch", "inpaint_calipers"),
    "ocr": ("FrameText", "TextLine", "read_frame_text"),
    "png": ("encode_png",),
    "preview": ("preview_png",),
    "quality": ("darkness", "exclusion_reasons"),
    "twins": ("find_twins", "image_signature"),
}
__getattr__, __dir__ = lazy_exports(
    __name__,
    {name: f"{__name__}.{module}" for module, names in _MODULES.items() for name in names},
)

__all__ = [
    "FEATURES_SCHEMA",
    "CaliperDetection",
    "FieldOfView",
    "FrameAnalysis",
    "FrameText",
    "TextLine",
    "analyze_frame",
    "caliper_mask",
    "darkness",
    "detect_calipers",
    "encode_png",
    "exclusion_reasons",
    "features_frame",
    "find_field_of_view",
    "find_twins",
    "image_signature",
    "inpaint_batch",
    "inpaint_calipers",
    "preview_png",
    "read_frame_text",
    "resolve_laterality",
]
