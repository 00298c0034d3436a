"""The `cadbusi` command.

cadbusi demo            build the synthetic cohort and run the whole graph (what `make demo` runs)
cadbusi demo-data OUT   only generate the synthetic cohort into OUT
cadbusi keygen PATH     create a pseudonym key file (32 random bytes, mode 0600)
cadbusi deidentify IN OUT --key-file KEY   de-identify a folder of DICOM files
                        (report of every input, quarantined ones named: OUT.report.csv);
                        --analyze: also analyse and inpaint, in the assets' one pass
cadbusi verify OUT      re-scan de-identified output for anything identifying
cadbusi analyze IN OUT  ultrasound analysis of a folder of de-identified DICOM files
cadbusi export [--key]  cut a dated export on the configured instance
cadbusi doctor          check for real that every part works: warehouse query, PACS echo,
                        zone probes, key rules, tesseract, label source (exit 1 on a problem)
cadbusi reidentify P    key holders: the originals behind a pseudonym (raw zone, audited)
cadbusi partition-report   exact counts and tables per study date (raw zone)
cadbusi open-batches       batches a killed pass left open; retire those of no study date
cadbusi delete-withdrawn   data rows withdrawn here and still in Labelbox; --reason deletes them
cadbusi lineage EXPORT  the study dates and runs behind an export's images (raw zone + key)

The benchmarks (`make bench`, `python -m benchmarks`) are not part of this package.

OCR (tesseract) is on by default; without tesseract, commands stop and name the install
command (apt-get install tesseract-ocr tesseract-ocr-eng). CADBUSI_OCR=0 (or --no-ocr)
runs without OCR, and the partition metadata records ocr_ran=0.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cadbusi_assets.runner import RunSummary

from cadbusi_assets.instance_config import DEMO_INSTANCE_YAML


def _echo(text: str) -> None:
    print(text, flush=True)


def _ensure_demo_environment() -> dict[str, Path]:
    from cadbusi_assets.settings import demo_paths
    from cadbusi_assets.storage.zones import make_private_folder

    home = Path(os.environ.get("CADBUSI_HOME") or ".demo").expanduser().resolve()
    os.environ["CADBUSI_HOME"] = str(home)
    os.environ.setdefault("CADBUSI_DEPLOYMENT", "demo")
    paths = demo_paths(home)
    os.environ.setdefault("DAGSTER_HOME", str(paths["dagster_home"]))
    if not os.environ.get("CADBUSI_PSEUDONYM_KEY", "").strip():  # else the key given as text
        os.environ.setdefault("CADBUSI_PSEUDONYM_KEY_FILE", str(paths["key"]))
    dagster_home = Path(os.environ["DAGSTER_HOME"])
    # (real study dates in a production home: partition keys, run tags, compute logs)
    make_private_folder(dagster_home)
    instance_yaml = dagster_home / "dagster.yaml"
    if not instance_yaml.exists():
        instance_yaml.write_text(DEMO_INSTANCE_YAML)
    return paths


def cmd_keygen(args: argparse.Namespace) -> int:
    from cadbusi_assets.identity import PseudonymKeyError, generate_key_file, load_key

    try:
        path = generate_key_file(args.path, overwrite=args.force)
    except PseudonymKeyError as exc:
        _echo(f"error: {exc}")
        return 2
    _echo(
        f"wrote a new pseudonym key to {path} (fingerprint {load_key(path).fingerprint}); "
        "back it up in your secret manager and never store it next to data"
    )
    return 0


def cmd_demo_data(args: argparse.Namespace) -> int:
    from cadbusi_demo import DemoConfig, generate_demo_cohort
    from cadbusi_demo.cohort import DemoOutputError

    config = DemoConfig(start=args.start, days=args.days, seed=args.seed)
    try:
        cohort = generate_demo_cohort(Path(args.out), config, progress=_echo)
    except DemoOutputError as exc:
        print(f"cadbusi demo-data: {exc}", file=sys.stderr)
        return 2
    _echo(json.dumps(cohort.summary(), indent=2, sort_keys=True))
    return 0


#: the file a demo cohort's folder holds (``cadbusi_demo.cohort.COHORT_FILE``; the runtime
#: package never imports the generator outside the demo commands)
_COHORT_FILE = "cohort.json"


def _not_a_demo_home(home: Path) -> str | None:
    """Why ``cadbusi demo`` may not replace ``home``'s ``sources`` and ``zones`` (None: it may).

    It deleted both whenever the cohort was to be made again: with ``CADBUSI_HOME`` pointing
    at a production home (its zones under it, PHI and research data) or at a folder of the
    user's own (a ``sources`` folder of code), everything there went. Only a demo home is
    replaced: its ``sources`` a demo cohort (or missing, or empty), and zones only beside a
    demo cohort."""
    from cadbusi_assets.settings import SettingsError, load_settings

    try:
        demo = load_settings().is_demo
    except SettingsError:
        demo = False
    if not demo:
        return (
            "CADBUSI_DEPLOYMENT is not demo: the demo regenerates its cohort and deletes its "
            f"zones under {home}, so it runs in a demo deployment only (nothing was changed)."
        )
    sources, zones = home / "sources", home / "zones"
    cohort = (sources / _COHORT_FILE).is_file()
    if sources.exists() and not cohort and (not sources.is_dir() or any(sources.iterdir())):
        return (
            f"{sources} is not a demo cohort (no {_COHORT_FILE}); the demo replaces it. Point "
            "CADBUSI_HOME at a demo home (default .demo) (nothing was changed)."
        )
    if zones.exists() and not cohort and (not zones.is_dir() or any(zones.iterdir())):
        return (
            f"{zones} holds data beside no demo cohort; the demo deletes it. Point CADBUSI_HOME "
            "at a demo home (default .demo) (nothing was changed)."
        )
    return None


def _demo_config_matches(sources: Path, config) -> bool:
    marker = sources / "cohort.json"
    if not marker.exists():
        return False
    try:
        saved = json.loads(marker.read_text()).get("config", {})
    except json.JSONDecodeError:
        return False
    return (
        saved.get("start") == config.start.isoformat()
        and int(saved.get("days", -1)) == config.days
        and int(saved.get("seed", -1)) == config.seed
    )


def _ocr_ready() -> bool:
    """OCR is on and tesseract runs, or OCR was switched off explicitly (CADBUSI_OCR=0).

    Never switches OCR off itself: a missing tesseract stops the command with the fix."""
    from cadbusi_assets.settings import SettingsError, load_settings, require_compute, require_ocr

    try:
        ocr = load_settings().ocr
        require_ocr(ocr)
        require_compute()  # and the torch settings (CADBUSI_INPAINT_DEVICE, _TORCH_PRECISION)
    except SettingsError as exc:  # OcrUnavailableError included
        _echo(f"error: {exc}")
        return False
    if not ocr:
        _echo(
            "note: OCR is off (CADBUSI_OCR=0): burned-in text is not verified and annotations are "
            "not read; every partition's metadata records ocr_ran=0"
        )
    return True


#: ``cadbusi demo`` cuts today's export key or, when taken, the next of ``.2`` … ``.MAX_DEMO_EXPORTS``.
MAX_DEMO_EXPORTS = 9


def _export_exists_elsewise(run: RunSummary) -> bool:
    """Whether ``run`` (a :class:`~cadbusi_assets.runner.RunSummary` of a cut export) failed
    only because its key already holds an export with other content."""
    return (
        not run.success
        and bool(run.failed_steps)
        and all("ExportExistsError" in step for step in run.failed_steps)
    )


def _day_exports(day_key: str) -> list[str]:
    """The complete exports (``SHA256SUMS`` written) of the research zone that ``cadbusi demo``
    cut on the day of ``day_key``: ``day_key``, ``day_key.2`` … in order."""
    (research,) = _zones("research")
    candidates = [day_key, *(f"{day_key}.{n}" for n in range(2, MAX_DEMO_EXPORTS + 1))]
    return [k for k in candidates if research.exists("exports", k, "SHA256SUMS")]


def _demo_export(defs, instance, export_key: str | None) -> tuple[str, RunSummary]:
    """Step 6 of ``cadbusi demo``: the export key it cut and the run.

    Exports are immutable. With ``--export-key`` the key is kept as given: one that holds other
    content fails loudly (✗, its reason, the summary's FAILED line, and a line naming the
    key). Without it the demo cuts today's first free key (``today``, ``today.2`` …
    ``today.9``) and, when the day already holds exports, says once which ones and that they
    were left as they are. It never tries a taken key: a demo run materializes every asset
    again, so the new export's lineage (the runs behind it) differs from any earlier one."""
    from cadbusi_assets import runner

    if export_key:
        _echo(f"[6/7] dated export {export_key}")
        cut = runner.cut_export(defs, instance, export_key)
        if _export_exists_elsewise(cut):
            _echo(
                f"      export {export_key} already exists with other content (exports are "
                "immutable): nothing was written; give another --export-key"
            )
        return export_key, cut
    today = dt.date.today().isoformat()
    existing = _day_exports(today)
    candidates = [today, *(f"{today}.{n}" for n in range(2, MAX_DEMO_EXPORTS + 1))]
    taken = candidates.index(existing[-1]) + 1 if existing else 0
    if taken >= len(candidates):
        _echo(
            f"[6/7] dated export: ✗ today's export keys are all taken ({', '.join(existing)}; "
            "exports are immutable, none was rewritten): nothing was written; give an "
            "--export-key"
        )
        return existing[-1], runner.RunSummary(
            f"dataset_export {today}",
            False,
            "none",
            [],
            failed_steps=[f"dataset_export: every export key of {today} is taken"],
        )
    key = candidates[taken]
    _echo(f"[6/7] dated export {key}")
    if existing:
        _echo(
            f"      today's exports {', '.join(existing)} exist and are kept as they are "
            f"(exports are immutable: nothing was rewritten); this run's export is {key}"
        )
    return key, runner.cut_export(defs, instance, key)


def cmd_demo(args: argparse.Namespace) -> int:
    from cadbusi_assets.defs.partitions import ExportKeyError, check_export_key

    started = time.monotonic()
    try:  # before the backfill, not after it
        if args.export_key:
            check_export_key(args.export_key)
    except ExportKeyError as exc:
        _echo(f"error: --export-key: {exc}")
        return 2
    if not _ocr_ready():
        return 2
    paths = _ensure_demo_environment()
    from cadbusi_assets.identity import PseudonymKeyError, generate_key_file, load_key
    from cadbusi_assets.identity.pin import check_key_pin, pin_path
    from cadbusi_demo import DemoConfig, generate_demo_cohort

    _echo(f"cadbusi demo — everything under {os.environ['CADBUSI_HOME']}")
    own_key = os.environ.get("CADBUSI_PSEUDONYM_KEY_FILE") == str(paths["key"])
    if own_key and not paths["key"].exists():  # never beside a key the environment names
        generate_key_file(paths["key"])
        _echo(
            f"[1/7] created a demo pseudonym key in {paths['key'].parent} (outside the data zones)"
        )
    try:  # the home is pinned to the key it is set up with; every writer checks the pin
        pseudonym_key = load_key(None)
        check_key_pin(pin_path(paths["key"]), pseudonym_key, explicit=True)
    except PseudonymKeyError as exc:
        print(f"cadbusi demo: {exc}", file=sys.stderr)
        return 2
    _echo(f"[1/7] using the pseudonym key {pseudonym_key.fingerprint} (the home is pinned to it)")

    config = DemoConfig(start=args.start, days=args.days, seed=args.seed)
    if args.fresh or not _demo_config_matches(paths["sources"], config):
        refused = _not_a_demo_home(Path(os.environ["CADBUSI_HOME"]))
        if refused:
            print(f"cadbusi demo: {refused}", file=sys.stderr)
            return 2
        for stale in ("sources", "zones"):
            target = Path(os.environ["CADBUSI_HOME"]) / stale
            if target.exists():
                shutil.rmtree(target)
        _echo(
            f"[2/7] generating the synthetic cohort: {config.days} days from {config.start}, seed {config.seed}"
        )
        generate_demo_cohort(paths["sources"], config, progress=lambda m: _echo(f"      {m}"))
    else:
        _echo("[2/7] synthetic cohort already present (use --fresh to regenerate)")

    from dagster import DagsterInstance

    from cadbusi_assets import runner

    defs = runner.load_definitions()
    instance = DagsterInstance.get()
    start, end = config.start, config.start + dt.timedelta(days=config.days - 1)
    partitioned = [
        "radiology_reports",
        "pathology_reports",
        "imaging_studies",
        "raw_dicom",
        "deidentified_images",
        "image_features",
        "inpainted_images",
        "labelbox_data_rows",
    ]
    _echo(
        f"[3/7] backfill of every study date {start}…{end} (records → raw DICOM → "
        "de-identified → features → inpainted → Labelbox data rows)"
    )
    runs = runner.backfill_study_dates(defs, partitioned, instance, start, end, echo=_echo)

    from cadbusi_demo.labeler import label_sent_images

    _echo("[4/7] simulated annotators label the images sent to the label folder")
    labelled = label_sent_images(paths["labelbox"], paths["ground_truth"], pseudonym_key)
    _echo(f"      wrote {labelled} labelled data rows as a Labelbox-format NDJSON export")

    _echo("[5/7] label ingest, diagnosis labels and the DuckDB catalog")
    runs.append(runner.materialize(defs, ["labelbox_labels"], instance))
    runs.append(runner.materialize(defs, ["diagnosis_labels", "metadata_db"], instance))

    key, cut = _demo_export(defs, instance, args.export_key)
    runs.append(cut)

    failed = [r for r in runs if not r.ok]
    _echo("[7/7] summary")
    _print_summary(instance, key, time.monotonic() - started)
    if failed:
        for run in failed:
            dates = ", ".join(f"{d} at {a}" for d, a in sorted(run.failed_dates.items()))
            what = ", ".join(x for x in (", ".join(run.failed_checks), dates) if x)
            _echo(f"  FAILED: {run.name} (run {run.run_id}) {what}".rstrip())
            for reason in run.failed_steps:
                _echo(f"    {reason}")
        _echo("Open the UI (`make dev`) to see the failed run's logs.")
        return 1
    return 0


def _print_summary(instance, export_key: str, seconds: float) -> None:
    import dagster as dg

    from cadbusi_assets.catalog import open_catalog
    from cadbusi_assets.settings import load_settings
    from cadbusi_assets.storage import open_zone

    settings = load_settings()
    research = open_zone(settings.research_zone_uri, "research")
    _echo("  materialized partitions per asset:")
    for key in (
        "radiology_reports",
        "pathology_reports",
        "imaging_studies",
        "raw_dicom",
        "deidentified_images",
        "image_features",
        "inpainted_images",
        "labelbox_data_rows",
    ):
        n = len(instance.get_materialized_partitions(dg.AssetKey(key)))
        _echo(f"    {key:<22} {n:>4} study dates")
    try:
        con = open_catalog(research)
        queries = {
            "studies": "SELECT count(*) FROM studies",
            "de-identified instances": "SELECT count(*) FROM instances",
            "images": "SELECT count(*) FROM images",
            "quarantined instances": "SELECT count(*) FROM quarantine",
            "images excluded (quality)": "SELECT count(*) FROM image_features WHERE exclusion_reason IS NOT NULL",
            "images with calipers": "SELECT count(*) FROM image_features WHERE has_calipers",
            "inpainted images": "SELECT count(*) FROM inpainted_images",
            "caliper/clean twins": "SELECT count(*) FROM twins",
            "breast-level labels": "SELECT count(*) FROM diagnosis_labels",
            "Labelbox labels": "SELECT count(*) FROM label_annotations",
        }
        _echo("  catalog (research zone):")
        for label, sql in queries.items():
            try:
                ((value,),) = con.execute(sql).fetchall()
            except Exception:
                value = "n/a"
            _echo(f"    {label:<28} {value}")
        con.close()
    except FileNotFoundError:
        _echo("  catalog: not built")
    export_dir = (
        research.local_path("exports", export_key)
        if research.local
        else research.path("exports", export_key)
    )
    _echo(f"  raw zone (PHI):        {settings.raw_zone_uri}")
    _echo(f"  research zone:         {settings.research_zone_uri}")
    _echo(f"  catalog:               {research.uri}/catalog/metadata.duckdb")
    _echo(f"  export:                {export_dir}  (README.md is the dataset card)")
    _echo(
        f"  finished in {seconds:.0f} s. Open the UI on the same data with `make dev` → http://127.0.0.1:3000"
    )


def cmd_export(args: argparse.Namespace) -> int:
    from dagster import DagsterInstance

    from cadbusi_assets import runner
    from cadbusi_assets.defs.partitions import ExportKeyError, check_export_key

    key = args.key or dt.date.today().isoformat()
    try:
        check_export_key(key)
    except ExportKeyError as exc:
        _echo(f"error: {exc}")
        return 2
    if os.environ.get("CADBUSI_DEPLOYMENT", "demo") == "demo":
        _ensure_demo_environment()
    defs = runner.load_definitions()
    summary = runner.cut_export(defs, DagsterInstance.get(), key)
    _echo(
        f"export {key}: {'ok' if summary.success and not summary.failed_checks else 'FAILED'} (run {summary.run_id})"
    )
    return 0 if summary.success and not summary.failed_checks else 1


def cmd_doctor(args: argparse.Namespace) -> int:
    from cadbusi_assets.doctor import WARNING, run_checks
    from cadbusi_assets.settings import VARIABLES, SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        _echo(f"PROBLEM  settings       {exc}")
        return 2
    _echo(
        f"deployment: {settings.deployment} (first study date {settings.first_study_date}, "
        f"OCR {'on' if settings.ocr else 'off'})"
    )
    checks = run_checks(settings, timeout=args.timeout, on_check=lambda c: _echo(c.line()))
    if args.verbose:
        _echo("variables:")
        for name, meaning in VARIABLES.items():
            _echo(f"  {name}: {meaning}")
    problems = sum(c.failed for c in checks)
    warnings = sum(c.status == WARNING for c in checks)
    summary = "ok" if not problems else f"{problems} problem(s)"
    _echo(summary + (f", {warnings} warning(s)" if warnings else ""))
    return 1 if problems else 0


def deidentify_worker_modules(args: argparse.Namespace) -> list[str]:
    """What ``cadbusi deidentify``'s workers import: the stage, the one pass with
    ``--analyze``, and torch with OCR or analysis (the learned line reader, the batched
    inpainting: ~1.9 s per worker when each imports it on its first frame); with OCR,
    tesseract started once (:mod:`cadbusi_assets.deid.warmup`)."""
    modules = ["cadbusi_assets.stages.deidentification"]
    if args.analyze:
        modules.append("cadbusi_assets.stages.imaging")
    if args.analyze or not args.no_ocr:
        modules += ["torch", "cadbusi_assets.ultrasound.glyphs"]
    if not args.no_ocr:
        modules.append("cadbusi_assets.deid.warmup")
    return modules


def cmd_deidentify(args: argparse.Namespace) -> int:
    from cadbusi_assets.parallel import keep_freed_memory, prestart_workers

    # the workers' imports run in the fork server while this process imports the command
    prestart_workers(deidentify_worker_modules(args), args.jobs)
    keep_freed_memory()  # as the workers do (one job: the files are done in this process)
    from cadbusi_assets.deid.command import deidentify_command

    return deidentify_command(
        Path(args.input),
        Path(args.output),
        key_file=Path(args.key_file) if args.key_file else None,
        profile=args.profile,
        jobs=args.jobs,
        layout=args.layout,
        report=Path(args.report) if args.report else None,  # None: OUTPUT.report.csv
        verify_ocr=not args.no_ocr,
        frame_step=args.frame_step,
        echo=_echo,
        analyze=args.analyze,
    )


def cmd_verify(args: argparse.Namespace) -> int:
    from cadbusi_assets.deid.command import verify_command

    return verify_command(
        Path(args.output),
        report=Path(args.report) if args.report else None,
        identifiers_from=Path(args.identifiers_from) if args.identifiers_from else None,
        echo=_echo,
    )


def analyze_worker_modules(args: argparse.Namespace) -> list[str]:
    """What ``cadbusi analyze``'s workers import: the analysis stage and torch (the learned
    caliper finder, the learned line reader, the batched inpainting); with OCR, tesseract
    started once (:mod:`cadbusi_assets.deid.warmup`). Imported once by the fork server
    instead of by every worker on its first file."""
    modules = ["cadbusi_assets.stages.analysis", "torch", "cadbusi_assets.ultrasound.glyphs"]
    if not args.no_ocr:
        modules.append("cadbusi_assets.deid.warmup")
    return modules


def cmd_analyze(args: argparse.Namespace) -> int:
    from cadbusi_assets.parallel import prestart_workers

    # the workers' imports run in the fork server while this process imports the command
    prestart_workers(analyze_worker_modules(args), args.jobs)
    from cadbusi_assets.ultrasound.command import analyze_command

    return analyze_command(
        Path(args.input),
        Path(args.output),
        jobs=args.jobs,
        frame_step=args.frame_step,
        ocr=not args.no_ocr,
        echo=_echo,
    )


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text}") from None


def _whole(text: str, what: str) -> int:
    """A whole number, 1 or more (argparse's one-line error otherwise)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"a whole number of {what}, 1 or more: {text}")
    return value


def _days(text: str) -> int:
    return _whole(text, "days")


def _frame_step(text: str) -> int:
    return _whole(text, "frames")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cadbusi", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def cohort_options(command: argparse.ArgumentParser) -> None:
        command.add_argument(
            "--start",
            type=_date,
            default=dt.date(2026, 9, 1),
            help="first study date, YYYY-MM-DD (default: 2026-09-01)",
        )
        command.add_argument(
            "--days", type=_days, default=30, help="number of study dates (default: 30)"
        )
        command.add_argument(
            "--seed",
            type=int,
            default=20260901,
            help="random seed: same seed, same cohort (default: 20260901)",
        )

    demo = sub.add_parser(
        "demo",
        help="generate the synthetic cohort and run the whole graph",
    )
    cohort_options(demo)
    demo.add_argument("--fresh", action="store_true", help="regenerate the cohort and zones")
    demo.add_argument("--export-key", default="", help="export partition key (default: today)")
    demo.set_defaults(func=cmd_demo)

    data = sub.add_parser("demo-data", help="generate the synthetic cohort only")
    data.add_argument("out", help="folder to write the cohort into")
    cohort_options(data)
    data.set_defaults(func=cmd_demo_data)

    keygen = sub.add_parser("keygen", help="create a pseudonym key file")
    keygen.add_argument("path", help="where to write the key (outside every data zone)")
    keygen.add_argument("--force", action="store_true", help="overwrite (rotates every pseudonym!)")
    keygen.set_defaults(func=cmd_keygen)

    deid = sub.add_parser("deidentify", help="de-identify a folder tree of DICOM files")
    deid.add_argument("input", help="folder of original DICOM files (read recursively)")
    deid.add_argument(
        "output",
        help="folder for the de-identified DICOM files, one PNG per kept frame and the "
        "images/instances tables (created if needed)",
    )
    deid.add_argument(
        "--frame-step",
        type=_frame_step,
        default=4,
        help="write a PNG of every n-th cine frame (default: 4, as the pipeline)",
    )
    deid.add_argument(
        "--key-file",
        default="",
        help="pseudonym key file (default: $CADBUSI_PSEUDONYM_KEY_FILE or $CADBUSI_PSEUDONYM_KEY)",
    )
    deid.add_argument(
        "--profile",
        default="research-breast-us",
        help="de-identification profile (default: research-breast-us)",
    )
    deid.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="worker processes (default: $CADBUSI_WORKERS or CPUs)",
    )
    deid.add_argument(
        "--layout",
        choices=["flat", "study"],
        default="study",
        help="study: patient/study/series/file folders (default); flat: all files in OUTPUT",
    )
    deid.add_argument(
        "--report",
        default="",
        help="per-input report, .csv or .parquet; it links inputs to outputs, so it must lie "
        "outside OUTPUT (default: OUTPUT.report.csv beside OUTPUT)",
    )
    deid.add_argument(
        "--no-ocr",
        action="store_true",
        help="skip OCR verification of burned-in text (otherwise tesseract is required)",
    )
    # -- one pass: `cadbusi deidentify --analyze` (the assets' stages.imaging) --------------
    deid.add_argument(
        "--analyze",
        action="store_true",
        help="also analyse every kept frame and inpaint the frames with calipers and no clean "
        "twin, in the assets' one pass (each file decoded, each frame's text read once): adds "
        "image_features/twins/inpainted_images.parquet and inpainted/ PNGs to OUTPUT "
        "(`cadbusi analyze` is for files de-identified already)",
    )
    # -- end of the one-pass block ---------------------------------------------------------
    deid.set_defaults(
        func=cmd_deidentify,
        interrupted=(
            "interrupted: OUTPUT holds part of this run's files, and this run's tables and "
            "report were not written; run the same command again to finish (same files)"
        ),
    )

    verify = sub.add_parser("verify", help="re-scan de-identified output for identifying content")
    verify.add_argument("output", help="folder of de-identified DICOM files")
    verify.add_argument("--report", default="", help="write findings per file (.csv or .parquet)")
    verify.add_argument(
        "--identifiers-from",
        default="",
        help="the original input tree: also search for its own identifiers (with OCR)",
    )
    verify.set_defaults(func=cmd_verify)

    analyze = sub.add_parser("analyze", help="ultrasound analysis of de-identified DICOM files")
    analyze.add_argument("input", help="folder of de-identified DICOM files (read recursively)")
    analyze.add_argument("output", help="folder for features.parquet and inpainted/ PNGs")
    analyze.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="worker processes (default: $CADBUSI_WORKERS or CPUs)",
    )
    analyze.add_argument(
        "--frame-step",
        type=_frame_step,
        default=4,
        help="analyse every n-th cine frame (default: 4)",
    )
    analyze.add_argument(
        "--no-ocr",
        action="store_true",
        help="do not read the burned-in annotation (otherwise tesseract is required)",
    )
    analyze.set_defaults(
        func=cmd_analyze,
        interrupted=(
            "interrupted: OUTPUT may hold part of this run's inpainted PNGs, and its "
            "features.parquet is an earlier run's or none; run the same command again to finish"
        ),
    )

    reid = sub.add_parser(
        "reidentify",
        help="look a pseudonym up in the raw zone (holders of the pseudonym key only; audited)",
    )
    reid.add_argument("pseudonym", help="a patient, study or image pseudonym")
    reid.add_argument("--purpose", default="", help="why (recorded in the raw-zone audit table)")
    reid.add_argument(
        "--key-file", default="", help="pseudonym key file (default: CADBUSI_PSEUDONYM_KEY_FILE)"
    )
    reid.set_defaults(func=cmd_reidentify)
    partition_report = sub.add_parser(
        "partition-report",
        help="exact counts, tables and problems per study date (raw zone; the UI shows no counts)",
    )
    partition_report.add_argument("--asset", default="", help="one asset (default: all)")
    partition_report.add_argument("--date", default="", help="one study date (default: all)")
    partition_report.add_argument(
        "--tables", action="store_true", help="also print each report's tables"
    )
    partition_report.set_defaults(func=cmd_partition_report)
    batches = sub.add_parser(
        "open-batches",
        help="study batches a killed pass left open: how many the sensor re-runs, how many "
        "match no study date; retire those (raw zone and key)",
    )
    batches.add_argument(
        "--retire-unmatched",
        action="store_true",
        help="retire the open batches of no study date of the raw zone: kept, left out of the "
        "catalog for good, recorded with --reason",
    )
    batches.add_argument("--reason", default="", help="why (a few words; no date, no number)")
    batches.set_defaults(func=cmd_open_batches)
    withdrawn = sub.add_parser(
        "delete-withdrawn",
        help="data rows this platform withdrew (quarantined, excluded, purged) that the label "
        "source still holds; --reason deletes them there (the delete_withdrawn_data_rows job)",
    )
    withdrawn.add_argument(
        "--reason",
        default="",
        help="why they are deleted (recorded with each row, scrubbed); without it, only count",
    )
    withdrawn.set_defaults(func=cmd_delete_withdrawn)
    lineage = sub.add_parser(
        "lineage",
        help="which study date, run and data version produced an export's images (raw zone and key)",
    )
    lineage.add_argument("export_key", help="the export partition key")
    lineage.add_argument("--image", default="", help="one exported image id")
    lineage.add_argument("--batch", default="", help="one research batch")
    lineage.set_defaults(func=cmd_lineage)
    export = sub.add_parser("export", help="cut a dated export")
    export.add_argument("--key", default="", help="export partition key (default: today)")
    export.set_defaults(func=cmd_export)

    doctor = sub.add_parser(
        "doctor",
        help="check that every part works (warehouse, PACS, zones, key, tesseract, labels)",
    )
    doctor.add_argument(
        "-v", "--verbose", action="store_true", help="also list every environment variable"
    )
    doctor.add_argument(
        "--timeout",
        type=float,
        default=5.0,
        help="seconds each network check may wait (default: 5)",
    )
    doctor.set_defaults(func=cmd_doctor)

    return parser


def cmd_reidentify(args: argparse.Namespace) -> int:
    from cadbusi_assets.identity.reidentify import reidentify_command
    from cadbusi_assets.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        _echo(f"settings: {exc}")
        return 2
    return reidentify_command(
        args.pseudonym,
        raw_zone_uri=settings.raw_zone_uri,
        key_file=args.key_file or settings.key_file,
        storage_options=settings.storage_options,
        purpose=args.purpose,
        echo=_echo,
    )


def cmd_partition_report(args: argparse.Namespace) -> int:
    import polars as pl

    from cadbusi_assets.settings import SettingsError
    from cadbusi_assets.stages.report import format_partition_report, read_partition_reports
    from cadbusi_assets.storage import ZoneError

    try:
        (raw,) = _zones("raw")
    except (SettingsError, ZoneError, ValueError) as exc:
        _echo(f"cannot read the raw zone: {exc}")
        return 2
    unreadable: list[str] = []
    try:
        reports = read_partition_reports(raw, args.asset or None, args.date or None, unreadable)
    except ZoneError as exc:  # --asset ../x
        _echo(f"error: --asset: {exc}")
        return 2
    if not reports and not unreadable:
        _echo("no partition reports match (they are written when a study date is materialized)")
        return 1
    with pl.Config(tbl_rows=-1, tbl_cols=-1, fmt_str_lengths=80, tbl_width_chars=200):
        for document in reports:
            _echo(format_partition_report(document, tables=args.tables))
    for path in unreadable:  # the others are shown; a run of that date writes it again
        _echo(f"error: cannot read the report {path} (raw zone): re-run its study date")
    return 1 if unreadable else 0


def cmd_open_batches(args: argparse.Namespace) -> int:
    from cadbusi_assets.identity import Pseudonymizer, PseudonymKeyError, load_key
    from cadbusi_assets.settings import SettingsError, load_settings
    from cadbusi_assets.stages import StageFailure
    from cadbusi_assets.stages.batches import (
        interrupted_dates,
        raw_dates,
        retire_unmatched_batches,
        unmatched_open_batches,
    )
    from cadbusi_assets.storage import ZoneError
    from cadbusi_assets.storage.pending import pending_batches
    from cadbusi_assets.storage.tables import retired_batches

    try:
        research, raw = _zones("research", "raw")
        pseudonymizer = Pseudonymizer(load_key(load_settings().key_file or None))
        matched = interrupted_dates(raw, research, pseudonymizer)
        unmatched = unmatched_open_batches(raw, research, pseudonymizer)
        pending = pending_batches(research)
        leftovers = sorted(d for d in raw_dates(raw) if pseudonymizer.batch_name(d) in pending)
    except (SettingsError, ZoneError, ValueError, PseudonymKeyError) as exc:
        _echo(f"cannot read the open batches: {exc}")
        return 2
    _echo(
        f"{len(matched)} open batch(es) of a study date (interrupted_study_dates_sensor re-runs "
        "them)"
    )
    _echo(
        f"{len(unmatched)} open batch(es) of no study date of the raw zone (nothing re-runs them)"
    )
    # a pass stopped before its tables (killed, terminated, failed) left files no table lists,
    # recorded in pending_writes/: the date's next pass deletes them; after a Terminate nothing
    # re-runs the date, so name it (this terminal only: the dates are the raw zone's)
    _echo(
        f"{len(leftovers)} study date(s) with files of a stopped pass that no table lists (the "
        "date's next run deletes them; a terminated run's date is not re-run for you)"
        + "".join(f"\n  {day}" for day in leftovers)
    )
    if len(pending) > len(leftovers):
        _echo(f"{len(pending) - len(leftovers)} such batch(es) of no study date of the raw zone")
    if not args.retire_unmatched:
        for batch in unmatched:
            _echo(f"  {batch}")
        _echo(f"{len(retired_batches(research))} retired batch(es)")
        if unmatched:
            _echo(
                "Check that the key and the raw zone are the right ones, then: cadbusi "
                "open-batches --retire-unmatched --reason '<why>'"
            )
        return 1 if unmatched else 0
    try:
        retired = retire_unmatched_batches(raw, research, pseudonymizer, args.reason)
    except StageFailure as exc:
        _echo(f"error: --reason: {exc}")
        return 2
    _echo(
        f"retired {len(retired)} batch(es): kept, left out of the catalog for good (counted as "
        "study_batches_left_out_retired); the reason is in the research zone's retired_batches/"
    )
    return 0


def cmd_delete_withdrawn(args: argparse.Namespace) -> int:
    """The ``delete_withdrawn_data_rows`` job's stage, from the command line: without
    ``--reason`` it counts what is left to delete (exit 1 when there is some)."""
    from cadbusi_assets.labeling import LabelSourceError, open_label_source
    from cadbusi_assets.settings import SettingsError, load_settings
    from cadbusi_assets.stages import StageFailure
    from cadbusi_assets.stages import labeling as stage
    from cadbusi_assets.storage import ZoneError

    try:
        (research,) = _zones("research")
        source = open_label_source(load_settings().labelbox_uri)
        withdrawn = stage.withdrawn_data_rows(research)
        recorded = stage.recorded_deletions(research)
    except (SettingsError, ZoneError, LabelSourceError, ValueError) as exc:
        _echo(f"cannot read the withdrawn data rows: {exc}")
        return 2
    done = set(recorded.filter(recorded["source"] == source.name)["global_key"].to_list())
    left = [key for key in withdrawn["global_key"].to_list() if key not in done]
    _echo(
        f"{withdrawn.height} withdrawn data row(s); {withdrawn.height - len(left)} already "
        f"deleted in {source.name}; {len(left)} to delete"
    )
    if not args.reason:
        if left:
            _echo("delete them: cadbusi delete-withdrawn --reason '<why>'")
        return 1 if left else 0
    try:
        report = stage.delete_withdrawn_data_rows(research, source, args.reason)
    except StageFailure as exc:
        _echo(f"error: {exc}")
        return 2
    except LabelSourceError as exc:
        _echo(f"the label source refused: {exc}")
        return 2
    counts = report.counts
    _echo(
        f"deleted {counts.get('data_rows_deleted', 0)}; already absent in {source.name} "
        f"{counts.get('data_rows_absent_in_source', 0)}; recorded in "
        f"{'/'.join(stage.DELETIONS_PATH)}"
    )
    return 0


def _zones(*names: str):
    """The configured zones by name (``raw``, ``research``)."""
    from cadbusi_assets.settings import load_settings
    from cadbusi_assets.storage import open_zone

    settings = load_settings()
    options = json.loads(settings.storage_options) if settings.storage_options else {}
    uris = {"raw": settings.raw_zone_uri, "research": settings.research_zone_uri}
    return [open_zone(uris[name], name, **options) for name in names]


def cmd_lineage(args: argparse.Namespace) -> int:
    import polars as pl

    from cadbusi_assets.exports.lineage import LineageError, lineage_seal, resolve_lineage
    from cadbusi_assets.identity import Pseudonymizer, PseudonymKeyError, load_key
    from cadbusi_assets.settings import SettingsError, load_settings
    from cadbusi_assets.storage import ZoneError

    try:
        research, raw = _zones("research", "raw")
        seal = lineage_seal(Pseudonymizer(load_key(load_settings().key_file or None)))
        rows = resolve_lineage(
            research, raw, args.export_key, args.image or None, args.batch or None, seal=seal
        )
    except (SettingsError, ZoneError, ValueError, LineageError, PseudonymKeyError) as exc:
        _echo(f"cannot resolve the lineage: {exc}")
        return 2
    if not rows:
        _echo("no study-date partitions match")
        return 1
    with pl.Config(tbl_rows=-1, tbl_cols=-1, fmt_str_lengths=64, tbl_width_chars=200):
        _echo(str(pl.DataFrame(rows).drop("ref")))
    unverified = sum(not r["verified"] for r in rows)
    if unverified:
        _echo(f"{unverified} entries do not match the export's sealed lineage.json")
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command of ``argv`` (default: the process's arguments); its exit code.

    Called for the process (``argv`` None: the ``cadbusi`` script, ``python -m``), it also
    spares the process's exit the garbage collector's walk over every object the command
    imported (numpy, pydicom, polars, ...: ~0.3 s, more than writing the tables): those
    objects are moved out of the collector's reach (``gc.freeze``) when the command is done,
    as the process ends right after; for the same reason the workers' fork server is ended
    without its own interpreter's exit (:func:`~cadbusi_assets.parallel.stop_worker_server`:
    ~1 s of CPU with torch loaded, which ``cadbusi deidentify`` and ``analyze`` spent after
    their last file)."""
    from cadbusi_assets.parallel import stop_worker_server, worker_scope

    args = build_parser().parse_args(argv)
    try:
        # Worker processes started by a command end with it (and at once on Ctrl-C).
        with worker_scope():
            return int(args.func(args) or 0)
    except KeyboardInterrupt:
        # Ctrl-C (or SIGTERM during a run): the run was failed and recorded, workers end
        # with worker_scope; one line instead of a traceback, the shell's code for SIGINT
        default = "interrupted: the command stopped (its runs are in the UI)"
        print(getattr(args, "interrupted", default), file=sys.stderr)
        return 130
    finally:
        if argv is None:
            stop_worker_server()
            gc.freeze()


if __name__ == "__main__":
    sys.exit(main())
