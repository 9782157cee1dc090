"""A coordinator turn's storage work in a few round trips on one Redis (``turns`` says
why; mixed into ``RedisRunStore``).

``claim_runs``: one pipeline takes the leases (``SET NX PX`` each), one transaction reads
the claimed runs' records, plans and logs. ``write_turn``: one pipeline applies every
run's progress and end, each run's in one script (``PROGRESS``, ``FINISH``: atomic per
run), then pushes the turn's step messages; one more archives the ended runs' events
(``archive``), gives their leases back and takes them off the active set.
``runs_beats``: Redis's clock and many runs' heartbeats in one pipeline. On a Redis
Cluster, whose nodes have their own slots and clocks, all three go run by run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opgrid.orchestrator.protocol.messages import RunRecord
from opgrid.orchestrator.protocol.status import FINAL_RUN_STATUSES

from .archive import CHUNK
from .compact import dump_event, load_event, load_plan
from .connect import translated
from .keys import EVENT_FIELD, Keys
from .scripts import FINISH, PROGRESS, RELEASE
from .turns import (
    Adopted,
    FinishWrite,
    ProgressWrite,
    TurnWrite,
    claim_runs_one_by_one,
    runs_beats_one_by_one,
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
    def write_turn(
        self, writes: Sequence[TurnWrite], pushes: Sequence[tuple[str, bytes]] = ()
    ) -> None:
        """Apply a turn's writes, in order, each run's in one script (``PROGRESS``,
        ``FINISH``), then the pushes, all in one round trip (Redis runs a pipeline's
        commands in order: a step message is on its queue only after what it needs is
        stored); then the ended runs' events archived, their leases given back and the
        runs taken off the active set, in one more."""
        if self.on_cluster:
            write_turn_one_by_one(self, writes, pushes)  # type: ignore[arg-type]
            return
        if not writes and not pushes:
            return
        with self._r.pipeline(transaction=False) as pipe:
            for write in writes:
                if isinstance(write, ProgressWrite):
                    self._progress(pipe, write)
                else:
                    self._final(pipe, write)
            for key, value in pushes:
                pipe.lpush(key, value)
            replies = pipe.execute()
        finished = [
            (write, reply)
            for write, reply in zip(writes, replies[: len(writes)], strict=True)
            if isinstance(write, FinishWrite)
        ]
        if finished:
            self._end_all(finished)

    @translated
    def runs_beats(
        self, steps: Mapping[str, Sequence[str]]
    ) -> dict[str, tuple[float, list[float | None]]]:
        """Redis's clock and the heartbeats of these runs' steps, in one round trip (on a
        Redis Cluster run by run: each node has its own clock)."""
        if self.on_cluster or not steps:
            return runs_beats_one_by_one(self, steps)  # type: ignore[arg-type]
        with self._r.pipeline(transaction=False) as pipe:
            pipe.time()
            for run_id, keys in steps.items():
                pipe.hmget(self.keys.beats(run_id), list(keys))
            (seconds, micros), *beats = pipe.execute()
        now = int(seconds) + int(micros) / 1e6
        return {
            run_id: (now, [float(b) if b is not None else None for b in found])
            for run_id, found in zip(steps, beats, strict=True)
        }

    def _progress(self, pipe: Any, write: ProgressWrite) -> None:
        run_id = write.run_id
        keys = self.keys
        args: list[Any] = [write.record.model_dump_json() if write.record is not None else ""]
        args += _pairs(write.statuses)
        args += _pairs({key: value.model_dump_json() for key, value in write.inputs.items()})
        args += [dump_event(event, run_id) for event in write.events]
        run_keys = (keys.run(run_id), keys.steps(run_id), keys.inputs(run_id), keys.events(run_id))
        pipe.execute_command("EVAL", PROGRESS, 4, *run_keys, *args)

    def _final(self, pipe: Any, write: FinishWrite) -> None:
        run_id, keys = write.run_id, self.keys
        summary = write.summary.model_dump_json() if write.summary is not None else ""
        args: list[Any] = [CHUNK, self.run_ttl_ms, write.record.model_dump_json(), summary]
        args += [write.record.status.value, *_pairs(write.statuses)]
        args += [dump_event(event, run_id) for event in write.events]
        run_keys = [
            keys.run(run_id),
            keys.steps(run_id),
            keys.events(run_id),
            keys.ended(run_id),
            keys.archive(run_id),
            keys.beats(run_id),
            *keys.run_keys(run_id),
        ]
        pipe.execute_command("EVAL", FINISH, len(run_keys), *run_keys, *args)

    def _end_all(self, finished: list[tuple[FinishWrite, Any]]) -> None:
        """Archive the ended runs' events (``FINISH`` read them), take the runs off the
        active set and give their leases back, in one round trip (a run with more entries
        than ``FINISH`` reads is archived on its own)."""
        with self._r.pipeline(transaction=False) as pipe:
            for write, (archived, entries) in finished:
                if archived or not entries:
                    continue
                if len(entries) >= CHUNK:
                    self._archive_events(write.run_id)
                else:
                    self._archive_entries(pipe, write.run_id, [_entry(e) for e in entries])
            pipe.srem(self.keys.active(), *(write.run_id for write, _ in finished))
            for write, _ in finished:
                pipe.execute_command("EVAL", RELEASE, 1, self.keys.lease(write.run_id), write.owner)
            pipe.execute()

    def _release_all(self, run_ids: Sequence[str], owner: str) -> None:
        """Let go of claimed runs that have ended or are gone; they leave the active set
        too (an end whose last round trip failed left them there)."""
        with self._r.pipeline(transaction=False) as pipe:
            for run_id in run_ids:
                pipe.execute_command("EVAL", RELEASE, 1, self.keys.lease(run_id), owner)
            pipe.srem(self.keys.active(), *run_ids)
            pipe.execute()


def _pairs(mapping: Mapping[str, str]) -> list[Any]:
    """``n, k1, v1, ..., kn, vn``: a mapping as script arguments."""
    flat: list[Any] = [len(mapping)]
    for key, value in mapping.items():
        flat += (key, value)
    return flat


def _entry(raw: Any) -> tuple[bytes, dict[bytes, bytes]]:
    """A stream entry as a script returns it (``[id, [field, value, ...]]``), as redis-py
    parses an XRANGE's."""
    entry_id, fields = raw
    return entry_id, dict(zip(fields[::2], fields[1::2], strict=True))
