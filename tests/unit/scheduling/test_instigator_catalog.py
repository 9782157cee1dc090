"""describe_location: a code location's schedules and sensors as JSON-ready data, enough
for a scheduler that never imports user code to time their ticks."""

from __future__ import annotations

from opgrid import (
    CodeLocation,
    DagsterRunStatus,
    DefaultSensorStatus,
    ScheduleDefinition,
    build_schedule_from_partitioned_job,
    daily_partitioned_config,
    job,
    op,
    run_failure_sensor,
    sensor,
)
from opgrid.orchestrator.scheduling import InstigatorInfo, InstigatorType, describe_location


@op
def emit():
    return 1


@job
def plain():
    emit()


@daily_partitioned_config(start_date="2024-01-01")
def days(start, end):
    return {}


@job(config=days)
def daily():
    emit()


nightly = ScheduleDefinition(
    job=plain, cron_schedule=["0 1 * * *", "0 2 * * *"], execution_timezone="Europe/Paris"
)
partitioned = build_schedule_from_partitioned_job(daily)


@sensor(
    jobs=[plain, daily], minimum_interval_seconds=45, default_status=DefaultSensorStatus.RUNNING
)
def poller(context):
    return None


@run_failure_sensor(monitored_jobs=[daily], request_job=plain)
def alarm(context):
    return None


LOCATION = CodeLocation(
    "loc",
    {"plain": plain, "daily": daily},
    {s.name: s for s in (nightly, partitioned)},
    {s.name: s for s in (poller, alarm)},
)


def test_every_schedule_and_sensor_is_described():
    infos = {info.name: info for info in describe_location(LOCATION)}
    assert list(infos) == ["daily_schedule", "plain_schedule", "alarm", "poller"]
    assert infos["plain_schedule"].model_dump() == {
        "schema_version": 1,
        "location": "loc",
        "name": "plain_schedule",
        "instigator_type": InstigatorType.SCHEDULE,
        "job_names": ["plain"],
        "running_by_default": False,
        "description": None,
        "cron_schedules": ["0 1 * * *", "0 2 * * *"],
        "execution_timezone": "Europe/Paris",
        "max_catchup_ticks": 1,
        "minimum_interval_seconds": None,
        "run_status": None,
        "monitored_job_names": [],
    }
    assert infos["daily_schedule"].max_catchup_ticks == 5
    assert infos["daily_schedule"].execution_timezone == "UTC"
    assert (infos["poller"].minimum_interval_seconds, infos["poller"].running_by_default) == (
        45,
        True,
    )
    assert infos["poller"].job_names == ["plain", "daily"]
    assert (infos["alarm"].run_status, infos["alarm"].monitored_job_names) == (
        DagsterRunStatus.FAILURE.value,
        ["daily"],
    )


def test_the_description_round_trips_through_json():
    for info in describe_location(LOCATION):
        assert InstigatorInfo.model_validate_json(info.model_dump_json()) == info
