"""A worker announces itself in the cluster's registry of live workers (``<ns>:workers``).

Once Celery says the worker is ready (``worker_ready``), a ``WorkerPresence`` thread in
its main process writes the worker's hostname, queues, secret fingerprint and a
``WorkerInfo`` (host, pid, pool size, the steps its pool runs now, read from Celery's
own list of active requests) every ``ANNOUNCE_EVERY_S``, each entry good for three
times that; a clean shutdown (``worker_shutdown``) removes
the entry, and the entry of a killed worker lapses. A thread rather than Celery's
``heartbeat_sent`` signal: that one is not sent by workers started with
``--without-heartbeat``, and a solo-pool worker's event loop stands still while it runs
a step.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from opgrid.errors import StorageError
from opgrid.orchestrator.protocol.messages import EXECUTE_STEP
from opgrid.orchestrator.protocol.presence import RunningStep, WorkerInfo
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
        describe: Callable[[], WorkerInfo] | None = None,
    ) -> None:
        self.store = store
        self.hostname = hostname
        self.queues = list(queues)
        self.every_s = every_s
        #: of the worker's OPGRID_SECRET, so ``submit`` can tell a submitter holding
        #: another secret (whose steps this worker would refuse)
        self.fingerprint = fingerprint
        #: what the worker says about itself with each announcement
        self.describe = describe
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"opgrid-presence-{hostname}", daemon=True
        )

    @classmethod
    def start_for(
        cls,
        settings: Settings,
        hostname: str,
        queues: Sequence[str],
        describe: Callable[[], WorkerInfo] | None = None,
    ) -> WorkerPresence:
        """Announce a worker of the cluster ``settings`` describe, from now on."""
        fingerprint = secret_fingerprint(settings.secret.get_secret_value().encode())
        store = RedisRunStore.from_settings(settings)
        presence = cls(store, hostname, queues, fingerprint=fingerprint, describe=describe)
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

    def _describe(self) -> WorkerInfo | None:
        if self.describe is None:
            return None
        try:
            return self.describe()
        except (AttributeError, RuntimeError, ValueError):  # Celery's internals, mid-change
            logger.warning(
                "worker %s: could not describe itself; announced without its pool and steps",
                self.hostname,
                exc_info=True,
            )
            return None

    def _announce(self) -> None:
        info = self._describe()
        try:
            self.store.worker_heartbeat(
                self.hostname, self.queues, self.every_s * 3, self.fingerprint, info
            )
        except StorageError:  # the worker still runs steps; it is listed again once Redis answers
            logger.warning("worker %s: could not announce itself", self.hostname, exc_info=True)


def celery_describer(consumer: Any) -> Callable[[], WorkerInfo]:
    """What a Celery worker says about itself: its pool's size and kind, and the step
    deliveries the pool executes now (Celery's active requests of the main process)."""
    from celery.worker import state

    started_at = time.time()
    host, pid = socket.gethostname(), os.getpid()
    pool = consumer.pool
    kind = type(pool).__module__.rpartition(".")[2]

    def describe() -> WorkerInfo:
        running = tuple(step for step in map(_running_step, _active(state.active_requests)) if step)
        return WorkerInfo(
            host=host,
            pid=pid,
            concurrency=int(pool.limit or 1),
            pool=kind,
            started_at=started_at,
            running=running,
        )

    return describe


def _active(requests: Any) -> list[Any]:
    """A copy of Celery's set of active requests, which its own thread changes meanwhile."""
    for _ in range(5):
        copied = _copy(requests)
        if copied is not None:
            return copied
    return []


def _copy(requests: Any) -> list[Any] | None:
    try:
        return list(requests)
    except RuntimeError:  # the set changed while it was copied: the caller copies again
        return None


def _running_step(request: Any) -> RunningStep | None:
    """The step a Celery request runs, once a pool process has taken it (``type`` is the
    task's name; ``name`` is the shadow name Flower shows)."""
    if request.type != EXECUTE_STEP or not request.time_start or not request.worker_pid:
        return None
    fields = request.kwargs or {}
    try:
        return RunningStep(
            run_id=str(fields["run_id"]),
            step_key=str(fields["step_key"]),
            attempt=int(fields.get("attempt", 0)),
            job_name=str(fields.get("job_name", "")),
            pid=int(request.worker_pid),
            started_at=float(request.time_start),
        )
    except (KeyError, TypeError, ValueError):  # a malformed message: the task refuses it
        return None
