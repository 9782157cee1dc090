"""What the scheduler needs to know about a code location's schedules and sensors, as data.

The scheduler never imports user code: a process that loads the code location publishes
``describe_location(location)``, and the scheduler times ticks from that alone.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from opgrid.code_location import CodeLocation
from opgrid.cron import cron_strings
from opgrid.run_status_sensor import RunStatusSensorDefinition
from opgrid.schedule import ScheduleDefinition
from opgrid.sensor import SensorDefinition

from .evaluation import InstigatorType


class InstigatorInfo(BaseModel):
    """One schedule or sensor, as the scheduler sees it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    location: str
    name: str
    instigator_type: InstigatorType
    job_names: list[str] = Field(default_factory=list)
    running_by_default: bool = False  # default_status is RUNNING
    description: str | None = None
    # schedules
    cron_schedules: list[str] = Field(default_factory=list)
    execution_timezone: str | None = None
    max_catchup_ticks: int = 1
    # sensors
    minimum_interval_seconds: int | None = None
    run_status: str | None = None  # run status sensors: the DagsterRunStatus they watch
    monitored_job_names: list[str] = Field(default_factory=list)  # empty: every job


def describe_location(location: CodeLocation) -> list[InstigatorInfo]:
    """Every schedule and sensor of a code location, schedules first, each by name."""
    schedules = [
        _schedule(location.name, location.schedules[n]) for n in sorted(location.schedules)
    ]
    sensors = [_sensor(location.name, location.sensors[n]) for n in sorted(location.sensors)]
    return schedules + sensors


def _schedule(location: str, schedule_def: ScheduleDefinition) -> InstigatorInfo:
    return InstigatorInfo(
        location=location,
        name=schedule_def.name,
        instigator_type=InstigatorType.SCHEDULE,
        job_names=[schedule_def.job_name],
        running_by_default=schedule_def.default_status.value == "RUNNING",
        description=schedule_def.description,
        cron_schedules=cron_strings(schedule_def.cron_schedule),
        execution_timezone=schedule_def.execution_timezone,
        max_catchup_ticks=schedule_def.max_catchup_ticks,
    )


def _sensor(location: str, sensor_def: SensorDefinition) -> InstigatorInfo:
    run_status, monitored = None, []
    if isinstance(sensor_def, RunStatusSensorDefinition):
        run_status = sensor_def.run_status.value
        monitored = sorted(sensor_def.monitored_job_names)
    return InstigatorInfo(
        location=location,
        name=sensor_def.name,
        instigator_type=InstigatorType.SENSOR,
        job_names=sensor_def.job_names,
        running_by_default=sensor_def.default_status.value == "RUNNING",
        description=sensor_def.description,
        minimum_interval_seconds=sensor_def.minimum_interval_seconds,
        run_status=run_status,
        monitored_job_names=monitored,
    )
