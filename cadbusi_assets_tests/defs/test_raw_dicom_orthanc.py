"""raw_dicom materialized from a real Orthanc over DICOMweb, DIMSE C-MOVE and C-GET gives the
same instances, with byte-identical pixel data, as the folder PACS (issue 5: the asset, not
only the retrieval function)."""

from __future__ import annotations

import dagster as dg
import polars as pl
import pytest

from cadbusi_assets.dicom import read_dataset
from cadbusi_assets.pacs.orthanc_server import OrthancServer, free_port
from cadbusi_assets.storage import open_zone, read_partition_table
from cadbusi_assets_tests.defs.conftest import days, make_environment, run
from cadbusi_assets_tests.support import require_tool

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("pipeline")]


@pytest.fixture(scope="module")
def orthanc_with_day(pipeline, cohort_dir, tmp_path_factory):
    require_tool("Orthanc", "apt-get install orthanc orthanc-dicomweb")
    day = days()[0]
    cohort = read_partition_table(open_zone(str(pipeline.env.raw), "raw"), "imaging_studies", day)
    server = OrthancServer(tmp_path_factory.mktemp("orthanc_defs"))
    server.start()
    try:
        for uid in cohort["study_instance_uid"]:
            for path in sorted((cohort_dir / "pacs" / uid).glob("*.dcm")):
                server.upload(path.read_bytes())
        yield server, day
    finally:
        server.stop(graceful=False)


def _instances(env, day) -> dict[str, bytes]:
    raw = open_zone(str(env.raw), "raw")
    manifest = read_partition_table(raw, "retrieval_instances", day)
    out = {}
    for path in manifest.filter(pl.col("status") == "stored")["raw_path"]:
        ds = read_dataset(raw.read_bytes(path))
        out[str(ds.SOPInstanceUID)] = bytes(ds.PixelData)
    return out


@pytest.mark.parametrize("protocol", ["dicomweb", "dimse-move", "dimse-get"])
def test_raw_dicom_from_orthanc_matches_the_folder_pacs(
    protocol, orthanc_with_day, pipeline, definitions, cohort_dir, key_file, tmp_path_factory
):
    server, day = orthanc_with_day
    if protocol == "dicomweb":
        uri = "dicomweb+" + server.dicomweb_url
    elif protocol == "dimse-move":
        port = free_port()
        server.add_modality("cadbusi", "CADBUSI", "127.0.0.1", port)
        uri = (
            f"dimse://{server.aet}@127.0.0.1:{server.dicom_port}?calling_aet=CADBUSI"
            f"&move_destination=CADBUSI&store_port={port}&store_bind=127.0.0.1&mode=move"
        )
    else:
        uri = f"dimse://{server.aet}@127.0.0.1:{server.dicom_port}?calling_aet=CADBUSI&mode=get"
    env = make_environment(
        tmp_path_factory.mktemp(f"orthanc_{protocol}"), cohort_dir, key_file, pacs_uri=uri
    )
    assert env.resources["pacs"].uri == uri
    with dg.instance_for_test(set_dagster_home=False) as instance:
        result = run(
            definitions,
            env,
            ["radiology_reports", "imaging_studies", "raw_dicom"],
            instance,
            partition_key=day,
        )
    assert result.success
    check = next(
        e for e in result.get_asset_check_evaluations() if e.check_name == "retrieval_complete"
    )
    assert check.passed
    fetched, reference = _instances(env, day), _instances(pipeline.env, day)
    assert fetched.keys() == reference.keys() and fetched
    # pixel data exactly as stored in the PACS: JPEG objects are not transcoded on the way
    assert [uid for uid in reference if fetched[uid] != reference[uid]] == []
