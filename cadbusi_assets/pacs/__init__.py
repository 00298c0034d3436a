"""PACS retrieval behind one interface: the demo folder store, DICOMweb and DIMSE.

``open_pacs(uri)`` picks the implementation; ``retrieve_studies`` stores a partition's studies
in the raw zone and returns the retrieval manifests. No Dagster here.
"""

from typing import TYPE_CHECKING

from cadbusi_assets.lazy import lazy_exports

if TYPE_CHECKING:
    from cadbusi_assets.pacs.base import (
        InstanceRef,
        NotFoundError,
        Pacs,
        PacsError,
        RetrievalError,
        StudyMatch,
        StudyNotFoundError,
        StudySearch,
        TransientError,
    )
    from cadbusi_assets.pacs.find import find_studies
    from cadbusi_assets.pacs.manifest import INSTANCE_SCHEMA, STUDY_SCHEMA
    from cadbusi_assets.pacs.retrieve import RetrievalResult, retrieve_studies
    from cadbusi_assets.pacs.uri import open_pacs
    from cadbusi_assets.pacs.window import OutsideWindowError, RetrievalWindow

# imported on first use (cadbusi_assets.lazy): importing one module of the package does not
# import all the others (and what they import)
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "InstanceRef": "cadbusi_assets.pacs.base",
        "NotFoundError": "cadbusi_assets.pacs.base",
        "Pacs": "cadbusi_assets.pacs.base",
        "PacsError": "cadbusi_assets.pacs.base",
        "RetrievalError": "cadbusi_assets.pacs.base",
        "StudyMatch": "cadbusi_assets.pacs.base",
        "StudyNotFoundError": "cadbusi_assets.pacs.base",
        "StudySearch": "cadbusi_assets.pacs.base",
        "TransientError": "cadbusi_assets.pacs.base",
        "find_studies": "cadbusi_assets.pacs.find",
        "INSTANCE_SCHEMA": "cadbusi_assets.pacs.manifest",
        "STUDY_SCHEMA": "cadbusi_assets.pacs.manifest",
        "RetrievalResult": "cadbusi_assets.pacs.retrieve",
        "retrieve_studies": "cadbusi_assets.pacs.retrieve",
        "open_pacs": "cadbusi_assets.pacs.uri",
        "OutsideWindowError": "cadbusi_assets.pacs.window",
        "RetrievalWindow": "cadbusi_assets.pacs.window",
    },
)

__all__ = [
    "INSTANCE_SCHEMA",
    "STUDY_SCHEMA",
    "InstanceRef",
    "NotFoundError",
    "OutsideWindowError",
    "Pacs",
    "PacsError",
    "RetrievalError",
    "RetrievalResult",
    "RetrievalWindow",
    "StudyMatch",
    "StudyNotFoundError",
    "StudySearch",
    "TransientError",
    "find_studies",
    "open_pacs",
    "retrieve_studies",
]
