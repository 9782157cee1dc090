"""A schedule on a real cluster, its time set by the test: the scheduler takes a clock, so
minutes pass at once; a real Celery worker evaluates each tick and runs its run."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker

from opgrid.orchestrator.coordinator.dispatch import CeleryDispatcher
from opgrid.orchestrator.coordinator.loop import Coordinator
from opgrid.orchestrator.scheduler.loop import Scheduler
from opgrid.orchestrator.scheduler.send import CeleryTickSender
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.redis import RedisRunStore
from opgrid.workers.app import make_app

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

LOCATION = str(Path(__file__).resolve().parents[1] / "jobs" / "clock_jobs.py")
ORIGIN = "schedule:every_minute"
T0 = datetime(2030, 1, 1, 0, 0, 30, tzinfo=timezone.utc).timestamp()


class Clock:
    """A clock the test sets."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def cluster(settings: Settings) -> Iterator[tuple[RedisRunStore, Scheduler, Clock]]:
    """A worker and a coordinator (no scheduler of their own), and a scheduler on a set
    clock that the test turns by hand."""
    settings = settings.model_copy(update={"locations": LOCATION})
    store = RedisRunStore.from_settings(settings)
    dispatcher = CeleryDispatcher(settings)
    sender = CeleryTickSender(settings)
    clock = Clock(T0)
    stop = threading.Event()
    app = make_app(settings)
    with start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING"):
        coordinator = Coordinator(store, dispatcher, settings)
        thread = threading.Thread(target=coordinator.run, args=(stop,), daemon=True)
        thread.start()
        try:
            yield store, Scheduler(store, sender, settings, clock=clock), clock
        finally:
            stop.set()
            thread.join(timeout=10)
    sender.close()
    dispatcher.close()
    store.client.close()


def _turn_until(scheduler: Scheduler, done: Callable[[], bool], timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, "timed out"
        assert scheduler.turn()
        time.sleep(0.05)


def _minutes(store: RedisRunStore) -> list[str]:
    ticks = store.list_ticks(ORIGIN, limit=50)
    return [datetime.fromtimestamp(t.timestamp, timezone.utc).strftime("%H:%M") for t in ticks]


def _launched(store: RedisRunStore, count: int) -> Callable[[], bool]:
    def check() -> bool:
        ticks = store.list_ticks(ORIGIN, limit=50)
        return len(ticks) == count and all(t.launched for t in ticks)

    return check


def test_a_schedule_ticks_on_the_set_clock_and_catches_up_with_its_latest_tick_only(
    cluster: tuple[RedisRunStore, Scheduler, Clock],
) -> None:
    store, scheduler, clock = cluster
    _turn_until(scheduler, lambda: "schedule:every_minute" in store.instigator_defs())
    scheduler.turn()  # first seen at 00:00:30: it runs by default from then on
    assert store.list_ticks(ORIGIN) == []

    clock.now = T0 + 30  # 00:01:00
    _turn_until(scheduler, _launched(store, 1))
    clock.now = T0 + 95  # 00:02:05
    _turn_until(scheduler, _launched(store, 2))
    clock.now = T0 + 6 * 60 + 50  # 00:07:20, after five minutes down: one tick, 00:07
    _turn_until(scheduler, _launched(store, 3))
    for _ in range(5):  # and nothing more until the next minute
        scheduler.turn()
    assert _minutes(store) == ["00:07", "00:02", "00:01"]

    ticks = store.list_ticks(ORIGIN)
    assert [t.status for t in ticks] == ["success"] * 3
    run_ids = [run_id for tick in ticks for run_id in tick.run_ids]
    assert len(set(run_ids)) == 3
    deadline = time.monotonic() + 20
    while not all(store.get_run(r).status.value == "success" for r in run_ids):
        assert time.monotonic() < deadline, [store.get_run(r).status for r in run_ids]
        time.sleep(0.1)
    minutes = [
        store.get_plan(r).run_config["ops"]["note_minute"]["config"]["minute"] for r in run_ids
    ]
    assert minutes == ["00:07", "00:02", "00:01"]
    assert all(store.get_run(r).tags["dagster/schedule_name"] == "every_minute" for r in run_ids)
