"""``python -m benchmarks.sidebyside --parts``: where one file's de-identification time goes."""

from __future__ import annotations

import cadbusi_assets.stages.deidentification as stage
from benchmarks.sidebyside import PARTS, profile_parts, run_benchmark
from cadbusi_assets_tests.support import time_limit


def test_profile_parts_times_every_part_and_puts_the_functions_back():
    before = stage.read_dataset, stage.encode_png, stage.dataset_to_bytes
    with time_limit(120, "profiling two files"):
        found = profile_parts(2, per_study=1, ocr=False)
    assert found["deidentified"] == 2
    parts = found["parts_ms_per_file"]
    assert set(parts) == {*PARTS, "other"}
    assert parts["ocr"] == 0.0  # OCR off
    assert all(parts[p] > 0 for p in ("header engine", "decode", "serialisation", "png"))
    assert sum(parts.values()) <= found["cpu_ms_per_file"] + 0.5
    assert (stage.read_dataset, stage.encode_png, stage.dataset_to_bytes) == before


def test_run_benchmark_runs_only_the_contenders_asked_for():
    with time_limit(120, "the floor on two files"):
        found = run_benchmark(2, jobs=1, repeats=1, per_study=1, only=("floor",))
    assert found["floor"]["files"] == 2
    assert not {"deidentify", "deidentify_no_ocr", "full_chain", "dcmj2pnm"} & set(found)
