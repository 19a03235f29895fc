"""The benchmarks keep working as the desk changes: items 1, 2, 3, 6 and 8 run here at toy sizes
(the figures are not checked: speed belongs in bench/, never in a timed test), and the
cloned store they measure is a working one. Items 4, 5 and 7 start worker processes and
wait out real time, so they are left to `python bench/run.py`."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest

from supportdesk.engine.working_time.clock import clock

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture
def measures():
    sys.path.insert(0, str(BENCH))
    try:
        import measures

        yield measures
    finally:
        sys.path.remove(str(BENCH))
        clock.use_system_time()  # the benchmarks set the clock as they go


def toy(measures):
    return replace(
        measures.QUICK,
        rounds=1,
        memory_batch=2,
        persisted_batch=1,
        history_pairs=1,
        seeds=8,
        small_store=16,
        large_store=40,
        query_repeats=1,
        replay_tickets=4,
    )


def test_the_lifecycle_history_store_replay_and_search_items_run_and_report_each_figure(measures, tmp_path):
    sizes = toy(measures)
    lifecycle, desk = measures.lifecycle_throughput(sizes, tmp_path)
    results = [
        lifecycle,
        measures.history_cost(sizes, tmp_path),
        *measures.store_scale(sizes, tmp_path),
        measures.replay_rate(lifecycle, desk, sizes),
        *measures.search_scale(sizes, tmp_path),  # raises if the reply's word does not find its one call
    ]  # raises if a replay differs from what is stored
    desk.close()
    figures = {result.key: result.as_json() for result in results}
    assert set(figures) == {
        "lifecycle_throughput",
        "history_cost",
        "store_scale_inbox",
        "store_scale_due_jobs",
        "store_scale_report",
        "replay",
        "search_scale_search",
        "search_scale_list",
    }
    for key, figure in figures.items():
        assert figure["value"] > 0, key
        assert figure["baseline"] > 0, key
        assert isinstance(figure["met"], bool), key
        assert abs(figure["ratio"] - figure["value"] / figure["baseline"]) < 1e-3 * figure["ratio"], key
    assert figures["store_scale_inbox"]["details"]["tickets"] == 40
    assert figures["store_scale_inbox"]["details"]["a_clone_completes_a_task_and_its_chain_holds"] is True
    assert figures["replay"]["details"]["tickets"] == 4
    assert figures["search_scale_search"]["details"]["search_reply_word_found_large"] == 1
    assert 0 < figures["lifecycle_throughput"]["details"]["ceiling_with_a_free_store"] < 1
