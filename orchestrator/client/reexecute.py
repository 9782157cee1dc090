"""Re-execution: a new run of a finished run's plan, reusing what already succeeded.

``from_failure`` re-executes a failed or canceled run: the new run reuses the
outputs of every step that succeeded (copied to the new run's keys, so the parent
may expire) and runs only what failed or never ran. Without it, every step runs
again. Either way the new run is an ordinary run: same plan, same run config, same
tags plus Dagster's ``dagster/parent_run_id`` and ``dagster/root_run_id``; any
coordinator picks it up.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

from opgrid.errors import DagsterInvariantViolationError
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.planning.plan import ExecutionPlan
from opgrid.orchestrator.planning.state import RunState, ValueRef
from opgrid.orchestrator.protocol.events import RunEvent
from opgrid.orchestrator.protocol.messages import RUN_INPUTS_STEP, RunRecord
from opgrid.orchestrator.protocol.status import FINAL_RUN_STATUSES, RunStatus, StepStatus
from opgrid.orchestrator.protocol.step_keys import template_of
from opgrid.orchestrator.protocol.tags import PARENT_RUN_TAG, ROOT_RUN_TAG
from opgrid.orchestrator.store.base import RunStore

#: The outcomes a run can be re-executed from failure after.
_RETRYABLE = frozenset({RunStatus.FAILURE, RunStatus.CANCELED})


def reexecute(
    store: RunStore,
    parent_run_id: str,
    from_failure: bool = True,
    steps: Sequence[str] = (),
) -> RunRecord:
    """Queue a re-execution of ``parent_run_id``; the new run's record.

    Args:
        from_failure: reuse the outputs of the steps that succeeded; run the rest.
        steps: run only these steps (plan step keys), reusing the parent's outputs for
            what they read; ``from_failure`` does not apply then.

    Raises:
        RunNotFound: there is no such run.
        DagsterInvariantViolationError: the parent has not finished, or (from failure)
            it succeeded, or a selected step is not in its plan or reads a step that did
            not succeed, or the outputs it would reuse have expired.
    """
    if steps:
        from_failure = False
    parent = store.get_run(parent_run_id)
    if parent.status not in FINAL_RUN_STATUSES:
        raise DagsterInvariantViolationError(
            f"run {parent_run_id} is {parent.status.value}: only a finished run can be re-executed"
        )
    if from_failure and parent.status not in _RETRYABLE:
        raise DagsterInvariantViolationError(
            f"run {parent_run_id} succeeded: there is no failure to re-execute from "
            "(re-execute it without --from-failure to run every step again)"
        )
    plan = store.get_plan(parent_run_id)
    run_id = str(uuid.uuid4())
    reused = _succeeded_steps(store, parent) if from_failure else {}
    if steps:
        plan, reused = _selected(plan, list(steps), _succeeded_steps(store, parent), parent)
    refs = [
        ValueRef(key, output, mapping_key)
        for key, outputs in reused.items()
        for output, mapping_keys in outputs.items()
        for mapping_key in mapping_keys
    ]
    run_inputs = {name for step in plan.steps for i in step.inputs for name in i.run_inputs}
    refs += [ValueRef(RUN_INPUTS_STEP, name) for name in sorted(run_inputs)]
    missing = store.copy_outputs(parent_run_id, run_id, refs)
    if missing:
        names = ", ".join(f"{ref.step_key}.{ref.output}" for ref in missing[:5])
        raise DagsterInvariantViolationError(
            f"run {parent_run_id}: {len(missing)} stored value(s) to reuse are gone "
            f"(expired or pruned): {names}"
        )
    record = RunRecord(
        run_id=run_id,
        job_name=parent.job_name,
        location=parent.location,
        tags={
            **parent.tags,
            PARENT_RUN_TAG: parent_run_id,
            ROOT_RUN_TAG: parent.tags.get(ROOT_RUN_TAG, parent_run_id),
        },
        partition_key=parent.partition_key,
        created_at=time.time(),
        parent_run_id=parent_run_id,
        reused=reused,
    )
    how = (
        f"of step(s) {', '.join(steps)}"
        if steps
        else "from failure"
        if from_failure
        else "of every step"
    )
    note = RunEvent(
        run_id=run_id,
        kind=E.ENGINE_EVENT,
        timestamp=record.created_at,
        message=f"re-execution {how} of run {parent_run_id}: reusing the outputs of "
        f"{len(reused)} step(s)" + (f" ({', '.join(list(reused)[:10])})" if reused else ""),
    )
    store.append_events(run_id, [note])
    store.create_run(record, plan)
    return record


def _succeeded_steps(store: RunStore, parent: RunRecord) -> dict[str, dict[str, list[str | None]]]:
    """The parent's succeeded steps in the order they succeeded, with what they yielded.

    Read from the parent's summary; a run that ended before summaries is replayed.
    """
    summary = store.get_summary(parent.run_id)
    if summary is not None:
        return {
            key: {output: list(keys) for output, keys in summary.yielded.get(key, {}).items()}
            for key in dict.fromkeys([*parent.reused, *summary.succeeded])
            if summary.steps.get(key) is StepStatus.SUCCESS
        }
    plan = store.get_plan(parent.run_id)
    events = [event for _, event in store.read_events(parent.run_id)]
    state = RunState(plan)
    state.replay(events, parent.reused)
    order = list(parent.reused)
    order += [e.step_key for e in events if e.kind is E.STEP_SUCCESS and e.step_key is not None]
    return {
        key: {output: list(keys) for output, keys in state.yielded(key).items()}
        for key in dict.fromkeys(order)
        if state.status_of(key) is StepStatus.SUCCESS
    }


def _selected(
    plan: ExecutionPlan,
    steps: list[str],
    succeeded: dict[str, dict[str, list[str | None]]],
    parent: RunRecord,
) -> tuple[ExecutionPlan, dict[str, dict[str, list[str | None]]]]:
    """The parent's plan cut down to ``steps`` and the steps they read (reused as the
    parent left them), and what is reused."""
    named = plan.step_named()
    unknown = [key for key in steps if key not in named]
    if unknown:
        raise DagsterInvariantViolationError(
            f"run {parent.run_id} has no step {unknown[0]!r} (its steps: {', '.join(named)})"
        )
    done = {template_of(key) for key in succeeded}
    upstream: set[str] = set()
    for key in steps:
        for plan_input in named[key].inputs:
            for source in plan_input.sources:
                if source.step in steps:
                    continue
                if source.step not in done:
                    raise DagsterInvariantViolationError(
                        f"step {key!r} reads step {source.step!r}, which did not succeed in "
                        f"run {parent.run_id}: select it too"
                    )
                upstream.add(source.step)
    keep = set(steps) | upstream
    cut = plan.model_copy(update={"steps": tuple(s for s in plan.steps if s.key in keep)})
    return cut, {key: out for key, out in succeeded.items() if template_of(key) in upstream}
