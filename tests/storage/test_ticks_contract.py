"""The Ticks contract (schedules' and sensors' states, ticks, run keys, backfills, the
scheduler's lease), on every run store."""

from __future__ import annotations

from opgrid.orchestrator.scheduling.backfill import Backfill
from opgrid.orchestrator.scheduling.catalog import InstigatorInfo
from opgrid.orchestrator.scheduling.definitions import InstigatorDef
from opgrid.orchestrator.scheduling.evaluation import InstigatorType, TickRequest, TickStatus
from opgrid.orchestrator.store.base import RunStore
from opgrid.orchestrator.store.tick_records import (
    BackfillRecord,
    PlannedRun,
    TickRecord,
)

from .runs import PLAN, record

ORIGIN = "sensor:watch"


def _tick(tick_id: str, at: float, cursor: str | None = None) -> TickRecord:
    request = TickRequest(instigator_type=InstigatorType.SENSOR, name="watch", cursor=cursor)
    return TickRecord(tick_id=tick_id, location="loc", timestamp=at, request=request, sent_ts=at)


def _planned(run_id: str, run_key: str) -> PlannedRun:
    return PlannedRun(run_id=run_id, job_name="tiny", run_key=run_key, plan=PLAN)


def test_one_leader_holds_the_scheduler_lease_until_it_resigns(store: RunStore) -> None:
    assert store.lead("a", 10)
    assert store.lead("a", 10)  # renewed
    assert not store.lead("b", 10)
    assert store.scheduler_leader() == "a"
    store.resign("b")  # not its lease: nothing happens
    assert store.scheduler_leader() == "a"
    store.resign("a")
    assert store.lead("b", 10)


def test_published_definitions_are_listed_by_origin(store: RunStore) -> None:
    watch = InstigatorInfo(location="loc", name="watch", instigator_type=InstigatorType.SENSOR)
    daily = InstigatorInfo(
        location="loc",
        name="daily",
        instigator_type=InstigatorType.SCHEDULE,
        cron_schedules=["@daily"],
    )
    sensor, schedule = InstigatorDef(info=watch, queue="q"), InstigatorDef(info=daily, queue="q")
    store.publish_instigators([sensor, schedule])
    assert list(store.instigator_defs()) == ["schedule:daily", "sensor:watch"]
    assert store.instigator_defs()["sensor:watch"] == sensor
    store.publish_instigators([schedule], locations=["loc"])  # the sensor is gone from loc
    assert list(store.instigator_defs()) == ["schedule:daily"]


def test_a_tick_starts_only_when_none_is_in_flight_and_it_is_later(store: RunStore) -> None:
    assert store.start_tick(_tick("1000", 1.0))
    assert not store.start_tick(_tick("2000", 2.0))  # one in flight
    assert store.get_instigator_state(ORIGIN).pending == "1000"
    store.finish_tick(_tick("1000", 1.0).model_copy(update={"launched": True, "completed_ts": 1.5}))
    assert store.get_instigator_state(ORIGIN).pending is None
    assert not store.start_tick(_tick("500", 0.5))  # earlier than the last one
    assert store.start_tick(_tick("2000", 2.0))
    assert [t.tick_id for t in store.list_ticks(ORIGIN)] == ["2000", "1000"]


def test_a_tick_result_is_recorded_once_with_its_cursor_and_run_keys(store: RunStore) -> None:
    started = _tick("1000", 1.0)
    store.start_tick(started)
    result = started.with_result(
        TickStatus.SUCCESS, planned=[_planned("r1", "k1")], run_keys=["k1"], cursor="c1"
    )
    assert store.commit_tick(result)
    assert not store.commit_tick(started.with_result(TickStatus.SKIPPED, cursor="c2"))
    assert store.get_tick(ORIGIN, "1000") == result
    state = store.get_instigator_state(ORIGIN)
    assert (state.cursor, state.last_run_key, state.pending) == ("c1", "k1", "1000")
    assert store.launched_run_keys(ORIGIN) == {"k1"}


def test_a_failed_tick_keeps_the_sensor_s_cursor(store: RunStore) -> None:
    store.update_instigator_state(ORIGIN, lambda s: s.model_copy(update={"cursor": "c0"}))
    started = _tick("1000", 1.0, cursor="c0")
    store.start_tick(started)
    store.commit_tick(started.with_result(TickStatus.FAILURE, cursor="changed"))
    assert store.get_instigator_state(ORIGIN).cursor == "c0"


def test_a_resent_tick_is_updated_only_until_its_result_is_in(store: RunStore) -> None:
    started = _tick("1000", 1.0)
    store.start_tick(started)
    assert store.resend_tick(started.model_copy(update={"sent_ts": 5.0}))
    store.commit_tick(started.with_result(TickStatus.SKIPPED))
    assert not store.resend_tick(started.model_copy(update={"sent_ts": 9.0}))
    assert store.get_tick(ORIGIN, "1000").status == "skipped"


def test_a_state_change_can_decline(store: RunStore) -> None:
    assert store.update_instigator_state(ORIGIN, lambda s: None) is None
    changed = store.update_instigator_state(
        ORIGIN, lambda s: s.model_copy(update={"running": True})
    )
    assert changed is not None and changed.running
    assert store.get_instigator_state(ORIGIN).running is True


def test_a_run_is_created_once_under_its_id(store: RunStore) -> None:
    assert store.create_run_once(record("r1", 1.0), PLAN)
    assert not store.create_run_once(record("r1", 2.0), PLAN)
    assert store.get_run("r1").created_at == 1.0
    assert store.active_runs() == ["r1"]
    submitted, _ = store.wait("0-0", {}, block_s=0.01)
    assert [run_id for _, run_id in submitted] == ["r1"]
    store.create_run_once(record("r2", 3.0), PLAN)
    assert store.runs_created_after(1.0) == [("r2", 3.0)]


def test_a_backfill_records_its_plans_launches_and_finishes(store: RunStore) -> None:
    backfill = Backfill(
        backfill_id="bf1", job_name="tiny", partition_keys=["a", "b"], created_ts=1.0
    )
    store.create_backfill(BackfillRecord(backfill=backfill, location="loc"), {"a": PLAN, "b": PLAN})
    assert [r.backfill_id for r in store.list_backfills()] == ["bf1"]
    assert store.backfill_plan("bf1", "a") == PLAN
    store.backfill_launched("bf1", "a", "run-a")
    store.backfill_finished("bf1", {"a": "success"})
    progress = store.get_backfill("bf1")
    assert progress is not None
    assert (progress.launched, progress.finished) == ({"a": "run-a"}, {"a": "success"})
    store.save_backfill(progress.record.model_copy(update={"status": "canceled"}))
    assert store.list_backfills()[0].status == "canceled"
    assert store.backfill_plan("bf1", "b") is None  # over: its plans are dropped
    assert store.get_backfill("nope") is None
