"""One tick of a schedule or sensor: call the user's function, describe what it asked for.

``evaluate_tick(location, request)`` is what runs where the user's code lives: the
request (what the scheduler recorded: tick time, cursor, last run key, run status
changes) arrives as JSON, and the result goes back as JSON. User errors never raise;
they become a ``FAILURE`` result carrying the user's exception type, message and stack.
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from opgrid.code_location import CodeLocation
from opgrid.context import DagsterRun
from opgrid.errors import DagsterInvariantViolationError, ScheduleExecutionError
from opgrid.event_type import DagsterEventType
from opgrid.run_request import RunRequest
from opgrid.run_status_sensor import (
    STATUS_EVENT_TYPES,
    DagsterRunStatus,
    RunStatusEvent,
    RunStatusSensorContext,
    RunStatusSensorDefinition,
)
from opgrid.schedule import ScheduleDefinition, ScheduleEvaluationContext
from opgrid.sensor import SensorDefinition, SensorEvaluationContext

_MODEL = ConfigDict(frozen=True, extra="forbid")


class InstigatorType(str, Enum):
    """What kind of definition a tick belongs to; the value is stored as-is."""

    SCHEDULE = "schedule"
    SENSOR = "sensor"


class TickStatus(str, Enum):
    """How a tick ended; the value is stored as-is."""

    SUCCESS = "success"  # it requested runs
    SKIPPED = "skipped"  # it requested none
    FAILURE = "failure"  # the user's code raised or returned something invalid


class TickError(BaseModel):
    """The exception a tick failed with, as text."""

    model_config = _MODEL

    cls_name: str
    message: str
    stack: str = ""

    @staticmethod
    def from_exception(exc: BaseException) -> TickError:
        stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return TickError(cls_name=type(exc).__name__, message=str(exc), stack=stack)


class RequestedRun(BaseModel):
    """A run a tick asked for, as plain data."""

    model_config = _MODEL

    job_name: str
    run_config: dict[str, Any] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    run_key: str | None = None
    partition_key: str | None = None


class RunStatusChange(BaseModel):
    """A run that reached a status, as the store reports it to run status sensors.

    The scheduler passes the changes after the sensor's cursor, oldest first; the result's
    cursor is the position of the last one. A sensor without a cursor yet should start
    from the store's newest position (as Dagster's does), not from the first run ever.
    """

    model_config = _MODEL

    position: str  # where the change sits in the store's order; becomes the cursor
    run_id: str
    job_name: str
    status: DagsterRunStatus
    tags: dict[str, str] = Field(default_factory=dict)
    run_config: dict[str, Any] = Field(default_factory=dict)
    message: str = ""
    failed_steps: dict[str, str] = Field(default_factory=dict)  # step key -> error message


class TickRequest(BaseModel):
    """What the scheduler recorded about a schedule or sensor, for one tick."""

    model_config = _MODEL

    schema_version: Literal[1] = 1
    instigator_type: InstigatorType
    name: str
    scheduled_ts: float | None = None  # schedules: the tick's time
    cursor: str | None = None
    last_run_key: str | None = None
    last_tick_completion_ts: float | None = None
    last_sensor_start_ts: float | None = None
    run_status_changes: list[RunStatusChange] = Field(default_factory=list)


class TickResult(BaseModel):
    """What one tick produced; crosses the broker and is recorded in Redis."""

    model_config = _MODEL

    schema_version: Literal[1] = 1
    instigator_type: InstigatorType
    name: str
    status: TickStatus
    scheduled_ts: float | None = None
    run_requests: list[RequestedRun] = Field(default_factory=list)
    skip_reason: str | None = None
    error: TickError | None = None
    cursor: str | None = None  # the cursor to store (sensors); unchanged on failure


def evaluate_tick(location: CodeLocation, request: TickRequest) -> TickResult:
    """Evaluate one tick of the schedule or sensor ``request`` names, never raising for
    errors of the user's code or of the definitions."""
    try:
        if request.instigator_type is InstigatorType.SCHEDULE:
            result = _schedule_tick(location, request)
        else:
            sensor_def = location.get_sensor(request.name)
            if isinstance(sensor_def, RunStatusSensorDefinition):
                result = _run_status_tick(location, sensor_def, request)
            else:
                result = _sensor_tick(location, sensor_def, request)
        return _as_sent(result)
    except Exception as exc:
        return _failure(request, exc)


def _schedule_tick(location: CodeLocation, request: TickRequest) -> TickResult:
    schedule_def = location.get_schedule(request.name)
    if request.scheduled_ts is None:
        raise DagsterInvariantViolationError(
            f"a tick of schedule {request.name!r} needs its scheduled time"
        )
    zone = ZoneInfo(schedule_def.execution_timezone or "UTC")
    context = ScheduleEvaluationContext(
        scheduled_execution_time=datetime.fromtimestamp(request.scheduled_ts, zone),
        repository_name=location.name,
        schedule_name=schedule_def.name,
    )
    data = schedule_def.evaluate_tick(context)
    runs = [_plain(location, schedule_def, run) for run in data.run_requests]
    return _outcome(request, runs, data.skip_message, None)


def _sensor_tick(
    location: CodeLocation, sensor_def: SensorDefinition, request: TickRequest
) -> TickResult:
    context = SensorEvaluationContext(
        last_tick_completion_time=request.last_tick_completion_ts,
        last_run_key=request.last_run_key,
        cursor=request.cursor,
        repository_name=location.name,
        sensor_name=sensor_def.name,
        last_sensor_start_time=request.last_sensor_start_ts,
    )
    data = sensor_def.evaluate_tick(context)
    runs = [_plain(location, sensor_def, run) for run in data.run_requests]
    return _outcome(request, runs, data.skip_message, data.cursor)


def _run_status_tick(
    location: CodeLocation, sensor_def: RunStatusSensorDefinition, request: TickRequest
) -> TickResult:
    runs: list[RequestedRun] = []
    skips: list[str] = []
    for change in request.run_status_changes:
        if not _watched(location, sensor_def, change):
            continue
        tick_context = SensorEvaluationContext(
            cursor=request.cursor, repository_name=location.name, sensor_name=sensor_def.name
        )
        context = RunStatusSensorContext(
            sensor_def.name,
            DagsterRun(change.run_id, change.job_name, change.tags, change.run_config),
            _status_event(change),
            context=tick_context,
            step_failure_events=_step_failures(change),
        )
        data = sensor_def.evaluate_for_run(context)
        runs += [_plain(location, sensor_def, run) for run in data.run_requests]
        if data.skip_message and not data.run_requests:
            skips.append(data.skip_message)
    changes = request.run_status_changes
    cursor = changes[-1].position if changes else request.cursor
    if not runs and not skips:
        skips.append(
            f"no run of a monitored job reached {sensor_def.run_status.value} since the cursor"
        )
    return _outcome(request, runs, "; ".join(dict.fromkeys(skips)) or None, cursor)


def _watched(
    location: CodeLocation, sensor_def: RunStatusSensorDefinition, change: RunStatusChange
) -> bool:
    """Whether the change calls the sensor; with no monitored jobs it watches every job of
    its code location (every job anywhere with ``monitor_all_code_locations``)."""
    if not sensor_def.watches(change.job_name, change.status):
        return False
    if sensor_def.monitored_job_names or sensor_def.monitor_all_code_locations:
        return True
    return change.job_name in location.jobs


def _status_event(change: RunStatusChange) -> RunStatusEvent:
    kind = STATUS_EVENT_TYPES.get(change.status)
    value = kind.value if kind is not None else change.status.value
    return RunStatusEvent(value, change.job_name, change.message)


def _step_failures(change: RunStatusChange) -> list[RunStatusEvent]:
    kind = DagsterEventType.STEP_FAILURE.value
    return [
        RunStatusEvent(kind, change.job_name, message, step_key)
        for step_key, message in change.failed_steps.items()
    ]


def _plain(
    location: CodeLocation, owner: ScheduleDefinition | SensorDefinition, run: RunRequest
) -> RequestedRun:
    """A run request as data, its job resolved and known to the code location."""
    job_name = run.job_name or _only_job(owner)
    if job_name not in location.jobs:
        kind = "schedule" if isinstance(owner, ScheduleDefinition) else "sensor"
        raise DagsterInvariantViolationError(
            f"{kind} {owner.name!r} requested a run of job {job_name!r}, which code location "
            f"{location.name!r} does not have (jobs: {', '.join(sorted(location.jobs)) or 'none'})"
        )
    return RequestedRun(
        job_name=job_name,
        run_config=dict(run.run_config),
        tags=dict(run.tags),
        run_key=run.run_key,
        partition_key=run.partition_key,
    )


def _only_job(owner: ScheduleDefinition | SensorDefinition) -> str:
    name = owner.job_name
    if name is None:  # a sensor without a target; evaluate_tick refuses its requests first
        raise DagsterInvariantViolationError(f"sensor {owner.name!r} has no job to run")
    return name


def _outcome(
    request: TickRequest, runs: Sequence[RequestedRun], skip: str | None, cursor: str | None
) -> TickResult:
    return TickResult(
        instigator_type=request.instigator_type,
        name=request.name,
        status=TickStatus.SUCCESS if runs else TickStatus.SKIPPED,
        scheduled_ts=request.scheduled_ts,
        run_requests=list(runs),
        skip_reason=None if runs else skip,
        cursor=cursor,
    )


def _as_sent(result: TickResult) -> TickResult:
    """The result as the receiver will read it: through JSON, so a run config that JSON
    cannot carry fails the tick here, with the instigator named."""
    try:
        return TickResult.model_validate_json(result.model_dump_json())
    except ValueError as exc:  # pydantic's serialization errors are ValueErrors
        raise DagsterInvariantViolationError(
            f"{result.instigator_type.value} {result.name!r} requested a run whose run config "
            f"or tags cannot be sent as JSON: {exc}"
        ) from exc


def _failure(request: TickRequest, exc: Exception) -> TickResult:
    user_exc = exc.__cause__ if isinstance(exc, ScheduleExecutionError) and exc.__cause__ else exc
    return TickResult(
        instigator_type=request.instigator_type,
        name=request.name,
        status=TickStatus.FAILURE,
        scheduled_ts=request.scheduled_ts,
        error=TickError.from_exception(user_exc),
        cursor=request.cursor,
    )
