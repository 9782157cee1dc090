"""While a step runs: keep its claim alive, and stop the op when it must stop.

A ``StepWatch`` sends the attempt's heartbeat every ``step_heartbeat_s``
and reads back the step's status; it also sends the attempt's pending ``context.log``
lines (``live_logs``) when they are due. When the run was canceled, or the coordinator
gave the attempt to another worker (this one looked dead), it interrupts the op:

* in the main thread of a prefork pool process, with the signal Celery's soft time
  limit uses (``SoftTimeLimitExceeded`` is raised in the op, even inside a sleep);
* elsewhere (the in-thread and threads pools), by raising
  ``DagsterExecutionInterruptedError`` asynchronously in the op's thread, which takes
  effect at the op's next Python instruction.

An op that is still running ``cancel_grace_s`` later is beyond asking: in a pool
process, that process alone is killed (Celery starts a new one and hands the message
back; the redelivery finds the step final and is dropped); elsewhere it is left to
finish, and its report is refused. Either way its pending log lines are sent first.
An op holding the GIL in C code keeps this thread from running at all; the worker's
main process kills its pool process then (``reaper.Reaper``).
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import threading
import time
from types import TracebackType

from billiard.pool import soft_timeout_sighandler

from opgrid.errors import DagsterExecutionInterruptedError, StorageError
from opgrid.orchestrator.protocol.status import StepStatus
from opgrid.orchestrator.store.base import Attempts

from .live_logs import LiveLog

logger = logging.getLogger(__name__)

_CANCELED = StepStatus.CANCELED.value


class StepWatch:
    """``with StepWatch(...):`` around one step attempt, in the thread that runs it.

    Entering and leaving only register the watch with the process's one watcher
    thread (starting a thread per step would cost more than the rest of the
    worker's overhead).
    """

    def __init__(
        self,
        store: Attempts,
        run_id: str,
        claim: tuple[str, str],
        interval_s: float,
        grace_s: float,
        may_kill_process: bool,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.step_key, self.claim = claim
        self.interval_s = interval_s
        self.grace_s = grace_s
        self.may_kill_process = may_kill_process
        #: why the op was interrupted: "canceled" or "superseded"; None while it was not
        self.reason: str | None = None
        self._target = threading.get_ident()
        self._lock = threading.Lock()
        self._done = False
        self._next_beat = 0.0
        self._interrupted_at: float | None = None
        self.logs: LiveLog | None = None

    def sending(self, logs: LiveLog) -> StepWatch:
        """Also send these log lines while the step runs."""
        self.logs = logs
        return self

    def __enter__(self) -> StepWatch:
        self._next_beat = time.monotonic() + self.interval_s
        watcher = _watcher()
        if self.logs is not None:
            self.logs.wake = watcher.wake
        watcher.add(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with self._lock:
            self._done = True
        _watcher().remove(self)
        if self.reason is not None and not _in_main_thread(self._target):
            _set_async_exc(self._target, None)  # drop an interrupt still pending

    # Called by the watcher thread -----------------------------------------------------------
    def due(self, now: float) -> float:
        """When this watch next needs the watcher."""
        if self._interrupted_at is not None:
            due = self._interrupted_at + self.grace_s
        else:
            due = self._next_beat
        return due if self.logs is None else min(due, self.logs.due())

    def tick(self, now: float) -> bool:
        """Send log lines, beat, interrupt or give up, as due; False once there is
        nothing left to do."""
        if self.logs is not None:
            self.logs.flush(now)
        if self._interrupted_at is not None:
            if now < self._interrupted_at + self.grace_s:
                return True
            self._give_up()
            return False
        if now < self._next_beat:
            return True
        self._next_beat = now + self.interval_s
        reason = self._check()
        if reason is not None and self._interrupt(reason):
            self._interrupted_at = now
        return True

    def _check(self) -> str | None:
        try:
            status = self.store.beat(self.run_id, self.step_key, self.claim)
        except StorageError as exc:  # Redis is away: keep running, keep trying
            logger.warning("step %s: heartbeat failed: %s", self.step_key, exc)
            return None
        if status is None:
            return "superseded"
        return "canceled" if status == _CANCELED else None

    def _interrupt(self, reason: str) -> bool:
        with self._lock:
            if self._done:
                return False
            self.reason = reason
            logger.warning(
                "step %s of run %s: %s, interrupting the op",
                self.step_key,
                self.run_id,
                "the run was canceled" if reason == "canceled" else "another worker took it over",
            )
            if _in_main_thread(self._target) and _has_soft_limit_handler():
                signal.pthread_kill(self._target, signal.SIGUSR1)
            else:
                _set_async_exc(self._target, DagsterExecutionInterruptedError)
            return True

    def _give_up(self) -> None:
        if self.logs is not None:  # what the op logged so far is kept, whatever comes next
            self.logs.flush(time.monotonic(), everything=True)
        with self._lock:
            if self._done:
                return
            if not self.may_kill_process:
                logger.error(
                    "step %s of run %s ignored the interruption for %.0f s; it runs on, "
                    "and its result will be refused",
                    self.step_key,
                    self.run_id,
                    self.grace_s,
                )
                return
            logger.error(
                "step %s of run %s ignored the interruption for %.0f s: killing its process",
                self.step_key,
                self.run_id,
                self.grace_s,
            )
            os.kill(os.getpid(), signal.SIGKILL)


class _Watcher:
    """The one thread of a process that serves every ``StepWatch`` in it."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._watches: set[StepWatch] = set()
        self._changed = threading.Condition()
        #: how often the thread looks for new watches while it has none
        self._idle_s = 1.0
        threading.Thread(target=self._run, name="opgrid step watcher", daemon=True).start()

    def add(self, watch: StepWatch) -> None:
        # No wake-up call per step (it would cost the step's thread the GIL): a new
        # watch is first due an interval from now, and the thread looks at least that
        # often. Only a shorter interval than any before wakes it.
        with self._changed:
            self._watches.add(watch)
            if watch.interval_s < self._idle_s:
                self._idle_s = watch.interval_s
                self._changed.notify()

    def wake(self) -> None:
        """Look at the watches again now (a step has log lines to send)."""
        with self._changed:
            self._changed.notify()

    def remove(self, watch: StepWatch) -> None:
        with self._changed:
            self._watches.discard(watch)

    def _run(self) -> None:
        while True:
            with self._changed:
                if not self._watches:
                    self._changed.wait(self._idle_s)
                    continue
                now = time.monotonic()
                due = [w for w in self._watches if w.due(now) <= now]
                if not due:
                    # a watch added meanwhile is due no sooner than an interval away
                    next_due = min(w.due(now) for w in self._watches)
                    self._changed.wait(min(next_due - now, self._idle_s))
                    continue
            for watch in due:  # outside the lock: a beat is a Redis round trip
                if not watch.tick(now):
                    self.remove(watch)


_WATCHER: list[_Watcher] = []
_WATCHER_LOCK = threading.Lock()


def _watcher() -> _Watcher:
    """This process's watcher (a forked pool process starts its own)."""
    with _WATCHER_LOCK:
        if not _WATCHER or _WATCHER[0].pid != os.getpid():
            _WATCHER[:] = [_Watcher()]
        return _WATCHER[0]


def _in_main_thread(ident: int) -> bool:
    return ident == threading.main_thread().ident


def _has_soft_limit_handler() -> bool:
    """Whether SIGUSR1 raises ``SoftTimeLimitExceeded`` (billiard's handler in a prefork
    pool process; a solo worker's SIGUSR1 is Celery's stack dump instead)."""
    return signal.getsignal(signal.SIGUSR1) is soft_timeout_sighandler


def _set_async_exc(ident: int, exc_type: type[BaseException] | None) -> None:
    """Raise ``exc_type`` in thread ``ident`` at its next instruction (None: cancel that)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(ident), ctypes.py_object(exc_type) if exc_type is not None else None
    )
