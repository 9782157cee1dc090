"""The in-memory twin of ``step_logs.RedisStepLogs``: live log lines and captured output
of step attempts, kept with the run in ``InMemoryRunStore``."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any

from opgrid.orchestrator.protocol.captured import CapturedOutput
from opgrid.orchestrator.protocol.events import RunEvent


class InMemoryStepLogs:
    """``base.StepLogs`` in memory (mixed into ``InMemoryRunStore``)."""

    _changed: threading.Condition
    _runs: dict[str, Any]

    def _run(self, run_id: str) -> Any:  # InMemoryRunStore's: the run's record in memory
        raise NotImplementedError

    def _append(self, run_id: str, events: Iterable[RunEvent]) -> None:  # InMemoryRunStore's
        raise NotImplementedError

    def append_step_logs(
        self, run_id: str, claim: tuple[str, str], events: Sequence[RunEvent]
    ) -> bool:
        step_key, held = claim
        with self._changed:
            run = self._run(run_id)
            if run.claims.get(step_key) != held:
                return False
            if events:
                self._append(run_id, events)
            return True

    def save_captured(self, run_id: str, claim: tuple[str, str], output: CapturedOutput) -> bool:
        step_key, held = claim
        with self._changed:
            run = self._run(run_id)
            if run.claims.get(step_key) != held:
                return False
            run.captured[(output.step_key, output.attempt)] = output
            return True

    def captured_attempts(self, run_id: str) -> list[tuple[str, int]]:
        run = self._runs.get(run_id)
        return sorted(run.captured) if run is not None else []

    def get_captured(
        self, run_id: str, step_key: str, attempt: int | None = None
    ) -> CapturedOutput | None:
        run = self._runs.get(run_id)
        if run is None:
            return None
        if attempt is None:
            attempts = [a for key, a in run.captured if key == step_key]
            if not attempts:
                return None
            attempt = max(attempts)
        found: CapturedOutput | None = run.captured.get((step_key, attempt))
        return found
