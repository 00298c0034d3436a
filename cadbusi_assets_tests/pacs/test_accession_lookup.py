"""StudyInstanceUID lookups for warehouse rows without one (issue 14, item 3): by accession
number, else by patient ID + study date; ambiguous or missing matches recorded with a reason.
On a real Orthanc over DICOMweb (QIDO-RS) and DIMSE (C-FIND at STUDY level), on the folder
PACS (date search filtered here) and on fakes for the failure paths. All data synthetic."""

from __future__ import annotations

import datetime as dt
import itertools

import polars as pl
import pytest

from cadbusi_assets.dicom import dataset_to_bytes, read_dataset
from cadbusi_assets.pacs import StudyMatch, TransientError, open_pacs
from cadbusi_assets.pacs.base import StudyLookup
from cadbusi_assets.pacs.find import (
    LOOKUP_REASONS,
    REASON_ACCESSION_AMBIGUOUS,
    REASON_FAILED,
    REASON_NO_ACCESSION_MATCH,
    REASON_NO_KEYS,
    REASON_NO_PATIENT_DATE_MATCH,
    REASON_NOT_SUPPORTED,
    REASON_PATIENT_DATE_AMBIGUOUS,
    REASON_SHARED_STUDY,
    REASON_TRUNCATED,
    REASON_WILDCARD,
    SOURCE_ACCESSION,
    SOURCE_PATIENT_DATE,
    SOURCE_WAREHOUSE,
    StudyMatches,
    lookup_keys,
    resolve_study_uids,
)
from cadbusi_assets.pacs.folder import FolderPacs
from cadbusi_assets.pacs.synthetic import synthetic_uid, synthetic_us_instance

D = dt.date
_UIDS = itertools.count(7000)


def _instance(
    accession: str, patient: str, day: dt.date, modality: str = "US"
) -> tuple[str, bytes]:
    study = synthetic_uid(next(_UIDS))
    data = synthetic_us_instance(
        study,
        study + ".1",
        study + ".1.1",
        rows=8,
        columns=8,
        accession_number=accession,
        patient_id=patient,
        study_date=day,
    )
    if modality != "US":
        ds = read_dataset(data)
        ds.Modality = modality
        data = dataset_to_bytes(ds)
    return study, data


def _rows(*rows: dict) -> pl.DataFrame:
    schema = {
        "accession_number": pl.String,
        "patient_id": pl.String,
        "exam_date": pl.Date,
        "modality": pl.String,
        "study_instance_uid": pl.String,
        "note": pl.String,
    }
    return pl.DataFrame([{c: r.get(c) for c in schema} for r in rows], schema=schema, orient="row")


class Catalog:
    """The synthetic studies put into a PACS, by name."""

    def __init__(self, put) -> None:
        self.uid: dict[str, str] = {}
        specs = {
            "unique": ("LKA-1", "LKP-1", D(2023, 5, 1), "US"),
            "shared_a": ("LKA-2", "LKP-2", D(2023, 5, 2), "US"),
            "shared_b": ("LKA-2", "LKP-3", D(2023, 6, 2), "US"),
            "by_patient": ("LKA-OTHER-4", "LKP-4", D(2023, 5, 4), "US"),
            "twin_1": ("LKA-5A", "LKP-5", D(2023, 5, 5), "US"),
            "twin_2": ("LKA-5B", "LKP-5", D(2023, 5, 5), "US"),
            "us_of_pair": ("LKA-6A", "LKP-6", D(2023, 5, 6), "US"),
            "mg_of_pair": ("LKA-6B", "LKP-6", D(2023, 5, 6), "MG"),
        }
        for name, (accession, patient, day, modality) in specs.items():
            uid, data = _instance(accession, patient, day, modality)
            put(uid, data)
            self.uid[name] = uid


def _check_lookups(pacs, catalog: Catalog) -> None:
    rows = _rows(
        dict(note="unique", accession_number="LKA-1"),
        dict(
            note="by accession, narrowed by date",
            accession_number="LKA-2",
            patient_id="LKP-3",
            exam_date=D(2023, 6, 2),
        ),
        dict(note="shared accession", accession_number="LKA-2"),
        dict(
            note="patient fallback",
            accession_number="LKA-MISSING",
            patient_id="LKP-4",
            exam_date=D(2023, 5, 4),
            modality="US",
        ),
        dict(note="two studies that day", patient_id="LKP-5", exam_date=D(2023, 5, 5)),
        dict(note="modality picks one", patient_id="LKP-6", exam_date=D(2023, 5, 6), modality="US"),
        dict(note="no such accession", accession_number="LKA-NONE"),
        dict(note="no such patient day", patient_id="LKP-4", exam_date=D(2023, 5, 5)),
        dict(note="nothing to look up", patient_id="LKP-1"),
        dict(note="wildcard", accession_number="LKA-*"),
        dict(
            note="from warehouse",
            accession_number="LKA-1",
            study_instance_uid=" " + synthetic_uid(1, 2, 3) + " ",
        ),
        dict(note="blank uid", accession_number="LKA-1", study_instance_uid="  "),
    )
    resolved, unresolved = resolve_study_uids(pacs, rows)
    assert resolved.height + unresolved.height == rows.height
    got = {
        r["note"]: (r["study_instance_uid"], r["study_uid_source"])
        for r in resolved.iter_rows(named=True)
    }
    assert got == {
        "unique": (catalog.uid["unique"], SOURCE_ACCESSION),
        "by accession, narrowed by date": (catalog.uid["shared_b"], SOURCE_ACCESSION),
        "patient fallback": (catalog.uid["by_patient"], SOURCE_PATIENT_DATE),
        "modality picks one": (catalog.uid["us_of_pair"], SOURCE_PATIENT_DATE),
        "from warehouse": (synthetic_uid(1, 2, 3), SOURCE_WAREHOUSE),
        "blank uid": (catalog.uid["unique"], SOURCE_ACCESSION),
    }, unresolved.select("note", "lookup_reason").rows()  # (why a lookup failed, if one did)
    reasons = dict(unresolved.select("note", "lookup_reason").iter_rows())
    assert reasons == {
        "shared accession": REASON_ACCESSION_AMBIGUOUS,
        "two studies that day": REASON_PATIENT_DATE_AMBIGUOUS,
        "no such accession": REASON_NO_ACCESSION_MATCH,
        "no such patient day": REASON_NO_PATIENT_DATE_MATCH,
        "nothing to look up": REASON_NO_KEYS,
        "wildcard": REASON_WILDCARD,
    }
    # input order and columns are kept; the reason is never an identifier
    assert resolved.columns == [*rows.columns, "study_uid_source"]
    assert unresolved.columns == [*rows.columns, "lookup_reason"]
    assert resolved["note"].to_list() == [n for n in rows["note"] if n in got]
    assert set(unresolved["lookup_reason"]) <= set(LOOKUP_REASONS)


@pytest.mark.integration
@pytest.mark.parametrize("protocol", ["dicomweb", "dimse_get"])
def test_lookups_on_orthanc(protocol, request, orthanc):
    catalog = _orthanc_catalog(request, orthanc)
    pacs = open_pacs(request.getfixturevalue(f"{protocol}_uri"))
    try:
        assert isinstance(pacs, StudyLookup)
        _check_lookups(pacs, catalog)
    finally:
        pacs.close()


_CATALOGS: dict[int, Catalog] = {}


def _orthanc_catalog(request, orthanc) -> Catalog:
    """Upload the catalog once per Orthanc server (session fixture)."""
    key = id(orthanc)
    if key not in _CATALOGS:
        _CATALOGS[key] = Catalog(lambda _uid, data: orthanc.upload(data))
    return _CATALOGS[key]


def test_lookups_on_the_folder_pacs(tmp_path):
    def put(uid: str, data: bytes) -> None:
        (tmp_path / uid).mkdir()
        (tmp_path / uid / "IM0001.dcm").write_bytes(data)

    catalog = Catalog(put)
    pacs = FolderPacs(tmp_path)
    # no lookup interface: rows with a date are searched by date and filtered here
    rows = _rows(
        dict(note="a", accession_number="LKA-1", exam_date=D(2023, 5, 1)),
        dict(note="b", patient_id="LKP-4", exam_date=D(2023, 5, 4)),
        dict(note="c", accession_number="LKA-1"),
    )
    resolved, unresolved = resolve_study_uids(pacs, rows)
    assert dict(resolved.select("note", "study_instance_uid").iter_rows()) == {
        "a": catalog.uid["unique"],
        "b": catalog.uid["by_patient"],
    }
    assert dict(unresolved.select("note", "lookup_reason").iter_rows()) == {
        "c": REASON_NOT_SUPPORTED
    }


class FakeLookup:
    """A StudyLookup PACS answering from a list, optionally ignoring keys or failing."""

    name = "fake"

    def __init__(self, studies: list[StudyMatch], *, ignore_keys=False, fail=None, cut=False):
        self.studies, self.ignore_keys, self.fail, self.cut = studies, ignore_keys, fail, cut
        self.queries: list[dict] = []

    def list_instances(self, study_instance_uid):  # pragma: no cover - not used
        return []

    def fetch(self, ref, dest):  # pragma: no cover - not used
        return 0

    def close(self):
        return None

    def lookup_studies(
        self, *, accession_number=None, patient_id=None, study_date=None, modality=None, limit=None
    ):
        keys = lookup_keys(accession_number, patient_id, study_date, modality)
        self.queries.append(keys)
        if self.fail is not None:
            raise self.fail
        out = StudyMatches(
            m
            for m in self.studies
            if self.ignore_keys
            or (
                keys.get("AccessionNumber", m.accession_number) == m.accession_number
                and keys.get("PatientID", m.patient_id) == m.patient_id
            )
        )
        out.truncated = self.cut
        return out


STUDIES = [
    StudyMatch(synthetic_uid(9, 1), "FA-1", D(2023, 1, 1), patient_id="FP-1", modalities="US"),
    StudyMatch(synthetic_uid(9, 2), "FA-2", D(2023, 1, 1), patient_id="FP-2", modalities="US"),
]


def test_answers_are_checked_again_when_the_pacs_ignores_keys():
    pacs = FakeLookup(STUDIES, ignore_keys=True)
    resolved, unresolved = resolve_study_uids(pacs, _rows(dict(note="x", accession_number="FA-2")))
    assert resolved["study_instance_uid"].to_list() == [synthetic_uid(9, 2)]
    assert unresolved.height == 0


def test_one_query_per_distinct_key():
    pacs = FakeLookup(STUDIES)
    rows = _rows(*[dict(note=str(i), accession_number="FA-1") for i in range(5)])
    resolved, _ = resolve_study_uids(pacs, rows)
    assert resolved.height == 5 and len(pacs.queries) == 1


def test_failures_and_cut_answers_are_recorded_not_raised():
    rows = _rows(dict(note="x", accession_number="FA-1"))
    _, unresolved = resolve_study_uids(FakeLookup(STUDIES, fail=TransientError("HTTP 503")), rows)
    assert unresolved["lookup_reason"].to_list() == [f"{REASON_FAILED} (HTTP 503)"]
    _, unresolved = resolve_study_uids(FakeLookup(STUDIES, cut=True), rows)
    assert unresolved["lookup_reason"].to_list() == [REASON_TRUNCATED]


def test_a_study_claimed_by_several_rows_is_not_guessed():
    pacs = FakeLookup(STUDIES)
    rows = _rows(
        # two different accessions unknown to the PACS, same patient and day: one study only
        dict(note="a", accession_number="GONE-1", patient_id="FP-1", exam_date=D(2023, 1, 1)),
        dict(note="b", accession_number="GONE-2", patient_id="FP-1", exam_date=D(2023, 1, 1)),
        # the warehouse already names FP-2's study for another row
        dict(note="c", accession_number="FA-2", study_instance_uid=synthetic_uid(9, 2)),
        dict(note="d", patient_id="FP-2", exam_date=D(2023, 1, 1)),
    )
    resolved, unresolved = resolve_study_uids(pacs, rows)
    assert resolved["note"].to_list() == ["c"]
    assert dict(unresolved.select("note", "lookup_reason").iter_rows()) == {
        "a": REASON_SHARED_STUDY,
        "b": REASON_SHARED_STUDY,
        "d": REASON_SHARED_STUDY,
    }


def test_empty_rows_and_lookup_key_rules():
    resolved, unresolved = resolve_study_uids(FakeLookup(STUDIES), _rows())
    assert resolved.height == 0 and unresolved.height == 0
    assert "lookup_reason" in unresolved.columns
    with pytest.raises(ValueError):
        lookup_keys(None, None, D(2023, 1, 1), "US")  # a date alone would match everything
    with pytest.raises(ValueError):
        lookup_keys(None, "P?", None, None)
    assert lookup_keys(" A ", "", None, " us ") == {
        "AccessionNumber": "A",
        "ModalitiesInStudy": "US",
    }


def test_find_module_docstring_examples():
    import doctest

    import cadbusi_assets.pacs.find as find

    result = doctest.testmod(find, optionflags=doctest.ELLIPSIS)
    assert result.attempted and not result.failed
