"""What step attempts log and print, in Redis: ``context.log`` lines appended to the run's
event stream while the attempt runs, and each attempt's captured stdout and stderr.

``RedisStepLogs`` is mixed into ``RedisRunStore`` (``base.StepLogs``). Both writes run as
Lua scripts that check the attempt's claim first, so an attempt that was taken over
cannot write into the run's log or into another attempt's record.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opgrid.orchestrator.protocol.captured import (
    CapturedOutput,
    captured_field,
    parse_captured_field,
)
from opgrid.orchestrator.protocol.events import RunEvent

from .compact import dump_event
from .connect import translated
from .keys import Keys


class RedisStepLogs:
    """Live log lines and captured output of step attempts (mixed into ``RedisRunStore``)."""

    _r: Any
    keys: Keys
    run_ttl_ms: int
    _append_logs: Any
    _save_captured: Any

    @translated
    def append_step_logs(
        self, run_id: str, claim: tuple[str, str], events: Sequence[RunEvent]
    ) -> bool:
        """Log events of a running attempt, while its claim holds (one round trip)."""
        if not events:
            return True
        step_key, held = claim
        keys = [self.keys.claims(run_id), self.keys.events(run_id)]
        args = [step_key, held, *(dump_event(event, run_id) for event in events)]
        return bool(self._append_logs(keys=keys, args=args))

    @translated
    def save_captured(self, run_id: str, claim: tuple[str, str], output: CapturedOutput) -> bool:
        """What an attempt printed, while its claim holds; the hash lives the run's TTL."""
        step_key, held = claim
        keys = [self.keys.claims(run_id), self.keys.captured(run_id)]
        field = captured_field(output.step_key, output.attempt)
        args = [step_key, held, field, output.model_dump_json(), self.run_ttl_ms]
        return bool(self._save_captured(keys=keys, args=args))

    @translated
    def captured_attempts(self, run_id: str) -> list[tuple[str, int]]:
        """(step key, attempt) of every attempt with stored output, sorted."""
        fields = self._r.hkeys(self.keys.captured(run_id))
        return sorted(parse_captured_field(field.decode()) for field in fields)

    @translated
    def get_captured(
        self, run_id: str, step_key: str, attempt: int | None = None
    ) -> CapturedOutput | None:
        """One attempt's printed output; the latest attempt's when ``attempt`` is None."""
        if attempt is None:
            attempts = [a for key, a in self.captured_attempts(run_id) if key == step_key]
            if not attempts:
                return None
            attempt = max(attempts)
        raw = self._r.hget(self.keys.captured(run_id), captured_field(step_key, attempt))
        return CapturedOutput.model_validate_json(raw) if raw is not None else None
