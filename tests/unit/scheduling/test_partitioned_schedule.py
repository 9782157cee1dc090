"""build_schedule_from_partitioned_job over the partitioned configs of opgrid.partition,
pinned to Dagster 1.13's results for the same jobs and tick times."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from opgrid import (
    DagsterInvalidDefinitionError,
    build_schedule_context,
    build_schedule_from_partitioned_job,
    daily_partitioned_config,
    job,
    op,
    static_partitioned_config,
)


@op(config_schema={"d": str})
def stamp(context):
    return context.op_config["d"]


@daily_partitioned_config(start_date="2024-01-01")
def day_config(start, end):
    return {"ops": {"stamp": {"config": {"d": start.isoformat()}}}}


@job(config=day_config)
def daily_job():
    stamp()


@daily_partitioned_config(start_date="2024-01-01", hour_offset=2, minute_offset=30)
def late_day_config(start, end):
    return {"ops": {"stamp": {"config": {"d": start.isoformat()}}}}


@job(config=late_day_config)
def late_daily_job():
    stamp()


@static_partitioned_config(partition_keys=["x", "y"])
def letter_config(key):
    return {"ops": {"stamp": {"config": {"d": key}}}}


@job(config=letter_config)
def letters_job():
    stamp()


@job
def plain_job():
    stamp()


def _at(*args):
    return build_schedule_context(scheduled_execution_time=datetime(*args, tzinfo=timezone.utc))


def test_a_daily_schedule_runs_the_day_that_just_ended():
    sched = build_schedule_from_partitioned_job(daily_job)
    assert (sched.name, sched.cron_schedule, sched.execution_timezone, sched.job_name) == (
        "daily_job_schedule",
        "0 0 * * *",
        "UTC",
        "daily_job",
    )
    for context in (_at(2024, 3, 5), _at(2024, 3, 5, 7, 30)):
        [request] = sched.evaluate_tick(context).run_requests
        assert (request.run_key, request.partition_key, request.job_name) == (
            "2024-03-04",
            "2024-03-04",
            "daily_job",
        )
        assert request.run_config == {
            "ops": {"stamp": {"config": {"d": "2024-03-04T00:00:00+00:00"}}}
        }
        assert request.tags == {
            "dagster/partition": "2024-03-04",
            "dagster/partition_set": "daily_job_partition_set",
            "dagster/schedule_name": "daily_job_schedule",
        }


def test_the_tick_time_can_be_moved_within_the_day():
    sched = build_schedule_from_partitioned_job(daily_job, hour_of_day=3, minute_of_hour=15)
    assert sched.cron_schedule == "15 3 * * *"
    [request] = sched.evaluate_tick(_at(2024, 3, 5, 3, 15)).run_requests
    assert request.partition_key == "2024-03-04"


def test_partition_offsets_set_the_tick_time_and_the_day_boundaries():
    sched = build_schedule_from_partitioned_job(late_daily_job)
    assert sched.cron_schedule == "30 2 * * *"
    [at_tick] = sched.evaluate_tick(_at(2024, 3, 5, 2, 30)).run_requests
    [before] = sched.evaluate_tick(_at(2024, 3, 5, 2, 0)).run_requests
    assert (at_tick.partition_key, before.partition_key) == ("2024-03-04", "2024-03-03")


def test_before_the_first_partition_ends_the_tick_skips():
    data = build_schedule_from_partitioned_job(daily_job).evaluate_tick(_at(2024, 1, 1))
    assert (data.run_requests, data.skip_message) == (
        [],
        "The job's PartitionsDefinition has no partitions",
    )


def test_a_static_schedule_runs_every_partition_on_its_cron():
    sched = build_schedule_from_partitioned_job(letters_job, cron_schedule="0 0 * * *")
    assert sched.name == "letters_job_schedule"
    requests = sched.evaluate_tick(_at(2024, 3, 5)).run_requests
    assert [(r.run_key, r.run_config) for r in requests] == [
        ("x", {"ops": {"stamp": {"config": {"d": "x"}}}}),
        ("y", {"ops": {"stamp": {"config": {"d": "y"}}}}),
    ]
    assert requests[0].tags["dagster/partition_set"] == "letters_job_partition_set"


@pytest.mark.parametrize(
    ("job_def", "kwargs", "message"),
    [
        (letters_job, {}, "requires a cron schedule"),
        (plain_job, {}, "is not partitioned"),
        (daily_job, {"day_of_week": 1}, "Cannot set day of week parameter with daily partitions."),
        (daily_job, {"day_of_month": 3}, "Cannot set day of month parameter"),
        (daily_job, {"cron_schedule": "0 5 * * *"}, "Cannot provide cron_schedule"),
        (daily_job, {"hour_of_day": 25}, "Found invalid cron schedule '0 25 \\* \\* \\*'"),
    ],
)
def test_timing_that_does_not_fit_the_partitions_is_refused(job_def, kwargs, message):
    with pytest.raises(DagsterInvalidDefinitionError, match=message):
        build_schedule_from_partitioned_job(job_def, **kwargs)


def test_the_scheduled_run_executes_with_its_partitions_config():
    sched = build_schedule_from_partitioned_job(daily_job)
    [request] = sched.evaluate_tick(_at(2024, 3, 5)).run_requests
    result = daily_job.execute_in_process(partition_key=request.partition_key)
    assert result.output_for_node("stamp") == "2024-03-04T00:00:00+00:00"
