"""The GraphQL mutations of schedules, sensors and backfills, Dagster's names:
``startSchedule``/``stopRunningSchedule``, ``startSensor``/``stopSensor`` and
``cancelPartitionBackfill`` (``AutomationMutation``, mixed into the schema's ``Mutation``).
They change Redis through the same functions as the CLI (``scheduler.control``).

Every mutation passed the server's token and CSRF checks (``auth``) before it gets here.
"""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from .. import automation as a
from ..cluster import (
    BackfillNotFound,
    DagsterInvariantViolationError,
    InstigatorNotFound,
    InstigatorType,
    StorageError,
)
from ..state import UIState
from . import automation_types as g
from . import types as t
from .automation import (
    ScheduleSelector,
    SensorSelector,
    find,
    instigation_state,
    python_error,
    schedule_missing,
    selection,
    sensor,
    sensor_missing,
)
from .context import ui_state


def _origin(kind: InstigatorType, *ids: str | None) -> str | None:
    """The name in the first id given (an ``InstigationState.id``: ``<kind>:<name>``)."""
    given = next((i for i in ids if i), None)
    if given is None:
        return None
    prefix = f"{kind.value}:"
    return given.removeprefix(prefix) if given.startswith(prefix) else given


def _switch(state: UIState, kind: InstigatorType, name: str, running: bool) -> a.Instigator:
    """Turn it on or off, then read it back.

    Raises:
        InstigatorNotFound: no such schedule or sensor.
    """
    a.switch(state, kind, name, running)
    item = a.instigator(state, kind, name)
    if item is None:
        raise InstigatorNotFound(f"no {kind.value} {name!r}")
    return item


def _start(
    info: Info[Any, Any], selector: ScheduleSelector | SensorSelector
) -> tuple[UIState, a.Instigator] | None:
    """Start the schedule or sensor ``selector`` names: (the UI state, the instigator), or
    None when there is no such one in that location."""
    state = ui_state(info)
    if find(state, selector) is None:
        return None
    kind, name = selection(selector)
    return state, _switch(state, kind, name, True)


def _stop(
    info: Info[Any, Any],
    kind: InstigatorType,
    ids: tuple[str | None, str | None, str | None],
    needs: str,
) -> tuple[UIState, a.Instigator] | str | t.PythonError:
    """Stop the schedule or sensor one of ``ids`` names: (the UI state, the instigator),
    or the name when there is no such one, or the error when none of ``ids`` is given."""
    name = _origin(kind, *ids)
    if name is None:
        return t.PythonError(message=needs, class_name="DagsterInvariantViolationError", stack=[])
    state = ui_state(info)
    try:
        return state, _switch(state, kind, name, False)
    except InstigatorNotFound:
        return name


@strawberry.type
class AutomationMutation:
    @strawberry.mutation
    def start_schedule(
        self, info: Info[Any, Any], schedule_selector: ScheduleSelector
    ) -> g.ScheduleMutationResult:
        started = _start(info, schedule_selector)
        if started is None:
            return schedule_missing(schedule_selector.schedule_name)
        return g.ScheduleStateResult(schedule_state=instigation_state(*started))

    @strawberry.mutation
    def stop_running_schedule(
        self,
        info: Info[Any, Any],
        id: str | None = None,
        schedule_origin_id: str | None = None,
        schedule_selector_id: str | None = None,
    ) -> g.ScheduleMutationResult:
        kind = InstigatorType.SCHEDULE
        ids = (id, schedule_origin_id, schedule_selector_id)
        stopped = _stop(
            info, kind, ids, "stopRunningSchedule needs id, scheduleOriginId or scheduleSelectorId"
        )
        if isinstance(stopped, str):
            return schedule_missing(stopped)
        if isinstance(stopped, t.PythonError):
            return stopped
        return g.ScheduleStateResult(schedule_state=instigation_state(*stopped))

    @strawberry.mutation
    def start_sensor(
        self, info: Info[Any, Any], sensor_selector: SensorSelector
    ) -> g.SensorOrError:
        started = _start(info, sensor_selector)
        if started is None:
            return sensor_missing(sensor_selector.sensor_name)
        return sensor(*started)

    @strawberry.mutation
    def stop_sensor(
        self,
        info: Info[Any, Any],
        id: str | None = None,
        job_origin_id: str | None = None,
        job_selector_id: str | None = None,
    ) -> g.StopSensorMutationResultOrError:
        kind = InstigatorType.SENSOR
        ids = (id, job_origin_id, job_selector_id)
        stopped = _stop(info, kind, ids, "stopSensor needs id, jobOriginId or jobSelectorId")
        if isinstance(stopped, str):
            return sensor_missing(stopped)
        if isinstance(stopped, t.PythonError):
            return stopped
        return g.StopSensorMutationResult(instigation_state=instigation_state(*stopped))

    @strawberry.mutation
    def cancel_partition_backfill(
        self, info: Info[Any, Any], backfill_id: str
    ) -> g.CancelBackfillResult:
        try:
            ui_state(info).cluster.cancel_backfill(backfill_id)
        except BackfillNotFound as exc:
            return g.BackfillNotFoundError(message=str(exc), backfill_id=backfill_id)
        except (DagsterInvariantViolationError, StorageError) as exc:
            return python_error(exc)
        return g.CancelBackfillSuccess(backfill_id=backfill_id)
