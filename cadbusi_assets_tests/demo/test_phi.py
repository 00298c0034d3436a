"""PHI is planted where de-identification must find it, and identifiers() lists all of it."""

from __future__ import annotations

import duckdb
from pydicom.tag import Tag

from cadbusi_demo.cohort import patient_identifiers
from cadbusi_demo.dicom_writer import PRIVATE_CREATOR
from cadbusi_demo.layouts import LAYOUTS
from cadbusi_demo.names import OUTSIDE_SITE, SITES


def patients(cohort) -> dict[str, dict]:
    with duckdb.connect(str(cohort.warehouse_path), read_only=True) as con:
        rows = con.execute("SELECT patient_id, patient_name, birth_date FROM patients").fetchall()
    return {r[0]: {"pn": r[1], "dob": r[2]} for r in rows}


def test_identifiers_cover_names_ids_and_birth_dates(demo_cohort):
    identifiers = set(demo_cohort.identifiers())
    with duckdb.connect(str(demo_cohort.warehouse_path), read_only=True) as con:
        accessions = {
            r[0] for r in con.execute("SELECT accession_number FROM radiology_exams").fetchall()
        }
        specimens = {
            r[0]
            for r in con.execute("SELECT specimen_accession FROM pathology_specimens").fetchall()
        }
    assert accessions | specimens <= identifiers
    for patient_id, p in patients(demo_cohort).items():
        last, first = p["pn"].split("^")
        expected = {
            patient_id,
            p["pn"],
            f"{last}, {first}",
            f"{first} {last}",
            p["dob"].strftime("%Y%m%d"),
            p["dob"].strftime("%m/%d/%Y"),
            p["dob"].isoformat(),
        }
        expected |= {part for part in (last, first) if len(part) >= 4}
        assert expected <= identifiers


def test_phi_is_planted_in_header_private_nested_and_overlay(demo_cohort, datasets):
    people = patients(demo_cohort)
    for path in demo_cohort.pacs_root.glob("*/*.dcm"):
        ds = datasets[path.stem]
        person = people[ds.PatientID]
        dob = person["dob"].strftime("%Y%m%d")
        raw = path.read_bytes()
        for value in (person["pn"], ds.PatientID, ds.AccessionNumber, dob):
            assert value.encode() in raw
        assert ds.PatientID in ds.ImageComments
        assert ds.OtherPatientIDsSequence[0].PatientID == ds.PatientID
        request = ds.RequestAttributesSequence[0]
        assert request.AccessionNumber == request.RequestedProcedureID == ds.AccessionNumber
        assert ds.AccessionNumber in request.ScheduledProcedureStepID
        code = ds.ReferencedPerformedProcedureStepSequence[0].ProcedureCodeSequence[0]
        assert person["pn"] in code.CodeMeaning
        assert code.PatientBirthDate == dob
        block = ds.private_block(0x0009, PRIVATE_CREATOR)
        assert block[0x01].value == f"{person['pn']} {ds.PatientID}"
        assert block[0x10].VR == "SQ"
        item = block[0x10].value[0]
        assert item.private_block(0x0009, PRIVATE_CREATOR)[0x11].value == dob
        assert person["pn"] in ds[Tag(0x6000, 0x4000)].value


def test_burned_in_phi_text_holds_identifiers(demo_cohort, truths):
    identifiers = set(demo_cohort.identifiers())
    for truth in truths.values():
        texts = truth["frames"][0]["burned_in_text"]
        for text in texts:
            if text["kind"] == "phi" and text["field"] in {"patient_name", "mrn", "birth_date"}:
                assert any(i in text["text"] for i in identifiers), text
            if text["kind"] != "phi":
                assert not any(i in text["text"] for i in identifiers if len(i) >= 4), text


def test_identifiers_do_not_collide_with_other_text(default_plan):
    """A leak scan over free text must fire only on the patient's own identifiers."""
    own: dict[str, set[str]] = {}
    for p in default_plan.patients:
        own[p.patient_id] = patient_identifiers(p.patient_id, p.pn, p.birth_date)
    own_accessions: dict[str, set[str]] = {}
    for e in default_plan.exams:
        own_accessions.setdefault(e.patient_id, set()).add(e.accession)
    for s in default_plan.specimens:
        own_accessions.setdefault(s.patient_id, set()).add(s.specimen_accession)
    everyone = set().union(*own.values(), *own_accessions.values())
    texts = [(e.patient_id, e.report_text) for e in default_plan.exams]
    texts += [
        (r["patient_id"], (r["final_diagnosis_text"] or "") + (r["synoptic_report"] or ""))
        for r in default_plan.specimen_rows
    ]
    for patient_id, text in texts:
        foreign = everyone - own[patient_id] - own_accessions.get(patient_id, set())
        found = [i for i in foreign if i in text.upper() or i in text]
        assert not found, (patient_id, found)
    screen_words = " ".join(
        [
            w
            for layout in LAYOUTS.values()
            for w in (*layout.menu, layout.probe, layout.preset, layout.model, layout.manufacturer)
        ]
        + [site.name for site in (*SITES, OUTSIDE_SITE)]
        + ["LT BREAST RT BREAST LEFT RIGHT AXILLA TRANS LONG RAD ARAD OBL CM FN MI TIS TIB"]
    )
    assert not [i for i in everyone if i in screen_words.upper()]
