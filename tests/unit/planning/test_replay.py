"""Recorded histories of real cluster runs replay to the outcome the cluster decided.

Each story in ``histories/`` is a real run (see ``histories/record.py``): its plan,
its event log as the store kept it, and what the coordinator that ran it decided
(the run's status, every step's status). A coordinator that adopts a run rebuilds
its state by replaying that log, and a waiter builds its result the same way, so a
change to ``RunState`` (or to the plan and event models) that replays any of them
differently, or refuses one, changes what happens to runs already in Redis.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.planning.plan import ExecutionPlan
from opgrid.orchestrator.planning.state import DispatchStep, FinishRun, RunState, SkipStep
from opgrid.orchestrator.protocol.events import FINAL_RUN_EVENTS, FINAL_RUN_KINDS, RunEvent
from opgrid.orchestrator.protocol.status import RunStatus

HISTORIES = Path(__file__).resolve().parent / "histories"
STORIES = sorted(path.name.removesuffix(".jsonl") for path in HISTORIES.glob("*.jsonl"))


def _plan(story: str) -> ExecutionPlan:
    return ExecutionPlan.model_validate_json((HISTORIES / f"{story}.plan.json").read_text())


def _events(story: str) -> list[RunEvent]:
    lines = (HISTORIES / f"{story}.jsonl").read_text().splitlines()
    return [RunEvent.model_validate_json(line) for line in lines]


def _outcome(story: str) -> dict[str, Any]:
    return json.loads((HISTORIES / f"{story}.outcome.json").read_text())


def test_the_histories_cover_redelivery_retry_cancel_and_dynamic_mapping():
    assert {"redelivery", "retry", "cancel", "dynamic_map"} <= set(STORIES)
    for story in STORIES:
        assert (HISTORIES / f"{story}.plan.json").is_file(), story
        assert (HISTORIES / f"{story}.outcome.json").is_file(), story


@pytest.mark.parametrize("story", STORIES)
def test_a_recorded_history_replays_to_the_statuses_its_coordinator_decided(story):
    plan, events, outcome = _plan(story), _events(story), _outcome(story)
    expected_status = RunStatus(outcome["run_status"])

    state = RunState(plan)
    outstanding = state.replay(events, outcome["reused"])

    assert state.is_finished, state.statuses()
    assert state.run_status is expected_status
    assert {key: status.value for key, status in state.statuses().items()} == outcome["statuses"]
    assert state.in_flight == 0
    assert not [command for command in outstanding if isinstance(command, DispatchStep)]
    assert FinishRun(expected_status) in outstanding
    # the log itself ends the run once, the way its coordinator decided
    finals = [event.kind for event in events if event.kind in FINAL_RUN_KINDS]
    assert finals == [FINAL_RUN_EVENTS[expected_status]]


@pytest.mark.parametrize("story", STORIES)
def test_every_prefix_of_a_recorded_history_replays_and_ends_no_later_than_its_run(story):
    """A coordinator may adopt a run at any point of its log: no prefix is refused, and
    once a prefix ends the run, every longer one does (the final event at the latest)."""
    plan, events, outcome = _plan(story), _events(story), _outcome(story)
    final = next(index for index, event in enumerate(events) if event.kind in FINAL_RUN_KINDS)

    finished = []
    for end in range(len(events) + 1):
        state = RunState(plan)
        state.replay(events[:end], outcome["reused"])
        finished.append(state.is_finished)

    assert all(finished[final:]), finished
    assert finished == sorted(finished), finished  # never unfinished again


@pytest.mark.parametrize("story", STORIES)
def test_a_skip_the_log_records_is_never_outstanding_again(story):
    """A coordinator adopting the run at any point writes each STEP_SKIPPED once: a skip
    whose event the replayed prefix holds is not handed back to be written again."""
    plan, events, outcome = _plan(story), _events(story), _outcome(story)
    for end in range(len(events) + 1):
        recorded = {e.step_key for e in events[:end] if e.kind is E.STEP_SKIPPED}
        outstanding = RunState(plan).replay(events[:end], outcome["reused"])
        again = {c.step_key for c in outstanding if isinstance(c, SkipStep)} & recorded
        assert not again, (end, again)


def test_the_histories_hold_a_recorded_skip():
    assert any(e.kind is E.STEP_SKIPPED for story in STORIES for e in _events(story))
