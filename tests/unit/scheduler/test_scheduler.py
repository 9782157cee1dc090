"""The scheduler on the in-memory store, ticks evaluated inline by the workers' evaluator:
who leads, and that a tick's runs launch once whatever moment a leader dies at, and
whatever a duplicate delivery does."""

from __future__ import annotations

from datetime import datetime, timezone

from opgrid import (
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    build_schedule_from_partitioned_job,
    daily_partitioned_config,
    job,
    op,
    sensor,
    static_partitioned_config,
)
from opgrid.code_location import CodeLocation
from opgrid.orchestrator.planning.compiler import compile_plan
from opgrid.orchestrator.protocol.messages import RunRecord
from opgrid.orchestrator.scheduler.loop import Scheduler
from opgrid.orchestrator.scheduling.backfill import Backfill
from opgrid.orchestrator.scheduling.definitions import instigator_defs
from opgrid.orchestrator.scheduling.tick_task import TickTask, backfill_run_id
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.memory import InMemoryRunStore
from opgrid.orchestrator.store.tick_records import BackfillRecord
from opgrid.workers.ticks import TickEvaluator

ORIGIN = "sensor:keys"
SETTINGS = Settings(namespace="unit", lease_s=10)


@op
def noop() -> None:
    pass


@job
def target():
    noop()


@sensor(job=target, minimum_interval_seconds=5, default_status=DefaultSensorStatus.RUNNING)
def keys(context):
    return [RunRequest(run_key="a"), RunRequest(run_key="b"), RunRequest(run_key="a")]


LOCATION = CodeLocation("loc", {"target": target}, {}, {"keys": keys})


class Sent:
    """A sender that keeps the tasks."""

    def __init__(self) -> None:
        self.tasks: list[TickTask] = []

    def send(self, task: TickTask, queue: str) -> None:
        self.tasks.append(task)

    def close(self) -> None:
        pass


def _setup() -> tuple[InMemoryRunStore, Sent, TickEvaluator]:
    store = InMemoryRunStore()
    store.publish_instigators(instigator_defs(LOCATION, "q"))
    return store, Sent(), TickEvaluator(store, [LOCATION], "unit")


def _scheduler(store: InMemoryRunStore, sent: Sent, name: str, now: float = 100.0) -> Scheduler:
    return Scheduler(store, sent, SETTINGS, scheduler_id=name, clock=lambda: now)


def test_one_scheduler_leads_and_another_takes_over_when_it_resigns() -> None:
    store, sent, _ = _setup()
    first, second = _scheduler(store, sent, "s1"), _scheduler(store, sent, "s2")
    assert first.turn() and not second.turn()
    assert len(sent.tasks) == 1  # only the leader ticked
    store.resign("s1")
    assert second.turn() and not first.turn()


def test_a_duplicate_delivery_is_dropped_and_the_run_key_rule_applies() -> None:
    store, sent, evaluator = _setup()
    scheduler = _scheduler(store, sent, "s1")
    scheduler.turn()
    assert evaluator.evaluate(sent.tasks[0]).startswith("success: 2 run(s)")
    assert evaluator.evaluate(sent.tasks[0]) == "dropped: evaluated already"
    scheduler.turn()  # launches
    assert len(store.list_runs()) == 2
    assert store.launched_run_keys(ORIGIN) == {"a", "b"}
    later = _scheduler(store, sent, "s1", now=200.0)
    later.turn()
    assert evaluator.evaluate(sent.tasks[-1]) == "skipped: 0 run(s)"
    later.turn()
    assert len(store.list_runs()) == 2  # both keys were launched before


def test_a_leader_dying_between_creating_runs_and_ending_the_tick_launches_nothing_twice() -> None:
    store, sent, evaluator = _setup()
    _scheduler(store, sent, "s1").turn()
    evaluator.evaluate(sent.tasks[0])
    tick = store.get_tick(ORIGIN, store.get_instigator_state(ORIGIN).pending or "")
    assert tick is not None
    store.create_run_once(tick.planned[0].record(1.0), tick.planned[0].plan)  # then it died
    store.resign("s1")
    successor = _scheduler(store, sent, "s2")
    successor.turn()
    assert sorted(r.run_id for r in store.list_runs()) == sorted(tick.run_ids)
    ended = store.get_tick(ORIGIN, tick.tick_id)
    assert (
        ended is not None and ended.launched and store.get_instigator_state(ORIGIN).pending is None
    )


def test_a_tick_whose_task_was_lost_is_sent_again() -> None:
    store, sent, evaluator = _setup()
    _scheduler(store, sent, "s1").turn()
    _scheduler(store, sent, "s1", now=105.0).turn()
    assert len(sent.tasks) == 1  # not yet
    _scheduler(store, sent, "s1", now=111.0).turn()
    assert [t.tick_id for t in sent.tasks] == [sent.tasks[0].tick_id] * 2
    _scheduler(store, sent, "s1", now=125.0).turn()
    assert len(sent.tasks) == 2  # the next one after 20 s
    _scheduler(store, sent, "s1", now=131.0).turn()
    assert len(sent.tasks) == 3
    evaluator.evaluate(sent.tasks[1])
    assert evaluator.evaluate(sent.tasks[0]) == "dropped: evaluated already"


@static_partitioned_config(partition_keys=["x", "y", "z"])
def parts(partition_key: str):
    return {}


@job(config=parts)
def partitioned():
    noop()


def test_a_backfill_partition_created_by_a_dead_leader_is_recorded_not_launched_again() -> None:
    store = InMemoryRunStore()
    backfill = Backfill(
        backfill_id="bf",
        job_name="partitioned",
        partition_keys=["x", "y", "z"],
        created_ts=1.0,
        max_concurrent=2,
    )
    plans = {key: compile_plan(partitioned, None, partition_key=key) for key in "xyz"}
    store.create_backfill(BackfillRecord(backfill=backfill), plans)
    run_x = backfill_run_id("unit", "bf", "x")
    store.create_run_once(
        RunRecord(run_id=run_x, job_name="partitioned", created_at=1.0), plans["x"]
    )
    scheduler = _scheduler(store, Sent(), "s1")
    scheduler.turn()
    progress = store.get_backfill("bf")
    assert progress is not None
    assert sorted(progress.launched) == ["x", "y"]  # two in flight, x not twice
    assert progress.launched["x"] == run_x
    assert len(store.list_runs()) == 2


@daily_partitioned_config(start_date="2030-01-01")
def days(start, _end):
    return {}


@job(config=days)
def daily():
    noop()


nightly = build_schedule_from_partitioned_job(
    daily, name="nightly", default_status=DefaultScheduleStatus.RUNNING
)


def test_a_partitioned_job_s_schedule_catches_up_on_its_missed_days_one_tick_at_a_time() -> None:
    location = CodeLocation("loc", {"daily": daily}, {"nightly": nightly}, {})
    store, sent = InMemoryRunStore(), Sent()
    store.publish_instigators(instigator_defs(location, "q"))
    evaluator = TickEvaluator(store, [location], "unit")
    start = datetime(2030, 1, 10, 12, tzinfo=timezone.utc).timestamp()
    _scheduler(store, sent, "s1", now=start).turn()  # first seen: running from now
    later = _scheduler(store, sent, "s1", now=start + 3 * 86400)  # three midnights missed
    for _ in range(10):
        later.turn()
        while sent.tasks:
            evaluator.evaluate(sent.tasks.pop(0))
    partitions = sorted(r.partition_key or "" for r in store.list_runs())
    assert partitions == ["2030-01-10", "2030-01-11", "2030-01-12"]
