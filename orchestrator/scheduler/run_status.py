"""What a run status sensor is fed: the runs that reached a status since its cursor.

The cursor (JSON) holds the creation time of the newest run seen and the ids of the
runs seen but not finished; each tick adds the runs created since, and reports those
of the watched ones that finished, once. The scheduler computes it from the store (no
user code) and sends it with the tick, the new cursor as the position of every change.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from opgrid.errors import RunNotFound
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.protocol.messages import RunRecord
from opgrid.orchestrator.protocol.status import FINAL_RUN_STATUSES, RunStatus
from opgrid.orchestrator.scheduling.evaluation import RunStatusChange
from opgrid.orchestrator.store.base import RunStore
from opgrid.run_status_sensor import DagsterRunStatus

#: The Dagster status of each stored run status.
DAGSTER_STATUS = {
    RunStatus.QUEUED: DagsterRunStatus.QUEUED,
    RunStatus.STARTED: DagsterRunStatus.STARTED,
    RunStatus.SUCCESS: DagsterRunStatus.SUCCESS,
    RunStatus.FAILURE: DagsterRunStatus.FAILURE,
    RunStatus.CANCELED: DagsterRunStatus.CANCELED,
}


def _parse(cursor: str | None) -> tuple[float, list[str]] | None:
    try:
        data = json.loads(cursor) if cursor else None
        return (float(data["after"]), [str(i) for i in data["watching"]]) if data else None
    except (ValueError, KeyError, TypeError):
        return None  # a cursor set by hand that is not ours: start afresh


def _dump(after: float, watching: Sequence[str]) -> str:
    return json.dumps({"after": after, "watching": list(watching)}, separators=(",", ":"))


def run_status_changes(
    store: RunStore, cursor: str | None, watched: DagsterRunStatus
) -> tuple[list[RunStatusChange], str]:
    """The changes to feed a sensor watching ``watched`` since ``cursor``, and the new
    cursor (every change's position). A first cursor watches the runs in flight now."""
    parsed = _parse(cursor)
    if parsed is None:
        newest = store.list_runs(limit=1)
        parsed = (newest[0].created_at if newest else 0.0, store.active_runs())
    after, watching = parsed
    for run_id, created in store.runs_created_after(after):
        watching.append(run_id)
        after = max(after, created)
    still: list[str] = []
    reached: list[RunRecord] = []
    for run_id in dict.fromkeys(watching):
        try:
            record = store.get_run(run_id)
        except RunNotFound:  # pruned
            continue
        if _reached(record.status, watched):
            reached.append(record)
        if record.status not in FINAL_RUN_STATUSES:
            still.append(run_id)
    position = _dump(after, still)
    return [_change(store, record, position) for record in reached], position


def _reached(status: RunStatus, watched: DagsterRunStatus) -> bool:
    if watched is DagsterRunStatus.STARTED:  # once it left the queue
        return status is not RunStatus.QUEUED
    return DAGSTER_STATUS.get(status) is watched


def _change(store: RunStore, record: RunRecord, position: str) -> RunStatusChange:
    message, failed = "", {}
    if record.status is RunStatus.FAILURE:
        for _, event in store.read_events(record.run_id):
            if event.kind is E.STEP_FAILURE and event.step_key is not None:
                failed[event.step_key] = event.error.message if event.error else ""
            elif event.kind is E.RUN_FAILURE:
                message = event.message or ""
    plan = store.get_plan(record.run_id)
    return RunStatusChange(
        position=position,
        run_id=record.run_id,
        job_name=record.job_name,
        status=DAGSTER_STATUS[record.status],
        tags={str(k): str(v) for k, v in record.tags.items()},
        run_config=dict(plan.run_config),
        message=message,
        failed_steps=failed,
    )
