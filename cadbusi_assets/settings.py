"""Deployment settings from environment variables (plain Python, no Dagster).

``CADBUSI_DEPLOYMENT`` chooses the defaults:

* ``demo`` (default): everything under ``CADBUSI_HOME`` (default ``./.demo``): a DuckDB
  warehouse with the synthetic cohort, a folder PACS, local raw and research zones, a folder of
  Labelbox NDJSON exports, and a pseudonym key in ``CADBUSI_HOME/secrets`` (outside the zones).
* ``production``: nothing is assumed; every URI must be set, and a missing one is a clear error
  at run time (definitions still load, so the UI can show what is wrong).

Each part can be overridden on its own with the variables in :data:`VARIABLES`.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cadbusi_assets.identity.pin import pin_path

DEMO = "demo"
PRODUCTION = "production"

#: Environment variables read here, with what they mean (shown by ``cadbusi doctor``).
VARIABLES: dict[str, str] = {
    "CADBUSI_DEPLOYMENT": "demo (default) or production",
    "CADBUSI_HOME": "demo home folder (default ./.demo)",
    "CADBUSI_FIRST_STUDY_DATE": "first partition of the study_date partitions (YYYY-MM-DD)",
    "CADBUSI_TIMEZONE": "the hospital's time zone, an IANA name (default UTC): study dates are "
    "its local dates, the schedules' times its wall-clock times",
    "CADBUSI_WAREHOUSE": "duckdb:///path.duckdb | postgresql://user@host:port/db | bigquery://project/dataset",
    "CADBUSI_PACS": "folder:///path | dicomweb+https://host/dicom-web | dimse://AET@host:port?...",
    "CADBUSI_RAW_ZONE": "raw (PHI) zone root: /path, file://, gs://bucket/prefix, s3://bucket/prefix",
    "CADBUSI_RESEARCH_ZONE": "research (de-identified) zone root, same forms",
    "CADBUSI_STORAGE_OPTIONS": 'JSON options for object-store zones, e.g. {"endpoint_url": "https://minio.local:9000"} (credentials from the usual AWS_/GOOGLE_ variables)',
    "CADBUSI_LABELBOX": "folder:///path (NDJSON exports) | labelbox://<project id> (key in LABELBOX_API_KEY)",
    "CADBUSI_LABELBOX_CONSENSUS": "on | off (default): consensus labelling in the Labelbox project and its batches",
    "CADBUSI_LABELBOX_CONSENSUS_COVERAGE": "percent of data rows labelled more than once, >0 to 100 (default 10)",
    "CADBUSI_LABELBOX_CONSENSUS_LABELS": "labels per consensus data row, 2 to 20 (default 3)",
    "CADBUSI_LABELBOX_RELEASE_DATES": "images wait until the send queue holds images of this many "
    "study dates, then go to Labelbox as one release (default 7 in production, 1 in the demo)",
    "CADBUSI_LABELBOX_RELEASE_IMAGES": "and at least this many images (default 0)",
    "CADBUSI_PSEUDONYM_KEY_FILE": "file holding the secret pseudonym key (or CADBUSI_PSEUDONYM_KEY)",
    "CADBUSI_WORKERS": "worker processes inside one partition (default: CPU count)",
    "CADBUSI_CINE_FRAME_STEP": "keep every n-th frame of cine loops (default 4)",
    "CADBUSI_REQUIRE_STUDY_UID": "0 (default): warehouse rows without a StudyInstanceUID are looked up in the PACS; 1: excluded",
    "CADBUSI_EXECUTOR": "in_process (default) or k8s (one Kubernetes pod per step)",
    "CADBUSI_LOCK_DIR": "one folder for the per-(asset, date) write locks (default: .cadbusi-locks "
    "at the root of each local zone, beside the data; a local folder per object-store zone)",
    "CADBUSI_LOCK_URL": "postgresql:// URL of the cross-machine write locks (PostgreSQL advisory "
    "locks; default: the Dagster instance's DAGSTER_PG_* where set; none: off)",
    "CADBUSI_LOCK_TIMEOUT": "seconds a run waits for another run of the same date before that date "
    "fails (default 21600: 6 h)",
    "CADBUSI_OCR": "1 (default) to OCR burned-in text (needs tesseract), 0 to run without OCR "
    "(burned-in text is then not verified; partition metadata records ocr_ran=0)",
    "CADBUSI_INPAINT_DEVICE": "auto (default: CUDA when present), cpu or cuda: where inpainting runs",
    "CADBUSI_TORCH_PRECISION": "auto (default: bfloat16 on a CPU with native bfloat16), fp32 or bf16: "
    "the caliper networks' CPU inference (fp32: the same bits on every CPU generation)",
}

#: The Debian packages OCR needs (the ``tesseract`` engine and its English data).
TESSERACT_INSTALL = "apt-get install tesseract-ocr tesseract-ocr-eng"

DEFAULT_FIRST_STUDY_DATE = "2026-09-01"


class SettingsError(RuntimeError):
    """A setting is missing or malformed; the message says which variable to set.

    The message is shown in run logs and as a date's failure reason
    (:func:`~cadbusi_assets.defs.reporting.safe_traceback`): it may quote a setting's value,
    never patient data or a secret (a key, a password in a URI)."""


class OcrUnavailableError(SettingsError):
    """OCR is on (the default) but tesseract cannot run; the message says how to fix it."""


def tesseract_problem() -> str | None:
    """None when ``tesseract`` runs and has English data; else what is wrong and the fix.

    Checked with the ``tesseract`` command on ``PATH`` (``tesseract --list-langs``), cached
    per ``PATH`` value.
    """
    return _tesseract_problem(os.environ.get("PATH", ""))


@functools.lru_cache(maxsize=8)
def _tesseract_problem(path_env: str) -> str | None:
    how = f"install it with `{TESSERACT_INSTALL}`"
    executable = shutil.which("tesseract", path=path_env)
    if executable is None:
        return f"tesseract is not installed; {how}"
    try:
        listed = subprocess.run(
            [executable, "--list-langs"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"tesseract does not run ({type(exc).__name__}); {how}"
    languages = {line.strip() for line in (listed.stdout + listed.stderr).splitlines()}
    if listed.returncode != 0 or "eng" not in languages:
        return f"tesseract has no English language data; {how}"
    return None


def require_ocr(ocr: bool) -> None:
    """Raise :class:`OcrUnavailableError` when ``ocr`` is on and tesseract cannot run.

    OCR is never switched off silently: the only way to run without it is CADBUSI_OCR=0.
    """
    if ocr:
        problem = tesseract_problem()
        if problem:
            raise OcrUnavailableError(
                f"OCR is on (CADBUSI_OCR), but {problem}; or set CADBUSI_OCR=0 to run without "
                "OCR (burned-in text is then not verified; partition metadata records ocr_ran=0)"
            )


#: The settings of the torch parts (read where they run: :mod:`.ultrasound.inpaint_torch`,
#: :mod:`.ultrasound.models`), checked up front by :func:`require_compute`.
INPAINT_DEVICE_VAR = "CADBUSI_INPAINT_DEVICE"
TORCH_PRECISION_VAR = "CADBUSI_TORCH_PRECISION"


def require_compute() -> None:
    """Raise :class:`SettingsError` when ``CADBUSI_INPAINT_DEVICE`` or
    ``CADBUSI_TORCH_PRECISION`` holds a value that cannot run here (a misspelt one, CUDA
    where torch sees none, bfloat16 where the CPU has none), before any work starts: the
    parts that read them run in the workers, where a wrong value failed every file with a
    traceback. torch is imported only for the values that need it (``cuda``, ``bf16``), so
    the default settings cost a command no start-up time."""
    device = os.environ.get(INPAINT_DEVICE_VAR, "").strip().lower() or "auto"
    precision = os.environ.get(TORCH_PRECISION_VAR, "").strip().lower() or "auto"
    if device not in ("auto", "cpu") and not re.fullmatch(r"cuda(:\d+)?", device):
        raise SettingsError(
            f"{INPAINT_DEVICE_VAR}={device!r}: use auto (the default), cpu, cuda or cuda:N"
        )
    if precision not in ("auto", "fp32", "bf16"):
        raise SettingsError(
            f"{TORCH_PRECISION_VAR}={precision!r}: use auto (the default), fp32 or bf16"
        )
    if not (device.startswith("cuda") or precision == "bf16"):
        return
    import torch

    from cadbusi_assets.ultrasound.inpaint_torch import pick_device
    from cadbusi_assets.ultrasound.models import inference_dtype

    try:
        if device.startswith("cuda"):
            pick_device(device)
        if precision == "bf16":
            inference_dtype("cuda" if torch.cuda.is_available() else "cpu", precision)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None


@dataclass(frozen=True)
class Settings:
    deployment: str
    home: Path | None
    first_study_date: str
    warehouse_uri: str
    pacs_uri: str
    raw_zone_uri: str
    research_zone_uri: str
    labelbox_uri: str
    key_file: str
    cine_frame_step: int = 4
    ocr: bool = True
    storage_options: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)
    #: demo: the pin of the home's key (``identity.pin``); empty in production
    key_pin: str = ""
    #: the key came from the environment (``CADBUSI_PSEUDONYM_KEY_FILE`` / ``_KEY``), not
    #: from the demo home's fallback key file
    key_from_env: bool = True

    @property
    def is_demo(self) -> bool:
        return self.deployment == DEMO

    def require(self, name: str) -> str:
        value = getattr(self, name)
        if not value:
            variable = {
                "warehouse_uri": "CADBUSI_WAREHOUSE",
                "pacs_uri": "CADBUSI_PACS",
                "raw_zone_uri": "CADBUSI_RAW_ZONE",
                "research_zone_uri": "CADBUSI_RESEARCH_ZONE",
                "labelbox_uri": "CADBUSI_LABELBOX",
            }.get(name, name)
            raise SettingsError(
                f"{variable} is not set (deployment '{self.deployment}'). "
                f"Set it to {VARIABLES.get(variable, 'a value')}."
            )
        return value


def demo_paths(home: Path) -> dict[str, Path]:
    """Where the demo deployment keeps everything, relative to ``home``."""
    return {
        "sources": home / "sources",
        "warehouse": home / "sources" / "warehouse.duckdb",
        "pacs": home / "sources" / "pacs",
        "ground_truth": home / "sources" / "ground_truth",
        "labelbox": home / "sources" / "labelbox",
        "raw": home / "zones" / "raw",
        "research": home / "zones" / "research",
        "key": home / "secrets" / "pseudonym.key",
        "dagster_home": home / "dagster_home",
    }


def _date(text: str, variable: str) -> str:
    try:
        return dt.date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        raise SettingsError(f"{variable} must be a date like 2024-01-31, not {text!r}.") from None


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    deployment = env.get("CADBUSI_DEPLOYMENT", DEMO).strip().lower() or DEMO
    if deployment not in (DEMO, PRODUCTION):
        raise SettingsError(
            f"CADBUSI_DEPLOYMENT must be 'demo' or 'production', not {deployment!r}."
        )
    first = _date(
        env.get("CADBUSI_FIRST_STUDY_DATE", DEFAULT_FIRST_STUDY_DATE), "CADBUSI_FIRST_STUDY_DATE"
    )
    step_text = env.get("CADBUSI_CINE_FRAME_STEP", "4").strip()
    if not step_text.isdigit() or int(step_text) < 1:
        raise SettingsError("CADBUSI_CINE_FRAME_STEP must be a whole number >= 1.")
    ocr = env.get("CADBUSI_OCR", "1").strip().lower() not in {"0", "false", "no", "off"}
    storage_options = env.get("CADBUSI_STORAGE_OPTIONS", "").strip()
    if storage_options:
        try:
            if not isinstance(json.loads(storage_options), dict):
                raise ValueError
        except ValueError:
            raise SettingsError(
                'CADBUSI_STORAGE_OPTIONS must be a JSON object, e.g. {"endpoint_url": "https://s3.local"}.'
            ) from None

    home: Path | None = None
    defaults: dict[str, str] = {}
    if deployment == DEMO:
        home = Path(env.get("CADBUSI_HOME", "") or ".demo").expanduser().resolve()
        paths = demo_paths(home)
        defaults = {
            "CADBUSI_WAREHOUSE": f"duckdb://{paths['warehouse']}",
            "CADBUSI_PACS": f"folder://{paths['pacs']}",
            "CADBUSI_RAW_ZONE": str(paths["raw"]),
            "CADBUSI_RESEARCH_ZONE": str(paths["research"]),
            "CADBUSI_LABELBOX": f"folder://{paths['labelbox']}",
        }
        if not (env.get("CADBUSI_PSEUDONYM_KEY") or "").strip():
            # the home's own key, unless the key itself is in the environment
            defaults["CADBUSI_PSEUDONYM_KEY_FILE"] = str(paths["key"])

    def pick(name: str) -> str:
        return (env.get(name) or defaults.get(name, "")).strip()

    return Settings(
        deployment=deployment,
        home=home,
        first_study_date=first,
        warehouse_uri=pick("CADBUSI_WAREHOUSE"),
        pacs_uri=pick("CADBUSI_PACS"),
        raw_zone_uri=pick("CADBUSI_RAW_ZONE"),
        research_zone_uri=pick("CADBUSI_RESEARCH_ZONE"),
        labelbox_uri=pick("CADBUSI_LABELBOX"),
        key_file=pick("CADBUSI_PSEUDONYM_KEY_FILE"),
        cine_frame_step=int(step_text),
        ocr=ocr,
        storage_options=storage_options,
        # only a home named by CADBUSI_HOME is pinned (not a bare import's ./.demo: the test
        # suite, a developer's checkout), as only such a home's cohort is read for partitions
        key_pin=str(pin_path(demo_paths(home)["key"]))
        if home is not None and env.get("CADBUSI_HOME", "").strip()
        else "",
        key_from_env=bool(
            (
                env.get("CADBUSI_PSEUDONYM_KEY_FILE") or env.get("CADBUSI_PSEUDONYM_KEY") or ""
            ).strip()
        ),
    )
