"""The coordinator: drives runs on the cluster, one ``RunState`` per run it owns.

Its loop is the only I/O loop of a run: block on new submissions and on the
event streams of owned runs (``XREAD BLOCK``, no polling of Celery results),
feed each event to the run's state machine, persist what changed in one
transaction, then send the steps that became ready. A renewable lease per run
keeps two coordinators off one run; a run whose lease lapses (its coordinator
died) is adopted by another, which rebuilds the state by replaying the run's
event log.

Every ``step_heartbeat_s`` it also watches the workers: a running step whose
worker stopped sending heartbeats is taken from it and delivered again (at most
``max_redeliveries`` times, then it fails, saying why); a step past its time limit
fails; with ``queue_timeout_s``, a step no worker picked up in time fails, and with
``no_consumer_timeout_s`` one whose queue had no live consumer that long. What to do
is decided by ``supervision`` (pure); the loop reads the beats and performs it. A retry
with a delay is held here until due (the loop wakes for it), never by a worker. A cancel
revokes the run's queued steps; workers stop running ones (see ``workers.watch``).

It tells its ``hooks`` (``hooks.Hooks``, e.g. ``metrics.PrometheusMetrics``) what happens,
the counts of its runs and their steps included (kept by ``owned.Tally``).

When many steps are in flight, so the workers have queued work anyway, the coordinator
lets reports gather before reading (``pacing``): one wake then handles a batch of
events, the writes they decide go to Redis in one round trip and the steps they make
ready to the broker in one batch; on a small machine that leaves the CPU to the
workers. A chain, with one step in flight, never waits. What a turn costs apart from
its events (the counts of steps in flight, the runs holding retries, the read's
cursors) is kept up to date as runs change rather than recomputed over every owned
run each turn.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterable, Sequence

from opgrid.errors import InvalidTransition, StorageError
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.logs import log_context
from opgrid.orchestrator.planning.around_step import plan_refs
from opgrid.orchestrator.planning.state import (
    AbandonStep,
    Command,
    DispatchStep,
    FinishRun,
    RunState,
    SkipStep,
)
from opgrid.orchestrator.planning.summary import summarize
from opgrid.orchestrator.protocol.events import FINAL_RUN_EVENTS, RunEvent, run_event
from opgrid.orchestrator.protocol.messages import RunRecord, RunSummary, StepInputs
from opgrid.orchestrator.protocol.status import WORKER_REPORTED, RunStatus
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.base import RunStore
from opgrid.orchestrator.store.turns import Adopted, FinishWrite, ProgressWrite

from . import supervision
from .dispatch import Dispatcher
from .hooks import Hooks
from .outbox import Outbox
from .owned import OwnedRun, Tally
from .pacing import Pacer
from .turn_writes import TurnWrites
from .unacked import UnackedSweeper
from .watching import Watcher

logger = logging.getLogger(__name__)


class Coordinator:
    """Coordinates every run it can claim, in one thread.

    Args:
        store: the cluster's run storage.
        dispatcher: sends steps to workers.
        settings: lease length, blocking time and default queue.
        coordinator_id: a name for this coordinator; a random one by default.
        hooks: told what happens (``metrics.PrometheusMetrics``); nothing by default.
    """

    def __init__(
        self,
        store: RunStore,
        dispatcher: Dispatcher,
        settings: Settings,
        coordinator_id: str | None = None,
        hooks: Hooks | None = None,
        sweeper: UnackedSweeper | None = None,
    ) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self.settings = settings
        self.id = coordinator_id or f"coordinator-{uuid.uuid4().hex[:8]}"
        self.runs: dict[str, OwnedRun] = {}
        self._submissions_cursor = "0-0"
        self._next_housekeeping = 0.0
        #: when leases are renewed next in the middle of a turn (``_keep_leases``)
        self._next_renewal = 0.0
        self._next_watch = 0.0
        self.outbox = Outbox(dispatcher, settings.default_queue, self.id, self._keep_leases)
        self._watcher = Watcher(store, settings, self._resend, self.outbox.revoke)
        self.hooks = hooks or Hooks()
        #: settles the broker's unacknowledged copies of ended attempts (Redis brokers)
        self.sweeper = sweeper
        self._tally = Tally()
        #: run id -> the id of the last entry of its event stream read (for ``wait``)
        self._cursors: dict[str, str] = {}
        #: run id -> its steps in flight as last counted, and their total
        self._in_flight: dict[str, int] = {}
        self._in_flight_total = 0
        #: the owned runs that hold retries until due (``OwnedRun.retry_due``)
        self._holding: set[str] = set()
        #: what a turn decides to store, held until its part ends
        self.writes = TurnWrites(store, self.outbox, self.id, self._let_go, self._ended)
        self._pacer = Pacer()

    # The loop -------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Coordinate until ``stop`` is set; Redis outages are waited out."""
        logger.info("coordinator %s starting", self.id)
        while not stop.is_set():
            if not self._turn():
                stop.wait(min(1.0, self.settings.block_s))
        self._release_all()
        logger.info("coordinator %s stopped", self.id)

    def _turn(self) -> bool:
        try:
            self.step(self.settings.block_s)
        except StorageError:
            logger.warning("coordinator %s: Redis unavailable, retrying", self.id, exc_info=True)
            # workers could not send heartbeats either: give them time to resume
            self._next_watch = time.monotonic() + self.settings.step_lost_after_s
            return False
        return True

    def _release_all(self) -> None:
        """Hand the runs back at once rather than after the lease lapses."""
        try:
            for run_id in list(self.runs):
                self.store.release(run_id, self.id)
            self.store.forget_coordinator(self.id)  # submitters stop counting on it at once
        except StorageError:
            logger.warning("coordinator %s: could not release its leases", self.id, exc_info=True)

    def step(self, block_s: float) -> None:
        """One turn: housekeeping when due, then wait for and handle new entries.

        What a part of the turn decides is stored, then sent, when the part ends
        (``TurnWrites.held``): the writes of every run advanced by one wake go to Redis in one
        round trip, and the steps they ready to the broker in one batch (in the same round
        trip when the broker is storage's Redis database).
        """
        with self.writes.held():
            self._chores()
        window = self._pacer.window_s(self._in_flight_total)
        if window:
            # Many steps are running: let their reports gather for a moment, so one
            # wake handles a batch instead of one event (a chain never waits here).
            time.sleep(window)
        due = supervision.next_retry_at(self.runs[run_id] for run_id in self._holding)
        if due is not None:  # wake when the next held retry is due
            block_s = max(0.001, min(block_s, due - time.time()))
        submitted, events = self._read(block_s, window)
        with self.writes.held():
            if submitted:
                self._submissions_cursor = submitted[-1][0]
                self.adopt_all([run_id for _, run_id in submitted])
            for run_id, entries in events.items():
                owned = self.runs.get(run_id)
                if owned is not None:
                    with log_context(run_id=run_id):
                        self._advance(owned, entries)
        if self._tally.recount(self.runs, time.monotonic()):
            self.hooks.after_count(self._tally.counts())
        self.hooks.after_turn()

    def _read(
        self, block_s: float, window: float
    ) -> tuple[list[tuple[str, str]], dict[str, list[tuple[str, RunEvent]]]]:
        """The turn's read of submissions and events. When it had to block and woke on
        the first few reports while many steps are in flight, the others are let gather
        (``Pacer.top_up``) and read once more, without blocking, so that the turn handles
        them together."""
        started = time.monotonic()
        submitted, events = self.store.wait(self._submissions_cursor, self._cursors, block_s)
        found = sum(len(entries) for entries in events.values())
        if self._pacer.top_up(window, time.monotonic() - started, found):
            time.sleep(window)
            after = submitted[-1][0] if submitted else self._submissions_cursor
            cursors = dict(self._cursors)
            cursors.update((run_id, entries[-1][0]) for run_id, entries in events.items())
            more_submitted, more = self.store.wait(after, cursors, 0.0)
            submitted = [*submitted, *more_submitted]
            for run_id, entries in more.items():
                events[run_id] = [*events.get(run_id, ()), *entries]
            found += sum(len(entries) for entries in more.values())
        self._pacer.read(found, time.monotonic())
        return submitted, events

    def _chores(self) -> None:
        """Lease renewal and adoption, the watch over workers and held retries, when due."""
        now = time.monotonic()
        if now >= self._next_housekeeping:
            self._housekeeping()
            self._next_housekeeping = self._next_renewal = now + self.settings.lease_s / 3
        if now >= self._next_watch:
            self._watcher.watch(list(self.runs.values()))
            self._next_watch = now + self.settings.step_heartbeat_s
        self._send_due_retries()

    # Owning runs --------------------------------------------------------------------------
    def adopt(self, run_id: str) -> bool:
        """Claim a run and bring its state up to date from its event log."""
        return bool(self.adopt_all([run_id]))

    def adopt_all(self, run_ids: Sequence[str]) -> list[str]:
        """Claim these runs (those not owned yet) at once; the ones adopted."""
        fresh = [run_id for run_id in dict.fromkeys(run_ids) if run_id not in self.runs]
        if not fresh:
            return []
        adopted = self.store.claim_runs(fresh, self.id, self.settings.lease_s)
        for found in adopted.values():
            self._take_over(found)
        if adopted:
            self.hooks.after_count(self._tally.counts())
        return list(adopted)

    def _take_over(self, found: Adopted) -> None:
        """Own a claimed run: replay its log, then carry on from where it stands."""
        record, log = found.record, found.log
        run_id = record.run_id
        state = RunState(found.plan)
        commands = state.replay((event for _, event in log), record.reused)
        cursor = log[-1][0] if log else "0-0"
        owned = OwnedRun(record, found.plan, state, cursor, found.plan.step_named())
        for _, event in log:
            owned.track(event)
        self.runs[run_id] = owned
        self._cursors[run_id] = owned.cursor
        logger.info("coordinator %s owns run %s (%d events replayed)", self.id, run_id, len(log))
        started: list[RunEvent] = []
        if record.status is RunStatus.QUEUED:
            owned.record = record.model_copy(
                update={"status": RunStatus.STARTED, "started_at": time.time()}
            )
            started.append(run_event(run_id, E.RUN_START))
        changed = owned.record if owned.record is not record else None
        self._execute(owned, commands, set(state.statuses()), started, changed)
        if run_id in self.runs:  # else it finished at once
            self._tally.count(owned)

    def heartbeat(self) -> None:
        """Tell submitters this coordinator is alive."""
        self.store.heartbeat(self.id, self.settings.lease_s * 3)

    def _housekeeping(self) -> None:
        self.heartbeat()
        for run_id in self.store.renew_all(list(self.runs), self.id, self.settings.lease_s):
            logger.warning("coordinator %s lost the lease of run %s", self.id, run_id)
            self._disown(run_id)
        others = [run_id for run_id in self.store.active_runs() if run_id not in self.runs]
        self.adopt_all(self.store.unleased(others))  # lapsed leases: their coordinators died
        if self.sweeper is not None:
            self.sweeper.sweep(time.time())

    def _disown(self, run_id: str) -> None:
        del self.runs[run_id]
        del self._cursors[run_id]
        self._in_flight_total -= self._in_flight.pop(run_id, 0)
        self._holding.discard(run_id)
        self._tally.drop(run_id)
        self.hooks.after_count(self._tally.counts())

    # Events in, commands out -------------------------------------------------------------
    def _advance(self, owned: OwnedRun, entries: Iterable[tuple[str, RunEvent]]) -> None:
        commands: list[Command] = []
        touched: set[str] = set()
        logs_only = True
        for entry_id, event in entries:
            owned.cursor = entry_id
            if event.kind is E.LOG_MESSAGE:  # a step's log line: nothing to decide
                continue
            logs_only = False
            owned.track(event)
            if event.kind is E.RUN_CANCELING:
                self.outbox.revoke(owned, owned.in_flight())
            try:
                commands.extend(owned.state.apply(event))
            except InvalidTransition:
                logger.warning(
                    "run %s: ignored an impossible event %s",
                    owned.record.run_id,
                    event.describe(),
                    exc_info=True,
                )
                continue
            self.hooks.after_event(owned.record, event)
            if event.step_key is not None:
                touched.add(event.step_key)
            elif event.kind is E.RUN_CANCELING:
                touched.update(owned.state.statuses())
        self._cursors[owned.run_id] = owned.cursor
        if logs_only:  # a step's log lines change nothing: no write, no recount
            return
        self._tally.changed(owned.run_id)
        self._execute(owned, commands, touched, [])

    def _execute(
        self,
        owned: OwnedRun,
        commands: list[Command],
        touched: set[str],
        events: list[RunEvent],
        record: RunRecord | None = None,
    ) -> None:
        """Store what the commands decide (with ``events``, and ``record`` when the run's
        record changed), send the steps they ready, finish the run if one says so."""
        run_id, state = owned.record.run_id, owned.state
        # A worker records the status it reports (running, success, failure,
        # up_for_retry); the coordinator persists the ones it decides.
        statuses = {
            key: status.value
            for key in touched
            if (status := state.status_of(key)) not in WORKER_REPORTED
        }
        inputs: dict[str, StepInputs] = {}
        dispatches: list[DispatchStep] = []
        finish: RunStatus | None = None
        for command in commands:
            if isinstance(command, DispatchStep):
                plan_step = state.step_plan(command.step_key)
                if plan_refs(plan_step, owned.steps) is None:  # else the worker knows them
                    inputs[command.step_key] = owned.step_inputs(command.step_key)
                dispatches.append(command)
            elif isinstance(command, SkipStep):
                events.append(
                    run_event(
                        run_id, E.STEP_SKIPPED, step_key=command.step_key, message=command.reason
                    )
                )
            elif isinstance(command, FinishRun):
                finish = command.status
            if isinstance(command, DispatchStep | SkipStep | AbandonStep):
                statuses[command.step_key] = state.status_of(command.step_key).value
        if inputs or events or statuses or record is not None:
            self.writes.write(ProgressWrite(run_id, statuses, inputs, events, record))
        self._count_in_flight(owned)
        self._dispatch(owned, self._hold_retries(owned, dispatches))
        if finish is not None:
            self._finish(owned, finish)

    def _count_in_flight(self, owned: OwnedRun) -> None:
        now = owned.state.in_flight
        self._in_flight_total += now - self._in_flight.get(owned.run_id, 0)
        self._in_flight[owned.run_id] = now

    def _hold_retries(self, owned: OwnedRun, dispatches: list[DispatchStep]) -> list[DispatchStep]:
        """Keep the retries not due yet in ``owned.retry_due``; the rest go now."""
        now, send = time.time(), []
        for command in dispatches:
            if command.due_at is None or command.due_at <= now:
                send.append(command)
                continue
            owned.retry_due[command.step_key] = (command.attempt, command.due_at)
            self._holding.add(owned.run_id)
            logger.info(
                "run %s: step %s attempt %d is due in %.1f s",
                owned.run_id,
                command.step_key,
                command.attempt,
                command.due_at - now,
            )
        return send

    def _send_due_retries(self) -> None:
        """Dispatch the held retries whose time has come (``supervision.retries_due``)."""
        now = time.time()
        for run_id in list(self._holding):
            owned = self.runs[run_id]
            due, forget = supervision.retries_due(owned, now)
            for key in forget:
                del owned.retry_due[key]
            if not owned.retry_due:
                self._holding.discard(run_id)
            self._dispatch(owned, due)

    def _dispatch(self, owned: OwnedRun, dispatches: list[DispatchStep]) -> None:
        """Send step attempts; supervision counts them as sent from now."""
        if not dispatches:
            return
        sent = time.monotonic()
        for command in dispatches:
            owned.sent_at[command.step_key] = sent
        deliveries = [self.outbox.delivery(owned, command) for command in dispatches]
        self.hooks.before_dispatch(deliveries)
        self.outbox.send(deliveries)  # in chunks, the leases kept between them

    def _keep_leases(self) -> None:
        """Renew the leases in the middle of a turn when it has lasted a third of a lease
        (a 100,000-wide fan-out takes longer than a lease to send): a lost one is let go
        at the next housekeeping."""
        now = time.monotonic()
        if now < self._next_renewal:
            return
        self._next_renewal = now + self.settings.lease_s / 3
        self.heartbeat()
        self.store.renew_all(list(self.runs), self.id, self.settings.lease_s)

    def _resend(self, owned: OwnedRun, key: str, attempt: int) -> None:
        """Send a step attempt again (a lost worker's)."""
        self.outbox.send([self.outbox.delivery(owned, DispatchStep(key, attempt))])

    def _finish(self, owned: OwnedRun, status: RunStatus) -> None:
        run_id = owned.record.run_id
        record = owned.record.model_copy(update={"status": status, "finished_at": time.time()})
        statuses = {key: value.value for key, value in owned.state.statuses().items()}
        final = [run_event(run_id, FINAL_RUN_EVENTS[status])]
        summary = summarize(owned.state)
        self._disown(run_id)  # counted out before it counts as finished
        self.writes.ended(record, summary)
        self.writes.write(FinishWrite(record, final, statuses, summary, self.id))

    def _ended(self, record: RunRecord, summary: RunSummary) -> None:
        """A run's end is stored: tell the hooks."""
        self.hooks.after_finish(record, summary)
        with log_context(run_id=record.run_id):
            logger.info("run %s finished: %s", record.run_id, record.status.value)

    def _let_go(self, run_ids: set[str]) -> None:
        """Forget these runs (their writes were not stored); their leases lapse."""
        for run_id in run_ids & self.runs.keys():
            self._disown(run_id)
