"""The GraphQL fields of schedules, sensors and backfills, Dagster's names:
``schedulesOrError``/``scheduleOrError``, ``sensorsOrError``/``sensorOrError``,
``partitionBackfillsOrError`` (``AutomationQuery``, mixed into the schema's ``Query``);
the mutations are in ``automation_mutations``.
"""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from .. import automation as a
from ..catalog import REPOSITORY
from ..cluster import (
    InstigatorType,
    StorageError,
    TickRecord,
)
from ..runs_query import RunFilter, list_runs
from ..state import UIState
from . import automation_types as g
from . import types as t
from . import workspace as w
from .context import ui_state

#: Our tick statuses as Dagster's.
_TICK_STATUS = {
    "started": g.InstigationTickStatus.STARTED,
    "success": g.InstigationTickStatus.SUCCESS,
    "skipped": g.InstigationTickStatus.SKIPPED,
    "failure": g.InstigationTickStatus.FAILURE,
}
_TYPE = {
    InstigatorType.SCHEDULE: g.InstigationType.SCHEDULE,
    InstigatorType.SENSOR: g.InstigationType.SENSOR,
}
_BACKFILL_STATUS = {
    "requested": g.BulkActionStatus.REQUESTED,
    "completed": g.BulkActionStatus.COMPLETED,
    "canceled": g.BulkActionStatus.CANCELED,
}


@strawberry.input
class RepositorySelector:
    repository_location_name: str
    repository_name: str


@strawberry.input
class ScheduleSelector:
    repository_location_name: str
    repository_name: str
    schedule_name: str


@strawberry.input
class SensorSelector:
    repository_location_name: str
    repository_name: str
    sensor_name: str


def _status(running: bool) -> g.InstigationStatus:
    return g.InstigationStatus.RUNNING if running else g.InstigationStatus.STOPPED


def _runs(state: UIState, run_ids: list[str]) -> list[t.Run]:
    """The runs of ``run_ids`` that still exist, in that order."""
    from .schema import run_of

    if not run_ids:
        return []
    page = list_runs(state.cluster, RunFilter(run_ids=frozenset(run_ids)), len(run_ids))
    by_id = {record.run_id: record for record in page.runs}
    return [run_of(state, by_id[r]) for r in run_ids if r in by_id]


def _tick(state: UIState, tick: TickRecord) -> g.InstigationTick:
    error = None
    if tick.error is not None:
        error = t.PythonError(
            message=tick.error.message,
            class_name=tick.error.cls_name,
            stack=[tick.error.stack] if tick.error.stack else [],
        )
    return g.InstigationTick(
        id=strawberry.ID(f"{tick.origin}:{tick.tick_id}"),
        tick_id=strawberry.ID(tick.tick_id),
        status=_TICK_STATUS.get(tick.status, g.InstigationTickStatus.STARTED),
        instigation_type=_TYPE[tick.kind],
        timestamp=tick.timestamp,
        end_timestamp=tick.completed_ts,
        cursor=tick.cursor,
        skip_reason=tick.skip_reason,
        run_ids=list(tick.run_ids),
        run_keys=list(tick.run_keys),
        error=error,
        runs=_runs(state, list(tick.run_ids)),
    )


def instigation_state(state: UIState, item: a.Instigator) -> g.InstigationState:
    stored = item.state
    data: g.ScheduleData | g.SensorData
    if item.kind is InstigatorType.SCHEDULE:
        data = g.ScheduleData(cron_schedule=item.cron, start_timestamp=stored.started_ts)
    else:
        data = g.SensorData(
            last_tick_timestamp=stored.last_tick_ts,
            last_run_key=stored.last_run_key,
            last_cursor=stored.cursor,
        )
    origin = item.definition.origin
    next_ts = item.next_tick_ts
    return g.InstigationState(
        id=strawberry.ID(origin),
        selector_id=origin,
        name=item.name,
        instigation_type=_TYPE[item.kind],
        status=_status(item.running),
        repository_name=REPOSITORY,
        repository_location_name=item.definition.location,
        type_specific_data=data,
        next_tick=g.DryRunInstigationTick(timestamp=next_ts) if next_ts is not None else None,
        all_ticks=[_tick(state, tick) for tick in a.ticks(state, item.kind, item.name)],
    )


def _schedule(state: UIState, item: a.Instigator) -> g.Schedule:
    return g.Schedule(
        id=strawberry.ID(item.definition.origin),
        name=item.name,
        cron_schedule=item.cron,
        pipeline_name=item.jobs[0] if item.jobs else "",
        execution_timezone=item.definition.info.execution_timezone,
        description=item.definition.info.description,
        default_status=_status(item.definition.default_running),
        schedule_state=instigation_state(state, item),
    )


def sensor(state: UIState, item: a.Instigator) -> g.Sensor:
    stored = instigation_state(state, item)
    return g.Sensor(
        id=strawberry.ID(item.definition.origin),
        job_origin_id=item.definition.origin,
        name=item.name,
        targets=[g.Target(pipeline_name=job) for job in item.jobs],
        min_interval_seconds=int(item.interval_s),
        description=item.definition.info.description,
        default_status=_status(item.definition.default_running),
        sensor_state=stored,
        next_tick=stored.next_tick,
    )


def _in_location(state: UIState, kind: InstigatorType, location: str) -> list[a.Instigator]:
    return [i for i in a.instigators(state, kind) if i.definition.location == location]


def _locations(state: UIState) -> set[str]:
    return set(state.catalog.locations) | {d.location for d in a.known(state)}


def _repository_missing(state: UIState, selector: RepositorySelector) -> bool:
    return (
        selector.repository_name != REPOSITORY
        or selector.repository_location_name not in _locations(state)
    )


def _missing_repository(selector: RepositorySelector) -> w.RepositoryNotFoundError:
    return w.RepositoryNotFoundError(
        message=f"Could not find a repository named {selector.repository_name} in location "
        f"{selector.repository_location_name}.",
        repository_name=selector.repository_name,
        repository_location_name=selector.repository_location_name,
    )


def selection(selector: ScheduleSelector | SensorSelector) -> tuple[InstigatorType, str]:
    """What a selector names: a schedule or a sensor, and its name."""
    if isinstance(selector, ScheduleSelector):
        return InstigatorType.SCHEDULE, selector.schedule_name
    return InstigatorType.SENSOR, selector.sensor_name


def find(state: UIState, selector: ScheduleSelector | SensorSelector) -> a.Instigator | None:
    """The schedule or sensor ``selector`` names, if it is in that location."""
    kind, name = selection(selector)
    item = a.instigator(state, kind, name)
    if (
        item is None
        or selector.repository_name != REPOSITORY
        or item.definition.location != selector.repository_location_name
    ):
        return None
    return item


def _in_repository(
    state: UIState, kind: InstigatorType, selector: RepositorySelector
) -> list[a.Instigator] | w.RepositoryNotFoundError:
    """The schedules or sensors of the repository ``selector`` names, or why there is none."""
    if _repository_missing(state, selector):
        return _missing_repository(selector)
    return _in_location(state, kind, selector.repository_location_name)


def python_error(exc: BaseException) -> t.PythonError:
    from .schema import python_error

    return python_error(exc)


def _backfill(state: UIState, view: a.BackfillView) -> g.PartitionBackfill:
    record = view.progress.record
    run_ids = [view.progress.launched[k] for k in view.partitions if k in view.progress.launched]
    return g.PartitionBackfill(
        id=view.backfill_id,
        status=_BACKFILL_STATUS[view.status],
        job_name=view.job_name,
        partition_names=view.partitions,
        num_partitions=view.requested,
        num_cancelable=len(view.in_flight) if view.status == "requested" else 0,
        timestamp=record.backfill.created_ts,
        end_timestamp=record.completed_ts,
        tags=[t.PipelineTag(key=k, value=v) for k, v in sorted(record.backfill.tags.items())],
        all_runs=_runs(state, run_ids),
    )


@strawberry.type
class AutomationQuery:
    @strawberry.field
    def schedules_or_error(
        self, info: Info[Any, Any], repository_selector: RepositorySelector
    ) -> g.SchedulesOrError:
        state = ui_state(info)
        items = _in_repository(state, InstigatorType.SCHEDULE, repository_selector)
        if isinstance(items, w.RepositoryNotFoundError):
            return items
        return g.Schedules(results=[_schedule(state, item) for item in items])

    @strawberry.field
    def schedule_or_error(
        self, info: Info[Any, Any], schedule_selector: ScheduleSelector
    ) -> g.ScheduleOrError:
        state = ui_state(info)
        item = find(state, schedule_selector)
        if item is None:
            return schedule_missing(schedule_selector.schedule_name)
        return _schedule(state, item)

    @strawberry.field
    def sensors_or_error(
        self, info: Info[Any, Any], repository_selector: RepositorySelector
    ) -> g.SensorsOrError:
        state = ui_state(info)
        items = _in_repository(state, InstigatorType.SENSOR, repository_selector)
        if isinstance(items, w.RepositoryNotFoundError):
            return items
        return g.Sensors(results=[sensor(state, item) for item in items])

    @strawberry.field
    def sensor_or_error(
        self, info: Info[Any, Any], sensor_selector: SensorSelector
    ) -> g.SensorOrError:
        state = ui_state(info)
        item = find(state, sensor_selector)
        if item is None:
            return sensor_missing(sensor_selector.sensor_name)
        return sensor(state, item)

    @strawberry.field
    def partition_backfills_or_error(
        self,
        info: Info[Any, Any],
        status: g.BulkActionStatus | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> g.PartitionBackfillsOrError:
        """The newest backfills first; ``cursor`` is the id of the last one already seen."""
        state = ui_state(info)
        try:
            views = list(a.backfills(state, a.BACKFILLS_SHOWN if limit is None else 1000))
        except StorageError as exc:
            return python_error(exc)
        if cursor is not None:
            ids = [v.backfill_id for v in views]
            views = views[ids.index(cursor) + 1 :] if cursor in ids else []
        if status is not None:
            views = [v for v in views if _BACKFILL_STATUS[v.status] is status]
        views = views[:limit] if limit is not None else views
        return g.PartitionBackfills(results=[_backfill(state, v) for v in views])


def schedule_missing(name: str) -> g.ScheduleNotFoundError:
    return g.ScheduleNotFoundError(
        message=f"Schedule {name} could not be found.", schedule_name=name
    )


def sensor_missing(name: str) -> g.SensorNotFoundError:
    return g.SensorNotFoundError(message=f"Could not find sensor {name}.", sensor_name=name)
