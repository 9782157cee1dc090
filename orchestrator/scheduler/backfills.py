"""Backfills, each turn of the leader: note the partitions whose run finished, launch the
next ones (at most ``max_concurrent`` in flight), end the backfill when all finished.

A partition's run id is fixed by (backfill, partition) and created with
``create_run_once`` before the partition is recorded launched, so a leader that dies
in between leaves a partition that the next one finds already created: it is recorded,
not launched again. A backfill resumes after any restart from what is recorded.
"""

from __future__ import annotations

import logging
import time

from opgrid.errors import RunNotFound
from opgrid.orchestrator.protocol.messages import RunRecord
from opgrid.orchestrator.protocol.status import FINAL_RUN_STATUSES
from opgrid.orchestrator.scheduling.backfill import next_partitions
from opgrid.orchestrator.scheduling.tick_task import backfill_run_id
from opgrid.orchestrator.store.base import RunStore
from opgrid.orchestrator.store.tick_records import BackfillProgressRecord

from .hooks import SchedulerHooks

logger = logging.getLogger(__name__)

#: Backfills looked at per turn (the newest).
BACKFILLS_PER_TURN = 200


class BackfillDaemon:
    """Advances the backfills of a namespace."""

    def __init__(self, store: RunStore, namespace: str, hooks: SchedulerHooks | None = None):
        self.store = store
        self.namespace = namespace
        self.hooks = hooks or SchedulerHooks()

    def turn(self, now: float) -> None:
        in_progress: list[BackfillProgressRecord] = []
        for record in self.store.list_backfills(limit=BACKFILLS_PER_TURN):
            if record.status == "requested":
                progress = self.store.get_backfill(record.backfill_id)
                advanced = self.advance(progress, now) if progress is not None else None
                if advanced is not None:
                    in_progress.append(advanced)
        self.hooks.after_backfills(in_progress)

    def advance(
        self, progress: BackfillProgressRecord, now: float
    ) -> BackfillProgressRecord | None:
        """Note what finished, launch what may start; how it stands now, or None once it
        is completed."""
        record = progress.record
        backfill = record.backfill
        finished = dict(progress.finished)
        ended = self._ended(progress)
        self.store.backfill_finished(backfill.backfill_id, ended)
        finished.update(ended)
        step = next_partitions(backfill, progress.launched, finished)
        launched = dict(progress.launched)
        for key in step.to_launch:
            run_id = self._launch(progress, key)
            if run_id is not None:
                launched[key] = run_id
        if step.done:
            self.store.save_backfill(
                record.model_copy(update={"status": "completed", "completed_ts": now})
            )
            logger.info(
                "backfill %s completed (%d partitions)", backfill.backfill_id, len(finished)
            )
            return None
        if step.to_launch:
            logger.info(
                "backfill %s: launched %s (%d in flight, %d waiting)",
                backfill.backfill_id,
                ", ".join(step.to_launch),
                len(step.in_flight) + len(step.to_launch),
                len(step.pending),
            )
        return progress.model_copy(update={"launched": launched, "finished": finished})

    def _ended(self, progress: BackfillProgressRecord) -> dict[str, str]:
        """Partition -> status of the launched runs that finished since last looked at."""
        ended: dict[str, str] = {}
        for key, run_id in progress.launched.items():
            if key in progress.finished:
                continue
            try:
                status = self.store.get_run(run_id).status
            except RunNotFound:  # pruned or expired: it ended long ago
                ended[key] = "unknown"
                continue
            if status in FINAL_RUN_STATUSES:
                ended[key] = status.value
        return ended

    def _launch(self, progress: BackfillProgressRecord, key: str) -> str | None:
        backfill = progress.record.backfill
        plan = self.store.backfill_plan(backfill.backfill_id, key)
        if plan is None:
            logger.error("backfill %s has no plan for partition %s", backfill.backfill_id, key)
            return None
        run_id = backfill_run_id(self.namespace, backfill.backfill_id, key)
        record = RunRecord(
            run_id=run_id,
            job_name=backfill.job_name,
            location=progress.record.location,
            tags=dict(plan.tags),
            partition_key=key,
            created_at=time.time(),
        )
        self.store.create_run_once(record, plan)
        self.store.backfill_launched(backfill.backfill_id, key, run_id)
        return run_id
