"""Schedules, sensors and backfills as the pages and the API show them.

Every schedule and sensor of the loaded code locations is listed, and those that
workers published from other locations too; its state comes from Redis (on or off as
set by ``start``/``stop``, else its ``default_status``). Turning one on or off and
canceling a backfill go through the same functions as the CLI (``scheduler.control``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .cluster import (
    BackfillProgressRecord,
    InstigatorDef,
    InstigatorState,
    InstigatorType,
    TickRecord,
    origin_of,
    schedule_tick,
    sensor_tick,
)
from .runs_query import RunFilter, list_runs
from .state import UIState

#: Ticks a schedule's or sensor's page shows.
TICKS_SHOWN = 50
#: Backfills the backfills page shows (the newest).
BACKFILLS_SHOWN = 50


@dataclass(frozen=True, slots=True)
class Instigator:
    """One schedule or sensor: its definition, its state, its latest tick."""

    definition: InstigatorDef
    state: InstigatorState
    latest: TickRecord | None
    now: float
    #: whether a coordinator's scheduler leads (else nothing ticks, whatever the state)
    leading: bool = True

    @property
    def kind(self) -> InstigatorType:
        return self.definition.kind

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def running(self) -> bool:
        return self.state.is_running(self.definition)

    @property
    def by_default(self) -> bool:
        """Whether its state is its ``default_status`` (never started or stopped)."""
        return self.state.running is None

    @property
    def jobs(self) -> list[str]:
        return list(self.definition.info.job_names)

    @property
    def cron(self) -> str:
        return ", ".join(self.definition.info.cron_schedules)

    @property
    def timezone(self) -> str:
        return self.definition.info.execution_timezone or "UTC"

    @property
    def interval_s(self) -> float:
        return self.definition.minimum_interval_seconds

    @property
    def next_tick_ts(self) -> float | None:
        """When it ticks next, if it is running (and a scheduler leads)."""
        if not self.running:
            return None
        info, state = self.definition.info, self.state
        if self.kind is InstigatorType.SCHEDULE:
            since = state.started_ts if state.started_ts is not None else self.now
            return schedule_tick(
                info.cron_schedules,
                info.execution_timezone,
                state.last_tick_ts,
                max(self.now, since),
            ).next_tick_ts
        return sensor_tick(self.interval_s, state.last_tick_ts, self.now).next_ts


def known(state: UIState) -> list[InstigatorDef]:
    """The schedules and sensors of the loaded locations, then those only workers
    published (each origin once: the loaded definition wins)."""
    loaded = state.catalog.instigators()
    seen = {d.origin for d in loaded}
    published = state.cluster.published_instigators()
    return loaded + [d for origin, d in published.items() if origin not in seen]


def instigators(state: UIState, kind: InstigatorType) -> list[Instigator]:
    """Every schedule or every sensor, by name."""
    defs = sorted((d for d in known(state) if d.kind is kind), key=lambda d: d.name)
    leading = state.cluster.scheduler_leader() is not None
    return [_instigator(state, d, time.time(), leading) for d in defs]


def instigator(state: UIState, kind: InstigatorType, name: str) -> Instigator | None:
    definition = next((d for d in known(state) if d.kind is kind and d.name == name), None)
    if definition is None:
        return None
    leading = state.cluster.scheduler_leader() is not None
    return _instigator(state, definition, time.time(), leading)


def _instigator(state: UIState, definition: InstigatorDef, now: float, leading: bool) -> Instigator:
    origin = definition.origin
    ticks = state.cluster.ticks(origin, 1)
    stored = state.cluster.instigator_state(origin)
    return Instigator(definition, stored, ticks[0] if ticks else None, now, leading)


def ticks(
    state: UIState, kind: InstigatorType, name: str, limit: int = TICKS_SHOWN
) -> list[TickRecord]:
    """The newest ticks of a schedule or sensor first."""
    return state.cluster.ticks(origin_of(kind, name), limit)


def switch(state: UIState, kind: InstigatorType, name: str, running: bool) -> InstigatorState:
    """Turn a schedule or sensor on or off (as the CLI does).

    Raises:
        InstigatorNotFound: no such schedule or sensor is loaded or published.
    """
    return state.cluster.set_running(kind, name, running, known(state))


#: The run statuses a partition's run ends with.
_ENDED = frozenset({"success", "failure", "canceled"})


@dataclass(frozen=True, slots=True)
class BackfillView:
    """One backfill and how far it got: what the leader recorded, and the runs it has not
    noted as ended yet (a canceled backfill's runs end after the leader stopped looking)."""

    progress: BackfillProgressRecord
    #: run id -> status of its launched runs not recorded as finished
    live: Mapping[str, str]

    @property
    def finished(self) -> dict[str, str]:
        """Partition -> final status of its run."""
        ended = dict(self.progress.finished)
        for key, run_id in self.progress.launched.items():
            if key not in ended and self.live.get(run_id) in _ENDED:
                ended[key] = self.live[run_id]
        return ended

    @property
    def in_flight(self) -> list[str]:
        """The partitions whose run is launched and not ended."""
        ended = self.finished
        return [key for key in self.progress.launched if key not in ended]

    @property
    def backfill_id(self) -> str:
        return self.progress.record.backfill_id

    @property
    def job_name(self) -> str:
        return self.progress.record.backfill.job_name

    @property
    def status(self) -> str:
        return self.progress.record.status

    @property
    def partitions(self) -> list[str]:
        return list(self.progress.record.backfill.partition_keys)

    @property
    def requested(self) -> int:
        return len(self.partitions)

    @property
    def launched(self) -> int:
        return len(self.progress.launched)

    def ended(self, *statuses: str) -> int:
        return sum(1 for s in self.finished.values() if s in statuses)

    @property
    def succeeded(self) -> int:
        return self.ended("success")

    @property
    def failed(self) -> int:
        return self.ended("failure")

    @property
    def canceled(self) -> int:
        """Partitions whose run was canceled (or ended unrecorded)."""
        return len(self.finished) - self.succeeded - self.failed

    def partition_state(self, key: str) -> tuple[str, str | None]:
        """(its run's final status, ``launched``, ``waiting`` or ``not launched``; its run
        id)."""
        run_id = self.progress.launched.get(key)
        waiting = "waiting" if self.status == "requested" else "not launched"
        status = self.finished.get(key) or ("launched" if run_id else waiting)
        return status, run_id


def backfills(state: UIState, limit: int = BACKFILLS_SHOWN) -> Sequence[BackfillView]:
    """The newest backfills first."""
    found = state.cluster.backfills(limit)
    open_runs = [
        run_id for p in found for key, run_id in p.launched.items() if key not in p.finished
    ]
    live: dict[str, str] = {}
    if open_runs:
        page = list_runs(state.cluster, RunFilter(run_ids=frozenset(open_runs)), len(open_runs))
        live = {record.run_id: record.status.value for record in page.runs}
    return [BackfillView(progress, live) for progress in found]
