"""The lineage graph as the architecture describes it: every asset with its group, its
partitions and its upstream assets. ``test_definitions.py`` checks the code location against
it and ``test_webserver.py`` the graph the UI serves (moved out of ``test_definitions.py`` so
that no test module imports another)."""

from __future__ import annotations

EXPECTED = {
    # asset: (group, partitions, upstream assets)
    "radiology_reports": ("records", "study_date", set()),
    "pathology_reports": ("records", "study_date", set()),
    "imaging_studies": ("records", "study_date", {"radiology_reports"}),
    "diagnosis_labels": ("records", None, {"radiology_reports", "pathology_reports"}),
    "raw_dicom": ("imaging", "study_date", {"imaging_studies"}),
    "deidentified_images": ("imaging", "study_date", {"raw_dicom"}),
    "image_features": ("imaging", "study_date", {"deidentified_images"}),
    "inpainted_images": ("imaging", "study_date", {"image_features"}),
    "labelbox_data_rows": ("labeling", "study_date", {"image_features", "inpainted_images"}),
    "labelbox_labels": ("labeling", None, set()),
    "lesions": ("records", None, {"image_features", "pathology_reports", "diagnosis_labels"}),
    "metadata_db": (
        "catalog",
        None,
        {
            "deidentified_images",
            "image_features",
            "inpainted_images",
            "labelbox_data_rows",
            "diagnosis_labels",
            "labelbox_labels",
        },
    ),
    "dataset_export": ("exports", "exports", {"metadata_db", "lesions"}),
}
