"""A worker announces itself in the cluster's registry of live workers (``<ns>:workers``).

Once Celery says the worker is ready (``worker_ready``), a ``WorkerPresence`` thread in
its main process writes the worker's hostname, queues and secret fingerprint every
``ANNOUNCE_EVERY_S``,
each entry good for three times that; a clean shutdown (``worker_shutdown``) removes
the entry, and the entry of a killed worker lapses. A thread rather than Celery's
``heartbeat_sent`` signal: that one is not sent by workers started with
``--without-heartbeat``, and a solo-pool worker's event loop stands still while it runs
a step.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from opgrid.errors import StorageError
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.redis import RedisRunStore
from opgrid.orchestrator.store.registry import secret_fingerprint

logger = logging.getLogger(__name__)

#: How often a worker renews its entry (which lasts three times as long).
ANNOUNCE_EVERY_S = 2.0


class WorkerPresence:
    """Keeps one worker's entry in the registry while it runs (``start``, then ``stop``)."""

    def __init__(
        self,
        store: RedisRunStore,
        hostname: str,
        queues: Sequence[str],
        every_s: float = ANNOUNCE_EVERY_S,
        fingerprint: str = "",
    ) -> None:
        self.store = store
        self.hostname = hostname
        self.queues = list(queues)
        self.every_s = every_s
        #: of the worker's OPGRID_SECRET, so ``submit`` can tell a submitter holding
        #: another secret (whose steps this worker would refuse)
        self.fingerprint = fingerprint
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"opgrid-presence-{hostname}", daemon=True
        )

    @classmethod
    def start_for(cls, settings: Settings, hostname: str, queues: Sequence[str]) -> WorkerPresence:
        """Announce a worker of the cluster ``settings`` describe, from now on."""
        fingerprint = secret_fingerprint(settings.secret.get_secret_value().encode())
        store = RedisRunStore.from_settings(settings)
        presence = cls(store, hostname, queues, fingerprint=fingerprint)
        presence.start()
        return presence

    def start(self) -> None:
        self._announce()
        self._thread.start()

    def stop(self) -> None:
        """Stop announcing and leave the registry at once."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.every_s + 5)
        try:
            self.store.forget_worker(self.hostname)
        except StorageError:
            logger.warning("worker %s: could not leave the registry", self.hostname, exc_info=True)
        finally:
            self.store.client.close()

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self._announce()

    def _announce(self) -> None:
        try:
            self.store.worker_heartbeat(
                self.hostname, self.queues, self.every_s * 3, self.fingerprint
            )
        except StorageError:  # the worker still runs steps; it is listed again once Redis answers
            logger.warning("worker %s: could not announce itself", self.hostname, exc_info=True)
