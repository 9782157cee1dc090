"""Which schedule tick is due given the last recorded tick and the time now (passed in),
and when a sensor is due: after downtime only the latest missed tick fires."""

from __future__ import annotations

from datetime import datetime, timezone

from opgrid.orchestrator.scheduling import schedule_tick, sensor_tick, ticks_between

NY = "America/New_York"


def _ts(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def _iso(moment):
    return moment.isoformat() if moment is not None else None


def test_between_ticks_nothing_is_due_and_the_next_tick_is_named():
    tick = schedule_tick(
        "0 * * * *", None, _ts("2024-05-01T10:00:00+00:00"), _ts("2024-05-01T10:30:00+00:00")
    )
    assert tick.due is None
    assert _iso(tick.next_tick) == "2024-05-01T11:00:00+00:00"
    assert tick.next_tick_ts == _ts("2024-05-01T11:00:00+00:00")


def test_a_tick_is_due_at_its_own_time():
    tick = schedule_tick(
        "0 * * * *", "UTC", _ts("2024-05-01T10:00:00+00:00"), _ts("2024-05-01T11:00:00+00:00")
    )
    assert _iso(tick.due) == "2024-05-01T11:00:00+00:00"
    assert tick.due_ts == _ts("2024-05-01T11:00:00+00:00")
    assert _iso(tick.next_tick) == "2024-05-01T12:00:00+00:00"


def test_after_downtime_only_the_latest_missed_tick_is_due():
    tick = schedule_tick(
        "0 * * * *", "UTC", _ts("2024-05-01T10:00:00+00:00"), _ts("2024-05-01T15:20:00+00:00")
    )
    assert _iso(tick.due) == "2024-05-01T15:00:00+00:00"
    assert _iso(tick.next_tick) == "2024-05-01T16:00:00+00:00"


def test_a_recorded_tick_is_not_due_again():
    tick = schedule_tick(
        "0 * * * *", "UTC", _ts("2024-05-01T15:00:00+00:00"), _ts("2024-05-01T15:20:00+00:00")
    )
    assert tick.due is None


def test_with_no_tick_recorded_ticks_since_the_start_are_due():
    now = _ts("2024-05-01T12:05:00+00:00")
    since_start = schedule_tick(
        "0 * * * *", "UTC", None, now, started_ts=_ts("2024-05-01T10:10:00+00:00")
    )
    assert _iso(since_start.due) == "2024-05-01T12:00:00+00:00"
    started_after = schedule_tick(
        "0 * * * *", "UTC", None, now, started_ts=_ts("2024-05-01T12:01:00+00:00")
    )
    assert started_after.due is None
    assert _iso(started_after.next_tick) == "2024-05-01T13:00:00+00:00"


def test_with_nothing_recorded_only_a_tick_exactly_now_is_due():
    assert schedule_tick("0 * * * *", "UTC", None, _ts("2024-05-01T12:05:00+00:00")).due is None
    exact = schedule_tick("0 * * * *", "UTC", None, _ts("2024-05-01T12:00:00+00:00"))
    assert _iso(exact.due) == "2024-05-01T12:00:00+00:00"


def test_the_due_tick_is_in_the_schedules_timezone_across_the_spring_change():
    tick = schedule_tick(
        "30 2 * * *", NY, _ts("2024-03-09T02:30:00-05:00"), _ts("2024-03-10T08:00:00+00:00")
    )
    assert _iso(tick.due) == "2024-03-10T03:00:00-04:00"
    assert _iso(tick.next_tick) == "2024-03-11T02:30:00-04:00"


def test_the_repeated_autumn_hour_gives_an_hourly_schedule_a_second_tick():
    last = _ts("2024-11-03T01:00:00-04:00")
    tick = schedule_tick("0 * * * *", NY, last, _ts("2024-11-03T06:00:01+00:00"))
    assert _iso(tick.due) == "2024-11-03T01:00:00-05:00"
    assert _iso(tick.next_tick) == "2024-11-03T02:00:00-05:00"
    before_second = schedule_tick("0 * * * *", NY, last, _ts("2024-11-03T05:30:00+00:00"))
    assert before_second.due is None
    assert _iso(before_second.next_tick) == "2024-11-03T01:00:00-05:00"


def test_the_missed_ticks_can_be_listed():
    missed = ticks_between(
        "0 * * * *", "UTC", _ts("2024-05-01T10:00:00+00:00"), _ts("2024-05-01T13:00:00+00:00")
    )
    assert [_iso(t) for t in missed] == [
        "2024-05-01T11:00:00+00:00",
        "2024-05-01T12:00:00+00:00",
        "2024-05-01T13:00:00+00:00",
    ]
    capped = ticks_between(
        "* * * * *",
        "UTC",
        _ts("2024-05-01T00:00:00+00:00"),
        _ts("2024-06-01T00:00:00+00:00"),
        limit=3,
    )
    assert len(capped) == 3


def test_a_sensor_is_due_when_its_interval_has_passed():
    first = sensor_tick(30, None, 1000.0)
    assert (first.due, first.next_ts) == (True, 1030.0)
    early = sensor_tick(30, 1000.0, 1010.0)
    assert (early.due, early.next_ts) == (False, 1030.0)
    on_time = sensor_tick(30, 1000.0, 1030.0)
    assert (on_time.due, on_time.next_ts) == (True, 1060.0)
    late = sensor_tick(30, 1000.0, 5000.0)
    assert (late.due, late.next_ts) == (True, 5030.0)


def test_now_is_a_plain_number_not_the_machines_clock():
    far_future = datetime(2100, 1, 1, tzinfo=timezone.utc).timestamp()
    tick = schedule_tick("0 0 1 1 *", "UTC", None, far_future)
    assert _iso(tick.due) == "2100-01-01T00:00:00+00:00"
    assert _iso(tick.next_tick) == "2101-01-01T00:00:00+00:00"


def test_a_schedule_may_catch_up_on_several_missed_ticks_oldest_first():
    tick = schedule_tick(
        "0 * * * *",
        "UTC",
        _ts("2024-05-01T10:00:00+00:00"),
        _ts("2024-05-01T18:20:00+00:00"),
        max_catchup_ticks=5,
    )
    assert [_iso(t) for t in tick.due_ticks] == [
        "2024-05-01T14:00:00+00:00",
        "2024-05-01T15:00:00+00:00",
        "2024-05-01T16:00:00+00:00",
        "2024-05-01T17:00:00+00:00",
        "2024-05-01T18:00:00+00:00",
    ]
    assert _iso(tick.due) == "2024-05-01T18:00:00+00:00"
    few = schedule_tick(
        "0 * * * *",
        "UTC",
        _ts("2024-05-01T16:00:00+00:00"),
        _ts("2024-05-01T18:20:00+00:00"),
        max_catchup_ticks=5,
    )
    assert [_iso(t) for t in few.due_ticks] == [
        "2024-05-01T17:00:00+00:00",
        "2024-05-01T18:00:00+00:00",
    ]


def test_catching_up_across_the_repeated_autumn_hour_keeps_both_of_its_ticks():
    tick = schedule_tick(
        "0 * * * *",
        NY,
        _ts("2024-11-02T23:00:00-04:00"),
        _ts("2024-11-03T02:30:00-05:00"),
        max_catchup_ticks=5,
    )
    assert [_iso(t) for t in tick.due_ticks] == [
        "2024-11-03T00:00:00-04:00",
        "2024-11-03T01:00:00-04:00",
        "2024-11-03T01:00:00-05:00",
        "2024-11-03T02:00:00-05:00",
    ]


def test_only_schedules_of_partitioned_jobs_catch_up():
    from opgrid import (
        ScheduleDefinition,
        build_schedule_from_partitioned_job,
        daily_partitioned_config,
        job,
        op,
    )

    @op
    def emit():
        return 1

    @daily_partitioned_config(start_date="2024-01-01")
    def days(start, end):
        return {}

    @job(config=days)
    def daily():
        emit()

    assert ScheduleDefinition(job=daily, cron_schedule="@daily").max_catchup_ticks == 1
    assert build_schedule_from_partitioned_job(daily).max_catchup_ticks == 5
