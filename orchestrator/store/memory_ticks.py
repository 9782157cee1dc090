"""The in-memory twin of ``ticks.RedisTicks``, mixed into ``InMemoryRunStore``.

Same methods, same rules (``tick_records``), under one lock instead of a transaction;
the leader's lease expires by the monotonic clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from opgrid.errors import RunNotFound
from opgrid.orchestrator.planning.plan import ExecutionPlan
from opgrid.orchestrator.protocol.messages import RunRecord
from opgrid.orchestrator.scheduling.definitions import InstigatorDef

from .tick_records import (
    TICKS_KEPT,
    BackfillProgressRecord,
    BackfillRecord,
    InstigatorState,
    TickRecord,
)
from .tick_updates import Decide, TickUpdates


@dataclass
class _Instigator:
    state: InstigatorState = field(default_factory=InstigatorState)
    ticks: dict[str, TickRecord] = field(default_factory=dict)
    run_keys: set[str] = field(default_factory=set)


@dataclass
class _Backfill:
    record: BackfillRecord
    plans: dict[str, ExecutionPlan]
    launched: dict[str, str] = field(default_factory=dict)
    finished: dict[str, str] = field(default_factory=dict)


class InMemoryTicks(TickUpdates):
    """Schedules', sensors' and backfills' records in a dict; thread-safe."""

    def get_run(self, run_id: str) -> RunRecord:
        raise NotImplementedError

    def create_run(self, record: RunRecord, plan: ExecutionPlan) -> None:
        raise NotImplementedError

    def list_runs(self, limit: int = 50, offset: int = 0) -> list[RunRecord]:
        raise NotImplementedError

    @property
    def _tick_data(self) -> _TickData:
        data: _TickData | None = self.__dict__.get("_opgrid_ticks")
        if data is None:
            data = self.__dict__.setdefault("_opgrid_ticks", _TickData())
        return data

    # The scheduler's leader --------------------------------------------------------------
    def lead(self, owner: str, lease_s: float) -> bool:
        data = self._tick_data
        with data.lock:
            held = data.leader
            if held is not None and held[0] != owner and held[1] > time.monotonic():
                return False
            data.leader = (owner, time.monotonic() + lease_s)
            return True

    def resign(self, owner: str) -> None:
        data = self._tick_data
        with data.lock:
            if data.leader is not None and data.leader[0] == owner:
                data.leader = None

    def scheduler_leader(self) -> str | None:
        held = self._tick_data.leader
        return held[0] if held is not None and held[1] > time.monotonic() else None

    # Definitions and states --------------------------------------------------------------
    def publish_instigators(
        self, defs: Sequence[InstigatorDef], locations: Sequence[str] = ()
    ) -> None:
        with self._tick_data.lock:
            known = self._tick_data.defs
            for origin in [o for o, old in known.items() if old.location in locations]:
                del known[origin]
            known.update({d.origin: d for d in defs})

    def instigator_defs(self) -> dict[str, InstigatorDef]:
        return dict(sorted(self._tick_data.defs.items()))

    def get_instigator_state(self, origin: str) -> InstigatorState:
        found = self._tick_data.instigators.get(origin)
        return found.state if found is not None else InstigatorState()

    # Ticks --------------------------------------------------------------------------------
    def _atomically(self, origin: str, tick_id: str | None, decide: Decide) -> bool:
        data = self._tick_data
        with data.lock:
            entry = data.instigators.setdefault(origin, _Instigator())
            stored = entry.ticks.get(tick_id) if tick_id is not None else None
            decided = decide(entry.state, stored)
            if decided is None:
                return False
            entry.state, ticks, run_keys = decided
            entry.ticks.update({tick.tick_id: tick for tick in ticks})
            entry.run_keys.update(run_keys)
            for old in sorted(entry.ticks.values(), key=lambda t: t.timestamp)[:-TICKS_KEPT]:
                del entry.ticks[old.tick_id]
            return True

    def get_tick(self, origin: str, tick_id: str) -> TickRecord | None:
        found = self._tick_data.instigators.get(origin)
        return found.ticks.get(tick_id) if found is not None else None

    def list_ticks(self, origin: str, limit: int = 20) -> list[TickRecord]:
        found = self._tick_data.instigators.get(origin)
        ticks = list(found.ticks.values()) if found is not None else []
        return sorted(ticks, key=lambda t: t.timestamp, reverse=True)[:limit]

    def launched_run_keys(self, origin: str) -> set[str]:
        found = self._tick_data.instigators.get(origin)
        return set(found.run_keys) if found is not None else set()

    # Runs ---------------------------------------------------------------------------------
    def create_run_once(self, record: RunRecord, plan: ExecutionPlan) -> bool:
        with self._tick_data.lock:
            try:
                self.get_run(record.run_id)
                return False
            except RunNotFound:
                self.create_run(record, plan)
                return True

    def runs_created_after(self, after_ts: float) -> list[tuple[str, float]]:
        runs = [r for r in self.list_runs(limit=1 << 30) if r.created_at > after_ts]
        return [(r.run_id, r.created_at) for r in sorted(runs, key=lambda r: r.created_at)]

    # Backfills ---------------------------------------------------------------------------
    def create_backfill(self, record: BackfillRecord, plans: Mapping[str, ExecutionPlan]) -> None:
        with self._tick_data.lock:
            self._tick_data.backfills[record.backfill_id] = _Backfill(record, dict(plans))

    def save_backfill(self, record: BackfillRecord) -> None:
        with self._tick_data.lock:
            found = self._tick_data.backfills[record.backfill_id]
            found.record = record
            if record.status != "requested":
                found.plans.clear()

    def list_backfills(self, limit: int = 50) -> list[BackfillRecord]:
        records = [b.record for b in self._tick_data.backfills.values()]
        return sorted(records, key=lambda r: r.backfill.created_ts, reverse=True)[:limit]

    def get_backfill(self, backfill_id: str) -> BackfillProgressRecord | None:
        found = self._tick_data.backfills.get(backfill_id)
        if found is None:
            return None
        return BackfillProgressRecord(
            record=found.record, launched=dict(found.launched), finished=dict(found.finished)
        )

    def backfill_plan(self, backfill_id: str, partition_key: str) -> ExecutionPlan | None:
        found = self._tick_data.backfills.get(backfill_id)
        return found.plans.get(partition_key) if found is not None else None

    def backfill_launched(self, backfill_id: str, partition_key: str, run_id: str) -> None:
        with self._tick_data.lock:
            self._tick_data.backfills[backfill_id].launched[partition_key] = run_id

    def backfill_finished(self, backfill_id: str, statuses: Mapping[str, str]) -> None:
        with self._tick_data.lock:
            self._tick_data.backfills[backfill_id].finished.update(statuses)


@dataclass
class _TickData:
    lock: threading.RLock = field(default_factory=threading.RLock)
    leader: tuple[str, float] | None = None
    defs: dict[str, InstigatorDef] = field(default_factory=dict)
    instigators: dict[str, _Instigator] = field(default_factory=dict)
    backfills: dict[str, _Backfill] = field(default_factory=dict)
