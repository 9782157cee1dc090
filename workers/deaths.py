"""Ops that kill their own process: counted per attempt, and a failure after a few.

When a prefork pool process dies running a step (the op called ``os._exit``, crashed
with a signal, or the OOM killer took it), Celery's main process sees it
(``WorkerLostError``, with the exit code or signal) and hands the message back to the
queue; the next delivery takes the attempt over from the dead holder. Left alone, an
op that always kills its process would do that forever, a few times a minute. So the
main process counts each death in the attempt's deaths record (and logs an engine
event), and a delivery that finds more deaths than ``OPGRID_MAX_REDELIVERIES`` fails
the step with ``StepProcessDied`` instead of running the op again.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from typing import Any

from opgrid.errors import StorageError
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.protocol.events import RunEvent
from opgrid.orchestrator.protocol.signing import admit_step
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.redis import RedisRunStore

logger = logging.getLogger(__name__)

#: billiard's ``WorkerLostError`` text: "Worker exited prematurely: exitcode 3 Job: 0."
_PREMATURE = re.compile(r"exited prematurely: (?P<how>.+?)(?:\s+Job: \d+)?\.?$")


def how_it_ended(exc: BaseException) -> str:
    """ "exitcode 3", "signal 11 (SIGSEGV)", from a ``WorkerLostError``; else its text."""
    if isinstance(exc, SystemExit):
        return f"exitcode {exc.code}"
    found = _PREMATURE.search(str(exc))
    return found.group("how") if found else (str(exc) or type(exc).__name__)


class DeathRecorder:
    """The worker main process's side: counts the deaths of the attempts it delivered."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._secret = settings.secret.get_secret_value().encode()
        self._store: RedisRunStore | None = None

    def record(self, fields: Mapping[str, Any], error: BaseException) -> None:
        """The process running the step request ``fields`` died (``error`` says how)."""
        how = how_it_ended(error)
        request = admit_step(self._secret, fields)
        if isinstance(request, str):  # not a step of this cluster: nothing to count
            return
        event = RunEvent(
            run_id=request.run_id,
            kind=E.ENGINE_EVENT,
            timestamp=time.time(),
            step_key=request.step_key,
            attempt=request.attempt,
            message=f"the process running attempt {request.attempt} of step "
            f"{request.step_key!r} died ({how})",
        )
        extra = {"run_id": request.run_id, "step_key": request.step_key}
        if self._store is None:
            self._store = RedisRunStore.from_settings(self.settings)
        try:
            deaths = self._store.record_death(
                request.run_id, request.step_key, request.attempt, how, event
            )
        except StorageError:  # Redis is away: this death is not counted, the step goes on
            logger.warning("could not count a process death", exc_info=True, extra=extra)
            return
        if deaths:
            logger.warning(
                "step %s attempt %d: its process died (%s), %d time(s) so far",
                request.step_key,
                request.attempt,
                how,
                deaths,
                extra=extra,
            )
