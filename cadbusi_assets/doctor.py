"""``cadbusi doctor``: check for real that every part of a deployment works (no Dagster).

Each check does what a run would do, with short timeouts, and answers with one
:class:`Check` (``ok``, ``warning`` or ``problem`` with the fix):

* warehouse: open it and run the row-count query of one day (a DuckDB file must exist and is
  never created; PostgreSQL connects with a short timeout; BigQuery dry-runs the query when
  Google credentials exist);
* PACS: the folder exists and is readable; DICOMweb answers ``/studies?limit=1`` (QIDO-RS);
  DIMSE answers C-ECHO;
* zones: the raw and research roots differ and neither lies inside the other; a probe
  object is written and deleted in each;
* pseudonym key: the file exists, is readable, lies outside both data zones, is not readable
  by every user (warning) and holds a valid key;
* tesseract (when OCR is on): ``tesseract --version`` runs and English data is installed;
* labels: the folder exists (readable and writable) or ``LABELBOX_API_KEY`` is set.

Messages never hold a secret: URIs are shown without passwords, keys by fingerprint only.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import stat
import subprocess
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from cadbusi_assets.settings import Settings, SettingsError, require_compute, tesseract_problem

OK = "ok"
WARNING = "warning"
PROBLEM = "problem"

#: Seconds a network check may wait (connect, answer).
DEFAULT_TIMEOUT = 5.0


@dataclass(frozen=True)
class Check:
    """The outcome of one check. ``detail`` says what was found, ``fix`` what to do."""

    name: str
    status: str
    detail: str
    fix: str = ""

    @property
    def failed(self) -> bool:
        return self.status == PROBLEM

    def line(self) -> str:
        text = (
            f"{self.status.upper() if self.status != OK else OK:<8} {self.name:<14} {self.detail}"
        )
        return text + (f" — fix: {self.fix}" if self.fix else "")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _redact(uri: str) -> str:
    """``uri`` without password and query string (safe to print)."""
    if "://" not in uri:
        return uri
    parts = urlsplit(uri)
    if not parts.hostname:
        return f"{parts.scheme}://{parts.netloc}{parts.path}"
    user = f"{unquote(parts.username)}@" if parts.username else ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{user}{parts.hostname}{port}{parts.path}"


# -- warehouse --------------------------------------------------------------------------------


def check_warehouse(uri: str, day: str, timeout: float = DEFAULT_TIMEOUT) -> Check:
    """Open the warehouse and count one day's ultrasound exams (the query a run starts with)."""
    from cadbusi_assets.records.warehouse import WarehouseError, open_warehouse

    name = "warehouse"
    if not uri:
        return Check(
            name,
            PROBLEM,
            "CADBUSI_WAREHOUSE is not set",
            "set it to duckdb:///path.duckdb, postgresql://user@host:port/db or "
            "bigquery://project/dataset",
        )
    shown = _redact(uri)
    scheme = urlsplit(uri).scheme.lower() if "://" in uri else ""
    options: dict[str, Any] = {}
    if scheme in ("postgresql", "postgres"):
        options["connect_timeout"] = max(2, round(timeout))
    if scheme == "bigquery":
        return _check_bigquery(uri, day, timeout)
    try:
        warehouse = open_warehouse(uri, **options)
    except WarehouseError as exc:  # its message says what to do
        return Check(name, PROBLEM, f"{shown}: {_first_line(exc)}")
    except Exception as exc:  # a driver error we do not translate: still a problem, not a crash
        return Check(name, PROBLEM, f"{shown}: {type(exc).__name__}", _warehouse_fix(scheme))
    try:
        date = dt.date.fromisoformat(day)
        counts = warehouse.exam_counts(date, date)
    except WarehouseError as exc:
        return Check(name, PROBLEM, f"{shown}: {_first_line(exc)}")
    finally:
        warehouse.close()
    total = int(counts["n_us_studies"].sum()) if counts.height else 0
    return Check(name, OK, f"{shown} answered ({total} ultrasound studies on {day})")


def _warehouse_fix(scheme: str) -> str:
    if scheme in ("postgresql", "postgres"):
        return (
            "check that the server runs and accepts connections from here, the user and "
            "database names, and the password in CADBUSI_WAREHOUSE_PASSWORD or PGPASSWORD"
        )
    if scheme in ("", "file", "duckdb"):
        return "point CADBUSI_WAREHOUSE at an existing .duckdb file (`cadbusi demo` builds one)"
    return "use duckdb:///path.duckdb, postgresql://user@host:port/db or bigquery://project/dataset"


def _check_bigquery(uri: str, day: str, timeout: float) -> Check:
    """A dry run of the day's count query: checks credentials, the dataset and the views
    without reading any data (free)."""
    name = "warehouse"
    shown = _redact(uri)
    try:
        import google.auth
        from google.auth.exceptions import DefaultCredentialsError
    except ImportError:
        return Check(name, PROBLEM, f"{shown}: google-cloud-bigquery is not installed")
    try:
        credentials, _ = google.auth.default()
    except DefaultCredentialsError:
        return Check(
            name,
            PROBLEM,
            f"{shown}: no Google credentials found",
            "set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file or run "
            "`gcloud auth application-default login`",
        )
    from google.cloud import bigquery

    from cadbusi_assets.records.warehouse import WarehouseError, open_warehouse
    from cadbusi_assets.records.warehouse.sql import dialect_sql

    try:
        warehouse = open_warehouse(uri)
        date = dt.date.fromisoformat(day)
        config = warehouse.job_config({"start_date": date, "end_date": date})  # type: ignore[attr-defined]
        config.dry_run = True
        config.use_query_cache = False
        project = getattr(warehouse, "job_project", None) or getattr(warehouse, "project", None)
        client = bigquery.Client(
            project=project,
            credentials=credentials,
            location=getattr(warehouse, "location", None),
        )
        try:
            job = client.query(
                dialect_sql("exam_counts", "bigquery"), job_config=config, timeout=timeout
            )
        finally:
            client.close()
    except WarehouseError as exc:
        return Check(name, PROBLEM, f"{shown}: {_first_line(exc)}")
    except Exception as exc:  # google.api_core raises many kinds
        return Check(
            name,
            PROBLEM,
            f"{shown}: the dry-run query failed ({type(exc).__name__})",
            "check the project and dataset names, that the dataset holds the views patients, "
            "radiology_exams and pathology_specimens, and that the credentials may query them",
        )
    return Check(
        name, OK, f"{shown} accepted a dry-run query ({job.total_bytes_processed or 0} bytes)"
    )


# -- PACS -------------------------------------------------------------------------------------


def check_pacs(uri: str, timeout: float = DEFAULT_TIMEOUT) -> Check:
    from cadbusi_assets.pacs.base import PacsError
    from cadbusi_assets.pacs.uri import open_pacs

    name = "PACS"
    if not uri:
        return Check(
            name,
            PROBLEM,
            "CADBUSI_PACS is not set",
            "set it to folder:///path, dicomweb+https://host/dicom-web or dimse://AET@host:port",
        )
    shown = _redact(uri)
    scheme = uri.split("://", 1)[0].lower() if "://" in uri else "folder"
    if scheme in ("folder", "file"):
        root = Path(unquote(urlsplit(uri).path) if "://" in uri else uri).expanduser()
        if not root.is_dir():
            return Check(
                name,
                PROBLEM,
                f"{shown}: the folder does not exist",
                "point CADBUSI_PACS at the folder that holds one sub-folder per study",
            )
        if not os.access(root, os.R_OK | os.X_OK):
            return Check(
                name, PROBLEM, f"{shown}: the folder is not readable", "fix its permissions"
            )
        try:
            studies = sum(1 for p in root.iterdir() if p.is_dir())
        except OSError as exc:
            return Check(name, PROBLEM, f"{shown}: cannot list the folder ({exc.strerror})")
        return Check(name, OK, f"{shown} readable ({studies} study folders)")
    if scheme == "dimse":
        return _c_echo(uri, timeout)
    try:
        pacs = open_pacs(uri, timeout=timeout)
    except PacsError as exc:
        return Check(name, PROBLEM, f"{shown}: {_first_line(exc)}")
    try:
        pacs.check()  # DICOMweb: QIDO-RS /studies?limit=1
    except PacsError as exc:
        return Check(name, PROBLEM, f"{shown}: {_first_line(exc)}")
    except Exception as exc:
        return Check(name, PROBLEM, f"{shown}: no answer ({type(exc).__name__})")
    finally:
        pacs.close()
    return Check(name, OK, f"{shown} answered a QIDO-RS study query")


def _c_echo(uri: str, timeout: float) -> Check:
    """C-ECHO with every pynetdicom timeout (connect, ACSE, DIMSE, network) set short."""
    from cadbusi_assets.pacs.base import PacsError
    from cadbusi_assets.pacs.uri import open_pacs

    name = "PACS"
    shown = _redact(uri)
    try:
        pacs = open_pacs(uri)  # validates AE titles, port, mode, options and TLS files
        pacs.close()
    except PacsError as exc:
        return Check(name, PROBLEM, f"{shown}: {_first_line(exc)}")
    from cadbusi_assets.pacs.dimse import DimsePacs, tls_problem

    tls = pacs._tls_client if isinstance(pacs, DimsePacs) else None
    from pynetdicom import AE
    from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

    parts = urlsplit(uri)
    query = dict(parse_qsl(parts.query))
    calling = query.get("calling_aet", "CADBUSI")
    ae = AE(ae_title=calling)
    for attribute in ("connection_timeout", "acse_timeout", "dimse_timeout", "network_timeout"):
        setattr(ae, attribute, timeout)
    ae.add_requested_context(Verification)
    assert parts.hostname is not None and parts.port is not None  # validated by open_pacs
    extra: dict[str, Any] = {}
    if tls is not None:
        assert isinstance(pacs, DimsePacs)
        extra["tls_args"] = (tls, pacs.tls_hostname)
    assoc = ae.associate(
        parts.hostname, parts.port, ae_title=unquote(parts.username or ""), **extra
    )
    try:
        if assoc.is_rejected:
            return Check(
                name,
                PROBLEM,
                f"{shown}: the PACS rejected the association (calling AE {calling!r})",
                "ask the PACS administrators to allow our AE title, or fix the called AE title",
            )
        if not assoc.is_established:
            problem = None
            if tls is not None:
                assert isinstance(pacs, DimsePacs)
                problem = tls_problem(tls, parts.hostname, parts.port, pacs.tls_hostname)
            if problem is not None:
                return Check(
                    name,
                    PROBLEM,
                    f"{shown}: the TLS handshake failed ({problem})",
                    "check tls_ca (the CA of the PACS's certificate), tls_hostname, and that "
                    "the PACS trusts our tls_cert",
                )
            return Check(
                name,
                PROBLEM,
                f"{shown}: no DICOM association (connection refused, timed out or aborted)",
                "check the host, the port and that the PACS accepts connections from here",
            )
        status = assoc.send_c_echo()
        ok = "Status" in status and int(status.Status) == 0
    finally:
        if assoc.is_established:
            assoc.release()
        ae.shutdown()
    if not ok:
        return Check(name, PROBLEM, f"{shown}: C-ECHO did not succeed")
    return Check(name, OK, f"{shown} answered C-ECHO" + (" over TLS" if tls is not None else ""))


def check_locks() -> Check:
    """The cross-machine write locks: the PostgreSQL of ``CADBUSI_LOCK_URL`` (or the Dagster
    instance's ``DAGSTER_PG_*``) answers, or file locks only (one machine)."""
    from cadbusi_assets.stages.locks import LOCK_URL_ENV_VAR, lock_database
    from cadbusi_assets.stages.report import StageFailure

    name = "write locks"
    try:
        url = lock_database()
    except StageFailure as exc:
        return Check(name, PROBLEM, str(exc), f"set {LOCK_URL_ENV_VAR}=postgresql://… or none")
    if url is None:
        return Check(
            name,
            OK,
            "file locks (serialize the runs of one machine; runs on several machines need "
            f"{LOCK_URL_ENV_VAR} or the instance's DAGSTER_PG_*)",
        )
    shown = _redact(url)
    import psycopg2

    try:
        connection = psycopg2.connect(url, connect_timeout=int(DEFAULT_TIMEOUT))
    except psycopg2.Error as exc:
        return Check(
            name,
            PROBLEM,
            f"{shown}: PostgreSQL does not answer ({type(exc).__name__}); every run would fail",
            f"check {LOCK_URL_ENV_VAR} (or DAGSTER_PG_*), the server and the credentials",
        )
    connection.close()
    return Check(name, OK, f"PostgreSQL advisory locks at {shown}")


# -- zones ------------------------------------------------------------------------------------


def _local_root(uri: str) -> Path | None:
    if "://" not in uri or uri.startswith("file://"):
        return Path(uri.removeprefix("file://")).expanduser().resolve()
    return None


def _nested(a: str, b: str) -> bool:
    """True when the two zone roots are the same or one lies inside the other."""
    la, lb = _local_root(a), _local_root(b)
    if la is not None and lb is not None:
        return la == lb or la.is_relative_to(lb) or lb.is_relative_to(la)
    if (la is None) != (lb is None):
        return False
    ta, tb = a.rstrip("/") + "/", b.rstrip("/") + "/"
    return ta.startswith(tb) or tb.startswith(ta)


def check_zones(raw_uri: str, research_uri: str, storage_options: str = "") -> list[Check]:
    checks: list[Check] = []
    if raw_uri and research_uri and _nested(raw_uri, research_uri):
        checks.append(
            Check(
                "zones",
                PROBLEM,
                "the raw (PHI) and research zones are the same or one lies inside the other",
                "give CADBUSI_RAW_ZONE and CADBUSI_RESEARCH_ZONE separate roots",
            )
        )
    options = json.loads(storage_options) if storage_options else {}
    for name, uri, variable in (
        ("raw", raw_uri, "CADBUSI_RAW_ZONE"),
        ("research", research_uri, "CADBUSI_RESEARCH_ZONE"),
    ):
        checks.append(check_zone(name, uri, variable, options))
    return checks


def check_zone(name: str, uri: str, variable: str, options: Mapping[str, Any]) -> Check:
    """Create the root if needed, then write, read back and delete a probe object."""
    from cadbusi_assets.storage import open_zone
    from cadbusi_assets.storage.zones import make_private_folder

    label = f"{name} zone"
    if not uri:
        return Check(
            label, PROBLEM, f"{variable} is not set", "set it to a folder or gs:// / s3:// URI"
        )
    probe = f".cadbusi-doctor-probe-{uuid.uuid4().hex}"
    payload = b"cadbusi doctor probe\n"
    try:
        zone = open_zone(uri, name, **options)
        local = _local_root(uri)
        if local is not None:
            if zone.private:
                make_private_folder(local)
            else:
                local.mkdir(parents=True, exist_ok=True)
        zone.write_bytes((probe,), payload)
        ok = zone.read_bytes(probe) == payload
        zone.delete(probe)
    except Exception as exc:  # permissions, missing bucket, credentials, a file in the way
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else _first_line(exc)
        return Check(
            label,
            PROBLEM,
            f"{_redact(uri)}: cannot write a probe object ({reason})",
            f"make {variable} a folder or bucket prefix the pipeline may write",
        )
    if not ok:
        return Check(label, PROBLEM, f"{_redact(uri)}: the probe object read back differently")
    if local is not None and zone.private:
        mode = stat.S_IMODE(local.stat().st_mode)
        if mode & 0o077:
            return Check(
                label,
                WARNING,
                f"{local} holds PHI and other users of this machine may open it (mode {mode:04o})",
                f"chmod 700 {local} (or give it a group of its own on purpose)",
            )
    return Check(label, OK, f"{_redact(uri)} writable (probe written and deleted)")


# -- pseudonym key ----------------------------------------------------------------------------


def check_key(
    key_file: str, zone_uris: tuple[str, ...], env: Mapping[str, str] | None = None
) -> list[Check]:
    from cadbusi_assets.identity import PseudonymKeyError, load_key

    env = os.environ if env is None else env
    name = "pseudonym key"
    keygen = "create one with `cadbusi keygen PATH` outside the data zones"
    if not key_file:
        if env.get("CADBUSI_PSEUDONYM_KEY"):
            try:
                key = load_key(None, env={"CADBUSI_PSEUDONYM_KEY": env["CADBUSI_PSEUDONYM_KEY"]})
            except PseudonymKeyError as exc:
                return [Check(name, PROBLEM, _first_line(exc), keygen)]
            return [Check(name, OK, f"from CADBUSI_PSEUDONYM_KEY (fingerprint {key.fingerprint})")]
        return [
            Check(
                name,
                PROBLEM,
                "no key is configured",
                keygen + ", and set CADBUSI_PSEUDONYM_KEY_FILE",
            )
        ]
    path = Path(key_file).expanduser()
    checks: list[Check] = []
    for uri in zone_uris:
        root = _local_root(uri) if uri else None
        if root is not None and path.resolve().is_relative_to(root):
            return [
                Check(
                    name,
                    PROBLEM,
                    f"the key file {path} lies inside a data zone ({root})",
                    "move it out of the zones (keys never sit next to data) and update "
                    "CADBUSI_PSEUDONYM_KEY_FILE",
                )
            ]
    if not path.is_file():
        return [Check(name, PROBLEM, f"the key file {path} does not exist", keygen)]
    try:
        mode = path.stat().st_mode
        with path.open("rb"):
            pass
    except OSError as exc:
        return [
            Check(
                name,
                PROBLEM,
                f"the key file {path} cannot be read ({exc.strerror})",
                "let the pipeline's user read it",
            )
        ]
    if mode & stat.S_IROTH:
        checks.append(
            Check(
                name,
                WARNING,
                f"the key file {path} is readable by every user (mode {stat.S_IMODE(mode):04o})",
                f"chmod 600 {path}",
            )
        )
    try:
        key = load_key(path, env={})
    except PseudonymKeyError as exc:
        return [*checks, Check(name, PROBLEM, _first_line(exc), keygen)]
    return [*checks, Check(name, OK, f"{path} (fingerprint {key.fingerprint})")]


# -- tesseract, labels ------------------------------------------------------------------------


def check_tesseract(ocr: bool) -> Check:
    name = "tesseract"
    if not ocr:
        return Check(
            name,
            OK,
            "not needed: OCR is off (CADBUSI_OCR=0; burned-in text is not verified, partition "
            "metadata records ocr_ran=0)",
        )
    problem = tesseract_problem()
    if problem:
        message, _, fix = problem.partition("; ")
        return Check(name, PROBLEM, message, f"{fix}, or set CADBUSI_OCR=0 to run without OCR")
    executable = shutil.which("tesseract") or "tesseract"
    try:
        version = subprocess.run(
            [executable, "--version"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return Check(name, PROBLEM, f"`tesseract --version` failed ({type(exc).__name__})")
    first = (version.stdout or version.stderr).strip().splitlines()
    return Check(name, OK, f"{first[0] if first else 'tesseract'} with English data")


def check_compute() -> Check:
    """The torch settings (:func:`~cadbusi_assets.settings.require_compute`) and what the
    image analysis will run on here: the inpainting device, the caliper networks' precision."""
    name = "torch"
    try:
        require_compute()
    except SettingsError as exc:
        return Check(name, PROBLEM, str(exc))
    import torch

    from cadbusi_assets.ultrasound.inpaint_torch import pick_device
    from cadbusi_assets.ultrasound.models import inference_dtype

    device = pick_device()
    net_device = "cuda" if torch.cuda.is_available() else "cpu"
    precision = str(inference_dtype(net_device)).removeprefix("torch.")
    return Check(
        name,
        OK,
        f"torch {torch.__version__}: inpainting on {device}, caliper networks on {net_device} "
        f"in {precision} (CADBUSI_INPAINT_DEVICE, CADBUSI_TORCH_PRECISION)",
    )


def check_labels(uri: str, env: Mapping[str, str] | None = None) -> Check:
    env = os.environ if env is None else env
    name = "labels"
    if not uri:
        return Check(
            name,
            PROBLEM,
            "CADBUSI_LABELBOX is not set",
            "set it to folder:///path (NDJSON exports) or labelbox://<project id>",
        )
    if "://" not in uri or uri.startswith(("folder://", "file://")):
        root = Path(uri.split("://", 1)[-1]).expanduser()
        if not root.is_dir():
            return Check(
                name,
                PROBLEM,
                f"{uri}: the folder does not exist",
                f"create it (mkdir -p {root}) or fix CADBUSI_LABELBOX",
            )
        if not os.access(root, os.R_OK | os.W_OK | os.X_OK):
            return Check(
                name,
                PROBLEM,
                f"{uri}: the folder is not readable and writable",
                "fix its permissions",
            )
        return Check(name, OK, f"{uri} readable and writable")
    scheme = urlsplit(uri).scheme
    if scheme == "labelbox":
        if not env.get("LABELBOX_API_KEY"):
            return Check(
                name,
                PROBLEM,
                f"{_redact(uri)}: LABELBOX_API_KEY is not set",
                "create an API key in Labelbox and set LABELBOX_API_KEY",
            )
        return Check(name, OK, f"{_redact(uri)} (LABELBOX_API_KEY is set)")
    return Check(
        name,
        PROBLEM,
        f"unsupported label source scheme {scheme!r}",
        "use folder:///path or labelbox://<project id>",
    )


# -- all --------------------------------------------------------------------------------------


def run_checks(
    settings: Settings,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    env: Mapping[str, str] | None = None,
    on_check: Callable[[Check], None] | None = None,
) -> list[Check]:
    """Every check of ``settings``, in order; ``on_check`` sees each one as it finishes."""
    checks: list[Check] = []

    def add(*found: Check) -> None:
        for check in found:
            checks.append(check)
            if on_check is not None:
                on_check(check)

    add(check_warehouse(settings.warehouse_uri, settings.first_study_date, timeout))
    add(check_pacs(settings.pacs_uri, timeout))
    add(*check_zones(settings.raw_zone_uri, settings.research_zone_uri, settings.storage_options))
    add(*check_key(settings.key_file, (settings.raw_zone_uri, settings.research_zone_uri), env))
    add(check_tesseract(settings.ocr))
    add(check_compute())
    add(check_locks())
    add(check_labels(settings.labelbox_uri, env))
    return checks
