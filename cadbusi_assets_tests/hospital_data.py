"""A demo date whose hospital sources are made to disagree (the adversary rounds on messy
hospital data): the demo cohort and product settings of a date, its exams, its PACS files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl

from cadbusi_assets_tests.builders import DEMO_DAY


def demo_date(tmp_path: Path, days: int = 1, studies: tuple[int, int] = (3, 3)):
    """A demo cohort of ``days`` dates from DEMO_DAY (three studies, three patients a date), its
    product settings (OCR off, one worker, this checkout's code) and its key's pseudonymizer."""
    import os

    from cadbusi_assets.identity import Pseudonymizer, generate_key_file, load_key
    from cadbusi_assets_tests.defs.services import ROOT, product_env, write_instance_yaml
    from cadbusi_assets_tests.support import time_limit
    from cadbusi_demo import DemoConfig, generate_demo_cohort

    with time_limit(120, "a demo cohort"):
        generate_demo_cohort(
            tmp_path / "cohort",
            DemoConfig(
                start=dt.date.fromisoformat(DEMO_DAY),
                days=days,
                studies_per_day=studies,
                seed=41,
                workers=1,
            ),
        )
    key = generate_key_file(tmp_path / "secrets" / "pseudonym.key")
    env = product_env(
        tmp_path / "state", tmp_path / "cohort", key, CADBUSI_OCR="0", CADBUSI_WORKERS="1"
    )
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    write_instance_yaml(env)
    return env, Pseudonymizer(load_key(key))


def exams(cohort: Path, day: str = DEMO_DAY) -> list[tuple[str, str, str]]:
    """(accession, patient_id, study UID) of the date's exams the cohort selects and whose
    study the PACS holds, one per patient, by accession."""
    from cadbusi_assets.records import parse_radiology_reports, select_cohort

    with duckdb.connect(str(cohort / "warehouse.duckdb")) as con:
        rows = con.execute("SELECT * FROM radiology_exams WHERE exam_date = ?", [day])
        names = [column[0] for column in rows.description]
        frame = pl.DataFrame(rows.fetchall(), schema=names, orient="row")
    selected = select_cohort(
        parse_radiology_reports(frame), today=dt.date.fromisoformat(day)
    ).cohort
    exams: dict[str, tuple[str, str, str]] = {}
    for row in selected.sort("accession_number").iter_rows(named=True):
        uid = row["study_instance_uid"]
        if uid and study_files(cohort, uid):
            exams.setdefault(row["patient_id"], (row["accession_number"], row["patient_id"], uid))
    return sorted(exams.values())


def study_files(cohort: Path, uid: str) -> list[Path]:
    """The demo PACS's files of a study (a folder named by its UID)."""
    return sorted((cohort / "pacs" / uid).glob("*.dcm"))


def another_home(tmp_path: Path, env: dict[str, str], name: str) -> dict[str, str]:
    """A second deployment of :func:`demo_date`'s sources and key (its own zones and Dagster
    home under ``tmp_path / name``): the same dates run in another order give the files to
    compare."""
    import os

    from cadbusi_assets_tests.defs.services import ROOT, product_env, write_instance_yaml

    other = product_env(
        tmp_path / name,
        tmp_path / "cohort",
        Path(env["CADBUSI_PSEUDONYM_KEY_FILE"]),
        CADBUSI_OCR=env["CADBUSI_OCR"],
        CADBUSI_WORKERS=env["CADBUSI_WORKERS"],
    )
    other["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), other.get("PYTHONPATH")]))
    write_instance_yaml(other)
    return other


def zone_files(zone: Path) -> dict[str, bytes]:
    """Every file of a zone folder by its relative path."""
    return {
        str(path.relative_to(zone)): path.read_bytes()
        for path in sorted(zone.rglob("*"))
        if path.is_file()
    }


def reuse_accession(cohort: Path, accession: str, reused_from: str) -> None:
    """The RIS handed ``accession`` out again: the warehouse row of ``reused_from`` now
    carries it."""
    with duckdb.connect(str(cohort / "warehouse.duckdb")) as con:
        con.execute(
            "UPDATE radiology_exams SET accession_number = ? WHERE accession_number = ?",
            [accession, reused_from],
        )
