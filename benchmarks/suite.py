"""`cadbusi bench` / `make bench`: the benchmarks of every package, printed and saved.

* ``pipeline``: the partition stages on a fresh synthetic cohort (records → retrieval →
  de-identification → analysis → inpainting → catalog → export), images/s and seconds per stage;
* ``deid``: de-identification throughput (``benchmarks.deid``);
* ``deid-vs-tools``: ``cadbusi deidentify`` and ``cadbusi analyze`` side by side with DCMTK
  ``dcmj2pnm`` and the decode + PNG floor on text-heavy held-out screens
  (``benchmarks.sidebyside``);
* ``analysis``: ultrasound analysis speed and accuracy against ground truth
  (``benchmarks.analysis``);
* ``pacs``: retrieval from a real Orthanc over DICOMweb and DIMSE (``benchmarks.pacs``);
* ``screens-heldout``: crop, calipers and inpainting per screen family, tuning against
  held-out families (``benchmarks.screens``).

Figures are written to ``.benchmarks/<name>.json``; nothing here asserts on them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH_DIR = Path(".benchmarks")


def _timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def pipeline_benchmark(
    days: int = 5, seed: int = 424242, workers: int | None = None, ocr: bool = True
) -> dict:
    """Run every partition stage on a fresh cohort and report seconds and images/s per stage."""
    from cadbusi_assets.catalog import build_metadata_db
    from cadbusi_assets.exports import ExportConfig, build_export
    from cadbusi_assets.identity import Pseudonymizer, generate_key_file, load_key
    from cadbusi_assets.pacs import open_pacs
    from cadbusi_assets.parallel import resolve_workers
    from cadbusi_assets.records import open_warehouse
    from cadbusi_assets.stages import analysis, deidentification, records, retrieval
    from cadbusi_assets.storage import open_zone
    from cadbusi_demo import DemoConfig, generate_demo_cohort

    out: dict[str, Any] = {
        "days": days,
        "seed": seed,
        "workers": resolve_workers(workers),
        "ocr": ocr,
    }
    with tempfile.TemporaryDirectory(prefix="cadbusi-bench-") as tmp:
        root = Path(tmp)
        config = DemoConfig(start=dt.date(2026, 9, 1), days=days, seed=seed, workers=workers)
        cohort, seconds, _ = _timed(lambda: generate_demo_cohort(root / "cohort", config))
        summary = cohort.summary()
        out["cohort"] = {k: summary.get(k) for k in ("us_studies", "instances", "frames", "bytes")}
        out["generate_s"] = round(seconds, 2)
        pseudonymizer = Pseudonymizer(load_key(generate_key_file(root / "k.key")))
        raw, research = (
            open_zone(root / "raw", "raw").ensure(),
            open_zone(root / "research", "research").ensure(),
        )
        day_keys = [(config.start + dt.timedelta(days=i)).isoformat() for i in range(days)]
        stages: dict[str, dict[str, float | None]] = {}

        def record(
            name: str, fn: Callable[[], Any], items: Callable[[], int] | None = None
        ) -> None:
            _, wall, cpu = _timed(fn)
            entry: dict[str, float | None] = {
                "wall_s": round(wall, 2),
                "main_process_cpu_s": round(cpu, 2),
            }
            if items is not None:
                n = items()
                entry["items"] = n
                entry["items_per_s"] = round(n / wall, 1) if wall > 0 else None
            stages[name] = entry

        warehouse = open_warehouse(f"duckdb://{root / 'cohort' / 'warehouse.duckdb'}")
        record(
            "records",
            lambda: (
                records.load_radiology_reports(warehouse, raw, day_keys),
                records.load_pathology_reports(warehouse, raw, day_keys),
                records.select_imaging_studies(warehouse, raw, day_keys),
            ),
        )
        pacs = open_pacs(f"folder://{root / 'cohort' / 'pacs'}")
        reports: dict[str, Any] = {}
        record(
            "retrieval",
            lambda: [retrieval.retrieve_partition(pacs, raw, pseudonymizer, d) for d in day_keys],
            lambda: summary.get("instances", 0),
        )
        record(
            "deidentification",
            lambda: reports.update(
                {
                    d: deidentification.deidentify_partition(
                        raw, research, pseudonymizer, d, verify_ocr=ocr, workers=workers
                    )
                    for d in day_keys
                }
            ),
            lambda: sum(r.report.counts.get("instances_deidentified", 0) for r in reports.values()),
        )
        images = sum(r.report.row_count for r in reports.values())
        record(
            "image_features",
            lambda: [
                analysis.analyze_partition(
                    research, pseudonymizer.batch_name(d), ocr=ocr, workers=workers
                )
                for d in day_keys
            ],
            lambda: images,
        )
        record(
            "inpainting",
            lambda: [
                analysis.inpaint_partition(research, pseudonymizer.batch_name(d), workers=workers)
                for d in day_keys
            ],
        )
        record("catalog", lambda: build_metadata_db(research))
        record(
            "export",
            lambda: build_export(
                research, ExportConfig(key="bench"), {"bench": True}, workers=workers
            ),
            lambda: images,
        )
        warehouse.close()
        out["stages"] = stages
        total = sum(s["wall_s"] or 0.0 for n, s in stages.items())
        out["images"] = images
        out["total_pipeline_s"] = round(total, 2)
        out["images_per_s_end_to_end"] = round(images / total, 2) if total else None
    return out


def _full_chain_one(job: tuple) -> int:
    """Worker: what the pipeline does per instance (read, de-identify header and pixels, verify
    with OCR, write the de-identified DICOM and one PNG per frame)."""
    from cadbusi_assets.deid import deidentify_dataset
    from cadbusi_assets.dicom import dataset_to_bytes, read_dataset
    from cadbusi_assets.ultrasound import encode_png

    source, out_dir, pseudonymizer, verify_ocr = job
    result = deidentify_dataset(
        read_dataset(Path(source).read_bytes()), pseudonymizer, verify_ocr=verify_ocr
    )
    stem = Path(out_dir) / Path(source).stem
    stem.with_suffix(".dcm").write_bytes(dataset_to_bytes(result.dataset))
    for index, frame in enumerate(result.frames):
        Path(f"{stem}_f{index}.png").write_bytes(encode_png(frame))
    return 1


def _call(module: str, function: str, **kwargs) -> dict:
    import importlib

    fn = getattr(importlib.import_module(module), function)
    return fn(**kwargs)


def run_benchmarks(
    only: list[str], quick: bool = False, echo: Callable[[str], None] = print
) -> int:
    suites: dict[str, Callable[[], dict]] = {
        "pipeline": lambda: pipeline_benchmark(days=2 if quick else 5),
        "text-heldout": lambda: _call(
            "benchmarks.analysis",
            "run_text_benchmark",
            frames_per_family=6 if quick else 20,
        ),
        "deid": lambda: _call("benchmarks.deid", "run_benchmark", n=10 if quick else 50),
        "deid-vs-tools": lambda: _call(
            "benchmarks.sidebyside", "run_benchmark", n=40 if quick else 120
        ),
        "analysis-speed": lambda: _call(
            "benchmarks.analysis", "run_speed_benchmark", n=40 if quick else 200
        ),
        "analysis-accuracy": lambda: _call("benchmarks.analysis", "run_accuracy_benchmark"),
        "pacs": lambda: _call("benchmarks.pacs", "run_benchmark", n_instances=60 if quick else 300),
        "screens-heldout": lambda: _call(
            "benchmarks.screens", "run_screens_benchmark", frames=5 if quick else 20
        ),
    }
    selected = [s for s in suites if not only or any(s.startswith(o) for o in only)]
    BENCH_DIR.mkdir(exist_ok=True)
    failures = 0
    for name in selected:
        echo(f"== {name}")
        try:
            result, wall, _ = _timed(suites[name])
        except Exception:
            failures += 1
            echo(traceback.format_exc(limit=5))
            continue
        result = {
            "benchmark": name,
            "wall_s": round(wall, 1),
            "cpu_count": os.cpu_count(),
            **result,
        }
        (BENCH_DIR / f"{name}.json").write_text(
            json.dumps(result, indent=2, sort_keys=True, default=str)
        )
        echo(json.dumps(result, indent=2, sort_keys=True, default=str))
    echo(f"figures saved in {BENCH_DIR.resolve()}")
    return 1 if failures else 0
