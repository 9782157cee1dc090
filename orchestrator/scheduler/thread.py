"""The one wiring of a scheduler in a coordinator process: a daemon thread that stops
with the coordinator."""

from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry

from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.base import RunStore

from .hooks import SchedulerHooks
from .loop import Scheduler
from .metrics import SchedulerMetrics
from .send import CeleryTickSender


def start_scheduler(
    store: RunStore,
    settings: Settings,
    owner_id: str,
    stop: threading.Event,
    registry: CollectorRegistry | None = None,
) -> threading.Thread:
    """Run a scheduler named after its coordinator ``owner_id`` in a daemon thread until
    ``stop`` is set (it then hands back its lease and closes its broker connection).

    With a ``registry`` (the coordinator's metrics), the scheduler's metrics are
    registered into it (``metrics.SchedulerMetrics``).
    """
    sender = CeleryTickSender(settings)
    hooks = SchedulerMetrics(registry) if registry is not None else SchedulerHooks()
    scheduler = Scheduler(store, sender, settings, scheduler_id=owner_id, hooks=hooks)

    def run() -> None:
        try:
            scheduler.run(stop)
        finally:
            sender.close()

    thread = threading.Thread(target=run, name=f"{owner_id}-scheduler", daemon=True)
    thread.start()
    return thread
