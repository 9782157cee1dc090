"""A coordinator turn's storage work in a few round trips on one Redis (``turns`` says
why; mixed into ``RedisRunStore``).

``claim_runs``: one pipeline takes the leases (``SET NX PX`` each), one transaction reads
the claimed runs' records, plans and logs. ``write_turn``: one transaction writes every
run's progress and final records in the turn's order, then the ended runs' events are
archived (``archive``) and their leases given back, in two more round trips for all of
them. On a Redis Cluster, whose transactions cannot span runs, both go run by run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import redis

from opgrid.orchestrator.protocol.messages import RunRecord
from opgrid.orchestrator.protocol.status import FINAL_RUN_STATUSES

from .archive import CHUNK
from .compact import dump_event, load_event, load_plan
from .connect import translated
from .keys import EVENT_FIELD, Keys
from .scripts import RELEASE
from .turns import (
    Adopted,
    FinishWrite,
    ProgressWrite,
    TurnWrite,
    claim_runs_one_by_one,
    write_turn_one_by_one,
)

logger = logging.getLogger(__name__)


class RedisTurns:
    """Bulk adoption and a turn's writes (mixed into ``RedisRunStore``)."""

    _r: Any
    keys: Keys
    run_ttl_ms: int
    on_cluster: bool
    # from ``archive.RedisEventArchive``
    _archived: Callable[[bytes | None, str], list[tuple[str, bytes]]]
    _archive_events: Callable[[str], None]
    _archive_entries: Callable[[Any, str, Sequence[Any]], None]

    @translated
    def claim_runs(self, run_ids: Sequence[str], owner: str, lease_s: float) -> dict[str, Adopted]:
        """Claim these runs' leases; the claimed ones that exist and have not ended, with
        their record, plan and log (the others are let go again)."""
        if self.on_cluster or not run_ids:
            return claim_runs_one_by_one(self, run_ids, owner, lease_s)  # type: ignore[arg-type]
        lease_ms = int(lease_s * 1000)
        with self._r.pipeline(transaction=False) as pipe:
            for run_id in run_ids:
                pipe.set(self.keys.lease(run_id), owner, nx=True, px=lease_ms)
            taken = pipe.execute()
        claimed = [run_id for run_id, ok in zip(run_ids, taken, strict=True) if ok]
        if not claimed:
            return {}
        with self._r.pipeline(transaction=True) as pipe:  # one moment of every claimed run
            for run_id in claimed:
                pipe.hget(self.keys.run(run_id), "record")
                pipe.get(self.keys.plan(run_id))
                pipe.get(self.keys.archive(run_id))
                pipe.xrange(self.keys.events(run_id), min="-", max="+")
            replies = pipe.execute()
        adopted: dict[str, Adopted] = {}
        let_go: list[str] = []
        for i, run_id in enumerate(claimed):
            raw_record, raw_plan, archive, entries = replies[4 * i : 4 * i + 4]
            record = RunRecord.model_validate_json(raw_record) if raw_record else None
            if record is None or raw_plan is None or record.status in FINAL_RUN_STATUSES:
                let_go.append(run_id)
                continue
            streamed = [(i.decode(), fields[EVENT_FIELD]) for i, fields in entries]
            log = [
                (entry_id, load_event(raw, run_id))
                for entry_id, raw in self._archived(archive, "0-0") + streamed
            ]
            adopted[run_id] = Adopted(record, load_plan(raw_plan), log)
        if let_go:
            self._release_all(let_go, owner)
        return adopted

    @translated
    def write_turn(self, writes: Sequence[TurnWrite]) -> None:
        """Apply a turn's writes, in order: progress and final records in one transaction;
        then the ended runs' events archived and their leases given back."""
        if self.on_cluster:
            write_turn_one_by_one(self, writes)  # type: ignore[arg-type]
            return
        if not writes:
            return
        finished: list[FinishWrite] = []
        with self._r.pipeline(transaction=True) as pipe:
            for write in writes:
                if isinstance(write, ProgressWrite):
                    self._progress(pipe, write)
                else:
                    self._final(pipe, write)
                    finished.append(write)
            pipe.execute()
        if finished:
            self._end_all(finished)

    def _progress(self, pipe: Any, write: ProgressWrite) -> None:
        run_id = write.run_id
        if write.record is not None:
            pipe.hset(self.keys.run(run_id), "record", write.record.model_dump_json())
        if write.statuses:
            pipe.hset(self.keys.steps(run_id), mapping=dict(write.statuses))
        if write.inputs:
            inputs = {key: value.model_dump_json() for key, value in write.inputs.items()}
            pipe.hset(self.keys.inputs(run_id), mapping=inputs)
        for event in write.events:
            pipe.xadd(self.keys.events(run_id), {EVENT_FIELD: dump_event(event, run_id)})

    def _final(self, pipe: Any, write: FinishWrite) -> None:
        """``finish_run``'s writes, in the turn's transaction."""
        run_id = write.run_id
        fields = {"record": write.record.model_dump_json()}
        if write.summary is not None:
            fields["summary"] = write.summary.model_dump_json()
        pipe.hset(self.keys.run(run_id), mapping=fields)
        if write.statuses:
            pipe.hset(self.keys.steps(run_id), mapping=dict(write.statuses))
        for event in write.events:
            pipe.xadd(self.keys.events(run_id), {EVENT_FIELD: dump_event(event, run_id)})
        pipe.xadd(self.keys.ended(run_id), {b"status": write.record.status.value})
        for key in self.keys.run_keys(run_id):
            pipe.pexpire(key, self.run_ttl_ms)

    def _end_all(self, finished: list[FinishWrite]) -> None:
        """Archive the ended runs' events, take them off the active set and give their
        leases back: one round trip to read, one to write (a run with more entries than
        one read takes is archived on its own)."""
        run_ids = [write.run_id for write in finished]
        try:
            with self._r.pipeline(transaction=False) as pipe:
                for run_id in run_ids:
                    pipe.exists(self.keys.archive(run_id))
                    pipe.xrange(self.keys.events(run_id), min="-", max="+", count=CHUNK)
                replies = pipe.execute()
        except redis.RedisError:  # the runs have ended all the same; their logs stay
            logger.warning("%d ended run(s): events stay in their streams", len(run_ids))
            replies = None
        with self._r.pipeline(transaction=False) as pipe:
            for i, run_id in enumerate(run_ids):
                if replies is None or replies[2 * i]:
                    continue
                entries = replies[2 * i + 1]
                if len(entries) >= CHUNK:
                    self._archive_events(run_id)
                elif entries:
                    self._archive_entries(pipe, run_id, entries)
            pipe.srem(self.keys.active(), *run_ids)
            for write in finished:
                pipe.execute_command("EVAL", RELEASE, 1, self.keys.lease(write.run_id), write.owner)
            pipe.execute()

    def _release_all(self, run_ids: Sequence[str], owner: str) -> None:
        with self._r.pipeline(transaction=False) as pipe:
            for run_id in run_ids:
                pipe.execute_command("EVAL", RELEASE, 1, self.keys.lease(run_id), owner)
            pipe.execute()
