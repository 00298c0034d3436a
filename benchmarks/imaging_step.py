"""The imaging step before and after one pass per image (issue 12).

``python -m benchmarks.imaging_step [--days 3] [--repeats 2] [--workers 2]``: a demo cohort
is retrieved into a raw zone; then, per study date, the three stages (``deidentify_partition``,
``analyze_partition``, ``inpaint_partition``) and the one pass (``process_partition``) each
write a fresh research zone. Printed per date and in all: wall seconds, the part spent in the
workers' image work (inside ``parallel_map``) and the rest (orchestration: reading and writing
tables, twins, reports), and images per second; the best of ``repeats`` runs. Figures are
wall-clock on whatever else the machine is doing: compare them on one machine only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _with_timer(module: Any, spent: list[float]) -> Callable[[], None]:
    """Count the seconds ``module.parallel_map`` takes; returns the undo."""
    original = module.parallel_map

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - started)

    module.parallel_map = timed
    return lambda: setattr(module, "parallel_map", original)


def run_benchmark(
    days: int = 3, repeats: int = 2, workers: int = 2, seed: int = 424242, ocr: bool = True
) -> dict[str, Any]:
    from cadbusi_assets.identity import Pseudonymizer, generate_key_file, load_key
    from cadbusi_assets.pacs import open_pacs
    from cadbusi_assets.records import open_warehouse
    from cadbusi_assets.stages import analysis, deidentification, imaging, records, retrieval
    from cadbusi_assets.storage import open_zone
    from cadbusi_demo import DemoConfig, generate_demo_cohort

    out: dict[str, Any] = {"days": days, "repeats": repeats, "workers": workers, "ocr": ocr}
    with tempfile.TemporaryDirectory(prefix="cadbusi-imaging-bench-") as tmp:
        root = Path(tmp)
        config = DemoConfig(start=dt.date(2026, 9, 1), days=days, seed=seed, workers=workers)
        generate_demo_cohort(root / "cohort", config)
        pseudonymizer = Pseudonymizer(load_key(generate_key_file(root / "k.key")))
        raw = open_zone(root / "raw", "raw").ensure()
        day_keys = [(config.start + dt.timedelta(days=i)).isoformat() for i in range(days)]
        warehouse = open_warehouse(f"duckdb://{root / 'cohort' / 'warehouse.duckdb'}")
        records.load_radiology_reports(warehouse, raw, day_keys)
        records.load_pathology_reports(warehouse, raw, day_keys)
        records.select_imaging_studies(warehouse, raw, day_keys)
        warehouse.close()
        pacs = open_pacs(f"folder://{root / 'cohort' / 'pacs'}")
        for day in day_keys:
            retrieval.retrieve_partition(pacs, raw, pseudonymizer, day)

        def three_stages(research: Any, day: str) -> int:
            batch = pseudonymizer.batch_name(day)
            done = deidentification.deidentify_partition(
                raw, research, pseudonymizer, day, verify_ocr=ocr, workers=workers
            )
            analysis.analyze_partition(research, batch, ocr=ocr, workers=workers)
            analysis.inpaint_partition(research, batch, workers=workers)
            return done.report.row_count

        def one_pass(research: Any, day: str) -> int:
            done = imaging.process_partition(
                raw, research, pseudonymizer, day, ocr=ocr, workers=workers
            )
            return done.deidentification.report.row_count

        modules = (deidentification, analysis, imaging)
        kept: dict[tuple[str, str], Any] = {}
        for name, step in (("three_stages", three_stages), ("one_pass", one_pass)):
            per_day: dict[str, dict[str, float]] = {}
            for day in day_keys:
                best: dict[str, float] | None = None
                for attempt in range(repeats):
                    folder = root / f"research_{name}_{attempt}"
                    research = open_zone(folder, "research").ensure()
                    spent: list[float] = []
                    undo = [_with_timer(m, spent) for m in modules]
                    try:
                        started = time.perf_counter()
                        images = step(research, day)
                        wall = time.perf_counter() - started
                    finally:
                        for u in undo:
                            u()
                    if attempt == 0:
                        kept[(name, day)] = research
                    else:
                        shutil.rmtree(folder)
                    entry = {
                        "images": images,
                        "wall_s": round(wall, 2),
                        "image_work_s": round(sum(spent), 2),
                        "orchestration_s": round(wall - sum(spent), 2),
                        "images_per_s": round(images / wall, 2) if wall else 0.0,
                    }
                    if best is None or entry["wall_s"] < best["wall_s"]:
                        best = entry
                assert best is not None
                per_day[day] = best
            total_wall = sum(d["wall_s"] for d in per_day.values())
            total_images = sum(d["images"] for d in per_day.values())
            out[name] = {
                "per_day": per_day,
                "wall_s": round(total_wall, 2),
                "image_work_s": round(sum(d["image_work_s"] for d in per_day.values()), 2),
                "orchestration_s": round(sum(d["orchestration_s"] for d in per_day.values()), 2),
                "images": total_images,
                "images_per_s": round(total_images / total_wall, 2) if total_wall else 0.0,
            }
        out["same_output"] = {day: _compare(kept, day, pseudonymizer) for day in day_keys}
    return out


def _compare(kept: dict[tuple[str, str], Any], day: str, pseudonymizer: Any) -> dict[str, Any]:
    """Whether the one pass wrote what the three stages wrote for ``day``: tables equal, and
    files (PNG, DICOM) byte-identical; for a features table that differs, the columns."""
    from cadbusi_assets.stages import analysis, deidentification
    from cadbusi_assets.storage import read_partition_table

    old, new = kept[("three_stages", day)], kept[("one_pass", day)]
    batch = pseudonymizer.batch_name(day)
    result: dict[str, Any] = {}
    for table in (
        deidentification.INSTANCES_TABLE,
        deidentification.IMAGES_TABLE,
        deidentification.QUARANTINE_TABLE,
        analysis.FEATURES_TABLE,
        analysis.TWINS_TABLE,
        analysis.INPAINTED_TABLE,
    ):
        a, b = read_partition_table(old, table, batch), read_partition_table(new, table, batch)
        same = a is not None and b is not None and a.equals(b)
        result[table] = same
        if not same and a is not None and b is not None and a.height == b.height:
            result[f"{table}_differing_columns"] = [
                c for c in a.columns if c in b.columns and not a[c].equals(b[c])
            ]

    def files(zone: Any) -> dict[str, bytes]:
        base = Path(zone.uri)
        return {
            p.relative_to(base).as_posix(): p.read_bytes()
            for p in base.rglob("*")
            if p.suffix in (".png", ".dcm")
        }

    a_files, b_files = files(old), files(new)
    result["files"] = len(a_files)
    result["files_identical"] = a_files == b_files
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.imaging_step", description=__doc__)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-ocr", action="store_true")
    args = parser.parse_args()
    result = run_benchmark(
        days=args.days, repeats=args.repeats, workers=args.workers, ocr=not args.no_ocr
    )
    print(json.dumps(result, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
