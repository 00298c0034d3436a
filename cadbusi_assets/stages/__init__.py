"""Partition-level stages: compose the domain packages for one study date (or a few).

Plain Python, no Dagster: each stage reads its inputs from the zones, writes its outputs to
the zones (replacing exactly its own partition), and returns a :class:`PartitionReport` that the
Dagster layer turns into asset metadata. The same functions run from the CLI and from tests.
"""

from cadbusi_assets.stages.report import PartitionReport, StageFailure

__all__ = ["PartitionReport", "StageFailure"]
