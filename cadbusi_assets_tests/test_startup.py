"""Start-up of ``cadbusi deidentify`` (issue 12, item 6): what the command imports, and
workers that start with the stage loaded instead of importing it each."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cadbusi_assets_tests.support import TEST_KEY, require_tesseract, time_limit

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


def test_the_analyze_commands_workers_start_with_the_analysis_and_torch_loaded(tmp_path):
    """``cadbusi analyze`` starts its workers' fork server before its own imports: each worker
    finds the analysis stage and torch (the learned caliper finder, the learned line reader,
    the inpainting) loaded when its first file arrives, instead of importing them itself."""
    from cadbusi_assets.cli import analyze_worker_modules, build_parser

    def modules(*options: str) -> list[str]:
        return analyze_worker_modules(build_parser().parse_args(["analyze", "I", "O", *options]))

    assert {"cadbusi_assets.stages.analysis", "torch"} <= set(modules("--no-ocr"))
    assert modules()[-1] == "cadbusi_assets.deid.warmup"
    assert "cadbusi_assets.deid.warmup" not in modules("--no-ocr")
    with time_limit(180, "cadbusi analyze with two workers"):
        found = _python(
            f"""
            import json
            import cadbusi_assets.ultrasound.command as command
            from cadbusi_assets import cli
            from cadbusi_assets.parallel import parallel_map
            from cadbusi_assets_tests.test_startup import analysis_loaded
            seen = []
            def fake_command(input_dir, output_dir, *, jobs, **_):
                seen.extend(parallel_map(analysis_loaded, list(range(8)), workers=jobs))
                return 0
            command.analyze_command = fake_command
            code = cli.main(["analyze", {str(tmp_path)!r}, {str(tmp_path / "out")!r},
                             "--no-ocr", "--jobs", "2"])
            print(json.dumps({{"code": code, "workers": seen}}))
            """
        )
    assert found["code"] == 0
    assert found["workers"] == [True] * 8


def analysis_loaded(_: int) -> bool:
    """In a worker: were the analysis stage and torch imported before this task arrived?"""
    return {"cadbusi_assets.stages.analysis", "torch"} <= set(sys.modules)


#: What the command's own process need not import when workers do the work (the workers'
#: fork server imports them; the command's process lists the files and hands them out).
WORKER_ONLY = (
    "polars",
    "pydicom",
    "numpy",
    "cv2",
    "torch",
    "cadbusi_assets.stages.deidentification",
    "cadbusi_assets.stages.imaging",
)


@pytest.mark.parametrize("analyze", [False, True], ids=["deidentify", "analyze"])
def test_with_workers_the_command_process_imports_neither_the_stage_nor_polars(tmp_path, analyze):
    """``cadbusi deidentify`` (and ``--analyze``, the one pass) with workers: the command's
    process stays light, and what it writes (DICOM, PNG, tables, inpainted PNGs, report) is
    byte for byte what a serial run writes in-process."""
    from benchmarks.sidebyside import write_corpus

    write_corpus(tmp_path / "in", 6, per_study=3)
    extra = ["--analyze"] if analyze else []
    runs = {}
    with time_limit(400, "cadbusi deidentify with two workers and serially"):
        for jobs in ("2", "1"):
            out = tmp_path / f"out{jobs}"
            runs[jobs] = _python(
                f"""
                import contextlib, io, json, sys
                from cadbusi_assets.cli import main
                with contextlib.redirect_stdout(io.StringIO()) as said:
                    code = main(["deidentify", {str(tmp_path / "in")!r}, {str(out)!r},
                                 "--no-ocr", "--jobs", {jobs!r}, *{extra!r}])
                print(json.dumps({{"code": code, "said": said.getvalue(),
                                   "loaded": sorted(set(sys.modules) & {set(WORKER_ONLY)!r})}}))
                """
            )
    assert runs["2"]["code"] == runs["1"]["code"] == 0
    assert runs["2"]["loaded"] == []  # the workers did the work
    assert "cadbusi_assets.stages.deidentification" in runs["1"]["loaded"]  # serial: in-process
    assert ("cadbusi_assets.stages.imaging" in runs["1"]["loaded"]) == analyze
    said = {jobs: run["said"].splitlines() for jobs, run in runs.items()}
    assert [line for line in said["2"] if not line.startswith(("done:", "report"))] == [
        line for line in said["1"] if not line.startswith(("done:", "report"))
    ]
    files = {
        jobs: {
            p.relative_to(tmp_path / f"out{jobs}").as_posix(): p.read_bytes()
            for p in (tmp_path / f"out{jobs}").rglob("*")
            if p.is_file()
        }
        for jobs in runs
    }
    assert len([name for name in files["2"] if name.endswith(".dcm")]) == 6
    assert {"images.parquet", "instances.parquet"} <= set(files["2"])
    if analyze:
        tables = {"image_features.parquet", "twins.parquet", "inpainted_images.parquet"}
        assert tables <= set(files["2"])
        assert any(line.startswith("analysed 6 frames") for line in said["2"])
    assert files["2"] == files["1"]

    def report(jobs: str) -> list[list[str]]:  # without the seconds column (timings)
        lines = (tmp_path / f"out{jobs}.report.csv").read_text().splitlines()
        assert lines[0].endswith(",seconds")
        return [line.rsplit(",", 1)[0].split(",") for line in lines]

    assert report("2") == report("1") and len(report("2")) == 7


def test_call_in_worker_runs_in_a_worker_of_the_scope_else_here():
    from cadbusi_assets.parallel import call_in_worker, parallel_map, worker_scope

    assert call_in_worker(_pid, 0) == os.getpid()  # no scope: this process
    with time_limit(180, "a pool of two workers"), worker_scope():
        assert call_in_worker(_pid, 0) == os.getpid()  # a scope without a pool yet: here
        workers = set(parallel_map(_pid, list(range(8)), workers=2))
        elsewhere = call_in_worker(_pid, 0)
    assert os.getpid() not in workers
    assert elsewhere in workers


def _pid(_: object) -> int:
    return os.getpid()


def test_with_ocr_the_fork_server_starts_tesseract_once_for_every_worker():
    """``cadbusi deidentify`` with OCR: each worker finds tesseract started (by the fork
    server, :mod:`cadbusi_assets.deid.warmup`) when its first file arrives."""
    from cadbusi_assets.cli import build_parser, deidentify_worker_modules

    require_tesseract()
    modules = deidentify_worker_modules(build_parser().parse_args(["deidentify", "I", "O"]))
    assert modules[-1] == "cadbusi_assets.deid.warmup"
    assert "cadbusi_assets.deid.warmup" not in deidentify_worker_modules(
        build_parser().parse_args(["deidentify", "I", "O", "--no-ocr"])
    )
    with time_limit(180, "a pool of two workers with tesseract started"):
        found = _python(
            f"""
            import json
            from cadbusi_assets.parallel import parallel_map, prestart_workers, worker_scope
            from cadbusi_assets_tests.test_startup import tesseract_started
            prestart_workers({modules!r}, 2)
            with worker_scope():
                workers = parallel_map(tesseract_started, list(range(8)), workers=2)
            print(json.dumps({{"workers": workers}}))
            """
        )
    assert found["workers"] == [True] * 8


def tesseract_started(_: int) -> bool:
    from cadbusi_assets.ultrasound import ocr

    return ocr._ENGINE is not None and ocr._ENGINE._engine is not None


def test_with_ocr_every_worker_starts_with_the_first_files_caches_built():
    """The fork server builds (:func:`cadbusi_assets.deid.warmup.warm`) what each worker
    built on its first file: the confidentiality table, the letter folding and, torch being
    a CPU build with one OpenMP thread, the learned line reader (else none: each worker
    builds its own), whose readings in a worker are those of a reader built in the worker itself (no thread of the server's lost in the
    fork: every reading comes back)."""
    from cadbusi_assets.cli import build_parser, deidentify_worker_modules
    from cadbusi_assets.deid.warmup import reader_fork_safe

    require_tesseract()
    # a GPU build of torch (or more than one OpenMP thread): the server builds no reader (a
    # fork could lose its threads or GPU context) and each worker builds its own
    server_reader = reader_fork_safe()
    modules = deidentify_worker_modules(build_parser().parse_args(["deidentify", "I", "O"]))
    with time_limit(180, "a pool of two workers reading lines"):
        found = _python(
            f"""
            import json
            from cadbusi_assets.parallel import parallel_map, prestart_workers, worker_scope
            from cadbusi_assets_tests.test_startup import built_and_read
            prestart_workers({modules!r}, 2)
            with worker_scope():
                workers = parallel_map(built_and_read, [False] * 8, workers=2)
            print(json.dumps({{"workers": workers, "here": built_and_read(True)}}))
            """
        )
    assert [w["built"] for w in found["workers"]] == [[True, True, server_reader]] * 8
    assert all(w["readings"] == found["here"]["readings"] for w in found["workers"])


def built_and_read(fresh: bool) -> dict:
    """Whether the table, the folding and the line reader were built before this call (in a
    worker: by the fork server), and the reader's readings of a few drawn lines (``fresh``:
    with a reader built here)."""
    import cv2
    import numpy as np

    from cadbusi_assets.deid import name_variants
    from cadbusi_assets.deid.table import confidentiality_table
    from cadbusi_assets.ultrasound import glyphs

    built = [
        confidentiality_table.cache_info().currsize == 1,
        name_variants._FOLD is not None,
        glyphs.line_reader.cache_info().currsize == 1,
    ]
    reader = glyphs.LineReader() if fresh else glyphs.line_reader()
    lines = []
    for text in ("RT BREAST 10:00", "GN 36 DR 72", "SMITH^JANE 12345"):
        image = np.full((26, 220), 255, np.uint8)
        cv2.putText(image, text, (4, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.6, 0, 1)
        lines.append(image)
    readings = [(r.text, r.confidence) for r in reader.read(lines)]
    return {"built": built, "readings": readings}


@pytest.mark.parametrize("ends_the_process", [True, False])
def test_a_command_ends_its_fork_server_without_its_interpreters_exit(tmp_path, ends_the_process):
    """``cadbusi deidentify`` (``main()`` for the process) ends the workers' fork server
    without the exit of its interpreter (~1 s of CPU with torch loaded, after the last file);
    ``main(argv)`` called inside a longer-lived process leaves the server to that process."""
    from benchmarks.sidebyside import write_corpus

    write_corpus(tmp_path / "in", 4)
    probe = tmp_path / "exits.txt"
    args = [str(tmp_path / "in"), str(tmp_path / "out"), "--no-ocr", "--jobs", "2"]
    call = "cli.main()" if ends_the_process else "cli.main(sys.argv[1:])"
    script = textwrap.dedent(
        f"""
        import sys
        from cadbusi_assets import cli, parallel
        parallel.PRELOAD.append("cadbusi_assets_tests.exit_probe")
        sys.argv = ["cadbusi", "deidentify", *{args!r}]
        sys.exit({call})
        """
    )
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        CADBUSI_PSEUDONYM_KEY=TEST_KEY.secret_bytes().hex(),
        CADBUSI_EXIT_PROBE=str(probe),
    )
    with time_limit(180, "cadbusi deidentify on four files"):
        # the fork server holds the output pipes: run() returns once it has ended too
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=ROOT
        )
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(list((tmp_path / "out").rglob("*.dcm"))) == 4
    assert probe.exists() != ends_the_process


def test_the_reader_is_built_before_the_fork_only_where_no_thread_or_gpu_can_be_lost(
    monkeypatch,
):
    """:func:`~cadbusi_assets.deid.warmup.reader_fork_safe`: a CPU build of torch with one
    OpenMP thread; a CUDA or ROCm build, or an OpenMP runtime of more threads, builds the
    reader in each worker (as before)."""
    torch = pytest.importorskip("torch")
    from cadbusi_assets.deid import warmup
    from cadbusi_assets.ultrasound import ocr

    monkeypatch.setattr(torch.version, "cuda", None)
    monkeypatch.setattr(torch.version, "hip", None, raising=False)
    monkeypatch.setattr(ocr, "openmp_thread_limit", lambda: 1)
    assert warmup.reader_fork_safe()
    monkeypatch.setattr(ocr, "openmp_thread_limit", lambda: 4)
    assert not warmup.reader_fork_safe()
    monkeypatch.setattr(ocr, "openmp_thread_limit", lambda: 1)
    monkeypatch.setattr(torch.version, "cuda", "12.4")
    assert not warmup.reader_fork_safe()
    monkeypatch.setattr(torch.version, "cuda", None)
    monkeypatch.setattr(torch.version, "hip", "6.2")
    assert not warmup.reader_fork_safe()
