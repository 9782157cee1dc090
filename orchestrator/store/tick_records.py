"""What is recorded about schedules, sensors and backfills (JSON in Redis, see ``keys``).

``InstigatorState`` is what the
cluster remembers of a schedule or sensor (on/off, cursor, last run key, the tick in flight); a
``TickRecord`` is one tick, from started to launched; a ``BackfillRecord`` is one
backfill. Every model is frozen and forbids unknown fields.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from opgrid.orchestrator.planning.plan import ExecutionPlan
from opgrid.orchestrator.protocol.messages import RunRecord
from opgrid.orchestrator.scheduling.backfill import Backfill
from opgrid.orchestrator.scheduling.definitions import InstigatorDef
from opgrid.orchestrator.scheduling.evaluation import (
    InstigatorType,
    TickError,
    TickRequest,
    TickStatus,
)
from opgrid.orchestrator.scheduling.tick_task import origin_of

_MODEL = ConfigDict(frozen=True, extra="forbid")

#: A tick's status before its result is in.
STARTED = "started"
#: How many ticks are kept per schedule or sensor (the oldest are dropped).
TICKS_KEPT = 500


class InstigatorState(BaseModel):
    """What the cluster remembers of one schedule or sensor."""

    model_config = _MODEL

    schema_version: Literal[1] = 1
    #: turned on or off by ``start``/``stop``; None: its ``default_status``
    running: bool | None = None
    #: when it was (last) turned on, or first seen running by default
    started_ts: float | None = None
    cursor: str | None = None
    last_run_key: str | None = None
    #: schedules: the time of the last tick; sensors: when its last evaluation started
    last_tick_ts: float | None = None
    last_completion_ts: float | None = None
    #: the tick in flight (started, its runs not launched yet)
    pending: str | None = None

    def is_running(self, definition: InstigatorDef | None) -> bool:
        if self.running is not None:
            return self.running
        return definition is not None and definition.default_running


class PlannedRun(BaseModel):
    """A run a tick decided to launch, compiled by the worker that evaluated it."""

    model_config = _MODEL

    run_id: str
    job_name: str
    location: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    partition_key: str | None = None
    run_key: str | None = None
    plan: ExecutionPlan

    def record(self, created_at: float) -> RunRecord:
        return RunRecord(
            run_id=self.run_id,
            job_name=self.job_name,
            location=self.location,
            tags=dict(self.plan.tags),
            partition_key=self.partition_key,
            created_at=created_at,
        )


class TickRecord(BaseModel):
    """One tick of a schedule or sensor."""

    model_config = _MODEL

    schema_version: Literal[1] = 1
    tick_id: str
    location: str
    #: the tick's time: the scheduled time of a schedule, the evaluation start of a sensor
    timestamp: float
    request: TickRequest
    #: ``started``, then the ``TickStatus`` value of its result
    status: str = STARTED
    #: when the tick was (last) sent to a worker, and how many times
    sent_ts: float
    sends: int = 1
    skip_reason: str | None = None
    error: TickError | None = None
    #: the runs the tick launches (their plans are dropped once they are launched)
    planned: list[PlannedRun] = Field(default_factory=list)
    run_ids: list[str] = Field(default_factory=list)
    run_keys: list[str] = Field(default_factory=list)
    #: run keys requested again, dropped by the run-key rule
    skipped_run_keys: list[str] = Field(default_factory=list)
    cursor: str | None = None
    #: the runs are created (the tick is over)
    launched: bool = False
    completed_ts: float | None = None

    @property
    def kind(self) -> InstigatorType:
        return self.request.instigator_type

    @property
    def name(self) -> str:
        return self.request.name

    @property
    def origin(self) -> str:
        return origin_of(self.kind, self.name)

    @property
    def evaluated(self) -> bool:
        return self.status != STARTED

    def with_result(self, status: TickStatus, **fields: object) -> TickRecord:
        return self.model_copy(update={"status": status.value, **fields})


#: How a backfill stands.
BackfillStatus = Literal["requested", "completed", "canceled"]


class BackfillRecord(BaseModel):
    """A backfill: its selection, where its job lives, how it stands."""

    model_config = _MODEL

    schema_version: Literal[1] = 1
    backfill: Backfill
    location: str | None = None
    status: BackfillStatus = "requested"
    completed_ts: float | None = None

    @property
    def backfill_id(self) -> str:
        return self.backfill.backfill_id


class BackfillProgressRecord(BaseModel):
    """A backfill with what its partitions did so far."""

    model_config = _MODEL

    record: BackfillRecord
    #: partition -> run id of the partitions launched
    launched: dict[str, str] = Field(default_factory=dict)
    #: partition -> final run status of the partitions whose run finished
    finished: dict[str, str] = Field(default_factory=dict)


# The rules of the atomic updates (``RedisTicks`` runs them inside a transaction,
# ``InMemoryTicks`` under its lock): the new state, or None to write nothing.
def start_rule(state: InstigatorState, tick: TickRecord) -> InstigatorState | None:
    """A tick starts only when none is in flight and it is later than the last one."""
    if state.pending is not None:
        return None
    if state.last_tick_ts is not None and tick.timestamp <= state.last_tick_ts:
        return None
    return state.model_copy(update={"pending": tick.tick_id, "last_tick_ts": tick.timestamp})


def commit_rule(
    state: InstigatorState, stored: TickRecord | None, result: TickRecord
) -> InstigatorState | None:
    """A result is recorded once, while its tick is still started and in flight."""
    if stored is None or stored.evaluated or state.pending != result.tick_id:
        return None
    changes: dict[str, object] = {}
    if result.kind is InstigatorType.SENSOR and result.status != TickStatus.FAILURE.value:
        changes["cursor"] = result.cursor
    if result.run_keys:
        changes["last_run_key"] = result.run_keys[-1]
    return state.model_copy(update=changes)


def switch_rule(
    state: InstigatorState, kind: InstigatorType, running: bool, now: float
) -> InstigatorState:
    """Turned on or off (``opgrid schedule|sensor start|stop``, the UI's buttons): a
    schedule turned on ticks from ``now`` on; the ticks it missed while off never run."""
    update: dict[str, object] = {"running": running}
    if running and state.running is not True:
        update["started_ts"] = now
        if kind is InstigatorType.SCHEDULE:
            update["last_tick_ts"] = max(state.last_tick_ts or 0.0, now - 1e-3)
    return state.model_copy(update=update)


def finish_rule(state: InstigatorState, tick: TickRecord) -> InstigatorState:
    """A launched tick is no longer in flight."""
    pending = None if state.pending == tick.tick_id else state.pending
    return state.model_copy(update={"pending": pending, "last_completion_ts": tick.completed_ts})
