"""What the scheduler knows of a schedule or sensor: ``InstigatorDef``, without its code.

A worker publishes the definitions of its code locations' schedules and sensors when it
starts (``instigator_defs``: ``catalog.describe_location`` and the queue the worker
consumes, where the scheduler sends their ticks), so the scheduler, which never imports
user code, knows when each ticks; the CLI builds the same from ``-f``/``-m``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from opgrid.code_location import CodeLocation

from .catalog import InstigatorInfo, describe_location
from .evaluation import InstigatorType
from .tick_task import origin_of

#: A sensor's interval when its definition gives none (Dagster's default).
DEFAULT_SENSOR_INTERVAL_S = 30


class InstigatorDef(BaseModel):
    """A schedule or sensor as published for the scheduler: what it is, where to send it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    info: InstigatorInfo
    #: a queue that a worker of the location consumes: where its ticks are sent
    queue: str = ""

    @property
    def origin(self) -> str:
        return origin_of(self.kind, self.name)

    @property
    def kind(self) -> InstigatorType:
        return self.info.instigator_type

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def location(self) -> str:
        return self.info.location

    @property
    def job_name(self) -> str | None:
        names = self.info.job_names
        return names[0] if len(names) == 1 else None

    @property
    def default_running(self) -> bool:
        return self.info.running_by_default

    @property
    def minimum_interval_seconds(self) -> float:
        interval = self.info.minimum_interval_seconds
        return float(DEFAULT_SENSOR_INTERVAL_S if interval is None else interval)

    @property
    def run_status(self) -> str | None:
        return self.info.run_status


def instigator_defs(location: CodeLocation, queue: str = "") -> list[InstigatorDef]:
    """The schedules and sensors of a code location, their ticks to go to ``queue``."""
    return [InstigatorDef(info=info, queue=queue) for info in describe_location(location)]
