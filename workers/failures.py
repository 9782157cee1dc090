"""Failures a worker explains in opgrid's words rather than running or reporting the
op's own: a time limit that stopped the op, and an op that keeps killing its process."""

from __future__ import annotations

import logging
from dataclasses import replace

from celery.exceptions import SoftTimeLimitExceeded

from opgrid.errors import StepProcessDied, StepTimeLimitExceeded
from opgrid.orchestrator.planning.plan import ExecutionPlan, PlanStep
from opgrid.orchestrator.protocol.attempts import Begun
from opgrid.orchestrator.protocol.messages import StepRequest
from opgrid.orchestrator.protocol.tags import TIMEOUT_TAG
from opgrid.step_runner import StepOutcome

logger = logging.getLogger(__name__)


def explain_time_limit(
    request: StepRequest, plan: ExecutionPlan, plan_step: PlanStep, outcome: StepOutcome
) -> StepOutcome:
    """Celery's soft time limit raised in the op: say so in opgrid's words."""
    if not isinstance(outcome.error, SoftTimeLimitExceeded):
        return outcome
    limit = plan_step.tags.get(TIMEOUT_TAG, plan.tags.get(TIMEOUT_TAG))
    error = StepTimeLimitExceeded(
        f"op {plan_step.key!r} (step {request.step_key!r}) ran longer than its time limit "
        f"of {limit} s (tag {TIMEOUT_TAG}) and was stopped"
    )
    return replace(outcome, error=error, error_text=str(error))


def too_many_deaths(request: StepRequest, begun: Begun, limit: int) -> StepOutcome | None:
    """A failure for an attempt whose processes died more than ``limit`` times (see
    ``workers.deaths``), to record instead of running the op again."""
    if begun.deaths <= limit:
        return None
    error = StepProcessDied(
        f"step {request.step_key!r} attempt {request.attempt}: the op's process died "
        f"{begun.deaths} times (last: {begun.died or 'how is unknown'}); "
        f"OPGRID_MAX_REDELIVERIES allows {limit}, so it is not run again"
    )
    logger.error("%s", error)
    return StepOutcome("failure", error=error, error_text=str(error))
