"""``python -m benchmarks`` (what ``make bench`` runs): every benchmark suite, figures printed and
saved in ``.benchmarks/*.json``. Run from the repository root; the benchmarks are not part of
the runtime package."""

from __future__ import annotations

import argparse
import sys

from benchmarks.suite import run_benchmarks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        help="pipeline, deid, pacs, analysis, text-heldout (repeatable; default: all)",
    )
    parser.add_argument("--quick", action="store_true", help="small inputs, for a smoke test")
    args = parser.parse_args(argv)
    return int(run_benchmarks(args.only, quick=args.quick, echo=print) or 0)


if __name__ == "__main__":
    sys.exit(main())
