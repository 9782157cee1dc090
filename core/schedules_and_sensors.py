"""The schedules and sensors of a repository, by name, and the jobs they bring along."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .errors import DagsterInvalidDefinitionError, DagsterInvariantViolationError
from .job import JobDefinition
from .schedule import ScheduleDefinition
from .sensor import SensorDefinition


class SchedulesAndSensors:
    """Schedules and sensors looked up by name; a name is used once across both."""

    def __init__(
        self, schedules: Iterable[ScheduleDefinition], sensors: Iterable[SensorDefinition]
    ) -> None:
        self._schedules: dict[str, ScheduleDefinition] = {}
        self._sensors: dict[str, SensorDefinition] = {}
        for schedule_def in schedules:
            if not isinstance(schedule_def, ScheduleDefinition):
                raise DagsterInvalidDefinitionError(
                    f"schedules holds {schedule_def!r}, which is not a ScheduleDefinition"
                )
            self._add(self._schedules, schedule_def)
        for sensor_def in sensors:
            if not isinstance(sensor_def, SensorDefinition):
                raise DagsterInvalidDefinitionError(
                    f"sensors holds {sensor_def!r}, which is not a SensorDefinition"
                )
            self._add(self._sensors, sensor_def)

    def _add(self, into: dict[str, Any], definition: Any) -> None:
        existing = self._schedules.get(definition.name) or self._sensors.get(definition.name)
        if existing is not None and existing is not definition:
            raise DagsterInvalidDefinitionError(f"Duplicate definition found for {definition.name}")
        into[definition.name] = definition

    @staticmethod
    def target_jobs(
        schedules: Iterable[ScheduleDefinition], sensors: Iterable[SensorDefinition]
    ) -> list[JobDefinition]:
        """The jobs the schedules and sensors run (those they hold, not only name)."""
        jobs = [s.job for s in schedules if isinstance(s, ScheduleDefinition) and s.has_job()]
        for sensor_def in sensors:
            jobs += sensor_def.jobs if isinstance(sensor_def, SensorDefinition) else []
        return jobs

    @staticmethod
    def with_target_jobs(
        jobs: Iterable[Any],
        schedules: Iterable[ScheduleDefinition],
        sensors: Iterable[SensorDefinition],
    ) -> list[Any]:
        """``jobs`` followed by the target jobs that none of them names."""
        items = list(jobs)
        names = {getattr(item, "name", None) for item in items}
        for job_def in SchedulesAndSensors.target_jobs(schedules, sensors):
            if job_def.name not in names:
                names.add(job_def.name)
                items.append(job_def)
        return items

    @property
    def schedule_defs(self) -> list[ScheduleDefinition]:
        return [self._schedules[name] for name in sorted(self._schedules)]

    @property
    def sensor_defs(self) -> list[SensorDefinition]:
        return [self._sensors[name] for name in sorted(self._sensors)]

    def has_schedule_def(self, name: str) -> bool:
        return name in self._schedules

    def has_sensor_def(self, name: str) -> bool:
        return name in self._sensors

    def get_schedule_def(self, name: str) -> ScheduleDefinition:
        if name not in self._schedules:
            raise DagsterInvariantViolationError(
                f"Could not find schedule '{name}'. Found: {_listing(self._schedules)}."
            )
        return self._schedules[name]

    def get_sensor_def(self, name: str) -> SensorDefinition:
        if name not in self._sensors:
            raise DagsterInvariantViolationError(
                f"Could not find sensor '{name}'. Found: {_listing(self._sensors)}."
            )
        return self._sensors[name]


def _listing(definitions: dict[str, Any]) -> str:
    return ", ".join(f"'{name}'" for name in sorted(definitions)) or "none"


def split_definitions(
    items: Iterable[Any],
) -> tuple[list[Any], list[ScheduleDefinition], list[SensorDefinition]]:
    """(everything else, schedules, sensors) of a ``@repository``'s list."""
    others: list[Any] = []
    schedules: list[ScheduleDefinition] = []
    sensors: list[SensorDefinition] = []
    for item in items:
        if isinstance(item, ScheduleDefinition):
            schedules.append(item)
        elif isinstance(item, SensorDefinition):
            sensors.append(item)
        else:
            others.append(item)
    return others, schedules, sensors
