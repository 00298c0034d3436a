"""The standalone commands: ``cadbusi deidentify`` and ``cadbusi verify`` (argparse-free).

The CLI wires these functions to argparse; they print through ``echo`` and return the exit
code: 0 all clean, 1 something was quarantined or flagged, 2 usage, key or OCR set-up error.

``deidentify`` is a thin wrapper over the stage behind the ``deidentified_images`` asset
(:func:`cadbusi_assets.stages.deidentification.deidentify_files`): INPUT is read as a raw
zone and OUTPUT written as a research zone in the chosen layout, with the same bytes as the
asset writes: per input the de-identified DICOM ``<instance_id>.dcm`` and one PNG
``<image_id>.png`` per kept frame (every 4th of a cine), and the tables ``images.parquet`` and
``instances.parquet`` (pseudonyms and OUTPUT paths only).

With ``--analyze`` the command runs the one pass behind the ``deidentified_images``,
``image_features`` and ``inpainted_images`` assets
(:func:`cadbusi_assets.stages.imaging.process_files`): each input is decoded once, the OCR
verification's reading of a frame is its annotation reading, and OUTPUT also gets the assets'
tables ``image_features.parquet``, ``twins.parquet`` and ``inpainted_images.parquet`` and an
inpainted PNG ``inpainted/<image_id>.png`` for every frame with calipers and no clean twin, the
same bytes and rows as the assets write. ``cadbusi analyze`` stays for files de-identified
already.

Output paths are built from pseudonyms only, and nothing printed or written into OUTPUT names
an original identifier. The report of ``deidentify`` (written by default beside OUTPUT, as
``<OUTPUT>.report.csv``) links each input path to its output, so it is a re-identification
table: it stays with the raw data, and the command refuses a report path inside OUTPUT.
Quarantined and duplicate inputs are named on screen and in the report by their path relative
to INPUT: the operator's own raw-side file names (keep that terminal on the raw side when
those names carry identifiers). Files are counted on a progress bar (stderr, terminals only).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import polars as pl

from cadbusi_assets.deid.identifiers import OriginalIdentifiers
from cadbusi_assets.deid.profile import PROFILE_NAMES
from cadbusi_assets.deid.verify import verify_file
from cadbusi_assets.dicom import DicomReadError, read_dataset
from cadbusi_assets.identity import Pseudonymizer, PseudonymKeyError, load_key
from cadbusi_assets.progress import ProgressBar
from cadbusi_assets.settings import tesseract_problem
from cadbusi_assets.stages.deidentification import DeidFiles, DeidInput, deidentify_files
from cadbusi_assets.storage import Zone, open_zone

#: The research tables of a run, in OUTPUT (pseudonyms and output paths only).
IMAGES_FILE = "images.parquet"
INSTANCES_FILE = "instances.parquet"
#: ... and with ``--analyze`` the analysis's (the assets' ``image_features``, ``twins`` and
#: ``inpainted_images`` tables), the inpainted PNGs in :data:`INPAINTED_FOLDER`.
FEATURES_FILE = "image_features.parquet"
TWINS_FILE = "twins.parquet"
INPAINTED_FILE = "inpainted_images.parquet"
INPAINTED_FOLDER = "inpainted"

LAYOUTS = ("flat", "study")

#: PNG frames written per cine (every n-th frame; the ``deidentified_images`` asset's default).
FRAME_STEP = 4

Echo = Callable[[str], None]


@dataclass
class DeidRow:
    """One report row (no original identifier except the input path, see module doc)."""

    input_path: str
    status: str  # ok | quarantined | duplicate
    output_path: str
    reason: str
    frames: int
    pixel_cleaning: str
    seconds: float


def default_report_path(output_dir: Path) -> Path:
    """``<OUTPUT>.report.csv``: beside OUTPUT, never inside it.

    >>> default_report_path(Path("/data/deid"))
    PosixPath('/data/deid.report.csv')
    """
    output_dir = Path(output_dir).resolve()  # "." and "out/" get a real name
    return output_dir.parent / f"{output_dir.name or 'output'}.report.csv"


def _input_files(root: Path, exclude: Path, report: Path | None = None) -> list[Path]:
    exclude = exclude.resolve()
    skip = report.resolve() if report is not None else None
    files = []
    for path in sorted(root.rglob("*")):
        resolved = path.resolve()
        if not path.is_file() or resolved == skip:
            continue
        if exclude not in resolved.parents and resolved != exclude:
            files.append(path)
    return files


def write_report(rows: list[dict], path: Path) -> None:
    """CSV, or Parquet when the name ends in ``.parquet``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame()
    if path.suffix.lower() == ".parquet":
        frame.write_parquet(path)
    else:
        frame.write_csv(path)


def _is_within(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def deidentify_command(
    input_dir: Path,
    output_dir: Path,
    *,
    key_file: Path | None,
    profile: str,
    jobs: int | None,
    layout: str,
    report: Path | None,
    verify_ocr: bool,
    echo: Echo,
    frame_step: int = FRAME_STEP,
    analyze: bool = False,
) -> int:
    """De-identify every file under ``input_dir`` into ``output_dir``; see the module doc.

    ``report`` defaults to :func:`default_report_path` (beside ``output_dir``); a PNG is
    written for every ``frame_step``-th frame of a cine. ``analyze``: the one pass of the
    assets (:func:`cadbusi_assets.stages.imaging.process_files`) also analyses every kept
    frame and inpaints the frames with calipers and no clean twin (the OCR verification's
    reading of a frame is its annotation reading: each file decoded, each frame read once).
    """
    input_dir, output_dir = Path(input_dir), Path(output_dir)
    report = Path(report) if report is not None else default_report_path(output_dir)
    if not input_dir.is_dir():
        echo("error: INPUT is not a folder")
        return 2
    if layout not in LAYOUTS:
        echo(f"error: --layout must be one of {', '.join(LAYOUTS)}")
        return 2
    if profile not in PROFILE_NAMES:
        echo(f"error: unknown --profile; choose one of {', '.join(PROFILE_NAMES)}")
        return 2
    if output_dir.resolve() == input_dir.resolve():
        echo("error: OUTPUT must differ from INPUT")
        return 2
    if _is_within(report, output_dir):
        echo("error: the report links inputs to outputs; write it outside OUTPUT")
        return 2
    if verify_ocr:
        problem = tesseract_problem()
        if problem:
            echo(f"error: OCR verification of burned-in text is on, but {problem} (or --no-ocr)")
            return 2
    try:
        key = load_key(key_file, forbidden_roots=(output_dir,))
    except PseudonymKeyError as exc:
        echo(f"error: {exc}")
        return 2
    pseudonymizer = Pseudonymizer(key)

    files = _input_files(input_dir, output_dir, report)
    output_dir.mkdir(parents=True, exist_ok=True)
    inputs = [
        # an opaque key: the input path may name the patient, and the tables lie in OUTPUT
        DeidInput(path.relative_to(input_dir).as_posix(), f"input-{index:06d}")
        for index, path in enumerate(files, start=1)
    ]
    echo(
        f"de-identifying {'and analysing ' if analyze else ''}{len(inputs)} files with "
        f"profile {profile} (key {key.fingerprint}, "
        f"OCR verification {'on' if verify_ocr else 'off'})"
    )
    started = time.perf_counter()
    research = open_zone(output_dir, "output")
    if analyze:
        done = _one_pass(
            input_dir,
            research,
            inputs,
            pseudonymizer,
            profile,
            frame_step,
            verify_ocr,
            jobs,
            layout,
            echo,
        )
    else:
        with ProgressBar(len(inputs), "de-identifying") as bar:
            done = deidentify_files(
                open_zone(input_dir, "input"),
                research,
                inputs,
                pseudonymizer,
                profile=profile,
                frame_step=frame_step,
                verify_ocr=verify_ocr,
                workers=jobs,
                layout=layout,
                progress_path=bar.path,
            )
    research.write_parquet((IMAGES_FILE,), done.images)
    research.write_parquet((INSTANCES_FILE,), done.instances)

    rows = []
    for index, (item, outcome) in enumerate(zip(inputs, done.outcomes, strict=True), start=1):
        instance = outcome.instance or {}
        row = DeidRow(
            input_path=item.raw_path,
            status=outcome.status,
            output_path=instance.get("dicom_path", "") or outcome.duplicate_of,
            reason=(outcome.quarantine or {}).get("reason", ""),
            frames=instance.get("n_frames", 0),
            pixel_cleaning=instance.get("pixel_cleaning", ""),
            seconds=outcome.seconds,
        )
        rows.append(row)
        if row.status != "ok":  # name the input: the operator must find it (raw side)
            echo(f"[{index}/{len(inputs)}] {row.status}: {row.input_path}: {row.reason}")

    quarantined = [r for r in rows if r.status == "quarantined"]
    elapsed = time.perf_counter() - started
    echo(
        f"done: {sum(r.status == 'ok' for r in rows)} de-identified, {len(quarantined)} "
        f"quarantined, {sum(r.status == 'duplicate' for r in rows)} duplicates "
        f"in {elapsed:.1f} s"
    )
    for reason in sorted({r.reason for r in quarantined}):
        count = sum(r.reason == reason for r in quarantined)
        echo(f"  quarantined x{count}: {reason}")
    write_report([asdict(r) for r in rows], report)
    echo(f"report (input -> output, keep it with the raw data): {report}")
    return 1 if quarantined else 0


def _one_pass(
    input_dir: Path,
    research: Zone,
    inputs: list[DeidInput],
    pseudonymizer: Pseudonymizer,
    profile: str,
    frame_step: int,
    ocr: bool,
    jobs: int | None,
    layout: str,
    echo: Echo,
) -> DeidFiles:
    """``--analyze``: the assets' one pass over the folder; writes the analysis tables and
    PNGs beside the de-identification's, and returns the de-identification's part."""
    from cadbusi_assets.stages.imaging import process_files

    with ProgressBar(len(inputs), "de-identifying and analysing") as bar:
        done = process_files(
            open_zone(input_dir, "input"),
            research,
            inputs,
            pseudonymizer,
            profile=profile,
            frame_step=frame_step,
            ocr=ocr,
            workers=jobs,
            layout=layout,
            progress_path=bar.path,
            inpainted_path=_inpainted_path,
        )
    research.write_parquet((FEATURES_FILE,), done.features)
    research.write_parquet((TWINS_FILE,), done.twins)
    research.write_parquet((INPAINTED_FILE,), done.inpainted)
    features = done.features
    calipers = int(features["has_calipers"].fill_null(False).sum()) if features.height else 0
    kept = int(features["exclusion_reason"].is_null().sum()) if features.height else 0
    echo(
        f"analysed {features.height} frames: {calipers} with calipers, {done.twins.height} "
        f"clean twins, {done.inpainted.height} inpainted ({INPAINTED_FOLDER}/), {kept} kept"
    )
    return done.deidentified


def _inpainted_path(image_id: str) -> str:
    return f"{INPAINTED_FOLDER}/{image_id}.png"


def _original_identifiers(root: Path, echo: Echo) -> OriginalIdentifiers:
    identifiers = OriginalIdentifiers()
    unreadable = 0
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        try:
            ds = read_dataset(path, stop_before_pixels=True)
        except DicomReadError:
            unreadable += 1
            continue
        identifiers = identifiers.merge(OriginalIdentifiers.from_dataset(ds))
    if unreadable:
        echo(f"note: {unreadable} files under the originals folder are not DICOM")
    return identifiers


def verify_command(
    output_dir: Path,
    *,
    report: Path | None,
    identifiers_from: Path | None,
    echo: Echo,
    ocr: bool = True,
) -> int:
    """Re-scan de-identified outputs for anything identifying; 1 if something is found.

    Every ``.dcm`` file is checked (element walk, byte scan without the pixel values, the
    de-identification bookkeeping, free-text patterns); with ``identifiers_from`` (the
    original input tree) the originals' own identifiers are searched for too, also by OCR of
    the pixels when ``ocr`` is on and tesseract is installed.
    """
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        echo("error: OUTPUT is not a folder")
        return 2
    identifiers = OriginalIdentifiers()
    if identifiers_from is not None:
        if not Path(identifiers_from).is_dir():
            echo("error: the originals folder does not exist")
            return 2
        identifiers = _original_identifiers(Path(identifiers_from), echo)
    files = sorted(p for p in output_dir.rglob("*.dcm") if p.is_file())
    rows = []
    lines = []
    with ProgressBar(len(files), "verifying") as bar:
        for index, path in enumerate(files, start=1):
            findings = verify_file(path, identifiers, ocr=ocr and identifiers_from is not None)
            status = "clean" if not findings else "flagged"
            relative = path.relative_to(output_dir).as_posix()
            rows.append(
                {"output_path": relative, "status": status, "findings": "; ".join(findings)}
            )
            if findings:
                lines.append(f"[{index}/{len(files)}] flagged: {relative}: {'; '.join(findings)}")
            bar.advance()
    for line in lines:
        echo(line)
    flagged = sum(r["status"] != "clean" for r in rows)
    echo(f"verified {len(files)} files: {flagged} flagged")
    if report is not None:
        write_report(rows, Path(report))
        echo(f"report: {report}")
    return 1 if flagged else 0
