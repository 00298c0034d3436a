"""The test harness against a Dagster quirk that failed CI once (stop 19).

Entering a ``DagsterInstance`` sets a context variable, the "defs state storage", and leaving it
restores the previous value. An instance entered by an evaluation context that nobody leaves
(a schedule context built from an instance reference, a result holding its run context) restores
its previous value whenever the garbage collector finalizes it — possibly during a later test,
pointing Dagster at a temporary instance deleted long ago: ``resolve_asset_graph`` then failed
with "unable to open database file".
"""

from __future__ import annotations

import gc
from contextlib import ExitStack

import dagster as dg
from dagster._core.storage.defs_state.base import DefsStateStorage

from cadbusi_assets_tests.conftest import clear_dagster_state_storage


def test_an_abandoned_instance_context_cannot_bring_back_a_deleted_instance():
    abandoned = ExitStack()
    with dg.instance_for_test(set_dagster_home=False) as temporary:
        # what a schedule context does with an instance reference, never left
        abandoned.enter_context(dg.DagsterInstance.from_ref(temporary.get_ref()))
        cycle: list[object] = [abandoned]
        cycle.append(cycle)  # only the cyclic collector frees it, at some later time
    clear_dagster_state_storage()  # what the per-test fixture does between tests
    del abandoned, cycle
    gc.collect()  # a later test: the abandoned context is finalized now

    assert DefsStateStorage.get() is None

    @dg.asset
    def one() -> None:
        return None

    graph = dg.Definitions(assets=[one]).resolve_asset_graph()
    assert dg.AssetKey("one") in graph.get_all_asset_keys()
