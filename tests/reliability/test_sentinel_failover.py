"""Storage and broker behind Redis Sentinel: the primary dies mid-run, runs complete.

A primary, a replica and three sentinels (real redis-servers), an ``opgrid worker``
and an ``opgrid coordinator`` given only the group's ``redis+sentinel://`` URL. The
primary is SIGKILLed while several runs are in flight; the sentinels promote the
replica and every process finds it on its own. Every run then succeeds with the
right output and each step's success is in its run's log once.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TypeVar

import pytest

from opgrid import submit
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.redis import RedisRunStore
from tests.harness.processes import Processes, fast_settings, through_outages, wait_for
from tests.harness.sentinel import SentinelGroup
from tests.jobs import failover_jobs as jobs

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

#: Runs in flight when the primary dies.
RUNS = 4
LOCATION = "tests/jobs/failover_jobs.py"
T = TypeVar("T")


def test_runs_complete_once_when_the_primary_fails_over(tmp_path: Path, namespace: str) -> None:
    with SentinelGroup(tmp_path / "redis") as group:
        settings = fast_settings(
            Settings(
                redis_url=group.url,
                namespace=namespace,
                secret="test-secret",
                default_queue=namespace,
            ),
            step_lost_after_s=6.0,  # a failover takes a few seconds: beats resume after it
        )
        procs = Processes(settings, tmp_path)
        procs.env["OPGRID_STEP_LOST_AFTER_S"] = "6"
        try:
            procs.worker("w1", concurrency=2, location=LOCATION)
            procs.worker("w2", concurrency=2, location=LOCATION)
            procs.coordinator("c1")
            handles = [submit(jobs.squares, settings=settings) for _ in range(RUNS)]
            wait_for(lambda: len(procs.marks_of("square", "done")) >= 4, 60, lambda: _texts(procs))
            old = group.kill_primary()
            group.wait_for_failover(old)
            expected = sum(i * i for i in range(jobs.WIDTH))
            for handle in handles:
                result = through_outages(lambda h=handle: h.wait(timeout=120))
                assert result.success, [e.describe() for e in handle.events()]
                assert result.output_for_node("total") == expected
            store = RedisRunStore.from_settings(settings)
            for handle in handles:
                events = [event for _, event in store.read_events(handle.run_id)]
                successes = Counter(e.step_key for e in events if e.kind is E.STEP_SUCCESS)
                assert set(successes.values()) == {1}, successes
                assert len(successes) == jobs.WIDTH + 2
            store.client.close()
            # a step runs again only when it was running as the primary died
            ran = len(procs.marks_of("square", "done"))
            assert RUNS * jobs.WIDTH <= ran <= RUNS * jobs.WIDTH + 4, procs.marks.read_text()
            for proc in procs.started:
                assert proc.alive(), proc.text()
        finally:
            procs.stop_all()


def _texts(procs: Processes) -> str:
    return "\n".join(f"== {proc.name}\n{proc.text()[-3000:]}" for proc in procs.started)
