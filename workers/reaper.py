"""Stopping an op from outside its process: the worker's main process kills its pool child.

A ``StepWatch`` (``watch.py``) interrupts a canceled op and, after ``cancel_grace_s``,
kills its pool process from inside that process. Its thread cannot run while the op
holds the GIL in C code (a regex backtracking for ages, a C extension's long loop), so
the worker's main process watches too. A ``Reaper`` thread there looks every
``step_heartbeat_s`` at the steps its pool processes run (Celery's active requests, each
with the pid of the process running it), reads their statuses from Redis in one round
trip, and SIGKILLs a pool process whose step

- was canceled ``cancel_grace_s`` ago or longer and still runs, or
- runs past its hard time limit (``opgrid/timeout_s`` plus the grace Celery gets) by
  ``cancel_grace_s`` more, which Celery's own limit should have ended first.

Celery then starts a new pool process and hands the message back; the redelivery finds
the step final and is dropped, as after a kill from inside. The thread runs from when
the worker is ready until its shutdown is over, so a warm shutdown waiting on a
canceled op that holds the GIL ends once the op's process is killed. ``verdict`` is the
pure decision; the thread performs it.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from celery.worker import state as worker_state

from opgrid.errors import StorageError
from opgrid.orchestrator.protocol.messages import EXECUTE_STEP
from opgrid.orchestrator.protocol.status import StepStatus
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.base import Attempts
from opgrid.orchestrator.store.redis import RedisRunStore

logger = logging.getLogger(__name__)

_CANCELED = StepStatus.CANCELED.value
#: Times the set of Celery's active requests is copied again when it changed meanwhile.
_COPY_TRIES = 5


@dataclass(frozen=True, slots=True)
class PoolStep:
    """A step attempt a pool process of this worker runs."""

    pid: int
    task_id: str
    run_id: str
    step_key: str
    #: when the pool process took it (wall clock)
    started: float
    #: Celery's hard time limit of the task, if it has one
    hard_limit_s: float | None = None


def verdict(step: PoolStep, canceled_at: float | None, now: float, grace_s: float) -> str | None:
    """Why the process running ``step`` must be killed at ``now`` (None: it may run on),
    given when its cancel was first seen (``canceled_at``, None: not canceled)."""
    if canceled_at is not None and now - canceled_at >= grace_s:
        return f"the run was canceled {now - canceled_at:.1f} s ago"
    if step.hard_limit_s is not None and now - step.started >= step.hard_limit_s + grace_s:
        ran = now - step.started
        return f"it ran {ran:.1f} s, past its hard time limit of {step.hard_limit_s:g} s"
    return None


def pool_steps(requests: Iterable[Any], own_pid: int) -> list[PoolStep]:
    """The ``opgrid.step`` requests among Celery's active ``requests`` that run in a pool
    process (not in ``own_pid``, as the solo and threads pools do)."""
    steps = []
    for request in requests:
        pid, kwargs = request.worker_pid, request.kwargs
        if request.task.name != EXECUTE_STEP or pid is None or pid == own_pid:
            continue
        if not isinstance(kwargs, dict) or not {"run_id", "step_key"} <= kwargs.keys():
            continue  # not a step request (the pool process refuses it)
        hard_limit = request.time_limits[0]
        steps.append(
            PoolStep(
                pid=pid,
                task_id=request.id,
                run_id=str(kwargs["run_id"]),
                step_key=str(kwargs["step_key"]),
                started=request.time_start or time.time(),
                hard_limit_s=float(hard_limit) if hard_limit else None,
            )
        )
    return steps


def active_requests() -> list[Any]:
    """A copy of Celery's active requests of this process (the event loop changes the
    set while this thread copies it: then it is copied again)."""
    for _ in range(_COPY_TRIES):
        copied = _copy(worker_state.active_requests)
        if copied is not None:
            return copied
    return []


def _copy(requests: Iterable[Any]) -> list[Any] | None:
    try:
        return list(requests)
    except RuntimeError:  # the set changed size during the copy
        return None


class Reaper:
    """The worker main process's thread that kills pool processes beyond asking."""

    def __init__(
        self,
        store: Attempts,
        settings: Settings,
        requests: Callable[[], Iterable[Any]] = active_requests,
        kill: Callable[[int], None] = lambda pid: os.kill(pid, signal.SIGKILL),
    ) -> None:
        self.store = store
        self.interval_s = settings.step_heartbeat_s
        self.grace_s = settings.cancel_grace_s
        self._requests = requests
        self._kill = kill
        #: task id -> when its step was first seen canceled
        self._canceled_at: dict[str, float] = {}
        #: task ids whose process was killed already
        self._killed: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="opgrid reaper", daemon=True)

    @classmethod
    def start_for(cls, settings: Settings) -> Reaper:
        """A reaper of a worker of the cluster ``settings`` describe, started."""
        reaper = cls(RedisRunStore.from_settings(settings), settings)
        reaper._thread.start()
        return reaper

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.interval_s + 5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._look()

    def _look(self) -> None:
        try:
            self.tick(time.time())
        except StorageError as exc:  # Redis is away: look again next time
            logger.warning("reaper: cannot read step statuses: %s", exc)

    def tick(self, now: float) -> list[PoolStep]:
        """One look at the pool's steps; the ones whose process it killed."""
        steps = pool_steps(self._requests(), os.getpid())
        running = {step.task_id for step in steps}
        self._canceled_at = {t: at for t, at in self._canceled_at.items() if t in running}
        self._killed &= running
        steps = [step for step in steps if step.task_id not in self._killed]
        statuses = self.store.statuses_of([(s.run_id, s.step_key) for s in steps]) if steps else []
        killed = []
        for step, status in zip(steps, statuses, strict=True):
            if status == _CANCELED:
                self._canceled_at.setdefault(step.task_id, now)
            reason = verdict(step, self._canceled_at.get(step.task_id), now, self.grace_s)
            if reason is not None:
                self._reap(step, reason)
                killed.append(step)
        return killed

    def _reap(self, step: PoolStep, reason: str) -> None:
        extra = {"run_id": step.run_id, "step_key": step.step_key}
        logger.error(
            "step %s of run %s: %s and its op still runs (stuck in code that never lets "
            "its process's threads run?): killing pool process %d",
            step.step_key,
            step.run_id,
            reason,
            step.pid,
            extra=extra,
        )
        self._killed.add(step.task_id)
        try:
            self._kill(step.pid)
        except ProcessLookupError:  # it ended meanwhile
            return
