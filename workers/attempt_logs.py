"""What one step attempt logs and prints, from its start to where it is kept.

``AttemptLogs`` joins an attempt's ``LiveLog`` (``context.log`` lines, sent while it
runs) and its ``Capture`` (stdout and stderr). When the attempt ends, what it printed
is stored first (so it is there by the time the run is seen to end), and the lines not
yet sent go with the attempt's record; when nothing is recorded (the attempt was
canceled, or its record refused), both are kept on their own, under the claim.
"""

from __future__ import annotations

import logging

from opgrid.errors import StorageError
from opgrid.orchestrator.protocol.events import RunEvent
from opgrid.orchestrator.protocol.messages import StepRequest
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.base import StepLogs

from .capture import Capture
from .live_logs import LiveLog, LogLimits

logger = logging.getLogger(__name__)


class AttemptLogs:
    """The ``context.log`` lines and the printed output of one step attempt."""

    def __init__(
        self, store: StepLogs, request: StepRequest, claim: tuple[str, str], settings: Settings
    ) -> None:
        self.store = store
        self.request = request
        self.claim = claim
        self.live = LiveLog(store, request, claim, LogLimits.from_settings(settings))
        self.capture = Capture(settings.capture_limit_bytes)
        self._stored = False
        self._unsent: list[RunEvent] = []

    def closing(self) -> list[RunEvent]:
        """The attempt ended: store what it printed; the log lines to record with it."""
        self._store_captured()
        self._unsent += self.live.close()
        return list(self._unsent)

    def recorded(self, committed: bool) -> bool:
        """Whether the attempt's record (with the lines ``closing`` gave) was written."""
        if committed:
            self._unsent = []
        return committed

    def keep(self) -> None:
        """Nothing was recorded for the attempt: keep what it printed and logged anyway."""
        self._store_captured()
        self._unsent += self.live.close()
        rest, self._unsent = self._unsent, []
        if not rest:
            return
        try:
            self.store.append_step_logs(self.request.run_id, self.claim, rest)
        except StorageError as exc:
            logger.warning(
                "step %s: %d log lines lost, Redis is unreachable: %s",
                self.request.step_key,
                len(rest),
                exc,
            )

    def _store_captured(self) -> None:
        if self._stored or self.capture.empty:  # printed nothing: nothing to write
            return
        self._stored = True
        output = self.capture.output(self.request.step_key, self.request.attempt)
        try:
            self.store.save_captured(self.request.run_id, self.claim, output)
        except StorageError as exc:
            logger.warning(
                "step %s: its printed output is lost, Redis is unreachable: %s",
                self.request.step_key,
                exc,
            )
