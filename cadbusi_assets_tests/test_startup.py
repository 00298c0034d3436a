"""Start-up of ``cadbusi deidentify`` (issue 12, item 6): what the command imports, and
workers that start with the stage loaded instead of importing it each."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from cadbusi_assets_tests.support import TEST_KEY, time_limit

ROOT = Path(__file__).resolve().parents[1]
#: Never needed to de-identify: the learned models and the orchestrator.
HEAVY = ("torch", "dagster", "torchvision", "sklearn")


def _python(code: str, timeout: int = 120) -> dict:
    env = dict(
        os.environ, PYTHONPATH=str(ROOT), CADBUSI_PSEUDONYM_KEY=TEST_KEY.secret_bytes().hex()
    )
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_deidentify_command_imports_neither_torch_nor_dagster(tmp_path):
    from benchmarks.sidebyside import write_corpus

    write_corpus(tmp_path / "in", 2)
    with time_limit(180, "cadbusi deidentify on two files"):
        found = _python(
            f"""
            import contextlib, io, json, sys
            from cadbusi_assets.cli import main
            with contextlib.redirect_stdout(io.StringIO()):
                code = main(["deidentify", {str(tmp_path / "in")!r}, {str(tmp_path / "out")!r},
                             "--no-ocr", "--jobs", "1"])
            print(json.dumps({{"code": code, "loaded": sorted(set(sys.modules) & {set(HEAVY)!r}),
                               "stage": "cadbusi_assets.stages.deidentification" in sys.modules}}))
            """
        )
    assert found["code"] == 0
    assert found["stage"]  # the command did run the stage
    assert found["loaded"] == []
    assert len(list((tmp_path / "out").rglob("*.dcm"))) == 2


def test_prestarted_workers_start_with_the_stage_loaded():
    with time_limit(180, "a pool of two workers"):
        found = _python(
            """
            import json, sys
            from cadbusi_assets.parallel import parallel_map, prestart_workers, worker_scope
            from cadbusi_assets_tests.test_startup import stage_loaded
            started = prestart_workers(["cadbusi_assets.stages.deidentification"], 2)
            again = prestart_workers(["cadbusi_assets.stages.deidentification"], 2)
            serial = prestart_workers(["json"], 1)
            with worker_scope():
                workers = parallel_map(stage_loaded, list(range(8)), workers=2)
            print(json.dumps({"started": started, "again": again, "serial": serial,
                              "parent": "cadbusi_assets.stages.deidentification" in sys.modules,
                              "workers": workers}))
            """
        )
    assert found["started"] and not found["again"] and not found["serial"]
    assert not found["parent"]  # only the fork server imported it
    assert all(found["workers"])


def stage_loaded(_: int) -> bool:
    """In a worker: was the stage imported before this task arrived (by the fork server)?"""
    return "cadbusi_assets.stages.deidentification" in sys.modules


def test_workers_that_read_text_or_analyse_start_with_torch_loaded():
    """With OCR (the learned line reader) or ``--analyze`` (also the batched inpainting) the
    fork server imports torch once; with ``--no-ocr`` alone nothing imports it."""
    from cadbusi_assets.cli import build_parser, deidentify_worker_modules

    def modules(*options: str) -> list[str]:
        return deidentify_worker_modules(
            build_parser().parse_args(["deidentify", "I", "O", *options])
        )

    assert "torch" in modules() and "torch" in modules("--no-ocr", "--analyze")
    assert "cadbusi_assets.stages.imaging" in modules("--analyze")
    assert modules("--no-ocr") == ["cadbusi_assets.stages.deidentification"]
    with time_limit(180, "a pool of two workers with torch preloaded"):
        found = _python(
            """
            import json, sys
            from cadbusi_assets.parallel import parallel_map, prestart_workers, worker_scope
            from cadbusi_assets_tests.test_startup import torch_loaded
            prestart_workers(["cadbusi_assets.stages.deidentification", "torch"], 2)
            with worker_scope():
                workers = parallel_map(torch_loaded, list(range(8)), workers=2)
            print(json.dumps({"parent": "torch" in sys.modules, "workers": workers}))
            """
        )
    assert not found["parent"] and all(found["workers"])


def torch_loaded(_: int) -> bool:
    return "torch" in sys.modules
