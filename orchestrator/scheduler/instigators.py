"""One schedule or sensor, each turn of the leader: start its tick when one is due, and
follow the tick in flight until its runs are launched.

A tick goes: started (recorded with its inputs, made the one in flight, sent to a worker
of the code location) -> evaluated (the worker recorded its result and the compiled plans
of the runs it launches, under run ids fixed by the tick) -> launched (the leader created
the runs, ``create_run_once`` refusing an id that exists, then ended the tick). Each step
is recorded before the next, so a leader that dies anywhere leaves a tick that the next
leader picks up where it was: a tick is never lost, and its runs launch once.
"""

from __future__ import annotations

import logging
import time

from opgrid.orchestrator.protocol.messages import RunRecord
from opgrid.orchestrator.scheduling.definitions import InstigatorDef
from opgrid.orchestrator.scheduling.evaluation import (
    InstigatorType,
    RunStatusChange,
    TickRequest,
)
from opgrid.orchestrator.scheduling.tick_task import TickTask
from opgrid.orchestrator.scheduling.ticks import schedule_tick, sensor_tick
from opgrid.orchestrator.store.base import RunStore
from opgrid.orchestrator.store.tick_records import InstigatorState, TickRecord
from opgrid.run_status_sensor import DagsterRunStatus

from .hooks import SchedulerHooks
from .run_status import run_status_changes
from .send import TickSender

logger = logging.getLogger(__name__)

#: A started tick with no result this long after it was sent is sent again...
RESEND_AFTER_S = 10.0
#: ...and after twice as long each further time, up to this.
MAX_RESEND_AFTER_S = 600.0


def tick_id_of(tick_ts: float) -> str:
    """A tick's id: its time in milliseconds."""
    return str(round(tick_ts * 1000))


class InstigatorTicker:
    """Starts and follows the ticks of schedules and sensors."""

    def __init__(
        self,
        store: RunStore,
        sender: TickSender,
        resend_after_s: float = RESEND_AFTER_S,
        hooks: SchedulerHooks | None = None,
    ):
        self.store = store
        self.sender = sender
        self.resend_after_s = resend_after_s
        self.hooks = hooks or SchedulerHooks()

    def turn(self, definition: InstigatorDef, now: float) -> None:
        """Follow the tick in flight, or start one if it is due."""
        state = self.store.get_instigator_state(definition.origin)
        if state.pending is not None:
            self._follow(definition, state.pending, now)
            return
        if not state.is_running(definition):
            return
        if state.started_ts is None:
            state = self._started_now(definition.origin, now)
        request = self._due(definition, state, now)
        if request is None:
            return
        tick_ts = request.scheduled_ts if request.scheduled_ts is not None else now
        tick = TickRecord(
            tick_id=tick_id_of(tick_ts),
            location=definition.location,
            timestamp=tick_ts,
            request=request,
            sent_ts=now,
        )
        if self.store.start_tick(tick):
            logger.info("tick %s of %s started", tick.tick_id, definition.origin)
            self._send(definition, tick)

    def _started_now(self, origin: str, now: float) -> InstigatorState:
        """A schedule or sensor running by default counts as started when first seen."""
        self.store.update_instigator_state(
            origin,
            lambda s: s.model_copy(update={"started_ts": now}) if s.started_ts is None else None,
        )
        return self.store.get_instigator_state(origin)

    def _due(self, d: InstigatorDef, state: InstigatorState, now: float) -> TickRequest | None:
        if d.kind is InstigatorType.SCHEDULE:
            due = schedule_tick(
                d.info.cron_schedules,
                d.info.execution_timezone,
                state.last_tick_ts,
                now,
                started_ts=state.started_ts,
                max_catchup_ticks=d.info.max_catchup_ticks,
            ).due_ticks
            if not due:  # else the oldest of the missed ticks to catch up on, one a tick
                return None
            scheduled = due[0].timestamp()
            return TickRequest(instigator_type=d.kind, name=d.name, scheduled_ts=scheduled)
        if not sensor_tick(d.minimum_interval_seconds, state.last_tick_ts, now).due:
            return None
        cursor, changes = state.cursor, list[RunStatusChange]()
        if d.run_status is not None:
            changes, cursor = run_status_changes(self.store, cursor, DagsterRunStatus(d.run_status))
        return TickRequest(
            instigator_type=d.kind,
            name=d.name,
            cursor=cursor,
            last_run_key=state.last_run_key,
            last_tick_completion_ts=state.last_completion_ts,
            last_sensor_start_ts=state.started_ts,
            run_status_changes=changes,
        )

    def _send(self, definition: InstigatorDef, tick: TickRecord) -> None:
        task = TickTask(tick_id=tick.tick_id, location=tick.location, request=tick.request)
        self.sender.send(task, definition.queue)

    def _follow(self, definition: InstigatorDef, tick_id: str, now: float) -> None:
        tick = self.store.get_tick(definition.origin, tick_id)
        if tick is None:  # its record was dropped: nothing to launch, let the next one come
            logger.warning("tick %s of %s has no record; dropped", tick_id, definition.origin)
            self.store.update_instigator_state(
                definition.origin,
                lambda s: s.model_copy(update={"pending": None}) if s.pending == tick_id else None,
            )
            return
        if tick.evaluated:
            self.launch(tick, now)
        elif now - tick.sent_ts >= self._resend_after(tick) or now < tick.sent_ts:
            resent = tick.model_copy(update={"sent_ts": now, "sends": tick.sends + 1})
            if self.store.resend_tick(resent):
                logger.warning("tick %s of %s: no result yet, sent again", tick_id, tick.origin)
                self._send(definition, resent)

    def _resend_after(self, tick: TickRecord) -> float:
        """Seconds without a result before a tick is sent again (none of its workers may
        be up: the copies wait in the queue, fewer and fewer)."""
        return min(self.resend_after_s * 2.0 ** (tick.sends - 1), MAX_RESEND_AFTER_S)

    def launch(self, tick: TickRecord, now: float) -> None:
        """Create the tick's runs (each once), then end the tick."""
        created: list[RunRecord] = []
        for planned in tick.planned:
            record = planned.record(time.time())
            if self.store.create_run_once(record, planned.plan):
                created.append(record)
        done = tick.model_copy(update={"launched": True, "planned": [], "completed_ts": now})
        self.store.finish_tick(done)
        self.hooks.after_tick(done, created)
        logger.info(
            "tick %s of %s: %s, launched %d run(s) (%d existed)",
            tick.tick_id,
            tick.origin,
            tick.status,
            len(created),
            len(tick.planned) - len(created),
        )
