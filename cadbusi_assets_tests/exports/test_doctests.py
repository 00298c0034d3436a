"""The examples in the docstrings of the export, lesion and batch modules are tests too."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "cadbusi_assets.exports.splits",
    "cadbusi_assets.exports.lineage",
    "cadbusi_assets.exports.lesion_masks",
    "cadbusi_assets.exports.shards",
    "cadbusi_assets.records.lesions",
    "cadbusi_assets.labeling.batches",
    "cadbusi_assets.labeling.row_data",
    "cadbusi_assets.labeling.agreement",
    "cadbusi_assets.labeling.ontology",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
