"""De-identification of ultrasound DICOM: PS3.15 profile engine, keyed pseudonyms, pixel
cleaning verified by OCR, and leak checks. No Dagster here.

Modules, one job each: ``table`` (PS3.15 Table E.1-1 as data), ``profile`` (options and
resolved actions), ``engine`` (header walk), ``dates`` (date shifting), ``text`` (free-text
scrubbing), ``pixels`` / ``devices`` (what to blank), ``ocr`` (tesseract verification),
``identifiers`` / ``scan`` (the study's identifiers and leak finders), ``deidentify`` (one
object end to end), ``command`` (the ``cadbusi deidentify`` / ``verify`` commands), ``bench``.
"""

from typing import TYPE_CHECKING

from cadbusi_assets.lazy import lazy_exports

if TYPE_CHECKING:
    from cadbusi_assets.deid.deidentify import DeidentifiedObject, deidentify_dataset
    from cadbusi_assets.deid.errors import DeidentificationError
    from cadbusi_assets.deid.identifiers import OriginalIdentifiers
    from cadbusi_assets.deid.ocr import ocr_identifiers
    from cadbusi_assets.deid.profile import DEFAULT_PROFILE, PROFILE_NAMES, DeidProfile, get_profile
    from cadbusi_assets.deid.scan import (
        find_identifiers_in_bytes,
        find_identifiers_in_dataset,
        find_identifiers_in_text,
    )

# imported on first use (cadbusi_assets.lazy): importing one module of the package does not
# import all the others (and what they import)
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "DeidentifiedObject": "cadbusi_assets.deid.deidentify",
        "deidentify_dataset": "cadbusi_assets.deid.deidentify",
        "DeidentificationError": "cadbusi_assets.deid.errors",
        "OriginalIdentifiers": "cadbusi_assets.deid.identifiers",
        "ocr_identifiers": "cadbusi_assets.deid.ocr",
        "DEFAULT_PROFILE": "cadbusi_assets.deid.profile",
        "PROFILE_NAMES": "cadbusi_assets.deid.profile",
        "DeidProfile": "cadbusi_assets.deid.profile",
        "get_profile": "cadbusi_assets.deid.profile",
        "find_identifiers_in_bytes": "cadbusi_assets.deid.scan",
        "find_identifiers_in_dataset": "cadbusi_assets.deid.scan",
        "find_identifiers_in_text": "cadbusi_assets.deid.scan",
    },
)

__all__ = [
    "DEFAULT_PROFILE",
    "PROFILE_NAMES",
    "DeidProfile",
    "DeidentificationError",
    "DeidentifiedObject",
    "OriginalIdentifiers",
    "deidentify_dataset",
    "find_identifiers_in_bytes",
    "find_identifiers_in_dataset",
    "find_identifiers_in_text",
    "get_profile",
    "ocr_identifiers",
]
