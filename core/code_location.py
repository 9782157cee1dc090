"""Loading a code location: the jobs, schedules and sensors a Python file or module defines.

A code location is found in a file or module as, in this order of preference:
a ``Definitions`` object, a ``@repository``, or the jobs, schedules and sensors at
module level.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .errors import DagsterInvariantViolationError
from .job import JobDefinition
from .repository import Definitions, RepositoryDefinition
from .schedule import ScheduleDefinition
from .schedules_and_sensors import SchedulesAndSensors
from .sensor import SensorDefinition


@dataclass(frozen=True, slots=True)
class CodeLocation:
    """The jobs, schedules and sensors of one file or module, by name."""

    name: str
    jobs: dict[str, JobDefinition]
    schedules: dict[str, ScheduleDefinition] = field(default_factory=dict)
    sensors: dict[str, SensorDefinition] = field(default_factory=dict)

    def get_schedule(self, name: str) -> ScheduleDefinition:
        if name not in self.schedules:
            raise DagsterInvariantViolationError(
                f"code location {self.name!r} has no schedule {name!r} "
                f"(schedules: {', '.join(sorted(self.schedules)) or 'none'})"
            )
        return self.schedules[name]

    def get_sensor(self, name: str) -> SensorDefinition:
        if name not in self.sensors:
            raise DagsterInvariantViolationError(
                f"code location {self.name!r} has no sensor {name!r} "
                f"(sensors: {', '.join(sorted(self.sensors)) or 'none'})"
            )
        return self.sensors[name]

    def get_job(self, name: str) -> JobDefinition:
        if name not in self.jobs:
            raise DagsterInvariantViolationError(
                f"code location {self.name!r} has no job {name!r} "
                f"(jobs: {', '.join(sorted(self.jobs)) or 'none'})"
            )
        return self.jobs[name]


def load_code_location(file: str | None = None, module: str | None = None) -> CodeLocation:
    """Import a file (``-f``) or module (``-m``) and collect its jobs."""
    if (file is None) == (module is None):
        raise DagsterInvariantViolationError("give exactly one of a file or a module")
    if file is not None:
        path = Path(file).resolve()
        if not path.is_file():
            raise DagsterInvariantViolationError(f"code location file {file!r} does not exist")
        name = f"opgrid_location_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise DagsterInvariantViolationError(f"cannot import {file!r} as Python")
        loaded = importlib.util.module_from_spec(spec)
        sys.modules[name] = loaded
        _on_path(str(path.parent))  # so the file can import its neighbours
        spec.loader.exec_module(loaded)
        label = str(file)
    else:
        assert module is not None
        _on_path(os.getcwd())  # as ``python -m`` does: modules under the working directory
        loaded = importlib.import_module(module)
        label = module
    return _location_of(vars(loaded), label)


def _on_path(folder: str) -> None:
    if folder not in sys.path:
        sys.path.insert(0, folder)


def _location_of(namespace: dict[str, object], label: str) -> CodeLocation:
    values = list(namespace.values())
    for value in values:
        if isinstance(value, Definitions):
            return _from_repository(label, value.get_repository_def())
    for value in values:
        if isinstance(value, RepositoryDefinition):
            return _from_repository(label, value)
    schedules = [value for value in values if isinstance(value, ScheduleDefinition)]
    sensors = [value for value in values if isinstance(value, SensorDefinition)]
    jobs = {value.name: value for value in values if isinstance(value, JobDefinition)}
    if not jobs and not schedules and not sensors:
        raise DagsterInvariantViolationError(
            f"{label} defines no Definitions, @repository, job, schedule or sensor at module level"
        )
    found = SchedulesAndSensors(schedules, sensors)  # refuses two definitions of one name
    for job in SchedulesAndSensors.target_jobs(schedules, sensors):
        jobs.setdefault(job.name, job)
    return CodeLocation(
        label,
        jobs,
        {s.name: s for s in found.schedule_defs},
        {s.name: s for s in found.sensor_defs},
    )


def _from_repository(label: str, repository: RepositoryDefinition) -> CodeLocation:
    return CodeLocation(
        label,
        {job.name: job for job in repository.get_all_jobs()},
        {s.name: s for s in repository.schedule_defs},
        {s.name: s for s in repository.sensor_defs},
    )
