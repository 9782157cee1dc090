"""Deleting finished runs from Redis (``opgrid run prune``); active runs are never touched.

``RedisPruning`` is mixed into ``RedisRunStore`` (``base.Pruning``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from opgrid.orchestrator.protocol.messages import RunRecord
from opgrid.orchestrator.protocol.status import FINAL_RUN_STATUSES

from .connect import translated
from .keys import Keys, run_of

logger = logging.getLogger(__name__)

#: Runs read, or keys deleted, per round trip while pruning.
_PRUNE_BATCH = 500


class RedisPruning:
    """Pruning of finished runs (mixed into ``RedisRunStore``)."""

    _r: Any
    keys: Keys

    # Pruning ----------------------------------------------------------------------------------
    @translated
    def prune_runs(self, finished_before: float, dry_run: bool = False) -> list[str]:
        """Delete the runs that ended before ``finished_before`` (epoch seconds).

        A run is pruned when it is not active and its record says it ended (success,
        failure or canceled) before the cutoff (its creation time if it has no end
        time); an index entry whose record has already expired goes too. Every key of
        such a run (outputs included, found with one ``SCAN`` of the namespace's run
        keys) is deleted, then its entry in the runs index. Active runs are never touched.

        Returns:
            The ids of the runs pruned (or, with ``dry_run``, that would be), oldest first.
        """
        candidates = [
            member.decode()
            for member in self._r.zrangebyscore(
                self.keys.runs_index(), "-inf", f"({finished_before!r}"
            )
        ]
        active = {member.decode() for member in self._r.smembers(self.keys.active())}
        doomed: list[str] = []
        for start in range(0, len(candidates), _PRUNE_BATCH):
            batch = candidates[start : start + _PRUNE_BATCH]
            with self._r.pipeline(transaction=False) as pipe:
                for run_id in batch:
                    pipe.hget(self.keys.run(run_id), "record")
                raws = pipe.execute()
            doomed += [
                run_id
                for run_id, raw in zip(batch, raws, strict=True)
                if run_id not in active and _ended_before(run_id, raw, finished_before)
            ]
        if doomed and not dry_run:
            self._delete_runs(doomed)
        return doomed

    def _delete_runs(self, run_ids: Sequence[str]) -> None:
        """Every key of these runs (one pass over the run keys), then their index entries."""
        doomed = set(run_ids)
        pending: list[bytes] = []
        for key in self._r.scan_iter(match=self.keys.run_pattern(), count=_PRUNE_BATCH):
            if run_of(key.decode(errors="replace")) in doomed:
                pending.append(key)
            if len(pending) >= _PRUNE_BATCH:
                self._unlink(pending)
                pending = []
        self._unlink(pending)
        for start in range(0, len(run_ids), _PRUNE_BATCH):
            self._r.zrem(self.keys.runs_index(), *run_ids[start : start + _PRUNE_BATCH])

    def _unlink(self, keys: Sequence[bytes]) -> None:
        with self._r.pipeline(transaction=False) as pipe:  # one key per command: cluster-safe
            for key in keys:
                pipe.unlink(key)
            pipe.execute()


def _ended_before(run_id: str, raw: bytes | None, cutoff: float) -> bool:
    """Whether the stored record ``raw`` is of a run that ended before ``cutoff``; a
    record that has expired counts as ended, one that cannot be read as not."""
    if raw is None:
        return True
    try:
        record = RunRecord.model_validate_json(raw)
    except ValueError:
        logger.warning("run %s: unreadable record, not pruned", run_id, exc_info=True)
        return False
    ended = record.finished_at if record.finished_at is not None else record.created_at
    return record.status in FINAL_RUN_STATUSES and ended < cutoff
