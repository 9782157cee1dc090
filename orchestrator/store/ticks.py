"""Schedules, sensors and backfills in Redis: ``RedisTicks``, mixed into ``RedisRunStore``.

The state of a schedule or sensor, its ticks and its run keys share one hash slot
(``{instigator:<origin>}``), so every decision about a tick is one WATCH/MULTI
transaction: a tick starts only when none is in flight, its result is recorded only
once (a redelivered task finds it recorded and drops its own), and its runs are
created under ids fixed before they are launched (``create_run_once`` refuses an id
that exists). The rules themselves are in ``tick_records``; ``TickUpdates`` holds
what both stores share (``tick_updates``), over one primitive, ``_atomically``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import redis

from opgrid.orchestrator.planning.plan import ExecutionPlan
from opgrid.orchestrator.protocol.messages import RunRecord
from opgrid.orchestrator.scheduling.definitions import InstigatorDef

from .compact import dump_plan
from .connect import translated
from .keys import Keys
from .tick_records import (
    TICKS_KEPT,
    BackfillProgressRecord,
    BackfillRecord,
    InstigatorState,
    TickRecord,
)
from .tick_updates import Decide, TickUpdates, Writes

#: Submissions kept in the submissions stream (as ``redis.SUBMISSIONS_MAXLEN``).
_SUBMISSIONS_MAXLEN = 10_000


class RedisTicks(TickUpdates):
    """Ticks, sensor cursors and run keys, on/off states, backfills, the leader's lease
    (mixed into ``RedisRunStore``)."""

    _r: Any
    keys: Keys
    _renew: Any
    _release: Any

    # The scheduler's leader --------------------------------------------------------------
    @translated
    def lead(self, owner: str, lease_s: float) -> bool:
        """Take the scheduler's lease if it is free, or renew it if ``owner`` holds it."""
        key, ms = self.keys.scheduler_lease(), int(lease_s * 1000)
        if self._r.set(key, owner, nx=True, px=ms):
            return True
        return bool(self._renew(keys=[key], args=[owner, ms]))

    @translated
    def resign(self, owner: str) -> None:
        self._release(keys=[self.keys.scheduler_lease()], args=[owner])

    @translated
    def scheduler_leader(self) -> str | None:
        raw = self._r.get(self.keys.scheduler_lease())
        return raw.decode() if raw is not None else None

    # Definitions and states --------------------------------------------------------------
    @translated
    def publish_instigators(
        self, defs: Sequence[InstigatorDef], locations: Sequence[str] = ()
    ) -> None:
        new = {d.origin for d in defs}
        stale = [
            origin
            for origin, old in self.instigator_defs().items()
            if old.location in locations and origin not in new
        ]
        with self._r.pipeline(transaction=True) as pipe:
            if stale:
                pipe.hdel(self.keys.instigators(), *stale)
            if defs:
                mapping = {d.origin: d.model_dump_json() for d in defs}
                pipe.hset(self.keys.instigators(), mapping=mapping)
            pipe.execute()

    @translated
    def instigator_defs(self) -> dict[str, InstigatorDef]:
        raw = self._r.hgetall(self.keys.instigators())
        defs = (InstigatorDef.model_validate_json(value) for value in raw.values())
        return {d.origin: d for d in sorted(defs, key=lambda d: d.origin)}

    @translated
    def get_instigator_state(self, origin: str) -> InstigatorState:
        return _state(self._r.get(self.keys.instigator_state(origin)))

    # Ticks --------------------------------------------------------------------------------
    @translated
    def _atomically(self, origin: str, tick_id: str | None, decide: Decide) -> bool:
        state_key, ticks_key = self.keys.instigator_state(origin), self.keys.ticks(origin)
        with self._r.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(state_key, ticks_key)
                    stored = pipe.hget(ticks_key, tick_id) if tick_id is not None else None
                    decided = decide(_state(pipe.get(state_key)), _tick(stored))
                    if decided is None:
                        pipe.unwatch()
                        return False
                    self._write(pipe, origin, decided)
                    pipe.execute()
                    break
                except redis.WatchError:  # another writer came between: decide again
                    continue
        self._trim(origin)
        return True

    def _write(self, pipe: Any, origin: str, writes: Writes) -> None:
        state, ticks, run_keys = writes
        pipe.multi()
        pipe.set(self.keys.instigator_state(origin), state.model_dump_json())
        for tick in ticks:
            pipe.hset(self.keys.ticks(origin), tick.tick_id, tick.model_dump_json())
            pipe.zadd(self.keys.tick_times(origin), {tick.tick_id: tick.timestamp})
        if run_keys:
            pipe.sadd(self.keys.sensor_run_keys(origin), *run_keys)

    def _trim(self, origin: str) -> None:
        times = self.keys.tick_times(origin)
        excess = self._r.zcard(times) - TICKS_KEPT
        if excess > 0:
            old = self._r.zrange(times, 0, excess - 1)
            with self._r.pipeline(transaction=True) as pipe:
                pipe.hdel(self.keys.ticks(origin), *old)
                pipe.zrem(times, *old)
                pipe.execute()

    @translated
    def get_tick(self, origin: str, tick_id: str) -> TickRecord | None:
        return _tick(self._r.hget(self.keys.ticks(origin), tick_id))

    @translated
    def list_ticks(self, origin: str, limit: int = 20) -> list[TickRecord]:
        """The newest ticks first."""
        ids = self._r.zrevrange(self.keys.tick_times(origin), 0, limit - 1)
        raws = self._r.hmget(self.keys.ticks(origin), ids) if ids else []
        return [TickRecord.model_validate_json(raw) for raw in raws if raw is not None]

    @translated
    def launched_run_keys(self, origin: str) -> set[str]:
        return {key.decode() for key in self._r.smembers(self.keys.sensor_run_keys(origin))}

    # Runs ---------------------------------------------------------------------------------
    @translated
    def create_run_once(self, record: RunRecord, plan: ExecutionPlan) -> bool:
        """Create and announce a run unless a run with its id exists; whether it did.

        An existing run that was never announced (its creator died in between) is
        announced now.
        """
        run_id = record.run_id
        with self._r.pipeline(transaction=True) as pipe:
            pipe.set(self.keys.plan(run_id), dump_plan(plan), nx=True)
            pipe.hsetnx(self.keys.run(run_id), "record", record.model_dump_json())
            _, created = pipe.execute()
        if created or self._r.zscore(self.keys.runs_index(), run_id) is None:
            with self._r.pipeline(transaction=False) as pipe:  # cross-slot indexes
                pipe.zadd(self.keys.runs_index(), {run_id: record.created_at})
                pipe.sadd(self.keys.active(), run_id)
                pipe.xadd(
                    self.keys.submissions(),
                    {b"run": run_id},
                    maxlen=_SUBMISSIONS_MAXLEN,
                    approximate=True,
                )
                pipe.execute()
        return bool(created)

    @translated
    def runs_created_after(self, after_ts: float) -> list[tuple[str, float]]:
        """(run id, creation time) of the runs created after ``after_ts``, oldest first."""
        found = self._r.zrangebyscore(
            self.keys.runs_index(), f"({after_ts}", "+inf", withscores=True
        )
        return [(member.decode(), float(score)) for member, score in found]

    # Backfills ---------------------------------------------------------------------------
    @translated
    def create_backfill(self, record: BackfillRecord, plans: Mapping[str, ExecutionPlan]) -> None:
        backfill_id = record.backfill_id
        with self._r.pipeline(transaction=True) as pipe:
            pipe.set(self.keys.backfill(backfill_id), record.model_dump_json())
            pipe.hset(
                self.keys.backfill_plans(backfill_id),
                mapping={key: plan.model_dump_json() for key, plan in plans.items()},
            )
            pipe.execute()
        self._r.zadd(self.keys.backfills(), {backfill_id: record.backfill.created_ts})

    @translated
    def save_backfill(self, record: BackfillRecord) -> None:
        """Replace a backfill's record; once it is over, its plans are dropped."""
        with self._r.pipeline(transaction=True) as pipe:
            pipe.set(self.keys.backfill(record.backfill_id), record.model_dump_json())
            if record.status != "requested":
                pipe.delete(self.keys.backfill_plans(record.backfill_id))
            pipe.execute()

    @translated
    def list_backfills(self, limit: int = 50) -> list[BackfillRecord]:
        """The newest backfills first."""
        ids = self._r.zrevrange(self.keys.backfills(), 0, limit - 1)
        with self._r.pipeline(transaction=False) as pipe:  # one slot per backfill
            for backfill_id in ids:
                pipe.get(self.keys.backfill(backfill_id.decode()))
            raws = pipe.execute()
        return [BackfillRecord.model_validate_json(raw) for raw in raws if raw is not None]

    @translated
    def get_backfill(self, backfill_id: str) -> BackfillProgressRecord | None:
        with self._r.pipeline(transaction=False) as pipe:
            pipe.get(self.keys.backfill(backfill_id))
            pipe.hgetall(self.keys.backfill_launched(backfill_id))
            pipe.hgetall(self.keys.backfill_finished(backfill_id))
            raw, launched, finished = pipe.execute()
        if raw is None:
            return None
        return BackfillProgressRecord(
            record=BackfillRecord.model_validate_json(raw),
            launched={k.decode(): v.decode() for k, v in launched.items()},
            finished={k.decode(): v.decode() for k, v in finished.items()},
        )

    @translated
    def backfill_plan(self, backfill_id: str, partition_key: str) -> ExecutionPlan | None:
        raw = self._r.hget(self.keys.backfill_plans(backfill_id), partition_key)
        return ExecutionPlan.model_validate_json(raw) if raw is not None else None

    @translated
    def backfill_launched(self, backfill_id: str, partition_key: str, run_id: str) -> None:
        self._r.hset(self.keys.backfill_launched(backfill_id), partition_key, run_id)

    @translated
    def backfill_finished(self, backfill_id: str, statuses: Mapping[str, str]) -> None:
        if statuses:
            self._r.hset(self.keys.backfill_finished(backfill_id), mapping=dict(statuses))


def _state(raw: bytes | None) -> InstigatorState:
    return InstigatorState.model_validate_json(raw) if raw is not None else InstigatorState()


def _tick(raw: bytes | None) -> TickRecord | None:
    return TickRecord.model_validate_json(raw) if raw is not None else None
