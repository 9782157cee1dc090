"""Schedules: ``ScheduleDefinition``, ``@schedule`` and their evaluation context."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .cron import check_cron_schedule, check_timezone
from .errors import (
    DagsterInvalidDefinitionError,
    DagsterInvalidInvocationError,
    DagsterInvariantViolationError,
    ScheduleExecutionError,
)
from .instigator import (
    SCHEDULE_NAME_TAG,
    DefaultScheduleStatus,
    as_job,
    check_valid_name,
    direct_call,
    flatten,
    resolve_partition,
    takes_context,
)
from .job import JobDefinition
from .resource import Resources
from .run_request import RunRequest, SkipReason, tag_value

logger = logging.getLogger("opgrid.schedule")


class ScheduleEvaluationContext:
    """What a schedule's function sees on a tick.

    Args:
        instance_ref: accepted for compatibility; opgrid has no instance.
        scheduled_execution_time: the tick's time, in the schedule's timezone.
        repository_name: the name of the repository the schedule belongs to.
        schedule_name: the schedule's name.
        resources: plain objects, as ``context.resources.<key>``.
        repository_def: the repository the schedule belongs to.
    """

    def __init__(
        self,
        instance_ref: Any = None,
        scheduled_execution_time: datetime | None = None,
        log_key: Sequence[str] | None = None,
        repository_name: str | None = None,
        schedule_name: str | None = None,
        resources: Mapping[str, Any] | None = None,
        repository_def: Any = None,
    ) -> None:
        self._scheduled_execution_time = scheduled_execution_time
        self.repository_name = repository_name
        self.schedule_name = schedule_name
        self.repository_def = repository_def
        self.resources = Resources(resources or {}, "this schedule context")
        self.log = logger
        self.log_key = list(log_key) if log_key else None
        self.instance = None
        self.instance_ref = instance_ref

    def __enter__(self) -> ScheduleEvaluationContext:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    @property
    def scheduled_execution_time(self) -> datetime:
        """The time the tick is for; raises when the context was built without one."""
        if self._scheduled_execution_time is None:
            raise DagsterInvariantViolationError(
                "Attempting to access scheduled_execution_time, but no "
                "scheduled_execution_time was set on this context"
            )
        return self._scheduled_execution_time

    @property
    def has_scheduled_execution_time(self) -> bool:
        return self._scheduled_execution_time is not None


def build_schedule_context(
    instance: Any = None,
    scheduled_execution_time: datetime | None = None,
    resources: Mapping[str, Any] | None = None,
    repository_def: Any = None,
    instance_ref: Any = None,
) -> ScheduleEvaluationContext:
    """A context for evaluating a schedule outside a scheduler, as in a unit test.

    Args:
        instance: accepted for compatibility; opgrid has no instance.
        scheduled_execution_time: the tick's time.
        resources: plain objects, as ``context.resources.<key>``.
        repository_def: the repository the schedule belongs to.
        instance_ref: accepted for compatibility.
    """
    return ScheduleEvaluationContext(
        instance_ref=instance_ref,
        scheduled_execution_time=scheduled_execution_time,
        resources=resources,
        repository_def=repository_def,
    )


@dataclass(frozen=True, slots=True)
class DecoratedScheduleFunction:
    """The function ``@schedule`` decorated; only such schedules can be called directly."""

    decorated_fn: Callable[..., Any]


@dataclass(frozen=True, slots=True)
class ScheduleExecutionData:
    """What one evaluation of a schedule produced: run requests, or why it skipped."""

    run_requests: list[RunRequest] = field(default_factory=list)
    skip_message: str | None = None


class ScheduleDefinition:
    """A job run on a cron schedule.

    After downtime the scheduler evaluates only the latest missed tick
    (``max_catchup_ticks`` is 1); schedules of partitioned jobs catch up on more.

    Args:
        name: defaults to ``<job name>_schedule``.
        cron_schedule: a five-field cron string, an ``@daily``-style alias, or several.
        job_name: the job's name, when ``job`` is not given.
        run_config: the config of every run.
        run_config_fn: ``fn(context) -> run config`` instead of a fixed one.
        tags: the tags of every run.
        tags_fn: ``fn(context) -> tags`` instead of fixed ones.
        should_execute: ``fn(context) -> bool``; a tick where it says False is skipped.
        execution_timezone: the IANA timezone the cron string is read in (UTC if None).
        execution_fn: ``fn(context)`` returning run requests, run config or a skip reason.
        description: shown in tooling.
        job: the job (or graph) the schedule runs.
        default_status: whether the schedule runs before anyone turns it on.
    """

    #: How many missed ticks the scheduler evaluates after downtime.
    max_catchup_ticks = 1

    def __init__(
        self,
        name: str | None = None,
        *,
        cron_schedule: str | Sequence[str] | None = None,
        job_name: str | None = None,
        run_config: Mapping[str, Any] | None = None,
        run_config_fn: Callable[..., Any] | None = None,
        tags: Mapping[str, str] | None = None,
        tags_fn: Callable[..., Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        should_execute: Callable[..., bool] | None = None,
        environment_vars: Mapping[str, str] | None = None,
        execution_timezone: str | None = None,
        execution_fn: Callable[..., Any] | DecoratedScheduleFunction | None = None,
        description: str | None = None,
        job: Any = None,
        default_status: DefaultScheduleStatus = DefaultScheduleStatus.STOPPED,
        required_resource_keys: set[str] | None = None,
        target: Any = None,
        owners: Sequence[str] | None = None,
    ) -> None:
        job = job if job is not None else target
        if job is None and job_name is None:
            raise DagsterInvalidDefinitionError(
                f"schedule {name or ''!r}: give the job it runs (job=, target= or job_name=)"
            )
        self._job = as_job(job, f"schedule {name!r}") if job is not None else None
        self._job_name = self._job.name if self._job is not None else job_name
        self.name = check_valid_name(name or f"{self._job_name}_schedule")
        if cron_schedule is None:
            raise DagsterInvalidDefinitionError(f"schedule {self.name!r} needs a cron_schedule")
        check_cron_schedule(cron_schedule, name)
        check_timezone(execution_timezone, name)
        _one_of("run_config", run_config, "run_config_fn", run_config_fn)
        _one_of("tags", tags, "tags_fn", tags_fn)
        self.cron_schedule = cron_schedule
        self.execution_timezone = execution_timezone
        self.description = description
        self.default_status = default_status
        self.tags: dict[str, str] = {str(k): tag_value(v) for k, v in (tags or {}).items()}
        self.metadata = dict(metadata or {})
        self.environment_vars = dict(environment_vars or {})
        self.required_resource_keys = set(required_resource_keys or ())
        self.owners = list(owners or ())
        self._run_config = dict(run_config or {})
        self._run_config_fn = run_config_fn
        self._tags_fn = tags_fn
        self._should_execute = should_execute
        self._execution_fn = execution_fn

    @property
    def job_name(self) -> str:
        assert self._job_name is not None
        return self._job_name

    @property
    def job(self) -> JobDefinition:
        """The job the schedule runs; raises when it was given by name only."""
        if self._job is None:
            raise DagsterInvalidDefinitionError(
                f"schedule {self.name!r} names job {self._job_name!r} but does not hold it"
            )
        return self._job

    def has_job(self) -> bool:
        return self._job is not None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the decorated function directly: ``my_schedule(context)``."""
        fn = self._execution_fn
        if not isinstance(fn, DecoratedScheduleFunction):
            raise DagsterInvalidInvocationError(
                "Schedule invocation is only supported for schedules created via the schedule "
                "decorators."
            )
        return direct_call(fn.decorated_fn, "Schedule", ScheduleEvaluationContext, args, kwargs)

    def evaluate_tick(self, context: ScheduleEvaluationContext) -> ScheduleExecutionData:
        """Run the schedule's function(s) for one tick and collect its run requests.

        Raises:
            ScheduleExecutionError: the user's code raised (chained as the cause).
            DagsterInvariantViolationError: the function returned something a schedule
                cannot return.
        """
        if context.schedule_name is None:
            context.schedule_name = self.name
        try:
            if self._should_execute is not None and not self._call(self._should_execute, context):
                return ScheduleExecutionData(
                    skip_message=f"should_execute function for {self.name} returned false."
                )
            items = flatten(self._evaluate(context))
            tags = self._tags_for(context)
        except Exception as exc:
            raise ScheduleExecutionError(
                f"Error occurred during the evaluation of schedule {self.name}"
            ) from exc
        return self._collect(items, tags)

    def _evaluate(self, context: ScheduleEvaluationContext) -> Any:
        if self._execution_fn is not None:
            return self._call(self._execution_fn, context)
        if self._run_config_fn is not None:
            return self._call(self._run_config_fn, context) or {}
        return self._run_config

    def _tags_for(self, context: ScheduleEvaluationContext) -> Mapping[str, Any]:
        return (self._call(self._tags_fn, context) or {}) if self._tags_fn else self.tags

    @staticmethod
    def _call(
        fn: Callable[..., Any] | DecoratedScheduleFunction, context: ScheduleEvaluationContext
    ) -> Any:
        if isinstance(fn, DecoratedScheduleFunction):
            fn = fn.decorated_fn
        return fn(context) if takes_context(fn) else fn()

    def _collect(self, items: list[Any], tags: Mapping[str, Any]) -> ScheduleExecutionData:
        if not items:
            return ScheduleExecutionData(skip_message="Schedule function returned an empty result")
        if len(items) == 1 and isinstance(items[0], SkipReason):
            return ScheduleExecutionData(skip_message=items[0].skip_message)
        if len(items) == 1 and isinstance(items[0], Mapping):
            items = [RunRequest(run_config=items[0], tags=tags)]
        requests = []
        for item in items:
            if not isinstance(item, RunRequest):
                raise DagsterInvariantViolationError(
                    f"schedule {self.name!r} returned {item!r} of type {type(item).__name__}; "
                    "a schedule returns a RunRequest, a list of them, a run config dict or a "
                    "SkipReason (and never a SkipReason alongside RunRequests)"
                )
            request = resolve_partition(item, self._job, f"schedule {self.name!r}")
            requests.append(request.with_tags({SCHEDULE_NAME_TAG: self.name}))
        return ScheduleExecutionData(run_requests=requests)


def _one_of(name: str, value: Any, fn_name: str, fn: Any) -> None:
    if value is not None and fn is not None:
        raise DagsterInvalidDefinitionError(
            f"Attempted to provide both {fn_name} and {name} as arguments to "
            "ScheduleDefinition. Must provide only one of the two."
        )


def schedule(
    cron_schedule: str | Sequence[str],
    *,
    job_name: str | None = None,
    name: str | None = None,
    tags: Mapping[str, str] | None = None,
    tags_fn: Callable[..., Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    should_execute: Callable[..., bool] | None = None,
    environment_vars: Mapping[str, str] | None = None,
    execution_timezone: str | None = None,
    description: str | None = None,
    job: Any = None,
    default_status: DefaultScheduleStatus = DefaultScheduleStatus.STOPPED,
    required_resource_keys: set[str] | None = None,
    target: Any = None,
    owners: Sequence[str] | None = None,
) -> Callable[[Callable[..., Any]], ScheduleDefinition]:
    """Turn ``fn(context)`` into a schedule; it returns a ``RunRequest``, a list of them, a
    run config dict or a ``SkipReason``, or yields ``RunRequest``s."""

    def wrap(fn: Callable[..., Any]) -> ScheduleDefinition:
        return ScheduleDefinition(
            name=name or fn.__name__,
            cron_schedule=cron_schedule,
            job_name=job_name,
            tags=tags,
            tags_fn=tags_fn,
            metadata=metadata,
            should_execute=should_execute,
            environment_vars=environment_vars,
            execution_timezone=execution_timezone,
            execution_fn=DecoratedScheduleFunction(fn),
            description=description,
            job=job,
            default_status=default_status,
            required_resource_keys=required_resource_keys,
            target=target,
            owners=owners,
        )

    return wrap
