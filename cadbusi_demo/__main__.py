"""``python -m cadbusi_demo OUT_DIR [--start YYYY-MM-DD] [--days N] [--seed N]``."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

from cadbusi_demo.cohort import generate_demo_cohort
from cadbusi_demo.config import DemoConfig


def main(argv: list[str] | None = None) -> int:
    defaults = DemoConfig()
    parser = argparse.ArgumentParser(
        prog="python -m cadbusi_demo", description="Generate the synthetic demo cohort."
    )
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--start", type=dt.date.fromisoformat, default=defaults.start)
    parser.add_argument("--days", type=int, default=defaults.days)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument(
        "--studies-per-day",
        type=int,
        nargs=2,
        metavar=("MIN", "MAX"),
        default=defaults.studies_per_day,
    )
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)
    config = DemoConfig(
        start=args.start,
        days=args.days,
        seed=args.seed,
        studies_per_day=tuple(args.studies_per_day),
        workers=args.workers,
    )
    began = time.perf_counter()
    cohort = generate_demo_cohort(args.out_dir, config, progress=lambda m: print(m, flush=True))
    print(json.dumps(cohort.summary(), indent=2, sort_keys=True))
    print(f"generated in {time.perf_counter() - began:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
