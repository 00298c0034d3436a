"""``python -m benchmarks.sidebyside --parts``: where one file's de-identification time goes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import cadbusi_assets.stages.deidentification as stage
from benchmarks.sidebyside import (
    OCR_PARTS,
    PARTS,
    STARTUP_GROUPS,
    profile_parts,
    profile_startup,
    run_benchmark,
)
from cadbusi_assets_tests.support import time_limit

ROOT = Path(__file__).resolve().parents[1]


def test_profile_parts_times_every_part_and_puts_the_functions_back():
    before = stage.read_dataset, stage.encode_png, stage.dataset_to_parts
    with time_limit(120, "profiling two files"):
        found = profile_parts(2, per_study=1, ocr=False)
    assert found["deidentified"] == 2
    parts = found["parts_ms_per_file"]
    assert set(parts) == {*PARTS, "other"}
    assert parts["ocr"] == 0.0  # OCR off
    assert all(parts[p] > 0 for p in ("header engine", "decode", "serialisation", "png"))
    assert sum(parts.values()) <= found["cpu_ms_per_file"] + 0.5
    assert (stage.read_dataset, stage.encode_png, stage.dataset_to_parts) == before


def test_profile_parts_splits_the_ocr_and_leaves_the_first_file_out():
    """With OCR: finding lines, the learned reader and tesseract each take a share of
    ``ocr`` and the rest is ``ocr: other``; the first file (models loaded) is reported on
    its own, not in the per-file figures."""
    import cadbusi_assets.ultrasound.glyphs as glyphs
    import cadbusi_assets.ultrasound.ocr as ocr

    before = ocr._found_lines, glyphs.LineReader.read, ocr.Tesseract.read_line
    with time_limit(180, "profiling three files with OCR"):
        found = profile_parts(3, per_study=1, ocr=True)
    assert found["deidentified"] == 3
    inside = found["ocr_parts_ms_per_file"]
    assert set(inside) == {*OCR_PARTS, "ocr: other"}
    assert inside["ocr: find lines"] > 0 and inside["ocr: learned reader"] > 0
    assert inside["ocr: other"] >= 0
    assert sum(inside.values()) == pytest.approx(found["parts_ms_per_file"]["ocr"], abs=0.3)
    assert found["first_file_cpu_ms"] > found["cpu_ms_per_file"]
    assert (ocr._found_lines, glyphs.LineReader.read, ocr.Tesseract.read_line) == before


def test_profile_startup_splits_the_fork_servers_imports_and_bounds_the_overlap():
    with time_limit(180, "a cold start and three files"):
        found = profile_startup(3, per_study=1, files=5)
    assert list(found["preload_cpu_ms"]) == [group for group, _ in STARTUP_GROUPS]
    assert all(ms > 0 for ms in found["preload_cpu_ms"].values())
    assert found["project_modules"] > 10 and found["compile_from_source_cpu_ms"] > 0
    # the torch-free part is a part of a file; a cleaned frame is handed over whole
    assert 0 < found["torch_free_cpu_ms_per_file"] < found["first_file_cpu_ms"]
    assert found["handover_bytes_per_file"] >= found["cleaned_pixel_bytes_per_file"] > 0
    bound = found["overlap_bound"]
    assert 0 <= bound["files_in_window"] <= 5
    assert bound["added_ms"] >= found["preload_cpu_ms"]["base"]


def test_run_benchmark_runs_only_the_contenders_asked_for():
    with time_limit(120, "the floor on two files"):
        found = run_benchmark(2, jobs=1, repeats=1, per_study=1, only=("floor",))
    assert found["floor"]["files"] == 2
    assert found["floor"]["cpu_s"] > 0  # the workers' time included
    assert not {"deidentify", "deidentify_no_ocr", "full_chain", "dcmj2pnm"} & set(found)


def test_a_contenders_cpu_time_counts_a_process_that_outlived_its_parent():
    """The CPU time of a contender includes a descendant that its parent left running (as a
    command leaves its fork server), adopted and reaped by the benchmark. In a fresh process:
    adopting orphans is for a benchmark's own process, not the test session's."""
    script = textwrap.dedent(
        """
        import json, subprocess, sys
        from benchmarks.sidebyside import _time, adopt_orphans
        child = (
            "import os, time\\n"
            "if os.fork() == 0:\\n"
            "    end = time.process_time() + 0.4\\n"
            "    while time.process_time() < end:\\n"
            "        pass\\n"
            "os._exit(0)\\n"
        )
        # the orphan keeps the output pipe: run() returns once it has ended too
        run = lambda: subprocess.run([sys.executable, "-c", child], capture_output=True)
        without = _time(run)[1]
        adopted = adopt_orphans()
        counted = _time(run)[1]
        print(json.dumps({"adopted": adopted, "without": without, "counted": counted}))
        """
    )
    with time_limit(60, "two short processes"):
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=50
        )
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["adopted"]
    assert found["without"] < 0.3 <= found["counted"]
