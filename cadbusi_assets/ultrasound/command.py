"""``cadbusi analyze INPUT OUTPUT``: features of every frame of a folder of DICOM files.

A thin wrapper over the stages behind the ``image_features`` and ``inpainted_images`` assets
(:mod:`cadbusi_assets.stages.analysis`): INPUT is read as a zone, and the same workers
decode, analyse and inpaint in parallel processes (counted on a progress bar on stderr,
terminals only). Writes ``OUTPUT/features.parquet`` (one row per analysed frame, every
``frame_step``-th of a cine, plus one row per unreadable file with its ``exclusion_reason``;
the clean twin of a caliper frame, paired within a StudyInstanceUID, and the inpainted PNG's
path) and ``OUTPUT/inpainted/<file path without suffix>_f<frame>.png`` for every frame with
calipers and no clean twin. A file that ``cadbusi deidentify`` wrote gives the same features
and inpainted PNG bytes as the assets give for the same instance. OCR of the burned-in
annotation is on unless ``ocr=False`` (``--no-ocr``): without tesseract the command stops with
the install command instead of silently reading no text.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import polars as pl

from cadbusi_assets.progress import ProgressBar
from cadbusi_assets.settings import SettingsError, require_compute, tesseract_problem
from cadbusi_assets.stages.analysis import (
    analyze_dicom_files,
    inpaint_images,
    inpaint_targets,
    inpaint_tasks,
)
from cadbusi_assets.storage import open_zone
from cadbusi_assets.storage.zones import remove_unlisted


def dicom_files(input_dir: Path) -> list[Path]:
    """Every regular file under ``input_dir`` that starts like DICOM (preamble + 'DICM')."""
    found = []
    for path in sorted(p for p in input_dir.rglob("*") if p.is_file()):
        try:
            with path.open("rb") as handle:
                head = handle.read(132)
        except OSError:
            continue
        if head[128:132] == b"DICM" or path.suffix.lower() == ".dcm":
            found.append(path)
    return found


def analyze_command(
    input_dir: Path,
    output_dir: Path,
    *,
    jobs: int | None = None,
    frame_step: int = 1,
    ocr: bool = True,
    echo: Callable[[str], None] = print,
) -> int:
    """Analyse every DICOM file under ``input_dir``; returns a process exit code."""
    started = time.perf_counter()
    input_dir, output_dir = Path(input_dir), Path(output_dir)
    if not input_dir.is_dir():
        echo(f"error: {input_dir} is not a folder")
        return 2
    if output_dir.resolve() == input_dir.resolve():
        echo("error: OUTPUT must differ from INPUT")
        return 2
    if output_dir.exists() and not output_dir.is_dir():
        echo("error: OUTPUT exists and is not a folder")
        return 2
    files = [p.relative_to(input_dir).as_posix() for p in dicom_files(input_dir)]
    if not files:
        echo(f"error: no DICOM files under {input_dir}")
        return 1
    if ocr:
        problem = tesseract_problem()
        if problem:
            echo(f"error: OCR of the annotations is on, but {problem} (or --no-ocr)")
            return 2
    try:
        require_compute()
    except SettingsError as exc:
        echo(f"error: {exc}")
        return 2
    step = max(1, frame_step)
    echo(f"analysing {len(files)} files (every {step}. frame, OCR {'on' if ocr else 'off'})")
    source = open_zone(input_dir, "input")
    with ProgressBar(len(files), "analysing") as bar:
        features, twins = analyze_dicom_files(
            source, files, frame_step=step, ocr=ocr, workers=jobs, progress_path=bar.path
        )
    if features.filter(pl.col("error").is_null()).is_empty():
        # (no frame to analyse: the tables of frames have no columns to join on)
        output = open_zone(output_dir, "output").ensure()
        output.write_parquet(("features.parquet",), features)
        echo(
            f"error: none of the {len(files)} files under {input_dir} could be read as an "
            f"image; each file's reason is in {output_dir / 'features.parquet'} (column error)"
        )
        return 1
    features = features.join(
        twins.select(
            pl.col("caliper_image_id").alias("image_id"),
            pl.col("clean_image_id").alias("clean_twin_image_id"),
            pl.col("distance").alias("twin_distance"),
        ),
        on="image_id",
        how="left",
    )
    targets = inpaint_targets(features.filter(pl.col("error").is_null()), twins).with_columns(
        target=pl.format("inpainted/{}.png", pl.col("image_id"))
    )
    output = open_zone(output_dir, "output").ensure()
    earlier = _inpainted_listed(output_dir)  # an earlier run's, into the same OUTPUT
    (output_dir / "inpainted").mkdir(exist_ok=True)
    with ProgressBar(targets.height, "inpainting") as bar:
        tasks = inpaint_tasks(source, targets, target_zone=output, progress_path=bar.path)
        inpainted, _ = inpaint_images(tasks, jobs)
    features = features.join(
        inpainted.select("image_id", "inpainted_path"), on="image_id", how="left"
    )
    output.write_parquet(("features.parquet",), features)
    # an earlier run's inpainted PNGs that this run did not make (a file gone from INPUT, a
    # frame no longer inpainted): listed by nothing any more, so removed
    removed = remove_unlisted(output_dir, earlier, _inpainted_listed(output_dir))
    analysed = features.filter(pl.col("error").is_null())
    unreadable = features.height - analysed.height
    kept = analysed.filter(pl.col("exclusion_reason").is_null()).height
    echo(
        f"{analysed.height} frames from {len(files) - unreadable} files"
        f" ({unreadable} unreadable): {int(analysed['has_calipers'].sum() or 0)} with calipers,"
        f" {twins.height} clean twins, {inpainted.height} inpainted,"
        f" {int(analysed['is_doppler'].sum() or 0)} Doppler, {kept} kept"
        f" in {time.perf_counter() - started:.1f} s"
    )
    if removed:
        echo(f"removed {removed} inpainted PNGs an earlier run wrote for frames this run did not")
    echo(f"wrote {output_dir / 'features.parquet'} and {output_dir / 'inpainted'}/")
    return 0


def _inpainted_listed(output_dir: Path) -> set[str]:
    """The inpainted PNGs (paths in OUTPUT) its ``features.parquet`` lists."""
    path = output_dir / "features.parquet"
    if not path.is_file():
        return set()
    try:
        table = pl.read_parquet(path)
    except Exception:  # an unreadable table lists nothing of ours
        return set()
    if "inpainted_path" not in table.columns:
        return set()
    return {str(v) for v in table["inpainted_path"].drop_nulls().to_list() if v}
