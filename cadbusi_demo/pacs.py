"""The folder PACS and the per-instance ground truth, synthesized study by study in parallel.

``pacs/<StudyInstanceUID>/<SOPInstanceUID>.dcm`` for every US study with a StudyInstanceUID,
``ground_truth/<SOPInstanceUID>.json`` for every instance and
``ground_truth/clean/<SOPInstanceUID>_f<frame>.png`` for every frame that has calipers.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from cadbusi_assets.parallel import parallel_map
from cadbusi_demo.acquisition import StudyPlan, ViewPlan, plan_acquisitions
from cadbusi_demo.dicom_writer import (
    US_IMAGE_STORAGE,
    US_MULTIFRAME_IMAGE_STORAGE,
    instance_bytes,
)
from cadbusi_demo.layouts import LAYOUTS
from cadbusi_demo.plan import CohortPlan
from cadbusi_demo.render import RenderedView, render_view

CLEAN_DIR = "clean"
_TRANSFER_SYNTAX = {
    "jpeg": "1.2.840.10008.1.2.4.50",
    "rgb": "1.2.840.10008.1.2.1",
    "mono": "1.2.840.10008.1.2.1",
}
_PHOTOMETRIC = {"jpeg": "YBR_FULL_422", "rgb": "RGB", "mono": "MONOCHROME2"}


@dataclass(frozen=True)
class StudyJob:
    study: StudyPlan
    pacs_root: str
    ground_truth_dir: str


def _dump(data: Any) -> str:
    return json.dumps(data, sort_keys=True, indent=1) + "\n"


def instance_truth(study: StudyPlan, view: ViewPlan, rendered: RenderedView, *, twin: bool) -> dict:
    """The ground-truth document of the main instance of ``view`` or of its clean twin."""
    layout = LAYOUTS[study.layout]
    sop = view.twin_sop_instance_uid if twin else view.sop_instance_uid
    frames = []
    for frame in rendered.truth:
        frame = dict(frame)
        if twin:
            frame.update(
                has_calipers=False,
                caliper_points=[],
                caliper_style=None,
                caliper_colour=None,
                caliper_size_px=None,
                caliper_stroke_px=None,
                caliper_lines=[],
                clean_twin_sop_instance_uid=None,
                twin_of=view.sop_instance_uid,
            )
        else:
            frame.update(clean_twin_sop_instance_uid=view.twin_sop_instance_uid, twin_of=None)
        frames.append(frame)
    return {
        "sop_instance_uid": sop,
        "sop_class_uid": US_MULTIFRAME_IMAGE_STORAGE if view.frames > 1 else US_IMAGE_STORAGE,
        "study_instance_uid": study.study_instance_uid,
        "series_instance_uid": study.series_uids[view.series_number - 1],
        "accession_number": study.accession,
        "patient_id": study.patient.patient_id,
        "instance_number": view.twin_instance_number if twin else view.instance_number,
        "layout": layout.name,
        "manufacturer": layout.manufacturer,
        "model": layout.model,
        "rows": layout.rows,
        "columns": layout.columns,
        "number_of_frames": view.frames,
        "photometric": _PHOTOMETRIC[view.encoding],
        "transfer_syntax": _TRANSFER_SYNTAX[view.encoding],
        "decoded_mode": "RGB" if rendered.colour else "L",
        "is_cine": view.frames > 1,
        "is_dual_view": view.dual,
        "burned_in_annotation_tag": "YES" if view.burned_in_tag else None,
        "regions": rendered.regions,
        "has_calipers": any(f["has_calipers"] for f in frames),
        "clean_twin_sop_instance_uid": None if twin else view.twin_sop_instance_uid,
        "twin_of": view.sop_instance_uid if twin else None,
        "frames": frames,
    }


def synthesize_study(job: StudyJob) -> dict[str, int]:
    """Write one study's DICOM files, truth JSON and clean PNGs; returns its counts."""
    study = job.study
    folder = Path(job.pacs_root) / study.study_instance_uid
    truth_dir = Path(job.ground_truth_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (truth_dir / CLEAN_DIR).mkdir(parents=True, exist_ok=True)
    counts: Counter[str] = Counter()
    for view in study.views:
        rendered = render_view(study, view)
        instances = []
        if view.twin:
            instances.append(
                (True, view.twin_sop_instance_uid, view.twin_instance_number, rendered.clean)
            )
        instances.append((False, view.sop_instance_uid, view.instance_number, rendered.frames))
        for is_twin, sop, number, frames in instances:
            data = instance_bytes(
                study,
                view,
                sop_instance_uid=sop,
                instance_number=number,
                frames=frames,
                regions=rendered.regions,
                colour=rendered.colour,
            )
            (folder / f"{sop}.dcm").write_bytes(data)
            truth = instance_truth(study, view, rendered, twin=is_twin)
            (truth_dir / f"{sop}.json").write_text(_dump(truth))
            counts["instances"] += 1
            counts["frames"] += view.frames
            counts["bytes"] += len(data)
            counts[view.encoding] += 1
            counts[f"layout:{study.layout}"] += 1
            counts["burned_in_annotation_yes"] += view.burned_in_tag
        counts["cine"] += view.frames > 1
        counts["doppler"] += view.doppler
        counts["dual_view"] += view.dual
        counts["twins"] += view.twin
        counts["needle"] += view.needle
        counts["axilla_images"] += view.body_area == "axilla"
        if view.calipers:
            counts["caliper_images"] += 1
            for k, frame in enumerate(rendered.truth):
                if frame["has_calipers"]:
                    image = Image.fromarray(rendered.clean[k])
                    image.save(
                        truth_dir / CLEAN_DIR / f"{view.sop_instance_uid}_f{k}.png",
                        compress_level=1,
                    )
                    counts["clean_pngs"] += 1
        counts["single_frame_images"] += (view.frames == 1) * (1 + view.twin)
    return dict(counts)


def _batches(studies: list[StudyPlan], size: int) -> list[list[StudyPlan]]:
    return [studies[i : i + size] for i in range(0, len(studies), size)]


def write_pacs(
    plan: CohortPlan, pacs_root: Path, ground_truth_dir: Path, progress: Callable[[str], None]
) -> dict[str, Any]:
    """Synthesize every planned US study (in parallel) and return the image counts."""
    pacs_root.mkdir(parents=True, exist_ok=True)
    ground_truth_dir.mkdir(parents=True, exist_ok=True)
    studies = plan_acquisitions(plan)
    total: Counter[str] = Counter()
    done = 0
    for batch in _batches(studies, max(8, -(-len(studies) // 4))):
        jobs = [StudyJob(s, str(pacs_root), str(ground_truth_dir)) for s in batch]
        for counts in parallel_map(
            synthesize_study, jobs, workers=plan.config.workers, min_items_per_worker=2, chunksize=1
        ):
            total.update(counts)
        done += len(batch)
        progress(
            f"images: {done}/{len(studies)} studies (through {batch[-1].exam_datetime.date()}), "
            f"{total['instances']} instances, {total['frames']} frames"
        )
    layouts = {
        key.split(":", 1)[1]: value
        for key, value in sorted(total.items())
        if key.startswith("layout:")
    }
    keys = (
        "instances",
        "frames",
        "single_frame_images",
        "cine",
        "caliper_images",
        "twins",
        "clean_pngs",
        "doppler",
        "dual_view",
        "needle",
        "axilla_images",
        "burned_in_annotation_yes",
        "bytes",
    )
    summary: dict[str, Any] = {key: total.get(key, 0) for key in keys}
    summary.update(
        jpeg=total.get("jpeg", 0),
        rgb=total.get("rgb", 0),
        mono=total.get("mono", 0),
        layouts=layouts,
    )
    return summary
