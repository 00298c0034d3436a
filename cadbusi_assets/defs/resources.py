"""Resources, chosen from the deployment settings (see cadbusi_assets.settings).

Configuration holds URIs and paths only; secrets (the pseudonym key, PACS tokens, warehouse
passwords, the Labelbox API key) are read from the environment at run time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from pydantic import Field

from cadbusi_assets.identity import Pseudonymizer, load_key
from cadbusi_assets.identity.pin import check_key_pin
from cadbusi_assets.labeling import LabelSource, open_label_source
from cadbusi_assets.settings import load_settings
from cadbusi_assets.stages.safety import zone_fingerprints
from cadbusi_assets.storage import Zone, open_zone


class ZonesResource(dg.ConfigurableResource):
    """The raw (PHI) zone and the research (de-identified) zone: separate roots."""

    raw_uri: str = Field(description="Root of the raw zone (PHI): folder, gs://, s3://")
    research_uri: str = Field(description="Root of the research zone (de-identified)")
    storage_options: str = Field(
        default="", description="JSON options for object-store zones (no secrets: endpoint, region)"
    )

    def _options(self) -> dict:
        return json.loads(self.storage_options) if self.storage_options else {}

    def raw(self) -> Zone:
        return open_zone(self.raw_uri, "raw", **self._options()).ensure()

    def research(self) -> Zone:
        return open_zone(self.research_uri, "research", **self._options()).ensure()


class PseudonymKeyResource(dg.ConfigurableResource):
    """Where the secret pseudonym key lives (a path; the key itself never enters config)."""

    key_file: str = Field(default="", description="Key file path; empty: $CADBUSI_PSEUDONYM_KEY")

    def pseudonymizer(self, zones: ZonesResource | None = None) -> Pseudonymizer:
        forbidden = (zones.raw_uri, zones.research_uri) if zones else ()
        local_roots = tuple(r for r in forbidden if "://" not in r or r.startswith("file://"))
        key = load_key(self.key_file or None, forbidden_roots=local_roots)
        settings = load_settings()
        if settings.key_pin:  # a demo home: the key it is pinned to (a run config's key too)
            explicit = settings.key_from_env or self.key_file != settings.key_file

            def recorded() -> set[str]:  # what the zones of a home older than its pin hold
                if zones is None:
                    return set()
                return zone_fingerprints(zones.raw()) | zone_fingerprints(zones.research())

            check_key_pin(Path(settings.key_pin), key, explicit=explicit, recorded=recorded)
        return Pseudonymizer(key)


class WarehouseResource(dg.ConfigurableResource):
    """The records warehouse: duckdb:///..., postgresql://..., bigquery://project/dataset."""

    uri: str = Field(description="Warehouse URI (passwords come from the environment)")

    @contextmanager
    def open(self) -> Iterator:
        from cadbusi_assets.records import open_warehouse

        warehouse = open_warehouse(self.uri)
        try:
            yield warehouse
        finally:
            warehouse.close()


class PacsResource(dg.ConfigurableResource):
    """The PACS: folder:///..., dicomweb+https://..., dimse://AET@host:port."""

    uri: str = Field(description="PACS URI (tokens and passwords come from the environment)")
    concurrency: int = Field(default=4, description="Concurrent retrievals per run")

    @contextmanager
    def open(self) -> Iterator:
        from cadbusi_assets.pacs import open_pacs

        pacs = open_pacs(self.uri)
        try:
            yield pacs
        finally:
            pacs.close()


class LabelSourceResource(dg.ConfigurableResource):
    """Labelbox (labelbox://<project>) or a folder of NDJSON exports (folder:///...)."""

    uri: str = Field(description="Label source URI (LABELBOX_API_KEY from the environment)")

    def open(self) -> LabelSource:
        return open_label_source(self.uri)


class ProcessingResource(dg.ConfigurableResource):
    """Knobs of the image stages."""

    workers: int = Field(default=0, description="Worker processes per partition (0: CPU count)")
    cine_frame_step: int = Field(default=4, description="Keep every n-th cine frame")
    ocr: bool = Field(default=True, description="OCR burned-in text (verification and features)")
    deid_profile: str = Field(default="research-breast-us", description="De-identification profile")
    inpaint_method: str = Field(
        default="auto",
        description="auto (= torch, batched, CUDA when present), normconv, telea or ns",
    )

    @property
    def worker_count(self) -> int | None:
        return self.workers or None


def build_resources() -> dict[str, dg.ConfigurableResource]:
    settings = load_settings()
    zones = ZonesResource(
        raw_uri=settings.raw_zone_uri,
        research_uri=settings.research_zone_uri,
        storage_options=settings.storage_options,
    )
    return {
        "zones": zones,
        "pseudonym_key": PseudonymKeyResource(key_file=settings.key_file),
        "warehouse": WarehouseResource(uri=settings.warehouse_uri),
        "pacs": PacsResource(uri=settings.pacs_uri),
        "labelbox": LabelSourceResource(uri=settings.labelbox_uri),
        "processing": ProcessingResource(
            cine_frame_step=settings.cine_frame_step, ocr=settings.ocr
        ),
    }


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=build_resources())
