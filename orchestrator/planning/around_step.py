"""What every executor does around one step: assemble its inputs, report its outcome.

The in-process executor and the Celery worker both call these, so a step sees
the same inputs and reports the same events wherever it runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opgrid.errors import DagsterMaxRetriesExceededError, Failure
from opgrid.event_type import DagsterEventType as E
from opgrid.op import OpDefinition
from opgrid.orchestrator.protocol.events import ErrorInfo, RunEvent
from opgrid.output import jsonable_metadata
from opgrid.step_runner import StepOutcome

from .plan import PlanStep
from .state import ValueRef


def assemble_inputs(
    plan_step: PlanStep,
    op_def: OpDefinition,
    loaded: Mapping[str, Sequence[Any]],
    run_inputs: Mapping[str, Any],
) -> dict[str, Any]:
    """The keyword arguments of an op call.

    Args:
        plan_step: the step's plan.
        op_def: the op it runs.
        loaded: for each input fed by steps, the stored values it reads, in order.
        run_inputs: values given to the job's top-level inputs at launch.
    """
    values: dict[str, Any] = {}
    for plan_input in plan_step.inputs:
        if plan_input.is_nothing:
            continue
        name, kind = plan_input.name, plan_input.kind
        from_steps = list(loaded.get(name, ()))
        extra = [run_inputs[n] for n in plan_input.run_inputs if n in run_inputs]
        if kind in ("fan_in", "collect"):
            values[name] = from_steps + extra
        elif kind == "from_step":
            values[name] = from_steps[0]
        elif kind == "run_input":
            values[name] = extra[0]
        elif kind == "config":
            values[name] = op_def.input_defs[name].value_from_config(plan_input.value, op_def)
        elif kind == "default":
            values[name] = op_def.input_defs[name].default_value
    return values


def plan_refs(
    plan_step: PlanStep, steps: Mapping[str, PlanStep]
) -> dict[str, list[ValueRef]] | None:
    """Every stored value a step may read, when its plan alone decides them.

    That is when the step is not a mapped copy and its inputs read only plain
    outputs (no dynamic output, no mapped step). The values that exist are then
    exactly the ones ``RunState.input_values`` names, so a worker can fetch them
    without asking the coordinator; None for any other step.
    """
    if plan_step.mapped_by is not None:
        return None
    refs: dict[str, list[ValueRef]] = {}
    for plan_input in plan_step.inputs:
        if not plan_input.sources:
            continue
        if plan_input.kind not in ("from_step", "fan_in"):
            return None
        for source in plan_input.sources:
            upstream = steps.get(source.step)
            if upstream is None or upstream.mapped_by is not None:
                return None
            if any(o.name == source.output and o.is_dynamic for o in upstream.outputs):
                return None
        refs[plan_input.name] = [ValueRef(s.step, s.output) for s in plan_input.sources]
    return refs


def raised_for(step_key: str, attempt: int, outcome: StepOutcome) -> BaseException:
    """What ``raise_on_error`` raises for a failed step: the op's own exception, or
    Dagster's ``DagsterMaxRetriesExceededError`` (chained to it) once retries ran out."""
    assert outcome.error is not None
    if not outcome.retries_exhausted:
        return outcome.error
    exceeded = DagsterMaxRetriesExceededError(
        f"step {step_key!r} failed after {attempt} retries: "
        f"{type(outcome.error).__name__}: {outcome.error}"
    )
    exceeded.__cause__ = outcome.error
    return exceeded


def _is_failure(outcome: StepOutcome) -> bool:
    """Whether the op raised ``Failure`` (whose metadata the failure event carries)."""
    return isinstance(outcome.error, Failure)


def outcome_events(
    run_id: str, step_key: str, attempt: int, outcome: StepOutcome, now: float
) -> list[RunEvent]:
    """The events that report how a step attempt ended, in Dagster's order."""

    def event(kind: E, **fields: Any) -> RunEvent:
        return RunEvent(
            run_id=run_id, kind=kind, timestamp=now, step_key=step_key, attempt=attempt, **fields
        )

    events: list[RunEvent] = []
    if outcome.status == "success":
        events.extend(
            event(
                E.STEP_OUTPUT,
                output_name=o.name,
                mapping_key=o.mapping_key,
                metadata=dict(o.metadata),
            )
            for o in outcome.outputs
        )
        events.append(event(E.STEP_SUCCESS))
    else:
        assert outcome.error is not None
        error = ErrorInfo(
            cls_name=type(outcome.error).__name__,
            message=str(outcome.error),
            stack=outcome.error_text,
        )
        if outcome.status == "retry":
            events.append(
                event(E.STEP_UP_FOR_RETRY, error=error, retry_delay_s=outcome.retry_delay_s)
            )
        else:
            details = getattr(outcome.error, "metadata", None) if _is_failure(outcome) else None
            events.append(
                event(E.STEP_FAILURE, error=error, metadata=jsonable_metadata(details or {}))
            )
    events.extend(event(E.HOOK_COMPLETED, message=name) for name in outcome.hooks_completed)
    events.extend(event(E.HOOK_SKIPPED, message=name) for name in outcome.hooks_skipped)
    events.extend(
        event(E.HOOK_ERRORED, message=f"hook {name!r}", error=ErrorInfo.from_exception(exc))
        for name, exc in outcome.hook_errors
    )
    return events
