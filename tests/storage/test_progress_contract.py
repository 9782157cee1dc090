"""The Progress contract (statuses, leases, heartbeats, the end), on every run store."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.planning.state import ValueRef
from opgrid.orchestrator.protocol.attempts import Verdict
from opgrid.orchestrator.protocol.messages import StepInputs
from opgrid.orchestrator.protocol.status import RunStatus
from opgrid.orchestrator.store.base import RunStore

from .runs import PLAN, begin, event, record, start_of


def test_progress_and_step_commits_are_stored_together(store: RunStore) -> None:
    inputs = StepInputs(refs={"x": [("one", "result", None)]})
    store.save_progress("r1", {"one": "queued"}, {"two": inputs}, [event(E.STEP_SKIPPED, "s")])
    assert store.step_statuses("r1") == {"one": "queued"}
    store.save_progress("r1", {"two": "queued"}, {}, [])
    begun = store.begin_attempt("r1", "two", 0, "w1", start_of("two"), 10.0)
    assert begun.verdict is Verdict.GO
    assert begun.inputs == inputs
    store.commit_step("r1", [(ValueRef("one", "result"), b"data")], [event(E.STEP_SUCCESS, "one")])
    assert store.load_outputs("r1", [ValueRef("one", "result"), ValueRef("x", "y")]) == [
        b"data",
        None,
    ]
    kinds = [e.kind for _, e in store.read_events("r1")]
    assert kinds == [E.STEP_SKIPPED, E.STEP_START, E.STEP_SUCCESS]


def test_finishing_a_run_records_it_and_leaves_the_active_set(store: RunStore) -> None:
    store.create_run(record("r1"), PLAN)
    store.save_progress("r1", {"one": "queued"}, {}, [])
    done = record("r1").model_copy(update={"status": RunStatus.SUCCESS})
    store.finish_run(done, [event(E.RUN_SUCCESS)], {"one": "success"})
    assert store.step_statuses("r1") == {"one": "success"}
    assert store.get_run("r1").status is RunStatus.SUCCESS
    assert store.active_runs() == []
    _, ended = store.wait_run_end("r1", "0-0", block_s=0.01)
    assert ended


def test_a_lease_has_one_owner_until_released(store: RunStore) -> None:
    assert store.claim("r1", "a", lease_s=5)
    assert not store.claim("r1", "b", lease_s=5)
    assert store.renew("r1", "a", lease_s=5)
    assert not store.renew("r1", "b", lease_s=5)
    store.release("r1", "b")  # not the owner: no effect
    assert not store.claim("r1", "b", lease_s=5)
    store.release("r1", "a")
    assert store.claim("r1", "b", lease_s=5)


def test_leases_are_renewed_together_and_the_lost_ones_named(store: RunStore) -> None:
    for run_id in ("r1", "r2"):
        assert store.claim(run_id, "a", lease_s=5)
    assert store.claim("r3", "b", lease_s=5)
    assert store.renew_all(["r1", "r2", "r3", "r4"], "a", lease_s=5) == ["r3", "r4"]
    assert store.renew_all([], "a", lease_s=5) == []
    assert not store.claim("r1", "b", lease_s=5)  # still a's


def test_the_runs_whose_lease_nobody_holds_are_told_apart(store: RunStore) -> None:
    assert store.claim("r1", "a", lease_s=5)
    assert store.claim("r2", "a", lease_s=0.05)
    time.sleep(0.1)  # r2's lease lapses
    assert store.unleased(["r1", "r2", "r3"]) == ["r2", "r3"]
    store.release("r1", "a")
    assert store.unleased(["r1"]) == ["r1"]
    assert store.unleased([]) == []


def test_coordinator_heartbeats_are_listed(store: RunStore) -> None:
    store.heartbeat("c1", ttl_s=5)
    assert store.live_coordinators() == ["c1"]


def test_a_lost_declaration_takes_the_claim_only_while_the_status_is_expected(
    store: RunStore,
) -> None:
    store.save_progress("r1", {"one": "queued"}, {}, [])
    begin(store, "w1")
    note = event(E.ENGINE_EVENT, "one")
    assert not store.declare_lost("r1", "one", 0, [note], expect=("queued",))
    assert store.declare_lost("r1", "one", 0, [note])
    assert store.beat("r1", "one", "0:w1") is None  # the old holder learns it lost the claim
    assert begin(store, "w2").verdict is Verdict.TAKEN_OVER
    failure = event(E.STEP_FAILURE, "one")
    assert store.declare_lost("r1", "one", 0, [failure], status="failure")
    assert store.step_statuses("r1") == {"one": "failure"}
    assert not store.commit_attempt("r1", ("one", "0:w2"), [], [], "success")


def test_a_waiter_wakes_when_the_run_ends_not_on_its_events(store: RunStore) -> None:
    store.create_run(record("r1"), PLAN)
    store.append_events("r1", [event(E.STEP_START, "one"), event(E.STEP_SUCCESS, "one")])
    started = time.monotonic()
    _, ended = store.wait_run_end("r1", "0-0", block_s=0.3)
    assert not ended
    assert time.monotonic() - started >= 0.25  # step events did not wake it
    done = record("r1").model_copy(update={"status": RunStatus.FAILURE})
    finisher = threading.Timer(0.1, store.finish_run, (done, [event(E.RUN_FAILURE)], {}))
    finisher.start()
    try:
        _, ended = store.wait_run_end("r1", "0-0", block_s=5)
    finally:
        finisher.join()
    assert ended


def _commit_one(store: RunStore) -> None:
    store.commit_attempt("r1", ("one", "0:w1"), [], [event(E.STEP_SUCCESS, "one")], "success")


def _ask_cancel(store: RunStore) -> None:
    store.append_events("r1", [event(E.ENGINE_EVENT, "one")])


@pytest.mark.parametrize("write", [_commit_one, _ask_cancel], ids=["commit", "cancel"])
def test_a_blocked_wait_wakes_when_a_followed_run_gets_an_event(
    store: RunStore, write: Callable[[RunStore], None]
) -> None:
    store.save_progress("r1", {"one": "queued"}, {}, [])
    store.save_progress("r2", {"one": "queued"}, {}, [event(E.STEP_SKIPPED, "x")])
    begin(store, "w1")
    cursors = {run_id: store.read_events(run_id)[-1][0] for run_id in ("r1", "r2")}
    writer = threading.Timer(0.3, write, args=(store,))
    writer.start()
    started = time.monotonic()
    try:
        _, found = store.wait("0-0", cursors, block_s=4.0)
        if not found:  # a single wait may end with nothing new, not with a late event
            _, found = store.wait("0-0", cursors, block_s=4.0)
    finally:
        writer.join()
    assert time.monotonic() - started < 3.0
    assert list(found) == ["r1"]
    wanted = E.STEP_SUCCESS if write is _commit_one else E.ENGINE_EVENT
    assert [e.kind for _, e in found["r1"]] == [wanted]


def test_a_wait_of_no_time_hands_back_what_is_there_without_blocking(store: RunStore) -> None:
    store.create_run(record("r1"), PLAN)
    store.append_events("r1", [event(E.RUN_START)])
    started = time.monotonic()
    submitted, events = store.wait("0-0", {"r1": "0-0"}, 0.0)
    assert [run_id for _, run_id in submitted] == ["r1"]
    assert [e.kind for _, e in events["r1"]] == [E.RUN_START]
    last = submitted[-1][0]
    assert store.wait(last, {"r1": events["r1"][-1][0]}, 0.0) == ([], {})
    assert time.monotonic() - started < 1.0
