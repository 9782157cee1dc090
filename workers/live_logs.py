"""A running step's ``context.log`` lines, sent to the run's event log while it runs.

The op's thread only adds lines to a ``LiveLog``; the process's step watcher thread
(``watch``) sends what is pending, in bounded batches, ``log_flush_s`` after the first
pending line: a step that logs nothing costs no Redis write, and a step that ends
sooner sends its lines with its record, as before. Lines sent live are never sent
again; what is pending when the attempt ends goes with its record, or (when nothing is
recorded: canceled, taken over) is appended on its own under the attempt's claim.

Each attempt has a budget: a line longer than ``log_line_max_bytes`` is cut (saying
so), and lines beyond ``step_log_max_lines`` or ``step_log_max_bytes`` are counted and
reported by one line at the end.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from opgrid.errors import StorageError
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.protocol.events import RunEvent
from opgrid.orchestrator.protocol.messages import StepRequest
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.base import StepLogs

logger = logging.getLogger(__name__)

#: The most lines, and bytes of messages, one live append carries.
BATCH_LINES = 500
BATCH_BYTES = 512 * 1024
#: How long the end of an attempt waits for a live append in flight (Redis may be slow).
FLUSH_WAIT_S = 10.0


@dataclass(frozen=True, slots=True)
class LogLimits:
    """How often lines are sent, and how much one attempt may log."""

    flush_s: float = 0.5
    line_max_bytes: int = 16 * 1024
    step_max_lines: int = 10_000
    step_max_bytes: int = 8 * 1024 * 1024

    @classmethod
    def from_settings(cls, settings: Settings) -> LogLimits:
        return cls(
            settings.log_flush_s,
            settings.log_line_max_bytes,
            settings.step_log_max_lines,
            settings.step_log_max_bytes,
        )


def cut_line(message: str, limit: int) -> tuple[str, int]:
    """``message`` cut to ``limit`` bytes (UTF-8) with a note saying so; its size as kept."""
    data = message.encode("utf-8", "replace")
    if len(data) <= limit:
        return message, len(data)
    kept = data[:limit].decode("utf-8", "ignore")
    note = f" [cut: {len(data) - limit} more bytes; log lines are kept up to {limit} bytes]"
    return kept + note, limit + len(note)


class LiveLog:
    """The ``context.log`` lines of one step attempt, on their way to the run's log."""

    def __init__(
        self, store: StepLogs, request: StepRequest, claim: tuple[str, str], limits: LogLimits
    ) -> None:
        self.store = store
        self.request = request
        self.claim = claim
        self.limits = limits
        #: called (from the op's thread) when a first line is pending: wakes the sender
        self.wake: Callable[[], None] | None = None
        self._lock = threading.Lock()
        self._sending = threading.Lock()
        self._pending: list[tuple[RunEvent, int]] = []
        self._first_at: float | None = None
        self._lines = 0
        self._bytes = 0
        self._dropped = 0
        self._closed = False
        self._refused = False

    # The op's thread ------------------------------------------------------------------------
    def add(self, level: str, message: str) -> None:
        """One ``context.log`` line (the step runner's log sink)."""
        message, size = cut_line(message, self.limits.line_max_bytes)
        with self._lock:
            if (
                self._closed
                or self._lines >= self.limits.step_max_lines
                or self._bytes + size > self.limits.step_max_bytes
            ):
                self._dropped += 1
                return
            self._lines += 1
            self._bytes += size
            self._pending.append((self._event(level, message), size))
            first = self._first_at is None
            if first:
                self._first_at = time.monotonic()
        if first and self.wake is not None:
            self.wake()

    def close(self) -> list[RunEvent]:
        """The attempt ended: the lines never sent (and a note of those dropped), once."""
        got = self._sending.acquire(timeout=FLUSH_WAIT_S)  # let a send in flight finish
        try:
            with self._lock:
                if self._closed:
                    return []
                self._closed = True
                rest = [event for event, _ in self._pending]
                self._pending, self._first_at = [], None
                if self._dropped:
                    rest.append(self._event("WARNING", self._dropped_note()))
                return rest
        finally:
            if got:
                self._sending.release()

    # The watcher's thread -------------------------------------------------------------------
    def due(self) -> float:
        """When pending lines are next to be sent (monotonic); infinity when none are."""
        first = self._first_at
        return float("inf") if first is None else first + self.limits.flush_s

    def flush(self, now: float, everything: bool = False) -> None:
        """Send a batch of pending lines if due (every batch with ``everything``)."""
        if now < self.due() and not everything:
            return
        with self._sending:
            while True:
                batch = self._batch(now)
                if not batch or not self._send(batch) or not everything:
                    return

    def _batch(self, now: float) -> list[tuple[RunEvent, int]]:
        with self._lock:
            if self._closed or self._refused:
                return []
            count, size = 0, 0
            for _, line_size in self._pending:
                if count and (count >= BATCH_LINES or size + line_size > BATCH_BYTES):
                    break
                count, size = count + 1, size + line_size
            batch, self._pending = self._pending[:count], self._pending[count:]
            self._first_at = now if self._pending else None
            return batch

    def _send(self, batch: list[tuple[RunEvent, int]]) -> bool:
        """Append one batch under the claim; on failure, the batch waits for the next try."""
        try:
            sent = self.store.append_step_logs(
                self.request.run_id, self.claim, [event for event, _ in batch]
            )
        except StorageError as exc:  # Redis is away: keep the lines, try again later
            logger.warning("step %s: sending log lines failed: %s", self.request.step_key, exc)
            with self._lock:
                self._pending[:0] = batch
                self._first_at = time.monotonic()
            return False
        if not sent:  # another attempt holds the step: this one's lines are not wanted
            with self._lock:
                self._refused = True
        return sent

    # Helpers --------------------------------------------------------------------------------
    def _dropped_note(self) -> str:
        return (
            f"{self._dropped} log lines dropped: step attempt over its budget of "
            f"{self.limits.step_max_lines} lines or {self.limits.step_max_bytes} bytes "
            "(OPGRID_STEP_LOG_MAX_LINES, OPGRID_STEP_LOG_MAX_BYTES)"
        )

    def _event(self, level: str, message: str) -> RunEvent:
        request = self.request
        return RunEvent(
            run_id=request.run_id,
            kind=E.LOG_MESSAGE,
            timestamp=time.time(),
            step_key=request.step_key,
            attempt=request.attempt,
            level=level,
            message=message,
        )
