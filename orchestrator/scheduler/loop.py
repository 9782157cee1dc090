"""The scheduler's loop: lead, then tick schedules and sensors and advance backfills.

Every coordinator process runs one (``thread.start_scheduler``). Each turn it takes or
renews the namespace's scheduler lease; only the holder (the leader) does anything, so
one process ticks per namespace, and when the leader dies its lease lapses and another
takes over, picking up every tick and backfill where the records leave it
(``instigators``, ``backfills``). Deciding when a tick is due reads the scheduler's
clock, which tests set (``clock``); leases run on Redis's own clock.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable

from opgrid.errors import BrokerError, StorageError
from opgrid.orchestrator.scheduling.definitions import InstigatorDef
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.base import RunStore

from .backfills import BackfillDaemon
from .hooks import SchedulerHooks
from .instigators import RESEND_AFTER_S, InstigatorTicker
from .send import TickSender

logger = logging.getLogger(__name__)

#: How often the scheduler looks at what is due.
INTERVAL_S = 0.25


class Scheduler:
    """Ticks the schedules and sensors of a namespace and advances its backfills while it
    leads.

    Args:
        store: the cluster's storage.
        sender: sends ticks to workers.
        settings: the namespace and the lease length (``lease_s``).
        scheduler_id: its name in the lease; a random one by default.
        clock: the current time in seconds since the epoch (``time.time``).
        interval_s: how often it looks at what is due.
        hooks: told what it does (``metrics.SchedulerMetrics``); nothing by default.
    """

    def __init__(
        self,
        store: RunStore,
        sender: TickSender,
        settings: Settings,
        scheduler_id: str | None = None,
        clock: Callable[[], float] = time.time,
        interval_s: float = INTERVAL_S,
        hooks: SchedulerHooks | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.id = scheduler_id or f"scheduler-{uuid.uuid4().hex[:8]}"
        self.clock = clock
        self.interval_s = interval_s
        self.leading = False
        self.hooks = hooks or SchedulerHooks()
        self.ticker = InstigatorTicker(store, sender, RESEND_AFTER_S, self.hooks)
        self.backfills = BackfillDaemon(store, settings.namespace, self.hooks)

    def run(self, stop: threading.Event) -> None:
        """Lead when it can until ``stop`` is set; then hand the lease back."""
        try:
            while not stop.is_set():
                self._safe_turn()
                stop.wait(self.interval_s)
        finally:
            try:
                self.store.resign(self.id)
            except StorageError:
                logger.warning(
                    "scheduler %s: could not hand its lease back", self.id, exc_info=True
                )

    def _instigator_turn(self, definition: InstigatorDef, now: float) -> None:
        try:
            self.ticker.turn(definition, now)
        except (StorageError, BrokerError):
            raise
        except Exception:  # one broken record must not stop the others' ticks
            logger.error(
                "scheduler %s: %s failed its turn", self.id, definition.origin, exc_info=True
            )

    def _safe_turn(self) -> None:
        try:
            self.turn()
        except (StorageError, BrokerError):
            logger.warning(
                "scheduler %s: Redis or the broker failed; retrying", self.id, exc_info=True
            )

    def turn(self) -> bool:
        """One turn; whether this scheduler leads."""
        leads = self.store.lead(self.id, self.settings.lease_s)
        if leads != self.leading:
            logger.info("scheduler %s %s", self.id, "leads" if leads else "no longer leads")
            self.leading = leads
        if leads:
            now = self.clock()
            for definition in self.store.instigator_defs().values():
                self._instigator_turn(definition, now)
            self.backfills.turn(now)
        self.hooks.after_turn(leads)
        return leads
