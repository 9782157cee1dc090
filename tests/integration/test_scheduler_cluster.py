"""Sensors and backfills on a real cluster of processes (``opgrid worker``, ``opgrid
coordinator``, real redis-server), with coordinators killed while they lead."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from opgrid import submit
from opgrid.code_location import load_code_location
from opgrid.orchestrator.protocol.messages import RunRecord
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.redis import RedisRunStore
from tests.harness.processes import (
    OPGRID,
    ROOT,
    Proc,
    Processes,
    fast_settings,
    wait_for,
)
from tests.jobs import schedules_jobs as jobs

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

KEYED = "sensor:keyed"
#: The code location, relative to ROOT (workers and the CLI name it alike).
JOBS = "tests/jobs/schedules_jobs.py"


class SchedulerProcesses(Processes):
    """Workers of JOBS and coordinators (each with its scheduler thread), and ``opgrid``
    commands, for one test."""

    def schedules_worker(self, name: str, concurrency: int = 2) -> Proc:
        return self.worker(name, concurrency, location=JOBS)

    def opgrid(self, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [OPGRID, *args]
        return subprocess.run(argv, cwd=ROOT, env=self.env, capture_output=True, text=True)

    def lines(self, prefix: str) -> list[str]:
        """The marks (written by the jobs) that start with ``prefix``, without it."""
        marks = self.marks.read_text().splitlines()
        return [line.removeprefix(prefix) for line in marks if line.startswith(prefix)]


def leader_proc(store: RedisRunStore, coordinators: list[Proc], timeout_s: float = 20) -> Proc:
    """The coordinator process whose scheduler leads."""
    by_name = {proc.name: proc for proc in coordinators}

    def leads() -> bool:
        leader = store.scheduler_leader()
        return leader in by_name and by_name[leader].alive()

    wait_for(leads, timeout_s, lambda: "\n".join(p.text() for p in coordinators))
    return by_name[store.scheduler_leader() or ""]


@pytest.fixture
def store(settings: Settings) -> Iterator[RedisRunStore]:
    store = RedisRunStore.from_settings(settings)
    yield store
    store.client.close()


def _runs(store: RedisRunStore) -> list[RunRecord]:
    return store.list_runs(limit=500)


def _runs_by_key(store: RedisRunStore) -> dict[str, list[RunRecord]]:
    found: dict[str, list[RunRecord]] = {}
    for record in _runs(store):
        if "dagster/run_key" in record.tags:
            found.setdefault(record.tags["dagster/run_key"], []).append(record)
    return found


def _started_tick(store: RedisRunStore) -> str | None:
    """The keyed sensor's tick in flight while a worker evaluates it."""
    pending = store.get_instigator_state(KEYED).pending
    tick = store.get_tick(KEYED, pending) if pending else None
    return pending if tick is not None and not tick.evaluated else None


def test_a_sensor_launches_each_run_key_once_when_its_leader_is_killed_mid_tick(
    settings: Settings, tmp_path: Path, store: RedisRunStore
) -> None:
    keys = tmp_path / "keys.txt"
    procs = SchedulerProcesses(settings, tmp_path, KEYS_FILE=str(keys), SENSOR_SLOW_S="0.7")
    try:
        procs.schedules_worker("w1")
        coordinators = [procs.coordinator("c1"), procs.coordinator("c2")]
        keys.write_text("k1\nk2\nk3\n")
        leader = leader_proc(store, coordinators)
        wait_for(lambda: _started_tick(store) is not None, 20, leader.text)
        in_flight = _started_tick(store)
        leader.kill()  # mid-tick: started and sent, its result not in, its runs not launched
        keys.write_text("k1\nk2\nk3\nk4\nk5\n")
        survivor = next(proc for proc in coordinators if proc is not leader)
        wanted = {f"k{i}" for i in range(1, 6)}

        def all_ran() -> bool:
            runs = _runs_by_key(store)
            done = [r for rs in runs.values() for r in rs if r.status.value == "success"]
            return set(runs) == wanted and len(done) == len(wanted)

        wait_for(all_ran, 45, survivor.text)
        time.sleep(2.5)  # more ticks: they find every key launched
        by_key = _runs_by_key(store)
        assert {key: len(runs) for key, runs in by_key.items()} == dict.fromkeys(wanted, 1)
        assert sorted(procs.lines("key ")) == sorted(wanted)  # each op ran once
        assert in_flight is not None
        tick = store.get_tick(KEYED, in_flight)
        assert tick is not None and tick.launched, tick  # the killed leader's tick was not lost
        ticks = store.list_ticks(KEYED, limit=500)
        assert all(t.launched for t in ticks[1:]), [t.tick_id for t in ticks if not t.launched]
        launched = [run_id for t in ticks for run_id in t.run_ids]
        assert len(launched) == len(set(launched)) == len(wanted)
        assert store.scheduler_leader() == survivor.name
    finally:
        procs.stop_all()


def test_a_run_failure_sensor_fires_once_per_failed_run(
    settings: Settings, tmp_path: Path, store: RedisRunStore
) -> None:
    procs = SchedulerProcesses(settings, tmp_path)
    location = load_code_location(file=str(ROOT / JOBS))
    try:
        procs.schedules_worker("w1")
        coordinator = procs.coordinator("c1")
        leader_proc(store, [coordinator])
        wait_for(lambda: store.list_ticks("sensor:on_doomed_failure"), 20, coordinator.text)
        fast = fast_settings(settings)
        handles = [submit(location.jobs["doomed"], location=JOBS, settings=fast) for _ in range(3)]
        for handle in handles:
            assert not handle.wait(timeout=30).success
            handle.close()
        failed = {handle.run_id for handle in handles}
        wait_for(lambda: set(procs.lines("failure ")) == failed, 20, coordinator.text)
        time.sleep(2.5)  # more ticks of the sensor
        assert sorted(procs.lines("failure ")) == sorted(failed)
        ticks = store.list_ticks("sensor:on_doomed_failure", limit=500)
        assert all(t.status != "failure" for t in ticks), [t.error for t in ticks]
    finally:
        procs.stop_all()


def _max_in_flight(runs: list[RunRecord]) -> int:
    def overlapping(at: float) -> int:
        return sum(1 for r in runs if r.created_at <= at < (r.finished_at or float("inf")))

    return max(overlapping(r.created_at) for r in runs)


def test_a_throttled_backfill_runs_every_partition_once_across_a_coordinator_restart(
    settings: Settings, tmp_path: Path, store: RedisRunStore
) -> None:
    procs = SchedulerProcesses(settings, tmp_path, PARTITION_S="0.3")
    try:
        procs.schedules_worker("w1", concurrency=2)
        first = procs.coordinator("c1")
        done = procs.opgrid(
            "job", "backfill", "-f", JOBS, "-j", "numbered", "--all", "--max-concurrent", "4"
        )
        assert done.returncode == 0, done.stderr
        backfill_id = done.stdout.split()[1].rstrip(":")

        def finished() -> int:
            progress = store.get_backfill(backfill_id)
            return len(progress.finished) if progress is not None else 0

        wait_for(lambda: finished() >= 6, 40, first.text)
        first.kill()
        second = procs.coordinator("c2")
        wait_for(lambda: store.list_backfills()[0].status == "completed", 60, second.text)
    finally:
        procs.stop_all()
    progress = store.get_backfill(backfill_id)
    assert progress is not None
    assert sorted(progress.finished) == jobs.NUMBERS
    assert set(progress.finished.values()) == {"success"}
    runs = [r for r in _runs(store) if r.tags.get("dagster/backfill") == backfill_id]
    assert sorted(r.partition_key or "" for r in runs) == jobs.NUMBERS  # one run each
    assert sorted(procs.lines("partition ")) == jobs.NUMBERS  # each op ran once
    assert _max_in_flight(runs) <= 4
    shown = procs.opgrid("backfill", "show", backfill_id)
    assert "COMPLETED" in shown.stdout and shown.stdout.count(" success ") == 20
