"""Generate the demo cohort into a folder, and open one generated earlier.

Layout of ``out_dir``::

    warehouse.duckdb                     patients, radiology_exams, pathology_specimens
    pacs/<StudyInstanceUID>/<SOPInstanceUID>.dcm
    ground_truth/<SOPInstanceUID>.json   per-instance truth (geometry, calipers, text, ...)
    ground_truth/clean/<SOPInstanceUID>_f<frame>.png   frames before calipers were drawn
    ground_truth/records/exams.json      per-exam truth (BI-RADS, side, findings, kind)
    cohort.json                          config and summary counts
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from cadbusi_demo.config import DemoConfig
from cadbusi_demo.plan import CohortPlan, plan_cohort
from cadbusi_demo.records_truth import write_records_truth
from cadbusi_demo.warehouse import write_warehouse

COHORT_FILE = "cohort.json"
WAREHOUSE_FILE = "warehouse.duckdb"
PACS_DIR = "pacs"
GROUND_TRUTH_DIR = "ground_truth"
#: Bumped when the same config starts to give different files.
GENERATOR_VERSION = 1

Progress = Callable[[str], None]


def dump_json(data: Any) -> str:
    """Stable JSON text: sorted keys, two-space indent, trailing newline."""
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def patient_identifiers(patient_id: str, patient_name: str, birth_date: dt.date) -> set[str]:
    """The PHI strings one patient is written with anywhere in the cohort.

    >>> sorted(patient_identifiers("01234567", "DOE^JANE", dt.date(1960, 2, 1)))  # doctest: +NORMALIZE_WHITESPACE
    ['01234567', '02/01/1960', '1960-02-01', '19600201', 'DOE, JANE', 'DOE^JANE', 'JANE', 'JANE DOE']
    """
    last, _, first = patient_name.partition("^")
    found = {patient_id, patient_name, f"{last}, {first}", f"{first} {last}"}
    found |= {part for part in (last, first) if len(part) >= 4}
    found |= {
        birth_date.strftime("%Y%m%d"),
        birth_date.strftime("%m/%d/%Y"),
        birth_date.isoformat(),
    }
    return found


@dataclass(frozen=True)
class DemoCohort:
    """A generated cohort on disk."""

    out_dir: Path
    config: DemoConfig
    counts: dict[str, Any] = field(default_factory=dict)

    @property
    def warehouse_path(self) -> Path:
        return self.out_dir / WAREHOUSE_FILE

    @property
    def pacs_root(self) -> Path:
        return self.out_dir / PACS_DIR

    @property
    def ground_truth_dir(self) -> Path:
        return self.out_dir / GROUND_TRUTH_DIR

    @classmethod
    def load(cls, out_dir: Path | str) -> DemoCohort:
        """Open a cohort written by :func:`generate_demo_cohort`."""
        out_dir = Path(out_dir)
        data = json.loads((out_dir / COHORT_FILE).read_text())
        return cls(out_dir, DemoConfig.from_dict(data["config"]), data["summary"])

    def summary(self) -> dict[str, Any]:
        """Counts of everything generated (a copy)."""
        return json.loads(json.dumps(self.counts))

    def identifiers(self) -> list[str]:
        """Every patient identifier planted anywhere, for PHI-leak scans.

        Patient names (``LAST^FIRST``, ``LAST, FIRST``, ``FIRST LAST`` and each name part of at
        least 4 letters), MRNs, radiology and specimen accession numbers, and birth dates as
        ``YYYYMMDD``, ``MM/DD/YYYY`` and ``YYYY-MM-DD``.
        """
        with duckdb.connect(str(self.warehouse_path), read_only=True) as con:
            patients = con.execute(
                "SELECT patient_id, patient_name, birth_date FROM patients"
            ).fetchall()
            accessions = con.execute(
                "SELECT DISTINCT accession_number FROM radiology_exams"
            ).fetchall()
            specimens = con.execute(
                "SELECT DISTINCT specimen_accession FROM pathology_specimens"
            ).fetchall()
        found: set[str] = set()
        for patient_id, patient_name, birth_date in patients:
            found |= patient_identifiers(patient_id, patient_name, birth_date)
        found |= {row[0] for row in accessions} | {row[0] for row in specimens}
        return sorted(found)


def _swap_into_place(staging: Path, out_dir: Path) -> None:
    """Replace ``out_dir`` by ``staging`` with two renames (the old content is then removed)."""
    old = out_dir.parent / f".{out_dir.name}.old"
    shutil.rmtree(old, ignore_errors=True)
    if out_dir.exists():
        out_dir.rename(old)
    staging.rename(out_dir)
    shutil.rmtree(old, ignore_errors=True)


def _summary(
    plan: CohortPlan, warehouse_counts: dict[str, int], image_counts: dict[str, Any]
) -> dict[str, Any]:
    us = [e for e in plan.exams if e.modality == "US"]
    return {
        "patients": len(plan.patients),
        "exams": len(plan.exams),
        "radiology_rows": warehouse_counts["radiology_exams"],
        "us_exams": len(us),
        "mg_exams": sum(e.modality == "MG" for e in plan.exams),
        "biopsies": sum(e.kind == "biopsy" for e in plan.exams),
        "us_studies": len(plan.pacs_exams()),
        "us_exams_without_pacs": sum(e.study_instance_uid is None for e in us),
        "pathology_specimens": len(plan.specimens),
        "pathology_rows": warehouse_counts["pathology_specimens"],
        **image_counts,
    }


class DemoOutputError(ValueError):
    """The cohort's folder holds something that is not a demo cohort: nothing is replaced."""


def _check_replaceable(out_dir: Path) -> None:
    """``out_dir`` is missing, an empty folder, or a cohort written before (its
    :data:`COHORT_FILE`): what a new cohort may replace. A file, or a folder of anything else
    (a typo, ``~/Documents``), was renamed and deleted with everything in it."""
    if not out_dir.exists() and not out_dir.is_symlink():
        return
    if not out_dir.is_dir() or out_dir.is_symlink():
        raise DemoOutputError(
            f"{out_dir} exists and is not a folder; the demo cohort needs a new or empty folder "
            "(nothing was changed)."
        )
    if (out_dir / COHORT_FILE).is_file() or not any(out_dir.iterdir()):
        return
    raise DemoOutputError(
        f"{out_dir} holds files that are not a demo cohort (no {COHORT_FILE}); the cohort "
        "replaces its folder, so give a new or empty folder (nothing was changed)."
    )


def generate_demo_cohort(
    out_dir: Path | str, config: DemoConfig = DemoConfig(), progress: Progress | None = None
) -> DemoCohort:
    """Write the whole cohort for ``config`` into ``out_dir`` (replacing what was there).

    The files are built in a sibling folder and moved into place at the end, so a failed run
    leaves the previous cohort untouched, and a re-run gives byte-identical files.
    """
    from cadbusi_demo.pacs import write_pacs

    out_dir = Path(out_dir).resolve()
    _check_replaceable(out_dir)
    say = progress or (lambda _message: None)
    plan = plan_cohort(config)
    say(
        f"planned {len(plan.patients)} patients, {len(plan.exams)} exams, "
        f"{len(plan.pacs_exams())} US studies, {len(plan.specimens)} specimens"
    )
    staging = out_dir.parent / f".{out_dir.name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        warehouse_counts = write_warehouse(staging / WAREHOUSE_FILE, plan)
        say(f"warehouse: {warehouse_counts}")
        write_records_truth(staging / GROUND_TRUTH_DIR / "records", plan)
        image_counts = write_pacs(plan, staging / PACS_DIR, staging / GROUND_TRUTH_DIR, say)
        summary = _summary(plan, warehouse_counts, image_counts)
        (staging / COHORT_FILE).write_text(
            dump_json(
                {
                    "config": config.to_dict(),
                    "generator_version": GENERATOR_VERSION,
                    "summary": summary,
                }
            )
        )
        _swap_into_place(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    say(f"demo cohort written to {out_dir}")
    return DemoCohort(out_dir, config, summary)
