"""Ultrasound image analysis: field of view, calipers, Doppler, quality, twins, inpainting.

Plain functions on numpy frames and polars tables; no Dagster here. The ``image_features``
and ``inpainted_images`` assets and the ``cadbusi analyze`` command call these.
"""

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
