"""PACS retrieval behind one interface: the demo folder store, DICOMweb and DIMSE.

``open_pacs(uri)`` picks the implementation; ``retrieve_studies`` stores a partition's studies
in the raw zone and returns the retrieval manifests. No Dagster here.
"""

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
