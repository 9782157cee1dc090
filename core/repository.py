"""Collections of jobs, schedules and sensors: ``@repository`` and ``Definitions``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .errors import DagsterInvalidDefinitionError, DagsterInvariantViolationError
from .graph import GraphDefinition
from .job import JobDefinition
from .schedule import ScheduleDefinition
from .schedules_and_sensors import SchedulesAndSensors, split_definitions
from .sensor import SensorDefinition


class RepositoryDefinition(SchedulesAndSensors):
    """A named set of jobs, schedules and sensors, looked up by name."""

    def __init__(
        self,
        name: str,
        jobs: Iterable[JobDefinition],
        description: str | None = None,
        schedules: Iterable[ScheduleDefinition] = (),
        sensors: Iterable[SensorDefinition] = (),
    ):
        self.name = name
        self.description = description
        self._jobs: dict[str, JobDefinition] = {}
        for job_def in jobs:
            if job_def.name in self._jobs and self._jobs[job_def.name] is not job_def:
                raise DagsterInvalidDefinitionError(
                    f"repository {name!r} has two different jobs named {job_def.name!r}"
                )
            self._jobs[job_def.name] = job_def
        schedules, sensors = list(schedules), list(sensors)
        for job_def in self.target_jobs(schedules, sensors):
            self._jobs.setdefault(job_def.name, job_def)
        super().__init__(schedules, sensors)

    @property
    def job_names(self) -> list[str]:
        return sorted(self._jobs)

    def has_job(self, name: str) -> bool:
        return name in self._jobs

    def get_job(self, name: str) -> JobDefinition:
        if name not in self._jobs:
            raise DagsterInvariantViolationError(
                f"Could not find job {name!r} in repository {self.name!r} "
                f"(jobs: {', '.join(sorted(self._jobs)) or 'none'})"
            )
        return self._jobs[name]

    def get_all_jobs(self) -> list[JobDefinition]:
        return [self._jobs[name] for name in sorted(self._jobs)]


def _as_job(item: Any, where: str) -> JobDefinition:
    if callable(item) and not isinstance(item, JobDefinition | GraphDefinition):
        item = item()  # a repository dict may hold functions that build the job
    if isinstance(item, JobDefinition):
        return item
    if isinstance(item, GraphDefinition):
        return item.to_job()
    raise DagsterInvalidDefinitionError(
        f"{where} holds {item!r}; only jobs (and graphs, which become jobs) are supported"
    )


def repository(
    fn: Callable[[], Iterable[Any] | Mapping[str, Any]] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    default_executor_def: Any = None,
    default_logger_defs: Mapping[str, Any] | None = None,
) -> Any:
    """Turn a function returning jobs into a ``RepositoryDefinition``.

    ``default_executor_def`` becomes the executor of jobs that did not choose one.
    """

    def wrap(body: Callable[[], Any]) -> RepositoryDefinition:
        repo_name = name or body.__name__
        items = body()
        if isinstance(items, Mapping):
            items = [value for group in items.values() for value in _values(group)]
        others, schedules, sensors = split_definitions(items)
        jobs = [_as_job(item, f"repository {repo_name!r}") for item in others]
        if default_executor_def is not None:
            jobs = [_with_default_executor(j, default_executor_def) for j in jobs]
        return RepositoryDefinition(repo_name, jobs, description, schedules, sensors)

    return wrap(fn) if fn is not None else wrap


def _with_default_executor(job_def: JobDefinition, executor_def: Any) -> JobDefinition:
    if job_def.explicit_executor:
        return job_def
    job_def.executor_def = executor_def
    return job_def


def _values(group: Any) -> Iterable[Any]:
    return group.values() if isinstance(group, Mapping) else group


class Definitions:
    """The jobs, schedules, sensors and shared resources of a code location.

    Args:
        jobs: the jobs (or graphs).
        resources: resources bound to every job that needs them and does not define them.
        schedules: the schedules; the jobs they hold join ``jobs``.
        sensors: the sensors; the jobs they hold join ``jobs``.
    """

    def __init__(
        self,
        jobs: Iterable[Any] | None = None,
        resources: Mapping[str, Any] | None = None,
        assets: Any = None,
        schedules: Any = None,
        sensors: Any = None,
        executor: Any = None,
    ) -> None:
        if assets:
            raise DagsterInvalidDefinitionError("Definitions: assets are not supported by opgrid")
        self.resources = dict(resources or {})
        schedule_defs, sensor_defs = list(schedules or ()), list(sensors or ())
        self.schedules, self.sensors = schedule_defs, sensor_defs
        bound = []
        for item in SchedulesAndSensors.with_target_jobs(jobs or (), schedule_defs, sensor_defs):
            job_def = _as_job(item, "Definitions")
            if self.resources:
                job_def = job_def.with_top_level_resources(self.resources)
            missing = job_def.missing_resource_keys()
            if missing:
                raise DagsterInvalidDefinitionError(
                    f"job {job_def.name!r} needs resources {missing}, which neither the job nor "
                    "Definitions(resources=...) provide"
                )
            bound.append(job_def)
        self._repository = RepositoryDefinition(
            "__repository__", bound, None, schedule_defs, sensor_defs
        )

    def get_job_def(self, name: str) -> JobDefinition:
        return self._repository.get_job(name)

    def resolve_job_def(self, name: str) -> JobDefinition:
        """The job named ``name``, with the definitions' resources bound (Dagster's name)."""
        return self._repository.get_job(name)

    def get_repository_def(self) -> RepositoryDefinition:
        return self._repository

    def get_all_job_defs(self) -> list[JobDefinition]:
        return self._repository.get_all_jobs()

    def has_job(self, name: str) -> bool:
        return self._repository.has_job(name)

    def get_schedule_def(self, name: str) -> ScheduleDefinition:
        return self._repository.get_schedule_def(name)

    def get_sensor_def(self, name: str) -> SensorDefinition:
        return self._repository.get_sensor_def(name)
