"""Dagster wiring only: every module under here is loaded by ``load_from_defs_folder``.

One folder per asset group (records, imaging, catalog, labeling, exports) plus automation;
``resources.py`` picks the resources from the deployment settings.
"""
