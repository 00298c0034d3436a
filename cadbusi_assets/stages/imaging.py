"""One pass per image: de-identify, analyse and inpaint the instances of one study date.

The three imaging stages (:func:`~cadbusi_assets.stages.deidentification.deidentify_partition`,
:func:`~cadbusi_assets.stages.analysis.analyze_partition`,
:func:`~cadbusi_assets.stages.analysis.inpaint_partition`) each decode the images again (the
analysis and the inpainting read the PNGs back) and read the burned-in text twice (the OCR
verification and the annotation reading). :func:`process_partition` writes the same tables and
files with one worker per instance that

1. reads and decodes the raw instance once and cleans its header and pixels
   (:func:`~cadbusi_assets.deid.deidentify_dataset`),
2. reads the text of every verification frame
   (:func:`~cadbusi_assets.deid.ocr.verification_frames`: of a cine the sampled frames and
   those whose text differs from theirs) once, on the cleaned frame (what is published), one
   reading per line: the learned line reader's for lines it reads confidently as the
   screen's own words, tesseract's for every other line (names, IDs, dates, anything
   unsure), and both merged for the annotation's lines
   (:func:`~cadbusi_assets.ultrasound.ocr.read_frame_text` with its vocabulary gate; without
   torch or the weights tesseract reads every line); it checks that reading for the study's
   identifiers and anyone's contact details (:func:`~cadbusi_assets.deid.ocr.ocr_identifiers`):
   any finding, or an OCR that cannot run, quarantines the instance before anything is written
   (fail closed),
3. writes the DICOM and encodes each kept frame's PNG once,
4. analyses each kept frame in memory (:func:`~cadbusi_assets.ultrasound.analyze_frame`),
   handing it the verification's reading of that frame where there is one, so no frame is read
   twice; only the parsed annotation fields enter the row, never the text (it is PHI and stays
   in the worker's memory),
5. hands the frames with calipers back to the parent (only those can need inpainting).

Twins (caliper/clean pairs) are a property of a whole study, so they are found after every
instance is analysed (:func:`~cadbusi_assets.stages.analysis.features_table`); the images with
calipers and no clean twin are then inpainted from the frames kept in memory (batched
:func:`~cadbusi_assets.ultrasound.inpaint.inpaint_frames` over the workers, no PNG read back),
and encoded once. The tables, reports, shrink guards and stale-file clean-up are the three
stages' own functions, so everything downstream is unchanged.

Memory: the parent holds the kept frames with calipers of one study date until they are
inpainted (a frame is ``rows x columns x 3`` bytes at most).

:func:`process_files` runs the same workers over the files of a folder for ``cadbusi
deidentify --analyze`` (no cohort: a study's side comes from its headers; the frames with
calipers are read back from their PNGs, so a folder of any size fits in memory).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import polars as pl

from cadbusi_assets.deid import DeidentifiedObject, OriginalIdentifiers
from cadbusi_assets.deid.ocr import ocr_identifiers, read_frame, verification_frames
from cadbusi_assets.dicom import UltrasoundRegion
from cadbusi_assets.identity import Pseudonymizer
from cadbusi_assets.parallel import parallel_map
from cadbusi_assets.settings import require_compute, require_ocr
from cadbusi_assets.stages import analysis
from cadbusi_assets.stages import deidentification as deid
from cadbusi_assets.stages.report import PartitionReport, StageFailure
from cadbusi_assets.stages.safety import guard_accessions
from cadbusi_assets.storage import Zone, read_partition_table
from cadbusi_assets.storage.pending import begin_pending
from cadbusi_assets.storage.tables import close_batch
from cadbusi_assets.ultrasound.ocr import FrameText


@dataclass(frozen=True)
class ImagingTask:
    """One raw instance: its de-identification task and what the analysis needs."""

    deid: deid.DeidTask
    ocr: bool
    #: study laterality by pseudonymized accession number (the cohort's); None: the
    #: instance's own header (``cadbusi deidentify --analyze`` has no cohort)
    laterality: dict[str, str | None] | None
    #: hand the frames with calipers back (the partition: inpainted from memory); off, they
    #: are read back from their PNGs (a folder of any size: the parent holds no frames)
    keep_frames: bool = True


@dataclass
class ImagingOutcome(deid.DeidOutcome):
    """A de-identification outcome with the kept frames' features rows and the frames with
    calipers (by image id, as their PNGs store them)."""

    features: list[dict[str, Any]] = field(default_factory=list)
    caliper_frames: dict[str, np.ndarray] = field(default_factory=dict)
    side: str | None = None  # the de-identified header's (:func:`~.analysis.header_laterality`)


def _verifier(ocr: bool, readings: dict[int, FrameText]) -> deid.Verifier | None:
    """The OCR verification of :func:`~cadbusi_assets.deid.deidentify_dataset`, reading each
    verification frame once and keeping the readings (in memory) for the analysis."""
    if not ocr:
        return None

    def verify(result: DeidentifiedObject) -> str | None:
        findings: list[str] = []
        identifiers: OriginalIdentifiers = result.identifiers
        for index in verification_frames(result.frames):
            frame = result.frames[index]
            # the learned gate: lines read confidently as the screen's own words skip
            # tesseract; their readings are the annotation's too (DeidentificationError:
            # quarantined)
            readings[index] = read_frame(frame, vocabulary_gate=True)
            kinds = ocr_identifiers(frame, identifiers, reading=readings[index])
            findings += [f"frame {index}: {kind}" for kind in kinds]
        if findings:
            return (
                "identifying text still readable after pixel cleaning (" + "; ".join(findings) + ")"
            )
        return None

    return verify


def _regions(result: DeidentifiedObject) -> list[UltrasoundRegion]:
    """The kept regions as the ``images`` table hands them to the analysis."""
    return [
        UltrasoundRegion(
            int(r.x0),
            int(r.y0),
            int(r.x1),
            int(r.y1),
            spatial_format=r.spatial_format,
            data_type=r.data_type,
        )
        for r in result.kept_regions
    ]


def process_one(task: ImagingTask) -> ImagingOutcome:
    """Worker: one raw instance de-identified, verified, written and analysed (see the
    module docstring). An analysis error stops the partition (as in the analysis stage)."""
    readings: dict[int, FrameText] = {}
    outcome, result = deid.deidentify_one_with(task.deid, _verifier(task.ocr, readings))
    done = ImagingOutcome(**{f: getattr(outcome, f) for f in outcome.__dataclass_fields__})
    if result is None or outcome.instance is None:
        return done
    regions = _regions(result)
    done.side = analysis.header_laterality(result.dataset)
    laterality = (
        done.side
        if task.laterality is None
        else task.laterality.get(result.pseudo_accession_number)
    )
    for image in outcome.images:
        index = int(image["frame"])
        frame = analysis.stored_frame(result.frames[index])
        row = analysis.features_row(
            frame,
            regions,
            ocr=task.ocr,
            study_laterality=laterality,
            index=index,
            reading=readings.get(index),
        )
        row["image_id"] = image["image_id"]
        done.features.append(row)
        if row["has_calipers"] and task.keep_frames:
            done.caliper_frames[image["image_id"]] = frame
    readings.clear()  # the text never leaves the worker
    return done


@dataclass
class ImagingPartitionResult:
    """The three stages' results for one study date."""

    deidentification: deid.DeidPartitionResult
    features: PartitionReport
    inpainting: PartitionReport

    @property
    def identifiers(self) -> OriginalIdentifiers:  # for the blocking leak check (never logged)
        return self.deidentification.identifiers


def process_partition(
    raw_zone: Zone,
    research_zone: Zone,
    pseudonymizer: Pseudonymizer,
    day: str,
    *,
    profile: str = "research-breast-us",
    frame_step: int = 4,
    ocr: bool = True,
    inpaint_method: str = "auto",
    workers: int | None = None,
    previews: int = 3,
    progress: Callable[[str], None] | None = None,
    allow_shrink: bool | None = None,
    after_deidentification: Callable[[deid.DeidPartitionResult], None] | None = None,
) -> ImagingPartitionResult:
    """De-identify, analyse and inpaint one study date in one pass per image: the same
    tables, files and reports as ``deidentify_partition``, ``analyze_partition`` and
    ``inpaint_partition`` run one after the other with the same settings (``ocr`` is both
    the verification and the annotation reading).

    ``after_deidentification`` runs once the de-identification tables are written and before
    the analysis tables are (the leak check); an exception there stops the date.
    """
    require_ocr(ocr)  # no silent OCR-off: a missing tesseract stops the run here
    require_compute()  # a wrong torch setting stops the run here, not in every file
    opted_out: list[str] = []
    inputs, cohort = deid.partition_inputs(raw_zone, day, opted_out)
    studies = deid.pseudonymized_studies(cohort, pseudonymizer)
    laterality = dict(studies.select("accession_pseudo", "study_laterality").iter_rows())
    if progress:
        progress(f"{day}: de-identifying and analysing {len(inputs)} instances")
    batch = pseudonymizer.batch_name(day)
    pending = begin_pending(batch, deid.WRITER)
    tasks = deid.deid_tasks(
        raw_zone,
        research_zone,
        inputs,
        pseudonymizer,
        profile=profile,
        frame_step=frame_step,
        verify_ocr=ocr,
        previews=previews,
        pending=pending,
    )
    # a re-sent copy (same pixels, same patient, new UIDs) is a duplicate of the date
    resolved = deid.without_resent(research_zone, _one_pass(tasks, ocr, laterality, workers))
    done = deid.deid_files(resolved)
    # every shrink guard of the date before anything of it is replaced: a refused inpainting
    # must not leave the date half rewritten (new images and features, old inpainting)
    planned, planned_twins = analysis.features_table(done.images, studies, _feature_rows(resolved))
    try:
        guard_accessions(
            day,
            done.images,
            studies,
            read_partition_table(research_zone, deid.IMAGES_TABLE, batch),
            read_partition_table(research_zone, deid.STUDIES_TABLE, batch),
            allow_shrink=allow_shrink,
        )
        deid.guard_partition(
            research_zone,
            batch,
            day,
            done.instances.height,
            allow_shrink=allow_shrink,
            gone=deid.gone_upstream(raw_zone, day, inputs),
        )
        analysis.guard_inpainting(
            research_zone,
            batch,
            analysis.inpaint_targets(planned, planned_twins).height,
            allow_shrink=allow_shrink,
            gone=_images_gone(research_zone, batch, done.images),
        )
    except StageFailure:
        deid.discard_unlisted_files(research_zone, batch, done)
        deid.sweep_files(research_zone, pending)
        analysis.sweep_inpainted(research_zone, begin_pending(batch, analysis.INPAINT_WRITER))
        raise
    with deid.batch_opened(research_zone, batch, done):
        deidentified = deid.finish_partition(
            raw_zone,
            research_zone,
            pseudonymizer,
            day,
            inputs,
            cohort,
            done,
            verify_ocr=ocr,
            allow_shrink=allow_shrink,
        )
    deid.count_opted_out(deidentified.report, opted_out)
    if after_deidentification is not None:
        after_deidentification(deidentified)

    images = read_partition_table(research_zone, deid.IMAGES_TABLE, batch)
    stored_studies = read_partition_table(research_zone, deid.STUDIES_TABLE, batch)
    assert images is not None  # finish_partition wrote it
    features, twins = analysis.features_table(images, stored_studies, _feature_rows(resolved))
    features_report = analysis.write_features(research_zone, batch, features, twins, ocr=ocr)

    stored_features = read_partition_table(research_zone, analysis.FEATURES_TABLE, batch)
    assert stored_features is not None
    tasks_inpaint = _inpaint_tasks(
        research_zone, stored_features, twins, resolved, method=inpaint_method, previews=previews
    )
    if progress:
        progress(f"inpainting {len(tasks_inpaint)} images")
    twinned = len(set(twins["caliper_image_id"].to_list())) if twins.height else 0
    inpainting = analysis.finish_inpainting(
        research_zone, batch, tasks_inpaint, twinned, workers=workers, allow_shrink=allow_shrink
    )
    close_batch(research_zone, batch)
    deid.sweep_files(research_zone, pending, deidentified.report)
    return ImagingPartitionResult(deidentified, features_report, inpainting)


def _one_pass(
    tasks: list[deid.DeidTask],
    ocr: bool,
    laterality: dict[str, str | None] | None,
    workers: int | None,
    *,
    keep_frames: bool = True,
) -> list[deid.DeidOutcome]:
    """:func:`process_one` over ``tasks`` in worker processes, duplicates resolved (input
    order)."""

    def rerun(task: deid.DeidTask) -> deid.DeidOutcome:
        return process_one(ImagingTask(task, ocr, laterality, keep_frames))

    work = [ImagingTask(t, ocr, laterality, keep_frames) for t in tasks]
    outcomes = parallel_map(process_one, work, workers=workers, min_items_per_worker=2)
    return deid._without_duplicates(tasks, outcomes, rerun)


def _kept(resolved: list[deid.DeidOutcome]) -> list[ImagingOutcome]:
    return [o for o in resolved if isinstance(o, ImagingOutcome) and o.instance is not None]


def _feature_rows(resolved: list[deid.DeidOutcome]) -> list[dict[str, Any]]:
    return [row for o in _kept(resolved) for row in o.features]


def _inpaint_tasks(
    zone: Zone,
    features: pl.DataFrame,
    twins: pl.DataFrame,
    resolved: list[deid.DeidOutcome],
    *,
    method: str,
    previews: int,
    target: Callable[[str], str] | None = None,
    images: pl.DataFrame | None = None,
) -> list[analysis.InpaintTask]:
    """The images with calipers and no clean twin, each with its frame kept in memory by
    the one pass (no PNG read back), or with ``images`` (frames not kept) its PNG;
    ``target``: where an image's PNG goes (default the research zone's
    ``inpainted/<id[:2]>/<image_id>.png``)."""
    targets = analysis.inpaint_targets(features, twins)
    if targets.height:
        if images is None:
            targets = targets.with_columns(pl.lit("").alias("png_path"))
        else:
            targets = targets.join(images.select("image_id", "png_path"), on="image_id")
        if target is not None:
            targets = targets.with_columns(
                pl.col("image_id").map_elements(target, return_dtype=pl.String).alias("target")
            )
    frames = {k: v for o in _kept(resolved) for k, v in o.caliper_frames.items()}
    tasks = [
        _with_pixels(task, frames[task.image_id]) if images is None else task
        for task in analysis.inpaint_tasks(zone, targets, method=method, previews=previews)
    ]
    frames.clear()
    return tasks


@dataclass
class ImagingFiles:
    """What :func:`process_files` did: the de-identification's outcomes and tables, and the
    ``image_features``, ``twins`` and ``inpainted_images`` tables."""

    deidentified: deid.DeidFiles
    features: pl.DataFrame
    twins: pl.DataFrame
    inpainted: pl.DataFrame


def study_lateralities(images: pl.DataFrame, sides: dict[str, str | None]) -> pl.DataFrame:
    """Without a cohort (``cadbusi deidentify --analyze``): each study's side from its
    instances' headers (``sides`` by instance id, :func:`~.analysis.header_laterality`): the
    one side they name, BILATERAL when they name both, null when none; as the ``studies``
    table's two columns the analysis joins."""
    named: dict[str, set[str]] = {}
    for accession, instance in images.select("accession_pseudo", "instance_id").iter_rows():
        side = sides.get(instance)
        named.setdefault(accession, set())
        if side in ("LEFT", "RIGHT"):
            named[accession].add(side)
        elif side == "BILATERAL":
            named[accession] |= {"LEFT", "RIGHT"}
    rows = [
        (a, None if not s else s.pop() if len(s) == 1 else "BILATERAL")
        for a, s in sorted(named.items())
    ]
    return pl.DataFrame(
        rows,
        schema={"accession_pseudo": pl.String, "study_laterality": pl.String},
        orient="row",
    )


def process_files(
    raw_zone: Zone,
    research_zone: Zone,
    inputs: list[deid.DeidInput],
    pseudonymizer: Pseudonymizer,
    *,
    profile: str = "research-breast-us",
    frame_step: int = 4,
    ocr: bool = True,
    inpaint_method: str = "auto",
    workers: int | None = None,
    layout: str = "shard",
    progress_path: str = "",
    inpainted_path: Callable[[str], str] | None = None,
) -> ImagingFiles:
    """The one pass over files of a folder (``cadbusi deidentify --analyze``): the same
    workers as :func:`process_partition` (:func:`process_one`) de-identify, verify, write
    and analyse each input, then the images with calipers and no clean twin are inpainted
    from the frames kept in memory; nothing is read back. No cohort: a study's side comes
    from its headers (:func:`study_lateralities`), twins are paired within a pseudonymized
    accession number as in the assets. ``inpainted_path(image_id)``: where an inpainted PNG
    goes in ``research_zone`` (default ``inpainted/<id[:2]>/<image_id>.png``).

    Memory: the frames with calipers are not kept (a folder may hold any number): the
    inpainting reads their PNGs back, which hold the same pixels."""
    require_ocr(ocr)
    require_compute()
    tasks = deid.deid_tasks(
        raw_zone,
        research_zone,
        inputs,
        pseudonymizer,
        profile=profile,
        frame_step=frame_step,
        verify_ocr=ocr,
        layout=layout,
        progress_path=progress_path,
    )
    outcomes = parallel_map(
        process_one, files_work(tasks, ocr), workers=workers, min_items_per_worker=2
    )
    analysed = analyse_files(
        research_zone,
        tasks,
        outcomes,
        ocr,
        inpaint_method=inpaint_method,
        inpainted_path=inpainted_path,
    )
    inpainted, _ = analysis.inpaint_images(analysed.inpaint, workers)
    return ImagingFiles(analysed.deidentified, analysed.features, analysed.twins, inpainted)


def files_work(tasks: list[deid.DeidTask], ocr: bool) -> list[ImagingTask]:
    """:func:`process_files`' worker items (no cohort; the frames with calipers not kept)."""
    return [ImagingTask(t, ocr, None, keep_frames=False) for t in tasks]


@dataclass
class AnalysedFiles:
    """:func:`process_files` after its workers: the de-identification's outcomes and
    tables, the features and twins, and the inpainting still to do."""

    deidentified: deid.DeidFiles
    features: pl.DataFrame
    twins: pl.DataFrame
    inpaint: list[analysis.InpaintTask]


def analyse_files(
    research_zone: Zone,
    tasks: list[deid.DeidTask],
    outcomes: Sequence[deid.DeidOutcome],
    ocr: bool,
    *,
    inpaint_method: str = "auto",
    inpainted_path: Callable[[str], str] | None = None,
) -> AnalysedFiles:
    """:func:`process_files` between its workers and the inpainting: duplicates resolved
    (input order), the tables, the images to inpaint (read back from their PNGs)."""

    def rerun(task: deid.DeidTask) -> deid.DeidOutcome:
        return process_one(files_work([task], ocr)[0])

    resolved = deid._without_duplicates(tasks, outcomes, rerun)
    done = deid.deid_files(resolved)
    sides = {o.instance["instance_id"]: o.side for o in _kept(resolved) if o.instance is not None}
    features, twins = analysis.features_table(
        done.images, study_lateralities(done.images, sides), _feature_rows(resolved)
    )
    inpaint = _inpaint_tasks(
        research_zone,
        features,
        twins,
        resolved,
        method=inpaint_method,
        previews=0,
        target=inpainted_path,
        images=done.images,
    )
    return AnalysedFiles(done, features, twins, inpaint)


def _with_pixels(task: analysis.InpaintTask, pixels: np.ndarray) -> analysis.InpaintTask:
    return replace(task, pixels=pixels)


def _images_gone(research_zone: Zone, batch: str, images: pl.DataFrame) -> frozenset[str]:
    """Image ids the date held and this pass no longer has (their instance left the date
    upstream, or the de-identification's guard will say)."""
    held = read_partition_table(research_zone, deid.IMAGES_TABLE, batch)
    if held is None or held.height == 0:
        return frozenset()
    now = set(images["image_id"].to_list()) if images.height else set()
    return frozenset(set(held["image_id"].to_list()) - now)
