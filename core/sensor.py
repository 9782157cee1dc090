"""Sensors: ``SensorDefinition``, ``@sensor`` and their evaluation context with a cursor."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import DagsterInvalidDefinitionError, DagsterInvariantViolationError
from .instigator import (
    SENSOR_NAME_TAG,
    DefaultSensorStatus,
    as_job,
    check_valid_name,
    direct_call,
    flatten,
    resolve_partition,
    takes_context,
)
from .job import JobDefinition
from .resource import Resources
from .run_request import RunRequest, SensorResult, SkipReason, tag_value

logger = logging.getLogger("opgrid.sensor")

#: How often a sensor is evaluated when it does not say (Dagster's default).
DEFAULT_SENSOR_INTERVAL_S = 30


class SensorEvaluationContext:
    """What a sensor's function sees on a tick: its cursor and the last run key it launched.

    Args:
        instance_ref: accepted for compatibility; opgrid has no instance.
        last_tick_completion_time: when the previous tick finished (seconds since the epoch).
        last_run_key: the run key of the last run this sensor launched.
        cursor: the cursor the previous tick left.
        repository_name: the name of the repository the sensor belongs to.
        repository_def: the repository the sensor belongs to.
        sensor_name: the sensor's name.
        resources: plain objects, as ``context.resources.<key>``.
        last_sensor_start_time: when the sensor was last turned on.
    """

    def __init__(
        self,
        instance_ref: Any = None,
        last_tick_completion_time: float | None = None,
        last_run_key: str | None = None,
        cursor: str | None = None,
        log_key: Sequence[str] | None = None,
        repository_name: str | None = None,
        repository_def: Any = None,
        instance: Any = None,
        sensor_name: str | None = None,
        resources: Mapping[str, Any] | None = None,
        definitions: Any = None,
        last_sensor_start_time: float | None = None,
        **kwargs: Any,
    ) -> None:
        self._cursor = cursor
        self._cursor_updated = False
        self.last_run_key = last_run_key
        self.last_tick_completion_time = last_tick_completion_time
        self.last_completion_time = last_tick_completion_time
        self.last_sensor_start_time = last_sensor_start_time
        self.repository_name = repository_name
        self.repository_def = repository_def
        self.definitions = definitions
        self.sensor_name = sensor_name
        self.resources = Resources(resources or {}, "this sensor context")
        self.instance = instance
        self.instance_ref = instance_ref
        self.log = logger
        self.log_key = list(log_key) if log_key else None

    def __enter__(self) -> SensorEvaluationContext:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    @property
    def cursor(self) -> str | None:
        """The cursor: whatever string the sensor last stored with ``update_cursor``."""
        return self._cursor

    @property
    def cursor_updated(self) -> bool:
        return self._cursor_updated

    def update_cursor(self, cursor: str | None) -> None:
        """Store a new cursor; the next tick sees it as ``context.cursor``."""
        if cursor is not None and not isinstance(cursor, str):
            raise DagsterInvariantViolationError(
                f'Param "cursor" is not a str. Got {cursor!r} which is type {type(cursor)}.'
            )
        self._cursor = cursor
        self._cursor_updated = True


def build_sensor_context(
    instance: Any = None,
    cursor: str | None = None,
    repository_name: str | None = None,
    repository_def: Any = None,
    sensor_name: str | None = None,
    resources: Mapping[str, Any] | None = None,
    definitions: Any = None,
    instance_ref: Any = None,
    last_sensor_start_time: float | None = None,
) -> SensorEvaluationContext:
    """A context for evaluating a sensor outside a daemon, as in a unit test.

    Args:
        instance: accepted for compatibility; opgrid has no instance.
        cursor: the cursor the sensor starts from.
        repository_name: the name of the repository the sensor belongs to.
        repository_def: the repository the sensor belongs to.
        sensor_name: the sensor's name.
        resources: plain objects, as ``context.resources.<key>``.
        definitions: the ``Definitions`` the sensor belongs to.
        instance_ref: accepted for compatibility.
        last_sensor_start_time: when the sensor was last turned on.
    """
    return SensorEvaluationContext(
        instance_ref=instance_ref,
        cursor=cursor,
        repository_name=repository_name,
        repository_def=repository_def,
        instance=instance,
        sensor_name=sensor_name,
        resources=resources,
        definitions=definitions,
        last_sensor_start_time=last_sensor_start_time,
    )


@dataclass(frozen=True, slots=True)
class SensorExecutionData:
    """What one evaluation of a sensor produced: run requests or why it skipped, and the
    cursor to store (None: keep the one it had)."""

    run_requests: list[RunRequest] = field(default_factory=list)
    skip_message: str | None = None
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class DecoratedSensorFunction:
    """The function ``@sensor`` decorated; only such sensors can be called directly."""

    decorated_fn: Callable[..., Any]


class SensorDefinition:
    """A function evaluated every ``minimum_interval_seconds`` that may request runs.

    Args:
        name: the sensor's name (the function's for ``@sensor``).
        evaluation_fn: ``fn(context)`` returning or yielding ``RunRequest``s, a
            ``SkipReason`` or a ``SensorResult``.
        job_name: the job's name, when the job itself is not given.
        minimum_interval_seconds: the least time between two ticks (30 by default).
        description: shown in tooling.
        job: the one job the sensor requests runs of.
        jobs: several jobs; each run request then names its ``job_name``.
        default_status: whether the sensor runs before anyone turns it on.
        tags: tags of the sensor itself (not of the runs it requests).
    """

    def __init__(
        self,
        name: str | None = None,
        *,
        evaluation_fn: Callable[..., Any] | DecoratedSensorFunction | None = None,
        job_name: str | None = None,
        minimum_interval_seconds: int | None = None,
        description: str | None = None,
        job: Any = None,
        jobs: Sequence[Any] | None = None,
        default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
        asset_selection: Any = None,
        required_resource_keys: set[str] | None = None,
        tags: Mapping[str, str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        target: Any = None,
        owners: Sequence[str] | None = None,
    ) -> None:
        if evaluation_fn is None:
            raise DagsterInvalidDefinitionError(f"sensor {name!r} needs an evaluation_fn")
        job = job if job is not None else target
        given = [p for p in (job, jobs, job_name, asset_selection) if p is not None]
        if len(given) > 1:
            raise DagsterInvalidDefinitionError(
                "Attempted to provide more than one of 'job', 'jobs', 'job_name', and "
                "'asset_selection' params to SensorDefinition. Must provide only one."
            )
        self.name = check_valid_name(name or str(getattr(evaluation_fn, "__name__", "")))
        if asset_selection is not None:
            raise DagsterInvalidDefinitionError(
                f"sensor {self.name!r}: asset_selection needs assets, which opgrid does not have"
            )
        targets = [job] if job is not None else list(jobs or ())
        self._jobs: list[JobDefinition] = [as_job(t, f"sensor {self.name!r}") for t in targets]
        self._job_names = [j.name for j in self._jobs] or ([job_name] if job_name else [])
        self.minimum_interval_seconds = _interval(self.name, minimum_interval_seconds)
        self.description = description
        self.default_status = default_status
        self.tags: dict[str, str] = {str(k): tag_value(v) for k, v in (tags or {}).items()}
        self.metadata = dict(metadata or {})
        self.required_resource_keys = set(required_resource_keys or ())
        self.owners = list(owners or ())
        self._evaluation_fn = evaluation_fn

    @property
    def job_name(self) -> str | None:
        """The one job's name (None for a sensor without a target)."""
        if len(self._job_names) > 1:
            raise DagsterInvalidDefinitionError(
                "job_name property not available when SensorDefinition has multiple jobs."
            )
        return self._job_names[0] if self._job_names else None

    @property
    def job(self) -> JobDefinition:
        if len(self._jobs) != 1:
            raise DagsterInvalidDefinitionError(
                f"sensor {self.name!r} targets {len(self._jobs)} jobs; use .jobs"
            )
        return self._jobs[0]

    @property
    def jobs(self) -> list[JobDefinition]:
        return list(self._jobs)

    @property
    def job_names(self) -> list[str]:
        return list(self._job_names)

    def has_jobs(self) -> bool:
        return bool(self._jobs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the decorated function directly: ``my_sensor(context)``."""
        fn = self._evaluation_fn
        inner = fn.decorated_fn if isinstance(fn, DecoratedSensorFunction) else fn
        return direct_call(inner, "Sensor", SensorEvaluationContext, args, kwargs)

    def evaluate_tick(self, context: SensorEvaluationContext) -> SensorExecutionData:
        """Run the sensor's function for one tick and collect its run requests and cursor.

        The user's exceptions propagate unchanged, as in Dagster.

        Raises:
            DagsterInvariantViolationError: the function returned something a sensor cannot
                return, or a run request names no job (or one the sensor does not target).
        """
        if context.sensor_name is None:
            context.sensor_name = self.name
        items = flatten(self._call(context))
        return self.collect(items, context)

    def _call(self, context: SensorEvaluationContext) -> Any:
        fn = self._evaluation_fn
        inner = fn.decorated_fn if isinstance(fn, DecoratedSensorFunction) else fn
        return inner(context) if takes_context(inner) else inner()

    def collect(self, items: list[Any], context: SensorEvaluationContext) -> SensorExecutionData:
        """Turn what the function returned into run requests, a skip message and a cursor."""
        cursor = context.cursor
        if len(items) > 1 and any(isinstance(item, SensorResult) for item in items):
            raise DagsterInvariantViolationError(
                "When a SensorResult is returned from a sensor, it must be the only object "
                "returned."
            )
        if len(items) == 1 and isinstance(items[0], SensorResult):
            result = items[0]
            if result.cursor is not None and context.cursor_updated:
                raise DagsterInvariantViolationError(
                    "SensorResult.cursor cannot be set if context.update_cursor() was called."
                )
            cursor = result.cursor if result.cursor is not None else cursor
            items = list(result.run_requests) + ([result.skip_reason] if result.skip_reason else [])
        if not items:
            return SensorExecutionData(
                skip_message="Sensor function returned an empty result", cursor=cursor
            )
        skips = [item for item in items if isinstance(item, SkipReason)]
        if skips:
            if len(items) > 1:
                raise DagsterInvariantViolationError(self._mixed_message(skips, items))
            return SensorExecutionData(skip_message=skips[0].skip_message, cursor=cursor)
        requests = [self._resolve(item) for item in items]
        return SensorExecutionData(run_requests=requests, cursor=cursor)

    def _mixed_message(self, skips: list[SkipReason], items: list[Any]) -> str:
        if len(skips) == len(items):
            return "Expected a single SkipReason: received multiple SkipReasons"
        return (
            "Expected a single SkipReason or one or more RunRequests: received both RunRequest "
            "and SkipReason"
        )

    def _resolve(self, item: Any) -> RunRequest:
        if not isinstance(item, RunRequest):
            raise DagsterInvariantViolationError(
                f"Error in sensor {self.name}: Sensor unexpectedly returned output {item!r} of "
                f"type {type(item)}.  Should only return SkipReason or RunRequest objects."
            )
        job = self._target_of(item)
        request = resolve_partition(item, job, f"sensor {self.name!r}")
        return request.with_tags({SENSOR_NAME_TAG: self.name})

    def _target_of(self, request: RunRequest) -> JobDefinition | None:
        """The job a request is for (None when the sensor names its job without holding it)."""
        names = self._job_names
        if not names:
            raise DagsterInvariantViolationError(
                f"Error in sensor {self.name}: Sensor evaluation function returned a RunRequest "
                "for a sensor lacking a specified target (job_name, job, or jobs). Targets can "
                "be specified by providing job, jobs, or job_name to the @sensor decorator."
            )
        if request.job_name is None and len(names) > 1:
            raise DagsterInvariantViolationError(
                f"Error in sensor {self.name}: Sensor returned a RunRequest that did not "
                f"specify job_name for the requested run. Expected one of: {names}"
            )
        if request.job_name is not None and request.job_name not in names:
            raise DagsterInvariantViolationError(
                f"Error in sensor {self.name}: Sensor returned a RunRequest with job_name "
                f"{request.job_name}. Expected one of: {names}"
            )
        wanted = request.job_name or names[0]
        return next((job for job in self._jobs if job.name == wanted), None)


def _interval(name: str, minimum_interval_seconds: int | None) -> int:
    if minimum_interval_seconds is None:
        return DEFAULT_SENSOR_INTERVAL_S
    if minimum_interval_seconds < 0:
        raise DagsterInvalidDefinitionError(
            f"sensor {name!r}: minimum_interval_seconds must not be negative"
        )
    return minimum_interval_seconds


def sensor(
    job_name: str | None = None,
    *,
    name: str | None = None,
    minimum_interval_seconds: int | None = None,
    description: str | None = None,
    job: Any = None,
    jobs: Sequence[Any] | None = None,
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
    asset_selection: Any = None,
    required_resource_keys: set[str] | None = None,
    tags: Mapping[str, str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    target: Any = None,
    owners: Sequence[str] | None = None,
) -> Callable[[Callable[..., Any]], SensorDefinition]:
    """Turn ``fn(context)`` into a sensor; it yields or returns ``RunRequest``s, a
    ``SkipReason`` or a ``SensorResult``."""

    def wrap(fn: Callable[..., Any]) -> SensorDefinition:
        return SensorDefinition(
            name=name or fn.__name__,
            evaluation_fn=DecoratedSensorFunction(fn),
            job_name=job_name,
            minimum_interval_seconds=minimum_interval_seconds,
            description=description,
            job=job,
            jobs=jobs,
            default_status=default_status,
            asset_selection=asset_selection,
            required_resource_keys=required_resource_keys,
            tags=tags,
            metadata=metadata,
            target=target,
            owners=owners,
        )

    return wrap
