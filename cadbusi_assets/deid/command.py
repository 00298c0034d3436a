"""The standalone commands: ``cadbusi deidentify`` and ``cadbusi verify`` (argparse-free).

The CLI wires these functions to argparse; they print through ``echo`` and return the exit
code: 0 all clean, 1 something was quarantined or flagged, 2 usage, key or OCR set-up error.

``deidentify`` runs the steps of the stage behind the ``deidentified_images`` asset
(:func:`cadbusi_assets.stages.deidentification.deidentify_files`: the stage's tasks, its
worker, its duplicate resolution and tables): INPUT is read as a raw zone and OUTPUT written
as a research zone in the chosen layout, with the same bytes as the asset writes: per input
the de-identified DICOM ``<instance_id>.dcm`` and one PNG ``<image_id>.png`` per kept frame
(every 4th of a cine), and the tables ``images.parquet`` and ``instances.parquet``
(pseudonyms and OUTPUT paths only).

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
Quarantined and duplicate inputs are named in the report by their path relative to INPUT (the
operator's own raw-side file names); on screen by their row of the report and the reason only,
as a file's name may name the patient and a terminal's output is pasted into tickets. Files are
counted on a progress bar (stderr, terminals only), which names none.

Refused before anything is written (exit 2): OUTPUT = INPUT, INPUT inside OUTPUT (OUTPUT inside
INPUT is fine: it is never read back), and a second run into an OUTPUT that one is writing into
(a ``flock`` on the OUTPUT folder, :func:`_only_run_into`). A symbolic link in INPUT that leads
nowhere (dangling, a loop) is quarantined as unreadable and named in the report. Ctrl-C stops
the run (exit 130): OUTPUT keeps the files finished so far (each written whole, by rename), not
this run's tables nor its report; the same command run again finishes with the same bytes.

Start-up: with workers, the command's own process imports neither the stages nor polars, with
or without ``--analyze`` (the workers' fork server imports them, on the same cores,
:class:`FolderRun`); it lists the files and hands them out while the fork server starts.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import pickle
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cadbusi_assets.deid.profile import PROFILE_NAMES
from cadbusi_assets.identity import Pseudonymizer, PseudonymKeyError, load_key
from cadbusi_assets.identity.optout import OptOutError, load_opt_out_from_env
from cadbusi_assets.parallel import call_in_worker, parallel_map
from cadbusi_assets.progress import ProgressBar
from cadbusi_assets.settings import SettingsError, require_compute, tesseract_problem

if TYPE_CHECKING:
    from cadbusi_assets.deid.identifiers import OriginalIdentifiers
    from cadbusi_assets.stages.deidentification import DeidFiles, DeidOutcome, DeidTask
    from cadbusi_assets.storage import Zone

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
    """The files under ``root`` (not below ``exclude``, not the report), sorted. A symbolic
    link that leads nowhere (dangling, or a loop) is an input all the same: its read fails
    and the report names it (quarantined, ``raw file unreadable``) instead of the listing
    crashing on the loop or dropping the link unsaid. Folders (``x.dcm/`` too), pipes and
    sockets are no inputs (a pipe's read would wait for ever)."""
    exclude = exclude.resolve()
    skip = report.resolve() if report is not None else None
    files = []
    for path in sorted(root.rglob("*")):
        try:
            resolved = path.resolve(strict=True)
        except (OSError, RuntimeError):  # dangling, a loop, or unreachable: read and quarantined
            if path.is_symlink():
                files.append(path)
            continue
        if not resolved.is_file() or resolved == skip:
            continue
        if exclude not in resolved.parents and resolved != exclude:
            files.append(path)
    return files


@contextlib.contextmanager
def _only_run_into(output_dir: Path) -> Iterator[bool]:
    """An exclusive ``flock`` on the OUTPUT folder itself for the run (no lock file: the lock
    ends with the process, Ctrl-C and kill included); ``False`` when another run holds it. Two
    runs into one OUTPUT would remove each other's files and leave tables listing files gone."""
    fd = os.open(output_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def write_report(rows: list[dict], path: Path) -> None:
    """CSV, or Parquet when the name ends in ``.parquet``."""
    import polars as pl

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
    if _is_within(input_dir, output_dir):  # its tables and pruning would be over the inputs
        echo("error: INPUT is inside OUTPUT; choose an OUTPUT outside INPUT's folder")
        return 2
    if output_dir.exists() and not output_dir.is_dir():
        echo("error: OUTPUT exists and is not a folder")
        return 2
    if _is_within(report, output_dir):
        echo("error: the report links inputs to outputs; write it outside OUTPUT")
        return 2
    if report.is_dir():  # found out only when it is written, after every file
        echo("error: --report is a folder; name the report's file (say report.csv) in it")
        return 2
    if verify_ocr:
        problem = tesseract_problem()
        if problem:
            echo(f"error: OCR verification of burned-in text is on, but {problem} (or --no-ocr)")
            return 2
    if analyze:
        try:
            require_compute()  # the analysis and inpainting's torch settings
        except SettingsError as exc:
            echo(f"error: {exc}")
            return 2
    try:
        key = load_key(key_file, forbidden_roots=(output_dir,))
    except PseudonymKeyError as exc:
        echo(f"error: {exc}")
        return 2
    pseudonymizer = Pseudonymizer(key)
    try:  # the deployment's withdrawals of consent: their files are quarantined, not written
        withdrawn = load_opt_out_from_env()
    except OptOutError as exc:
        echo(f"error: {exc}")
        return 2

    output_dir.mkdir(parents=True, exist_ok=True)
    with _only_run_into(output_dir) as alone:
        if not alone:
            echo(
                "error: another cadbusi deidentify is writing into OUTPUT; wait for it to "
                "finish (or choose another OUTPUT)"
            )
            return 2
        return _deidentify_into(
            input_dir,
            output_dir,
            report,
            pseudonymizer,
            withdrawn,
            key.fingerprint,
            profile=profile,
            jobs=jobs,
            layout=layout,
            verify_ocr=verify_ocr,
            echo=echo,
            frame_step=frame_step,
            analyze=analyze,
        )


def _deidentify_into(
    input_dir: Path,
    output_dir: Path,
    report: Path,
    pseudonymizer: Pseudonymizer,
    withdrawn: frozenset[str],
    fingerprint: str,
    *,
    profile: str,
    jobs: int | None,
    layout: str,
    verify_ocr: bool,
    echo: Echo,
    frame_step: int,
    analyze: bool,
) -> int:
    """:func:`deidentify_command`'s run, its checks passed and OUTPUT locked."""
    files = _input_files(input_dir, output_dir, report)
    # an opaque key: the input path may name the patient, and the tables lie in OUTPUT
    inputs = [
        (path.relative_to(input_dir).as_posix(), f"input-{index:06d}")
        for index, path in enumerate(files, start=1)
    ]
    echo(
        f"de-identifying {'and analysing ' if analyze else ''}{len(inputs)} files with "
        f"profile {profile} (key {fingerprint}, "
        f"OCR verification {'on' if verify_ocr else 'off'})"
    )
    started = time.perf_counter()
    label = "de-identifying and analysing" if analyze else "de-identifying"
    with ProgressBar(len(inputs), label) as bar:
        run = FolderRun(
            str(input_dir),
            str(output_dir),
            pseudonymizer,
            profile,
            frame_step,
            verify_ocr,
            layout,
            progress=bar.path,
            withdrawn=withdrawn,
        )
        if analyze:
            rows, removed = _one_pass(run, inputs, jobs, report, echo)
        else:
            blobs = parallel_map(
                _deidentify_input, [(run, *item) for item in inputs], jobs, min_items_per_worker=2
            )
            # the tables and the report: in a worker (it has the stage and polars loaded)
            rows, removed = call_in_worker(_finish, (run, tuple(inputs), blobs, str(report)))

    for index, row in enumerate(rows, start=1):
        if row["status"] != "ok":  # by its report row: an input's name may name the patient
            echo(f"[{index}/{len(rows)}] {row['status']}: {row['reason']} (report row {index})")
    quarantined = [r for r in rows if r["status"] == "quarantined"]
    elapsed = time.perf_counter() - started
    echo(
        f"done: {sum(r['status'] == 'ok' for r in rows)} de-identified, {len(quarantined)} "
        f"quarantined, {sum(r['status'] == 'duplicate' for r in rows)} duplicates "
        f"in {elapsed:.1f} s"
    )
    for reason in sorted({r["reason"] for r in quarantined}):
        count = sum(r["reason"] == reason for r in quarantined)
        echo(f"  quarantined x{count}: {reason}")
    if removed:
        echo(
            f"removed {removed} files an earlier run wrote into OUTPUT for inputs this run "
            "did not de-identify (gone from INPUT, or quarantined now)"
        )
    echo(f"report (input -> output, keep it with the raw data): {report}")
    return 1 if quarantined else 0


@dataclass(frozen=True)
class FolderRun:
    """What every input of one ``cadbusi deidentify`` run shares, as plain data.

    The command's own process imports neither the stage nor polars (~1 s of CPU that the
    workers' fork server spends already, on the same cores): it lists the files and hands
    them out; the workers build the stage's tasks (:meth:`task`), de-identify
    (:func:`_deidentify_input`) and write the tables and the report (:func:`_finish`)."""

    input_dir: str
    output_dir: str
    pseudonymizer: Pseudonymizer
    profile: str
    frame_step: int
    verify_ocr: bool
    layout: str
    progress: str = ""  # the progress bar's file (cadbusi_assets.progress)
    withdrawn: frozenset[str] = frozenset()  # $CADBUSI_OPT_OUT_FILE's ids, read once

    def task(self, raw_path: str, raw_instance_key: str) -> DeidTask:
        """The stage's task for one input (INPUT read as a raw zone, OUTPUT written as a
        research zone)."""
        from cadbusi_assets.stages.deidentification import DeidInput, deid_tasks

        (task,) = deid_tasks(
            _zone(self.input_dir, "input"),
            _zone(self.output_dir, "output"),
            [DeidInput(raw_path, raw_instance_key)],
            self.pseudonymizer,
            profile=self.profile,
            frame_step=self.frame_step,
            verify_ocr=self.verify_ocr,
            layout=self.layout,
            progress_path=self.progress,
            withdrawn=self.withdrawn,
        )
        return task


@functools.lru_cache(maxsize=8)
def _zone(root: str, name: str) -> Zone:
    from cadbusi_assets.storage import open_zone

    return open_zone(Path(root), name)


def _deidentify_input(item: tuple[FolderRun, str, str]) -> bytes:
    """Worker: one input de-identified and written (the stage's
    :func:`~cadbusi_assets.stages.deidentification.deidentify_one`); its outcome pickled, so
    that the command's process receives it without importing the stage."""
    from cadbusi_assets.stages.deidentification import deidentify_one

    run, raw_path, raw_instance_key = item
    return pickle.dumps(deidentify_one(run.task(raw_path, raw_instance_key)))


def _finish(
    item: tuple[FolderRun, tuple[tuple[str, str], ...], list[bytes], str],
) -> tuple[list[dict], int]:
    """Worker: the outcomes of every input → duplicates resolved, the tables written into
    OUTPUT and the report beside it (as the stage's
    :func:`~cadbusi_assets.stages.deidentification.deidentify_files` resolves and tabulates
    them), an earlier run's outputs this run did not make again removed (:func:`_prune`);
    the report rows and the count removed."""
    from cadbusi_assets.stages.deidentification import _without_duplicates, deid_files

    run, inputs, blobs, report = item
    tasks = [run.task(raw_path, key) for raw_path, key in inputs]
    done = deid_files(_without_duplicates(tasks, [pickle.loads(blob) for blob in blobs]))
    earlier = _listed(Path(run.output_dir))
    output = _zone(run.output_dir, "output")
    _write_tables(output, done)
    for name in ANALYSIS_FILES:  # an earlier --analyze run's, of files this run may not keep
        output.delete(name)
    rows = report_rows([raw_path for raw_path, _ in inputs], done.outcomes)
    write_report(rows, Path(report))
    return rows, _prune(Path(run.output_dir), earlier)


#: The tables of ``--analyze`` (a run without it removes an earlier run's: they would list
#: images this run may not have kept).
ANALYSIS_FILES = (FEATURES_FILE, TWINS_FILE, INPAINTED_FILE)
#: The tables that list OUTPUT's files, and the column of the path in each.
_LISTING = (
    (IMAGES_FILE, "png_path"),
    (INSTANCES_FILE, "dicom_path"),
    (INPAINTED_FILE, "inpainted_path"),
)


def _listed(output_dir: Path) -> set[str]:
    """The files of OUTPUT (relative paths) that its tables list."""
    import polars as pl

    out: set[str] = set()
    for name, column in _LISTING:
        path = output_dir / name
        if not path.is_file():
            continue
        try:
            table = pl.read_parquet(path, columns=[column])
        except Exception:  # an unreadable or foreign table lists nothing of ours
            continue
        out |= {str(v) for v in table[column].drop_nulls().to_list() if v}
    return out


def _prune(output_dir: Path, earlier: set[str]) -> int:
    """Remove the files an earlier run's tables listed (``earlier``) that this run's do not:
    the outputs of inputs that left INPUT, or that this run quarantined. Every file left in
    OUTPUT is then one the tables list. Only files inside OUTPUT are touched; the count."""
    from cadbusi_assets.storage.zones import remove_unlisted

    return remove_unlisted(output_dir, earlier, _listed(output_dir))


def _write_tables(research: Zone, done: DeidFiles) -> None:
    research.write_parquet((IMAGES_FILE,), done.images)
    research.write_parquet((INSTANCES_FILE,), done.instances)


def report_rows(input_paths: Sequence[str], outcomes: Sequence[DeidOutcome]) -> list[dict]:
    """One :class:`DeidRow` (as a dict) per input, in input order."""
    rows: list[dict[str, Any]] = []
    for input_path, outcome in zip(input_paths, outcomes, strict=True):
        instance = outcome.instance or {}
        row = DeidRow(
            input_path=input_path,
            status=outcome.status,
            output_path=instance.get("dicom_path", "") or outcome.duplicate_of,
            reason=(outcome.quarantine or {}).get("reason", ""),
            frames=instance.get("n_frames", 0),
            pixel_cleaning=instance.get("pixel_cleaning", ""),
            seconds=outcome.seconds,
        )
        rows.append(asdict(row))
    return rows


def _one_pass(
    run: FolderRun,
    inputs: list[tuple[str, str]],
    jobs: int | None,
    report: Path,
    echo: Echo,
) -> tuple[list[dict], int]:
    """``--analyze``: the assets' one pass over the folder
    (:func:`~cadbusi_assets.stages.imaging.process_files`' steps); writes the
    de-identification's and the analysis's tables, the PNGs and the report; the report rows.

    As without ``--analyze``, the command's process imports neither the stages nor polars
    (~1.5 s of CPU that the fork server spends already): the workers analyse the inputs
    (:func:`_analyse_input`), one resolves and tabulates them and plans the inpainting
    (:func:`_analyse_outcomes`), the workers inpaint (:func:`_inpaint_batch`) and one writes
    the inpainting's table (:func:`_write_inpainted`); the process hands over bytes."""
    blobs = parallel_map(
        _analyse_input, [(run, *item) for item in inputs], jobs, min_items_per_worker=2
    )
    rows, summary, batches, earlier = call_in_worker(
        _analyse_outcomes, (run, tuple(inputs), blobs, str(report), jobs)
    )
    if len(batches) > 1:
        inpainted = parallel_map(_inpaint_batch, batches, jobs, min_items_per_worker=1)
    else:  # one batch: in a worker all the same (this process has no analysis loaded)
        inpainted = [call_in_worker(_inpaint_batch, batch) for batch in batches]
    count, removed = call_in_worker(_write_inpainted, (run, inpainted, earlier))
    echo(
        f"analysed {summary['frames']} frames: {summary['calipers']} with calipers, "
        f"{summary['twins']} clean twins, {count} inpainted ({INPAINTED_FOLDER}/), "
        f"{summary['kept']} kept"
    )
    return rows, removed


def _analyse_input(item: tuple[FolderRun, str, str]) -> bytes:
    """Worker: one input de-identified, verified, written and analysed (the one pass's
    :func:`~cadbusi_assets.stages.imaging.process_one`); its outcome pickled."""
    from cadbusi_assets.stages.imaging import files_work, process_one

    run, raw_path, raw_instance_key = item
    (work,) = files_work([run.task(raw_path, raw_instance_key)], run.verify_ocr)
    return pickle.dumps(process_one(work))


def _analyse_outcomes(
    item: tuple[FolderRun, tuple[tuple[str, str], ...], list[bytes], str, int | None],
) -> tuple[list[dict], dict[str, int], list[bytes], set[str]]:
    """Worker: the outcomes of every input → duplicates resolved, the de-identification's
    tables, ``image_features`` and ``twins`` written into OUTPUT and the report beside it
    (:func:`~cadbusi_assets.stages.imaging.analyse_files`); the report rows, the counts the
    command prints, the inpainting's batches (pickled) and the files an earlier run's tables
    listed (:func:`_prune` removes those this run does not list once it is done)."""
    from cadbusi_assets.stages.analysis import inpaint_batches
    from cadbusi_assets.stages.imaging import analyse_files

    run, inputs, blobs, report, jobs = item
    tasks = [run.task(raw_path, key) for raw_path, key in inputs]
    research = _zone(run.output_dir, "output")
    earlier = _listed(Path(run.output_dir))
    analysed = analyse_files(
        research,
        tasks,
        [pickle.loads(blob) for blob in blobs],
        run.verify_ocr,
        inpainted_path=_inpainted_path,
    )
    _write_tables(research, analysed.deidentified)
    research.write_parquet((FEATURES_FILE,), analysed.features)
    research.write_parquet((TWINS_FILE,), analysed.twins)
    features = analysed.features
    summary = {
        "frames": features.height,
        "calipers": int(features["has_calipers"].fill_null(False).sum()) if features.height else 0,
        "twins": analysed.twins.height,
        "kept": int(features["exclusion_reason"].is_null().sum()) if features.height else 0,
    }
    rows = report_rows([raw_path for raw_path, _ in inputs], analysed.deidentified.outcomes)
    write_report(rows, Path(report))
    batches = [pickle.dumps(batch) for batch in inpaint_batches(analysed.inpaint, jobs)]
    return rows, summary, batches, earlier


def _inpaint_batch(batch: bytes) -> bytes:
    """Worker: one batch of the inpainting (:func:`~cadbusi_assets.stages.analysis.inpaint_chunk`),
    its rows pickled."""
    from cadbusi_assets.stages.analysis import inpaint_chunk

    return pickle.dumps(inpaint_chunk(pickle.loads(batch)))


def _write_inpainted(item: tuple[FolderRun, list[bytes], set[str]]) -> tuple[int, int]:
    """Worker: the ``inpainted_images`` table (as
    :func:`~cadbusi_assets.stages.analysis.inpaint_images` builds it: no previews asked)
    written into OUTPUT, then an earlier run's files this run does not list removed
    (:func:`_prune`); its row count and the count removed."""
    import polars as pl

    from cadbusi_assets.stages.analysis import INPAINTED_SCHEMA

    run, blobs, earlier = item
    rows = [row for blob in blobs for row in pickle.loads(blob)]
    for row in rows:
        row.pop("preview", None)
    table = pl.DataFrame(rows, schema=INPAINTED_SCHEMA, orient="row").sort("image_id")
    _zone(run.output_dir, "output").write_parquet((INPAINTED_FILE,), table)
    return table.height, _prune(Path(run.output_dir), earlier)


def _inpainted_path(image_id: str) -> str:
    return f"{INPAINTED_FOLDER}/{image_id}.png"


def _original_identifiers(root: Path, echo: Echo) -> OriginalIdentifiers:
    from cadbusi_assets.deid.identifiers import OriginalIdentifiers
    from cadbusi_assets.dicom import DicomReadError, read_dataset

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
    from cadbusi_assets.deid.identifiers import OriginalIdentifiers
    from cadbusi_assets.deid.verify import verify_file

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
