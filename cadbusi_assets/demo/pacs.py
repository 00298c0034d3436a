"""The folder PACS: one folder per US study with a StudyInstanceUID (images come in step 2)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from cadbusi_assets.demo.plan import CohortPlan


def write_pacs(plan: CohortPlan, pacs_root: Path, ground_truth_dir: Path,
               progress: Callable[[str], None]) -> dict[str, Any]:
    pacs_root.mkdir(parents=True, exist_ok=True)
    ground_truth_dir.mkdir(parents=True, exist_ok=True)
    return {}
