"""The one wiring of a coordinator in a thread of this process, for scripts and ``opgrid dev``.

Stores, dispatcher and metrics are built here, at the entry point, and passed in.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from opgrid.orchestrator.scheduler.thread import start_scheduler
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.redis import RedisRunStore

from .dispatch import CeleryDispatcher
from .loop import Coordinator
from .metrics import PrometheusMetrics
from .metrics_server import served_metrics
from .unacked import UnackedSweeper


class CoordinatorThread:
    """A coordinator running in a background thread of this process (``with`` it)."""

    def __init__(self, coordinator: Coordinator) -> None:
        self.coordinator = coordinator
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=coordinator.run, args=(self._stop,), name=coordinator.id, daemon=True
        )
        self._scheduler: threading.Thread | None = None

    def __enter__(self) -> Coordinator:
        self.coordinator.heartbeat()  # alive before the first submission
        self._thread.start()
        hooks = self.coordinator.hooks
        registry = hooks.registry if isinstance(hooks, PrometheusMetrics) else None
        self._scheduler = start_scheduler(
            self.coordinator.store,
            self.coordinator.settings,
            self.coordinator.id,
            self._stop,
            registry,
        )
        return self.coordinator

    def __exit__(self, *exc_info: object) -> None:
        """Stop both threads and wait for them: the stores they use close after this."""
        self._stop.set()
        timeout = self.coordinator.settings.block_s + 5
        self._thread.join(timeout=timeout)
        if self._scheduler is not None:
            self._scheduler.join(timeout=timeout)


@contextlib.contextmanager
def local_coordinator(settings: Settings | None = None) -> Iterator[Coordinator]:
    """Coordinate runs from this process while the block runs (``with local_coordinator():``).

    For scripts and notebooks that submit runs to a cluster that has workers but no
    coordinator daemon; runs still owned when the block exits are released, so a
    coordinator elsewhere can adopt them.
    """
    settings = settings or Settings()
    store = RedisRunStore.from_settings(settings)
    dispatcher = CeleryDispatcher(settings)
    sweeper = UnackedSweeper.for_settings(store, settings)
    try:
        coordinator = Coordinator(store, dispatcher, settings, sweeper=sweeper)
        with CoordinatorThread(coordinator):
            yield coordinator
    finally:
        sweeper.close()
        dispatcher.close()
        store.client.close()


@contextlib.contextmanager
def local_coordinator_with_metrics(settings: Settings) -> Iterator[Coordinator]:
    """``coordinator.local_coordinator``, its metrics served on ``settings.metrics_port``."""
    store = RedisRunStore.from_settings(settings)
    dispatcher = CeleryDispatcher(settings)
    sweeper = UnackedSweeper.for_settings(store, settings)
    try:
        with served_metrics(store, settings) as metrics:
            coordinator = Coordinator(store, dispatcher, settings, hooks=metrics, sweeper=sweeper)
            with CoordinatorThread(coordinator):
                yield coordinator
    finally:
        sweeper.close()
        dispatcher.close()
        store.client.close()
