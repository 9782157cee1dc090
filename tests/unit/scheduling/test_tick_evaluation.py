"""evaluate_tick: one schedule or sensor tick from recorded state to a JSON TickResult,
never raising for the user's errors."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from opgrid import (
    CodeLocation,
    DagsterRunStatus,
    RunRequest,
    SensorResult,
    SkipReason,
    job,
    op,
    run_failure_sensor,
    run_status_sensor,
    schedule,
    sensor,
)
from opgrid.orchestrator.scheduling import (
    InstigatorType,
    RunStatusChange,
    TickRequest,
    TickResult,
    TickStatus,
    evaluate_tick,
)


@op
def emit():
    return 1


@job
def upstream():
    emit()


@job
def downstream():
    emit()


@schedule(cron_schedule="30 2 * * *", job=upstream, execution_timezone="America/New_York")
def stamped(context):
    return {"ops": {"emit": {"config": {"at": context.scheduled_execution_time.isoformat()}}}}


@schedule(cron_schedule="0 * * * *", job=upstream)
def skipping(context):
    return SkipReason("not today")


@schedule(cron_schedule="0 * * * *", job=upstream)
def broken_schedule(context):
    raise ValueError("boom")


@schedule(cron_schedule="0 * * * *", job=upstream)
def five(context):
    return 5


@schedule(cron_schedule="0 * * * *", job=upstream)
def unsendable(context):
    return RunRequest(run_config={"value": object()})


@sensor(job=upstream)
def counter(context):
    start = int(context.cursor or 0)
    for i in range(start, start + 2):
        yield RunRequest(run_key=f"f{i}", tags={"last": str(context.last_run_key)})
    context.update_cursor(str(start + 2))


@sensor(job=upstream)
def broken_sensor(context):
    context.update_cursor("moved")
    raise KeyError("gone")


@sensor(job_name="not_here")
def elsewhere(context):
    return RunRequest(run_key="1")


@sensor(job=upstream)
def result_skip(context):
    return SensorResult(skip_reason="quiet", cursor="c2")


@run_status_sensor(run_status=DagsterRunStatus.SUCCESS, request_job=downstream)
def after_success(context):
    return RunRequest(
        run_key=context.dagster_run.run_id, tags={"parent": context.dagster_run.run_id}
    )


@run_failure_sensor(request_job=downstream)
def on_failure(context):
    steps = ",".join(e.step_key for e in context.get_step_failure_events())
    return RunRequest(
        run_key=f"retry-{context.dagster_run.run_id}",
        tags={"failed": steps, "why": context.failure_event.message},
    )


@run_status_sensor(run_status=DagsterRunStatus.SUCCESS)
def raising_status_sensor(context):
    raise RuntimeError("status sensor broke")


LOCATION = CodeLocation(
    "tests",
    {"upstream": upstream, "downstream": downstream},
    {s.name: s for s in (stamped, skipping, broken_schedule, five, unsendable)},
    {
        s.name: s
        for s in (
            counter,
            broken_sensor,
            elsewhere,
            result_skip,
            after_success,
            on_failure,
            raising_status_sensor,
        )
    },
)

SPRING = datetime.fromisoformat("2024-03-10T03:00:00-04:00").timestamp()


def _schedule(name, scheduled_ts=SPRING):
    return TickRequest(
        instigator_type=InstigatorType.SCHEDULE, name=name, scheduled_ts=scheduled_ts
    )


def _sensor(name, **fields):
    return TickRequest(instigator_type=InstigatorType.SENSOR, name=name, **fields)


def _through_json(result: TickResult) -> TickResult:
    text = result.model_dump_json()
    json.loads(text)
    return TickResult.model_validate_json(text)


def test_a_schedule_tick_sees_its_time_in_its_timezone_and_requests_a_run():
    result = evaluate_tick(LOCATION, _schedule("stamped"))
    assert result.status is TickStatus.SUCCESS
    assert result.scheduled_ts == SPRING
    [run] = result.run_requests
    assert run.job_name == "upstream"
    assert run.run_config == {"ops": {"emit": {"config": {"at": "2024-03-10T03:00:00-04:00"}}}}
    assert run.tags == {"dagster/schedule_name": "stamped"}
    assert (run.run_key, run.partition_key) == (None, None)
    assert _through_json(result) == result


def test_a_skipping_schedule_gives_a_skipped_tick_with_its_reason():
    result = evaluate_tick(LOCATION, _schedule("skipping"))
    assert (result.status, result.skip_reason, result.run_requests) == (
        TickStatus.SKIPPED,
        "not today",
        [],
    )


def test_the_users_exception_is_reported_not_raised():
    result = evaluate_tick(LOCATION, _schedule("broken_schedule"))
    assert result.status is TickStatus.FAILURE
    assert result.run_requests == []
    assert (result.error.cls_name, result.error.message) == ("ValueError", "boom")
    assert "broken_schedule" in result.error.stack
    assert "ValueError: boom" in result.error.stack
    assert _through_json(result) == result


@pytest.mark.parametrize(
    ("request_", "cls_name", "fragment"),
    [
        (_schedule("five"), "DagsterInvariantViolationError", "returned 5"),
        (_schedule("missing"), "DagsterInvariantViolationError", "has no schedule 'missing'"),
        (_schedule("stamped", None), "DagsterInvariantViolationError", "needs its scheduled time"),
        (_schedule("unsendable"), "DagsterInvariantViolationError", "cannot be sent as JSON"),
        (_sensor("missing"), "DagsterInvariantViolationError", "has no sensor 'missing'"),
        (_sensor("elsewhere"), "DagsterInvariantViolationError", "job 'not_here'"),
    ],
)
def test_bad_definitions_and_results_fail_the_tick_with_a_named_cause(request_, cls_name, fragment):
    result = evaluate_tick(LOCATION, request_)
    assert result.status is TickStatus.FAILURE
    assert result.error.cls_name == cls_name
    assert fragment in result.error.message


def test_a_sensor_tick_starts_from_the_stored_cursor_and_last_run_key():
    result = evaluate_tick(LOCATION, _sensor("counter", cursor="3", last_run_key="f2"))
    assert result.status is TickStatus.SUCCESS
    assert [(r.run_key, r.tags) for r in result.run_requests] == [
        ("f3", {"last": "f2", "dagster/sensor_name": "counter"}),
        ("f4", {"last": "f2", "dagster/sensor_name": "counter"}),
    ]
    assert result.cursor == "5"
    assert _through_json(result) == result


def test_a_failed_sensor_tick_keeps_the_stored_cursor():
    result = evaluate_tick(LOCATION, _sensor("broken_sensor", cursor="3"))
    assert result.status is TickStatus.FAILURE
    assert result.cursor == "3"
    assert result.error.cls_name == "KeyError"


def test_a_sensor_result_may_skip_and_move_the_cursor():
    result = evaluate_tick(LOCATION, _sensor("result_skip", cursor="c1"))
    assert (result.status, result.skip_reason, result.cursor) == (TickStatus.SKIPPED, "quiet", "c2")


def _change(position, run_id, job_name, status, **fields):
    return RunStatusChange(
        position=position, run_id=run_id, job_name=job_name, status=status, **fields
    )


def test_a_run_status_sensor_is_called_once_per_watched_run_and_moves_its_cursor():
    changes = [
        _change("1-0", "r1", "upstream", DagsterRunStatus.SUCCESS),
        _change("2-0", "r2", "upstream", DagsterRunStatus.FAILURE),
        _change("3-0", "r3", "downstream", DagsterRunStatus.SUCCESS),
        _change("4-0", "r4", "other_locations_job", DagsterRunStatus.SUCCESS),
    ]
    result = evaluate_tick(
        LOCATION, _sensor("after_success", cursor="0-0", run_status_changes=changes)
    )
    assert result.status is TickStatus.SUCCESS
    assert [(r.job_name, r.run_key) for r in result.run_requests] == [
        ("downstream", "r1"),
        ("downstream", "r3"),
    ]
    assert result.cursor == "4-0"
    assert _through_json(result) == result


def test_a_failure_sensor_sees_the_failed_steps_and_the_failure_message():
    changes = [
        _change(
            "7-0",
            "r9",
            "upstream",
            DagsterRunStatus.FAILURE,
            message='Execution of run for "upstream" failed.',
            failed_steps={"emit": "ValueError: x"},
        )
    ]
    result = evaluate_tick(LOCATION, _sensor("on_failure", run_status_changes=changes))
    [run] = result.run_requests
    assert run.run_key == "retry-r9"
    assert run.tags["failed"] == "emit"
    assert run.tags["why"] == 'Execution of run for "upstream" failed.'


def test_a_run_status_sensor_with_nothing_to_see_skips_but_moves_its_cursor():
    changes = [_change("5-0", "r5", "upstream", DagsterRunStatus.CANCELED)]
    result = evaluate_tick(
        LOCATION, _sensor("after_success", cursor="4-0", run_status_changes=changes)
    )
    assert result.status is TickStatus.SKIPPED
    assert result.cursor == "5-0"
    assert "SUCCESS" in result.skip_reason
    idle = evaluate_tick(LOCATION, _sensor("after_success", cursor="4-0"))
    assert (idle.status, idle.cursor) == (TickStatus.SKIPPED, "4-0")


def test_a_raising_run_status_sensor_fails_and_keeps_its_cursor():
    changes = [_change("9-0", "r1", "upstream", DagsterRunStatus.SUCCESS)]
    result = evaluate_tick(
        LOCATION, _sensor("raising_status_sensor", cursor="8-0", run_status_changes=changes)
    )
    assert result.status is TickStatus.FAILURE
    assert result.cursor == "8-0"
    assert (result.error.cls_name, result.error.message) == ("RuntimeError", "status sensor broke")
    assert result.run_requests == []


def test_the_request_and_result_models_refuse_unknown_fields():
    with pytest.raises(ValueError):
        TickRequest.model_validate({"instigator_type": "schedule", "name": "x", "extra": 1})
    request = TickRequest.model_validate_json(_schedule("stamped").model_dump_json())
    assert request == _schedule("stamped")


def test_a_partitioned_schedules_tick_requests_the_day_that_ended_and_that_run_executes():
    from opgrid import build_schedule_from_partitioned_job, daily_partitioned_config

    @op(config_schema={"day": str})
    def report(context):
        return context.op_config["day"]

    @daily_partitioned_config(start_date="2024-01-01")
    def days(start, end):
        return {"ops": {"report": {"config": {"day": start.strftime("%Y-%m-%d")}}}}

    @job(config=days)
    def daily_report():
        report()

    sched = build_schedule_from_partitioned_job(daily_report, hour_of_day=1)
    location = CodeLocation("days", {"daily_report": daily_report}, {sched.name: sched}, {})
    tick_ts = datetime.fromisoformat("2024-03-05T01:00:00+00:00").timestamp()
    result = evaluate_tick(location, _schedule(sched.name, tick_ts))
    [run] = result.run_requests
    assert (run.job_name, run.run_key, run.partition_key) == (
        "daily_report",
        "2024-03-04",
        "2024-03-04",
    )
    executed = daily_report.execute_in_process(partition_key=run.partition_key, tags=run.tags)
    assert executed.output_for_node("report") == "2024-03-04"
    assert executed.dagster_run.tags["dagster/schedule_name"] == "daily_report_schedule"
