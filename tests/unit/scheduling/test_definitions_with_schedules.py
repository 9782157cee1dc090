"""Definitions(schedules=, sensors=), @repository and code locations expose schedules and
sensors by name, and the jobs they run, as Dagster's repositories do."""

from __future__ import annotations

import textwrap

import pytest

from opgrid import (
    DagsterInvalidDefinitionError,
    DagsterInvariantViolationError,
    Definitions,
    RunRequest,
    ScheduleDefinition,
    job,
    load_code_location,
    op,
    repository,
    resource,
    sensor,
)


@op
def emit():
    return 1


@job
def hourly_job():
    emit()


@job
def watched_job():
    emit()


hourly = ScheduleDefinition(job=hourly_job, cron_schedule="0 * * * *")


@sensor(job=watched_job)
def watcher(context):
    yield RunRequest(run_key="1")


def test_definitions_look_up_schedules_and_sensors_by_name():
    defs = Definitions(jobs=[hourly_job, watched_job], schedules=[hourly], sensors=[watcher])
    assert defs.get_schedule_def("hourly_job_schedule") is hourly
    assert defs.get_sensor_def("watcher") is watcher
    assert (defs.schedules, defs.sensors) == ([hourly], [watcher])
    repo = defs.get_repository_def()
    assert repo.schedule_defs == [hourly]
    assert repo.sensor_defs == [watcher]
    assert repo.has_schedule_def("hourly_job_schedule")
    assert repo.has_sensor_def("watcher")
    assert not repo.has_schedule_def("watcher")


def test_unknown_names_are_refused_with_dagsters_message():
    repo = Definitions(schedules=[hourly], sensors=[watcher]).get_repository_def()
    with pytest.raises(DagsterInvariantViolationError) as caught:
        repo.get_schedule_def("nope")
    assert str(caught.value) == "Could not find schedule 'nope'. Found: 'hourly_job_schedule'."
    with pytest.raises(DagsterInvariantViolationError) as caught:
        repo.get_sensor_def("nope")
    assert str(caught.value) == "Could not find sensor 'nope'. Found: 'watcher'."


def test_the_jobs_of_schedules_and_sensors_join_the_repository():
    defs = Definitions(schedules=[hourly], sensors=[watcher])
    assert defs.get_repository_def().job_names == ["hourly_job", "watched_job"]
    assert defs.get_job_def("hourly_job").name == "hourly_job"


def test_two_definitions_of_one_name_are_refused_but_one_listed_twice_is_not():
    other = ScheduleDefinition(
        name="hourly_job_schedule", job=hourly_job, cron_schedule="0 3 * * *"
    )
    with pytest.raises(DagsterInvalidDefinitionError) as caught:
        Definitions(jobs=[hourly_job], schedules=[hourly, other])
    assert str(caught.value) == "Duplicate definition found for hourly_job_schedule"
    Definitions(jobs=[hourly_job], schedules=[hourly, hourly])


def test_only_schedules_go_in_schedules():
    with pytest.raises(DagsterInvalidDefinitionError, match="not a ScheduleDefinition"):
        Definitions(schedules=[watcher])


def test_resources_bind_to_jobs_that_only_a_schedule_brings():
    @op(required_resource_keys={"db"})
    def query(context):
        return context.resources.db

    @job
    def report():
        query()

    @resource
    def db(_):
        return "database"

    defs = Definitions(
        schedules=[ScheduleDefinition(job=report, cron_schedule="@daily")],
        resources={"db": db},
    )
    result = defs.get_job_def("report").execute_in_process()
    assert result.output_for_node("query") == "database"


def test_a_repository_function_may_return_schedules_and_sensors():
    @repository
    def listed():
        return [hourly_job, hourly, watcher]

    @repository
    def grouped():
        return {
            "jobs": {"hourly_job": hourly_job},
            "schedules": {"hourly": hourly},
            "sensors": {"watcher": watcher},
        }

    for repo in (listed, grouped):
        assert repo.schedule_defs == [hourly]
        assert repo.sensor_defs == [watcher]
        assert repo.job_names == ["hourly_job", "watched_job"]


MODULE = """
from opgrid import Definitions, RunRequest, ScheduleDefinition, job, op, sensor

@op
def emit():
    return 1

@job
def nightly():
    emit()

nightly_schedule = ScheduleDefinition(job=nightly, cron_schedule="0 0 * * *")

@sensor(job=nightly)
def poke(context):
    return RunRequest(run_key="k")
"""


@pytest.mark.parametrize("with_definitions", [True, False])
def test_a_code_location_exposes_its_schedules_and_sensors_by_name(tmp_path, with_definitions):
    text = MODULE + (
        "\ndefs = Definitions(schedules=[nightly_schedule], sensors=[poke])\n"
        if with_definitions
        else ""
    )
    path = tmp_path / f"location_{with_definitions}.py"
    path.write_text(textwrap.dedent(text))
    location = load_code_location(file=str(path))
    assert sorted(location.schedules) == ["nightly_schedule"]
    assert sorted(location.sensors) == ["poke"]
    assert sorted(location.jobs) == ["nightly"]
    assert location.get_schedule("nightly_schedule").cron_schedule == "0 0 * * *"
    assert location.get_sensor("poke").job_name == "nightly"
    with pytest.raises(DagsterInvariantViolationError, match="has no schedule 'nope'"):
        location.get_schedule("nope")
    with pytest.raises(DagsterInvariantViolationError, match="has no sensor 'nope'"):
        location.get_sensor("nope")
