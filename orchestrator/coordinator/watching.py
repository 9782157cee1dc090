"""Watching the workers of a coordinator's runs: reads beats and the worker registry,
asks ``supervision`` (pure) what to do, and does it.

A running step whose worker went silent is delivered again or failed; a step no worker
took within ``queue_timeout_s`` fails; so does one whose queue has had no live consumer
for ``no_consumer_timeout_s``. The coordinator's loop calls ``watch`` every
``step_heartbeat_s``, and sends and revokes through the callables it hands over.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.protocol.events import ErrorInfo, run_event
from opgrid.orchestrator.protocol.status import StepStatus
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.base import RunStore
from opgrid.orchestrator.store.registry import secret_fingerprint

from . import supervision
from .owned import OwnedRun
from .supervision import FailStep, Redeliver

logger = logging.getLogger(__name__)

#: Sends one step attempt again: (run, step key, attempt).
Resend = Callable[[OwnedRun, str, int], None]
#: Takes step attempts back from the broker and the workers: (run, [(step key, attempt)]).
Revoke = Callable[[OwnedRun, list[tuple[str, int]]], None]


class Watcher:
    """Performs supervision's decisions for the runs one coordinator owns."""

    def __init__(self, store: RunStore, settings: Settings, resend: Resend, revoke: Revoke):
        self.store = store
        self.settings = settings
        self._resend = resend
        self._revoke = revoke
        #: queue -> since when (monotonic) it has had no live consumer, while steps wait on it
        self.unconsumed: dict[str, float] = {}
        #: queues whose live workers all hold another secret
        self.mismatched: set[str] = set()
        self._fingerprint = secret_fingerprint(settings.secret.get_secret_value().encode())

    def watch(self, runs: Sequence[OwnedRun]) -> None:
        """Find running steps whose worker went silent, and queued steps no worker takes."""
        self._watch_consumers(runs)
        watches = {}
        now = time.monotonic()
        for owned in runs:
            if owned.state.in_flight:
                watch = supervision.to_watch(
                    owned, now, self.settings, self.unconsumed, self.mismatched
                )
                if watch.step_keys:
                    watches[owned.run_id] = (owned, watch)
        if not watches:
            return
        beats = self.store.runs_beats({r: w.step_keys for r, (_, w) in watches.items()})
        for run_id, (owned, watch) in watches.items():
            self._watch_run(owned, watch, *beats[run_id])

    def _watch_consumers(self, runs: Sequence[OwnedRun]) -> None:
        """Note since when each queue that steps wait on has had no live consumer (one read
        of the worker registry, only while some step waits and the timeout is on)."""
        queues: set[str] = set()
        if self.settings.no_consumer_timeout_s:
            for owned in runs:
                queues |= supervision.waiting_queues(owned, self.settings.default_queue)
        if not queues:
            self.unconsumed, self.mismatched = {}, set()
            return
        workers = self.store.live_workers()
        fingerprints = self.store.live_fingerprints()
        consumed: set[str] = set()
        refusing: set[str] = set()
        for host, names in workers.items():  # a worker that published none is taken at its word
            mine = fingerprints.get(host, self._fingerprint) == self._fingerprint
            (consumed if mine else refusing).update(names)
        self.unconsumed = supervision.unconsumed_since(
            self.unconsumed, queues, consumed, time.monotonic()
        )
        self.mismatched = refusing - consumed

    def _watch_run(
        self, owned: OwnedRun, watch: supervision.Watch, now: float, beats: list[float | None]
    ) -> None:
        for decision in supervision.decide(owned, watch, now, beats, self.settings):
            if isinstance(decision, Redeliver):
                self._redeliver(owned, decision)
            elif self._fail_step(owned, decision) and decision.revoke:
                self._revoke(owned, [(decision.step_key, decision.attempt)])

    def _redeliver(self, owned: OwnedRun, decision: Redeliver) -> None:
        """Take a running step from its silent worker and send the same attempt again."""
        run_id, key, attempt = owned.run_id, decision.step_key, decision.attempt
        event = run_event(
            run_id, E.ENGINE_EVENT, step_key=key, attempt=attempt, message=decision.message
        )
        if not self.store.declare_lost(run_id, key, attempt, [event], expect=("running",)):
            return  # it ended meanwhile
        logger.warning("run %s: %s", run_id, decision.message)
        owned.redelivered[key] = owned.redelivered.get(key, 0) + 1
        owned.sent_at[key] = time.monotonic()
        self._resend(owned, key, attempt)

    def _fail_step(self, owned: OwnedRun, decision: FailStep) -> bool:
        """End a step as failed on the coordinator's own authority (the event comes back
        through the run's stream like a worker's)."""
        run_id, key = owned.run_id, decision.step_key
        event = run_event(
            run_id,
            E.STEP_FAILURE,
            step_key=key,
            attempt=decision.attempt,
            error=ErrorInfo(cls_name=decision.error_cls.__name__, message=decision.reason),
        )
        failed = self.store.declare_lost(
            run_id,
            key,
            decision.attempt,
            [event],
            status=StepStatus.FAILURE.value,
            expect=decision.expect,
        )
        if failed:
            owned.sent_at.pop(key, None)
            logger.error("run %s: %s", run_id, decision.reason)
        return failed
