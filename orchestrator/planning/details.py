"""What a run's event log says about each step beyond its status: the metadata of its
outputs and of its ``Failure``, and since when a queued step has waited.

Pure: the plan and the events in, values out (``opgrid run show`` prints them). A step
is queued from the moment the last event it waited for was written: the run's start
for a step with no upstream, its upstream steps' last final event otherwise, or its own
last event (a retry's delay ends, a lost attempt is sent again), whichever is latest.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.protocol.events import RunEvent
from opgrid.orchestrator.protocol.step_keys import template_of

from .plan import ExecutionPlan

#: Events that end a step (the ones a downstream step waits for).
_ENDS = frozenset({E.STEP_SUCCESS, E.STEP_FAILURE, E.STEP_SKIPPED})


@dataclass(frozen=True, slots=True)
class StepDetails:
    """The metadata one step's events carry."""

    #: output label (``name``, or ``name[mapping_key]`` for a dynamic one) -> metadata
    output_metadata: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the metadata of the ``Failure`` the step's last failed attempt raised
    failure_metadata: dict[str, Any] = field(default_factory=dict)


def step_details(events: Iterable[RunEvent]) -> dict[str, StepDetails]:
    """Per step key, the metadata of its outputs (the latest value of each wins) and of
    its last ``Failure``; steps whose events carry none are left out."""
    outputs: dict[str, dict[str, dict[str, Any]]] = {}
    failures: dict[str, dict[str, Any]] = {}
    for event in events:
        if event.step_key is None or not event.metadata:
            continue
        if event.kind is E.STEP_OUTPUT and event.output_name is not None:
            label = event.output_name
            if event.mapping_key is not None:
                label = f"{label}[{event.mapping_key}]"
            outputs.setdefault(event.step_key, {})[label] = dict(event.metadata)
        elif event.kind is E.STEP_FAILURE:
            failures[event.step_key] = dict(event.metadata)
    return {
        key: StepDetails(outputs.get(key, {}), failures.get(key, {}))
        for key in sorted(set(outputs) | set(failures))
    }


def queued_since(
    plan: ExecutionPlan, events: Iterable[RunEvent], step_keys: Iterable[str]
) -> dict[str, float]:
    """When each of ``step_keys`` (queued steps) became ready, by the log's timestamps;
    a step the log gives no clue about (no run start yet) is left out."""
    started: float | None = None
    ended: dict[str, float] = {}  # template key -> last end of one of its steps
    own: dict[str, float] = {}  # step key -> its own last event
    for event in events:
        if event.kind is E.RUN_START:
            started = event.timestamp
        if event.step_key is None:
            continue
        own[event.step_key] = event.timestamp + (event.retry_delay_s or 0.0)
        if event.kind in _ENDS:
            template = template_of(event.step_key)
            ended[template] = max(ended.get(template, 0.0), event.timestamp)
    steps = plan.step_named()
    since: dict[str, float] = {}
    for key in step_keys:
        step = steps.get(template_of(key))
        upstream = {src.step for put in step.inputs for src in put.sources} if step else set()
        clues = [ended[up] for up in upstream if up in ended]
        clues += [t for t in (started, own.get(key)) if t is not None]
        if clues:
            since[key] = max(clues)
    return since
