"""Run status sensors: react when a monitored job's run reaches a status.

``@run_status_sensor(run_status=DagsterRunStatus.SUCCESS)`` and ``@run_failure_sensor``
wrap a function of a ``RunStatusSensorContext`` (a ``RunFailureSensorContext`` for
failures). The scheduler calls it once per run that reached the status since the
sensor's cursor; it may return run requests of ``request_job``/``request_jobs``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from .context import DagsterRun
from .errors import DagsterInvalidDefinitionError, DagsterInvalidInvocationError
from .event_type import DagsterEventType
from .instigator import DefaultSensorStatus, as_job, flatten, takes_context
from .resource import Resources
from .sensor import SensorDefinition, SensorEvaluationContext, SensorExecutionData

_logger = logging.getLogger("opgrid.sensor")


class DagsterRunStatus(Enum):
    """The statuses of a run, with Dagster's values."""

    QUEUED = "QUEUED"
    NOT_STARTED = "NOT_STARTED"
    MANAGED = "MANAGED"
    STARTING = "STARTING"
    STARTED = "STARTED"
    SUSPENDED = "SUSPENDED"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    CANCELING = "CANCELING"
    CANCELED = "CANCELED"


#: The run event that marks each status a sensor can watch.
STATUS_EVENT_TYPES: Mapping[DagsterRunStatus, DagsterEventType] = {
    DagsterRunStatus.STARTED: DagsterEventType.RUN_START,
    DagsterRunStatus.SUCCESS: DagsterEventType.RUN_SUCCESS,
    DagsterRunStatus.FAILURE: DagsterEventType.RUN_FAILURE,
    DagsterRunStatus.CANCELING: DagsterEventType.RUN_CANCELING,
    DagsterRunStatus.CANCELED: DagsterEventType.RUN_CANCELED,
}


@dataclass(frozen=True, slots=True)
class RunStatusEvent:
    """The event of a run reaching a status, as a run status sensor sees it."""

    event_type_value: str
    job_name: str
    message: str = ""
    step_key: str | None = None


class RunStatusSensorContext:
    """What a run status sensor's function sees: the run and the event of its status.

    Args:
        sensor_name: the sensor's name.
        dagster_run: the run that reached the status.
        dagster_event: the event that marks it.
        instance: accepted for compatibility; opgrid has no instance.
        context: the sensor tick's own context.
        resource_defs: plain objects, as ``context.resources.<key>``.
        partition_key: the run's partition, if any.
        step_failure_events: for failures, the events of the steps that failed.
    """

    def __init__(
        self,
        sensor_name: str,
        dagster_run: DagsterRun,
        dagster_event: Any,
        instance: Any = None,
        context: SensorEvaluationContext | None = None,
        resource_defs: Mapping[str, Any] | None = None,
        logger: logging.Logger | None = None,
        partition_key: str | None = None,
        repository_def: Any = None,
        step_failure_events: Sequence[Any] = (),
    ) -> None:
        self.sensor_name = sensor_name
        self.dagster_run = dagster_run
        self.dagster_event = dagster_event
        self.instance = instance
        self.sensor_context = context
        self.resources = Resources(resource_defs or {}, f"sensor {sensor_name!r}")
        self.log = logger or _logger
        self.partition_key = partition_key if partition_key else dagster_run.partition_key
        self.repository_def = repository_def
        self._step_failure_events = list(step_failure_events)

    def for_run_failure(self) -> RunFailureSensorContext:
        """This context as a ``RunFailureSensorContext``."""
        return RunFailureSensorContext(
            self.sensor_name,
            self.dagster_run,
            self.dagster_event,
            self.instance,
            self.sensor_context,
            partition_key=self.partition_key,
            repository_def=self.repository_def,
            step_failure_events=self._step_failure_events,
        )


class RunFailureSensorContext(RunStatusSensorContext):
    """A ``RunStatusSensorContext`` for a failed run, with the failure's events."""

    @property
    def failure_event(self) -> Any:
        """The run's failure event."""
        return self.dagster_event

    def get_step_failure_events(self) -> list[Any]:
        """The failure events of the run's steps."""
        return list(self._step_failure_events)


def build_run_status_sensor_context(
    sensor_name: str,
    dagster_event: Any,
    dagster_instance: Any,
    dagster_run: DagsterRun,
    context: SensorEvaluationContext | None = None,
    resources: Mapping[str, Any] | None = None,
    partition_key: str | None = None,
    *,
    repository_def: Any = None,
) -> RunStatusSensorContext:
    """A context for calling a run status sensor directly, as in a unit test."""
    return RunStatusSensorContext(
        sensor_name,
        dagster_run,
        dagster_event,
        dagster_instance,
        context,
        resources,
        partition_key=partition_key,
        repository_def=repository_def,
    )


@dataclass(frozen=True, slots=True)
class _Monitor:
    """Which runs a run status sensor reacts to."""

    run_status: DagsterRunStatus
    job_names: frozenset[str] = field(default_factory=frozenset)  # empty: every job

    def watches(self, job_name: str, status: DagsterRunStatus) -> bool:
        return status is self.run_status and (not self.job_names or job_name in self.job_names)


class RunStatusSensorDefinition(SensorDefinition):
    """A sensor called once per monitored run that reached ``run_status``.

    Args:
        name: the sensor's name.
        run_status: the status to react to.
        run_status_sensor_fn: ``fn(context)``; may return run requests or a skip reason.
        minimum_interval_seconds: the least time between two ticks.
        description: shown in tooling.
        monitored_jobs: the jobs whose runs it watches (every job of its code location
            when None).
        default_status: whether the sensor runs before anyone turns it on.
        request_job: the job its run requests are for.
        request_jobs: several such jobs.
    """

    def __init__(
        self,
        name: str,
        run_status: DagsterRunStatus,
        run_status_sensor_fn: Callable[..., Any],
        minimum_interval_seconds: int | None = None,
        description: str | None = None,
        monitored_jobs: Sequence[Any] | None = None,
        monitor_all_code_locations: bool | None = None,
        default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
        request_job: Any = None,
        request_jobs: Sequence[Any] | None = None,
        tags: Mapping[str, str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        required_resource_keys: set[str] | None = None,
    ) -> None:
        if not isinstance(run_status, DagsterRunStatus):
            raise DagsterInvalidDefinitionError(
                f"run status sensor {name!r}: run_status must be a DagsterRunStatus, "
                f"got {run_status!r}"
            )
        super().__init__(
            name=name,
            evaluation_fn=run_status_sensor_fn,
            minimum_interval_seconds=minimum_interval_seconds,
            description=description,
            job=request_job,
            jobs=request_jobs,
            default_status=default_status,
            tags=tags,
            metadata=metadata,
            required_resource_keys=required_resource_keys,
        )
        monitored = [as_job(job, f"sensor {name!r}").name for job in monitored_jobs or ()]
        self.run_status = run_status
        self.monitor_all_code_locations = bool(monitor_all_code_locations)
        self.monitored_job_names = frozenset(monitored)
        self._monitor = _Monitor(run_status, self.monitored_job_names)
        self._fn = run_status_sensor_fn

    def watches(self, job_name: str, status: DagsterRunStatus) -> bool:
        """Whether a run of ``job_name`` reaching ``status`` calls this sensor."""
        return self._monitor.watches(job_name, status)

    def evaluate_tick(self, context: SensorEvaluationContext) -> SensorExecutionData:
        """Not available: a run status sensor is evaluated once per run, with
        ``evaluate_for_run``."""
        raise DagsterInvalidInvocationError(
            f"run status sensor {self.name!r} is evaluated once per run that reached "
            f"{self.run_status.value}: use evaluate_for_run(RunStatusSensorContext)"
        )

    def evaluate_for_run(self, context: RunStatusSensorContext) -> SensorExecutionData:
        """Call the function for one run and collect its run requests (user errors
        propagate)."""
        tick_context = context.sensor_context or SensorEvaluationContext(sensor_name=self.name)
        return self.collect(flatten(self(context)), tick_context)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the function directly with a ``RunStatusSensorContext``."""
        given = list(args) + list(kwargs.values())
        if not takes_context(self._fn):
            return self._fn()
        if len(given) != 1 or not isinstance(given[0], RunStatusSensorContext):
            raise DagsterInvalidInvocationError(
                f"run status sensor {self.name!r} is called with one RunStatusSensorContext "
                "(build one with build_run_status_sensor_context)"
            )
        context = given[0]
        if self.run_status is DagsterRunStatus.FAILURE:
            context = context.for_run_failure()
        return self._fn(context)


def run_status_sensor(
    run_status: DagsterRunStatus,
    name: str | None = None,
    minimum_interval_seconds: int | None = None,
    description: str | None = None,
    monitored_jobs: Sequence[Any] | None = None,
    job_selection: Sequence[Any] | None = None,
    monitor_all_code_locations: bool | None = None,
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
    request_job: Any = None,
    request_jobs: Sequence[Any] | None = None,
    monitor_all_repositories: bool | None = None,
    tags: Mapping[str, str] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Callable[[Callable[..., Any]], RunStatusSensorDefinition]:
    """Turn ``fn(context)`` into a sensor called for each monitored run that reaches
    ``run_status``."""

    def wrap(fn: Callable[..., Any]) -> RunStatusSensorDefinition:
        return RunStatusSensorDefinition(
            name=name or fn.__name__,
            run_status=run_status,
            run_status_sensor_fn=fn,
            minimum_interval_seconds=minimum_interval_seconds,
            description=description,
            monitored_jobs=monitored_jobs if monitored_jobs is not None else job_selection,
            monitor_all_code_locations=monitor_all_code_locations or monitor_all_repositories,
            default_status=default_status,
            request_job=request_job,
            request_jobs=request_jobs,
            tags=tags,
            metadata=metadata,
        )

    return wrap


def run_failure_sensor(
    name: Callable[..., Any] | str | None = None,
    minimum_interval_seconds: int | None = None,
    description: str | None = None,
    monitored_jobs: Sequence[Any] | None = None,
    job_selection: Sequence[Any] | None = None,
    monitor_all_code_locations: bool | None = None,
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
    request_job: Any = None,
    request_jobs: Sequence[Any] | None = None,
    monitor_all_repositories: bool | None = None,
    tags: Mapping[str, str] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Any:
    """``@run_failure_sensor`` or ``@run_failure_sensor(...)``: a run status sensor for
    ``DagsterRunStatus.FAILURE`` whose function gets a ``RunFailureSensorContext``."""
    if callable(name):
        return run_status_sensor(DagsterRunStatus.FAILURE)(name)
    return run_status_sensor(
        DagsterRunStatus.FAILURE,
        name=name,
        minimum_interval_seconds=minimum_interval_seconds,
        description=description,
        monitored_jobs=monitored_jobs,
        job_selection=job_selection,
        monitor_all_code_locations=monitor_all_code_locations,
        default_status=default_status,
        request_job=request_job,
        request_jobs=request_jobs,
        monitor_all_repositories=monitor_all_repositories,
        tags=tags,
        metadata=metadata,
    )
