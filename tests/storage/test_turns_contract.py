"""The bulk forms of ``Progress`` a coordinator's turn uses (``claim_runs``,
``write_turn``), on every run store: they do what the single-run calls would."""

from __future__ import annotations

import uuid

import pytest

from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.protocol.events import RunEvent
from opgrid.orchestrator.protocol.messages import RunSummary, StepInputs
from opgrid.orchestrator.protocol.status import RunStatus, StepStatus
from opgrid.orchestrator.store.base import RunStore
from opgrid.orchestrator.store.memory import InMemoryRunStore
from opgrid.orchestrator.store.redis import RedisRunStore
from opgrid.orchestrator.store.turns import FinishWrite, ProgressWrite

from .runs import PLAN, event, record, start_of


def _event(run_id: str, kind: E, step: str | None = None) -> RunEvent:
    return event(kind, step).model_copy(update={"run_id": run_id})


def test_claiming_runs_at_once_hands_back_the_claimed_ones_that_go_on(store: RunStore) -> None:
    for run_id in ("r1", "r2", "r3", "r4"):
        store.create_run(record(run_id), PLAN)
    store.append_events("r1", [_event("r1", E.RUN_START), _event("r1", E.STEP_START, "one")])
    assert store.claim("r2", "other", lease_s=30)  # held by another coordinator
    ended = record("r3").model_copy(update={"status": RunStatus.SUCCESS})
    store.finish_run(ended, [_event("r3", E.RUN_SUCCESS)], {"one": "success"})

    adopted = store.claim_runs(["r1", "r2", "r3", "r4", "gone"], "me", lease_s=30)

    assert sorted(adopted) == ["r1", "r4"]
    assert [e.kind for _, e in adopted["r1"].log] == [E.RUN_START, E.STEP_START]
    assert adopted["r1"].log[1][1].step_key == "one"
    assert adopted["r4"].log == []
    assert adopted["r4"].record.run_id == "r4"
    assert [step.key for step in adopted["r4"].plan.steps] == ["one"]
    assert store.renew_all(["r1", "r4"], "me", lease_s=30) == []  # leases are mine
    assert store.claim("r3", "other", lease_s=30)  # an ended run is let go again
    assert "r3" not in store.active_runs()
    assert store.claim("gone", "other", lease_s=30)  # and so is one that does not exist
    assert not store.claim("r2", "me", lease_s=30)  # another's stays another's
    assert store.claim_runs([], "me", lease_s=30) == {}


def test_a_finished_run_is_adopted_with_its_archived_log(store: RunStore) -> None:
    store.create_run(record("r1"), PLAN)
    store.append_events("r1", [_event("r1", E.RUN_START)])
    store.finish_run(record("r1"), [_event("r1", E.RUN_FAILURE)], {})  # archived, not final
    adopted = store.claim_runs(["r1"], "me", lease_s=30)
    assert [e.kind for _, e in adopted["r1"].log] == [E.RUN_START, E.RUN_FAILURE]


def test_a_turns_writes_are_stored_in_order_and_its_ended_runs_let_go(store: RunStore) -> None:
    for run_id in ("r1", "r2"):
        store.create_run(record(run_id), PLAN)
        assert store.claim(run_id, "me", lease_s=30)
    started = record("r1").model_copy(update={"status": RunStatus.STARTED})
    inputs = StepInputs(refs={"x": [("one", "result", None)]})
    done = record("r2").model_copy(update={"status": RunStatus.SUCCESS})
    summary = RunSummary(status=RunStatus.SUCCESS, steps={"one": StepStatus.SUCCESS})
    store.write_turn(
        [
            ProgressWrite("r1", {"one": "queued"}, {"one": inputs}, [_event("r1", E.RUN_START)]),
            ProgressWrite("r1", record=started),
            ProgressWrite("r2", {"one": "queued"}, events=[_event("r2", E.RUN_START)]),
            FinishWrite(done, [_event("r2", E.RUN_SUCCESS)], {"one": "success"}, summary, "me"),
        ]
    )
    assert store.get_run("r1").status is RunStatus.STARTED
    assert store.step_statuses("r1") == {"one": "queued"}
    assert [e.kind for _, e in store.read_events("r1")] == [E.RUN_START]
    assert store.get_run("r2").status is RunStatus.SUCCESS
    assert store.get_summary("r2") == summary
    assert store.step_statuses("r2") == {"one": "success"}
    assert [e.kind for _, e in store.read_events("r2")] == [E.RUN_START, E.RUN_SUCCESS]
    assert store.active_runs() == ["r1"]
    assert store.wait_run_end("r2", "0-0", block_s=0.01)[1]
    assert not store.wait_run_end("r1", "0-0", block_s=0.01)[1]
    assert store.claim("r2", "other", lease_s=30)  # the ended run's lease is given back
    assert not store.claim("r1", "other", lease_s=30)
    store.write_turn([])


def test_pushes_go_onto_their_lists_after_the_writes(redis_store: RedisRunStore) -> None:
    redis_store.create_run(record("r1"), PLAN)
    assert redis_store.claim("r1", "me", lease_s=30)
    done = record("r1").model_copy(update={"status": RunStatus.SUCCESS})
    queue = f"q-{uuid.uuid4().hex[:6]}"
    redis_store.write_turn(
        [
            ProgressWrite("r1", {"one": "queued"}),
            FinishWrite(done, [_event("r1", E.RUN_SUCCESS)], {"one": "success"}, None, "me"),
        ],
        [(queue, b"first"), (queue, b"second")],
    )
    assert redis_store.get_run("r1").status is RunStatus.SUCCESS
    assert redis_store.client.lrange(queue, 0, -1) == [b"second", b"first"]
    redis_store.write_turn([], [(queue, b"third")])
    assert redis_store.client.llen(queue) == 3


def test_a_store_without_broker_lists_refuses_pushes() -> None:
    with pytest.raises(ValueError, match="no broker queues"):
        InMemoryRunStore().write_turn([], [("q", b"message")])


def test_the_beats_of_many_runs_are_read_at_once(store: RunStore) -> None:
    for run_id in ("r1", "r2"):
        store.create_run(record(run_id), PLAN)
        store.save_progress(run_id, {"one": "queued"}, {}, [])
    store.begin_attempt("r1", "one", 0, "w1", start_of("one"), 10.0)
    found = store.runs_beats({"r1": ["one", "two"], "r2": ["one"]})
    assert sorted(found) == ["r1", "r2"]
    (now1, beats1), (now2, beats2) = found["r1"], found["r2"]
    assert beats1[0] is not None and beats1[0] <= now1 + 1  # the claim's first beat
    assert beats1[1] is None and beats2 == [None]
    assert abs(now1 - now2) < 5
    assert store.runs_beats({}) == {}
