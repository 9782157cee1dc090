"""The broker's unacknowledged copies of step attempts that ended are settled, nothing else.

kombu's Redis transport format (an ``unacked`` hash of ``[message, exchange, routing
key]`` JSON, an ``unacked_index`` of delivery times) on fakeredis, the run store in
memory.
"""

from __future__ import annotations

import json
import time

import fakeredis
import pytest

from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.coordinator.unacked import UnackedSweeper
from opgrid.orchestrator.protocol.attempts import attempt_ended, attempt_unstarted, claim_of
from opgrid.orchestrator.protocol.events import RunEvent
from opgrid.orchestrator.protocol.messages import parse_task_id
from opgrid.orchestrator.store.keys import UNACKED, UNACKED_INDEX
from opgrid.orchestrator.store.memory import InMemoryRunStore

NOW = 1_000_000.0


@pytest.mark.parametrize(
    ("status", "claim", "attempt", "ended"),
    [
        (None, None, 0, False),  # not a step this namespace knows
        ("queued", None, 0, False),
        ("running", claim_of(0, "w1"), 0, False),
        ("success", claim_of(0, "w1"), 0, True),
        ("failure", None, 0, True),
        ("canceled", claim_of(0, "w1"), 0, True),
        ("queued", claim_of(1, "w2"), 0, True),  # a later attempt holds the step
        ("up_for_retry", claim_of(0, "w1"), 0, True),  # ended; the next one is due
        ("up_for_retry", claim_of(0, "w1"), 1, False),  # the due one itself
        ("running", claim_of(1, "w2"), 1, False),
    ],
)
def test_an_attempt_has_ended_when_no_delivery_of_it_could_run(
    status: str | None, claim: str | None, attempt: int, ended: bool
) -> None:
    assert attempt_ended(status, claim, attempt) is ended


@pytest.mark.parametrize(
    ("status", "claim", "attempt", "unstarted"),
    [
        ("queued", None, 0, True),
        ("queued", claim_of(0, "w1"), 1, True),  # the retry, sent, not begun
        ("queued", claim_of(1, "w1"), 1, False),
        ("running", claim_of(0, "w1"), 0, False),
        (None, None, 0, False),
    ],
)
def test_an_attempt_is_unstarted_while_queued_without_its_claim(
    status: str | None, claim: str | None, attempt: int, unstarted: bool
) -> None:
    assert attempt_unstarted(status, claim, attempt) is unstarted


def test_task_ids_of_step_attempts_parse_back() -> None:
    assert parse_task_id("r-1:outer.inner[a:b]:2") == ("r-1", "outer.inner[a:b]", 2)
    assert parse_task_id("celery-task-uuid") is None
    assert parse_task_id("r:step:x") is None


def _entry(task_id: str, task: str = "opgrid.step", priority: int = 0) -> bytes:
    message = {
        "body": "e30=",
        "headers": {"id": task_id, "task": task},
        "properties": {"priority": priority},
    }
    return json.dumps([message, "opgrid", "opgrid"]).encode()


def _start(store: InMemoryRunStore, run_id: str, step: str, attempt: int = 0) -> None:
    store.save_progress(run_id, {step: "queued"}, {}, [])
    start = RunEvent(run_id=run_id, kind=E.STEP_START, timestamp=NOW, step_key=step)
    store.begin_attempt(run_id, step, attempt, "w1", start, 10.0)


def test_only_copies_of_ended_attempts_are_settled() -> None:
    broker = fakeredis.FakeRedis()
    store = InMemoryRunStore()
    _start(store, "r1", "done")
    store.commit_attempt("r1", ("done", claim_of(0, "w1")), [], [], "success")
    _start(store, "r1", "busy")
    entries = {
        b"t-done": _entry("r1:done:0"),
        b"t-busy": _entry("r1:busy:0"),
        b"t-stranger": _entry("elsewhere:done:0"),  # another cluster's run
        b"t-other-task": _entry("r1:done:0", task="billing.charge"),
        b"t-junk": b"not json",
        b"t-young": _entry("r1:done:0"),
    }
    broker.hset(UNACKED, mapping=entries)
    broker.zadd(UNACKED_INDEX, {tag: NOW - 60 for tag in entries})
    broker.zadd(UNACKED_INDEX, {b"t-young": NOW - 1})
    sweeper = UnackedSweeper(store, broker, min_age_s=5.0, restore_after_s=20.0)

    assert sweeper.sweep(NOW) == 1
    left = set(broker.hkeys(UNACKED))
    assert left == set(entries) - {b"t-done"}
    assert broker.zscore(UNACKED_INDEX, b"t-done") is None
    assert sweeper.sweep(NOW + 10) == 1  # the young copy, once it is old enough
    assert sweeper.sweep(time.time()) == 0


def test_without_a_redis_broker_nothing_is_swept() -> None:
    assert UnackedSweeper(InMemoryRunStore(), None, 5.0, 20.0).sweep(NOW) == 0


def test_a_message_of_an_attempt_that_never_began_goes_back_to_its_queue() -> None:
    broker = fakeredis.FakeRedis()
    store = InMemoryRunStore()
    store.save_progress("r1", {"waits": "queued", "urgent": "queued"}, {}, [])
    broker.hset(
        UNACKED,
        mapping={
            b"t-old": _entry("r1:waits:0"),
            b"t-urgent": _entry("r1:urgent:0", priority=7),
            b"t-recent": _entry("r1:waits:0"),
        },
    )
    broker.zadd(UNACKED_INDEX, {b"t-old": NOW - 30, b"t-urgent": NOW - 30, b"t-recent": NOW - 8})
    sweeper = UnackedSweeper(store, broker, min_age_s=5.0, restore_after_s=20.0)

    assert sweeper.sweep(NOW) == 2
    assert broker.hkeys(UNACKED) == [b"t-recent"]  # not long enough to be sure
    (back,) = [json.loads(raw) for raw in broker.lrange("opgrid", 0, -1)]
    assert back["headers"] == {"id": "r1:waits:0", "task": "opgrid.step", "redelivered": True}
    (urgent,) = broker.lrange("opgrid\x06\x166", 0, -1)  # kombu's list for priority 6-8
    assert json.loads(urgent)["headers"]["id"] == "r1:urgent:0"
