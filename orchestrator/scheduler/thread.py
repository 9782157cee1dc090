"""The one wiring of a scheduler in a coordinator process: a daemon thread that stops
with the coordinator."""

from __future__ import annotations

import threading

from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.base import RunStore

from .loop import Scheduler
from .send import CeleryTickSender


def start_scheduler(
    store: RunStore, settings: Settings, owner_id: str, stop: threading.Event
) -> threading.Thread:
    """Run a scheduler named after its coordinator ``owner_id`` in a daemon thread until
    ``stop`` is set (it then hands back its lease and closes its broker connection)."""
    sender = CeleryTickSender(settings)
    scheduler = Scheduler(store, sender, settings, scheduler_id=owner_id)

    def run() -> None:
        try:
            scheduler.run(stop)
        finally:
            sender.close()

    thread = threading.Thread(target=run, name=f"{owner_id}-scheduler", daemon=True)
    thread.start()
    return thread
