"""What the scheduler knows of a schedule or sensor: ``InstigatorDef``, without its code.

A worker publishes the definitions of its code locations' schedules and sensors when it
starts (``instigator_defs``), so the scheduler, which never imports user code, knows
when each ticks and where to send its ticks; the CLI builds the same from ``-f``/``-m``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from opgrid.code_location import CodeLocation
from opgrid.instigator import DefaultScheduleStatus, DefaultSensorStatus
from opgrid.run_status_sensor import RunStatusSensorDefinition

from .evaluation import InstigatorType
from .tick_task import origin_of

_MODEL = ConfigDict(frozen=True, extra="forbid")


class InstigatorDef(BaseModel):
    """A schedule or sensor as the scheduler knows it, without its code."""

    model_config = _MODEL

    schema_version: Literal[1] = 1
    kind: InstigatorType
    name: str
    location: str
    #: a queue that a worker of the location consumes: where its ticks are sent
    queue: str
    job_name: str | None = None
    cron_schedule: list[str] = Field(default_factory=list)
    execution_timezone: str | None = None
    minimum_interval_seconds: float = 30.0
    default_running: bool = False
    #: for run status sensors: the ``DagsterRunStatus`` value they watch
    run_status: str | None = None
    description: str | None = None

    @property
    def origin(self) -> str:
        return origin_of(self.kind, self.name)


def instigator_defs(location: CodeLocation, queue: str = "") -> list[InstigatorDef]:
    """What the scheduler needs to know of a location's schedules and sensors."""
    defs = [
        InstigatorDef(
            kind=InstigatorType.SCHEDULE,
            name=s.name,
            location=location.name,
            queue=queue,
            job_name=s.job_name,
            cron_schedule=[s.cron_schedule]
            if isinstance(s.cron_schedule, str)
            else list(s.cron_schedule),
            execution_timezone=s.execution_timezone,
            default_running=s.default_status is DefaultScheduleStatus.RUNNING,
            description=s.description,
        )
        for s in location.schedules.values()
    ]
    for sensor_def in location.sensors.values():
        watched = (
            sensor_def.run_status if isinstance(sensor_def, RunStatusSensorDefinition) else None
        )
        defs.append(
            InstigatorDef(
                kind=InstigatorType.SENSOR,
                name=sensor_def.name,
                location=location.name,
                queue=queue,
                job_name=names[0] if len(names := sensor_def.job_names) == 1 else None,
                minimum_interval_seconds=float(sensor_def.minimum_interval_seconds),
                default_running=sensor_def.default_status is DefaultSensorStatus.RUNNING,
                run_status=watched.value if watched is not None else None,
                description=sensor_def.description,
            )
        )
    return defs
