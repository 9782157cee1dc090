"""How one delivery of a step attempt ended, and how Celery (so Flower) is told.

opgrid records every outcome in Redis first; the Celery task then ends the way a
Celery user reads it: a step that failed ends FAILURE (its exception type and
message in the task's exception), an attempt that will be retried ends RETRY, a
step stopped by a cancel ends REVOKED, and everything else (a success, a duplicate
delivery dropped, a report refused because another worker took over) ends SUCCESS
with the outcome in its result. Delivery stays as safe as before: each of these
acknowledges the message (late acks), and Celery never retries a step itself (the
coordinator sends the next attempt). ``dropped`` and ``reported`` say how a delivery
ended, logging the unusual ends.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from billiard.exceptions import Terminated
from celery.exceptions import Retry

from opgrid.orchestrator.protocol.attempts import Begun
from opgrid.orchestrator.protocol.messages import StepRequest
from opgrid.step_runner import StepOutcome

logger = logging.getLogger(__name__)

#: What a delivery can end as, in Celery's terms.
State = Literal["success", "failure", "retry", "revoked", "dropped"]


class StepFailed(Exception):
    """The Celery-side face of a step failure recorded in Redis: ``ValueError: ...``."""

    def __repr__(self) -> str:
        return f"StepFailed({self.args[0]!r})" if self.args else "StepFailed()"


@dataclass(frozen=True, slots=True)
class Delivered:
    """How one delivery ended: its Celery state, and a few words on it."""

    state: State
    text: str


def as_celery_result(outcome: Delivered) -> str:
    """The task's return value; raises what makes Celery record a failure, a retry or
    a revoke (every one of which acknowledges the message)."""
    if outcome.state == "failure":
        raise StepFailed(outcome.text)
    if outcome.state == "retry":
        raise Retry(outcome.text, exc=StepFailed(outcome.text))
    if outcome.state == "revoked":
        raise Terminated(outcome.text)
    return outcome.text


def dropped(request: StepRequest, begun: Begun) -> Delivered:
    """A delivery that does not run (settled, stale, busy elsewhere...), logged."""
    holder = f", held by {begun.holder}" if begun.holder else ""
    logger.info(
        "step %s attempt %d: delivery dropped (%s%s)",
        request.step_key,
        request.attempt,
        begun.verdict.value,
        holder,
    )
    return Delivered("dropped", f"dropped: {begun.verdict.value}")


def reported(
    request: StepRequest, stopped: str | None, committed: bool, outcome: StepOutcome
) -> Delivered:
    """How a delivery that ran the op ended, in a few words (logged when unusual)."""
    if stopped is not None and not committed:
        logger.warning(
            "step %s attempt %d stopped (%s); nothing recorded",
            request.step_key,
            request.attempt,
            stopped,
        )
        return Delivered("revoked" if stopped == "canceled" else "dropped", f"stopped: {stopped}")
    if not committed:
        logger.warning(
            "step %s attempt %d: result refused (the step ended or was taken over meanwhile)",
            request.step_key,
            request.attempt,
        )
        return Delivered("dropped", f"refused: {outcome.status}")
    final: State = outcome.status
    if outcome.error is not None:
        text = f"{outcome.status}: {type(outcome.error).__name__}: {outcome.error}"[:200]
        return Delivered(final, text)
    return Delivered(final, outcome.status)
