"""The examples in the deid modules' docstrings are tests too."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "benchmarks.deid",
    "cadbusi_assets.deid.dates",
    "cadbusi_assets.deid.devices",
    "cadbusi_assets.deid.deidentify",
    "cadbusi_assets.deid.engine",
    "cadbusi_assets.deid.identifiers",
    "cadbusi_assets.deid.name_variants",
    "cadbusi_assets.deid.ocr",
    "cadbusi_assets.deid.pixels",
    "cadbusi_assets.deid.profile",
    "cadbusi_assets.deid.scan",
    "cadbusi_assets.deid.table",
    "tools.deid_tablegen",
    "cadbusi_assets.deid.text",
    "cadbusi_assets.dicom.io",
    "cadbusi_assets.identity.audit",
    "cadbusi_assets.identity.optout",
    "cadbusi_assets.identity.reidentify",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
