"""A small load test: waves of runs submitted at once to real worker and coordinator processes.

The suite's version of ``tests/benchmarks/bench_load.py`` (same cluster, waves and
checks, from ``tests/benchmarks/load_cluster.py``): 30 runs of 20 ops at once on two
``opgrid worker`` processes and one ``opgrid coordinator``, twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from opgrid.orchestrator.settings import Settings
from tests.benchmarks.load_cluster import MIB, LoadCluster, memory, run_wave

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

RUNS = 30
OPS = 20
#: How much the coordinator's RSS may grow from the end of one wave to the end of the next.
RSS_MARGIN = 25 * MIB


@pytest.fixture
def cluster(settings: Settings, tmp_path: Path) -> Iterator[LoadCluster]:
    cluster = LoadCluster(settings, tmp_path)
    try:
        yield cluster
    finally:
        cluster.stop_all()


def test_every_run_of_two_concurrent_waves_succeeds_with_each_event_once_and_memory_flat(
    cluster: LoadCluster, settings: Settings
) -> None:
    cluster.start_workers(2)
    coordinator = cluster.start_coordinator()

    first = run_wave(settings, OPS, RUNS, first_seed=0, timeout_s=60)
    assert first.problems == (), "\n".join(first.problems[:20])
    assert len(first.latencies_s) == RUNS
    after_first = memory(coordinator.pid)

    second = run_wave(settings, OPS, RUNS, first_seed=RUNS, timeout_s=60)
    assert second.problems == (), "\n".join(second.problems[:20])
    after_second = memory(coordinator.pid)

    assert after_second.rss - after_first.rss <= RSS_MARGIN, (after_first, after_second)
    assert coordinator.alive() and all(worker.alive() for worker in cluster.workers)
