"""Retries with a delay are held by the coordinator until due, then dispatched.

First the pure part (``supervision.retries_due``, ``next_retry_at``) with a clock the
test chooses; then a coordinator on both run stores, a dispatcher that records what
it sends, and a second coordinator that adopts the run while a retry is held.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.coordinator.dispatch import Delivery
from opgrid.orchestrator.coordinator.loop import Coordinator
from opgrid.orchestrator.coordinator.owned import OwnedRun
from opgrid.orchestrator.coordinator.supervision import next_retry_at, retries_due
from opgrid.orchestrator.planning.compiler import compile_plan
from opgrid.orchestrator.planning.state import DispatchStep, RunState
from opgrid.orchestrator.protocol.events import RunEvent
from opgrid.orchestrator.protocol.messages import RunRecord
from opgrid.orchestrator.protocol.status import RunStatus
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.base import RunStore

from .test_coordinator import Recorder, pair

#: When the failed attempt of every pure case reported, and its delay.
FAILED_AT, DELAY = 1_000.0, 5.0


def _retrying(failed_at: float = FAILED_AT, delay: float = DELAY) -> tuple[OwnedRun, list]:
    plan = compile_plan(pair)
    state = RunState(plan)
    state.start()
    record = RunRecord(run_id="r", job_name="pair", created_at=0.0)
    owned = OwnedRun(record, plan, state, "0-0", plan.step_named())
    failed = RunEvent(
        run_id="r",
        kind=E.STEP_UP_FOR_RETRY,
        timestamp=failed_at,
        step_key="solo",
        retry_delay_s=delay,
    )
    return owned, state.apply(failed)


def test_the_retry_is_due_its_delay_after_the_failed_attempts_event() -> None:
    owned, commands = _retrying()
    assert commands == [DispatchStep("solo", 1, DELAY, due_at=FAILED_AT + DELAY)]
    owned.retry_due["solo"] = (1, FAILED_AT + DELAY)
    assert next_retry_at([owned]) == FAILED_AT + DELAY
    assert retries_due(owned, FAILED_AT + DELAY - 0.01) == ([], [])
    assert retries_due(owned, FAILED_AT + DELAY) == ([DispatchStep("solo", 1)], ["solo"])


def test_a_held_retry_of_a_canceled_run_is_forgotten_unsent() -> None:
    owned, _ = _retrying()
    owned.retry_due["solo"] = (1, FAILED_AT + DELAY)
    owned.state.apply(RunEvent(run_id="r", kind=E.RUN_CANCELING, timestamp=FAILED_AT + 1))
    assert retries_due(owned, FAILED_AT + 2) == ([], ["solo"])
    assert retries_due(owned, FAILED_AT + DELAY) == ([], ["solo"])


def test_the_earliest_held_retry_of_all_runs_wakes_the_loop() -> None:
    first, _ = _retrying()
    second, _ = _retrying()
    assert next_retry_at([first, second]) is None
    first.retry_due["solo"] = (1, 30.0)
    second.retry_due["solo"] = (1, 20.0)
    assert next_retry_at([first, second]) == 20.0


# A coordinator holding the retry --------------------------------------------------------------
def _fail_with_retry(store: RunStore, delay_s: float) -> float:
    """The worker of attempt 0 reports it failed, to be retried after ``delay_s``."""
    now = time.time()
    start = RunEvent(run_id="r", kind=E.STEP_START, timestamp=now, step_key="solo")
    retry = start.model_copy(update={"kind": E.STEP_UP_FOR_RETRY, "retry_delay_s": delay_s})
    store.append_events("r", [start, retry])
    return now + delay_s


def _turn_until(coordinator: Coordinator, until: float, block_s: float = 0.02) -> None:
    """Turns until ``until``; with no events, each blocks ``block_s`` unless a held retry
    is due sooner (the loop wakes for it)."""
    while time.time() < until:
        coordinator.step(block_s)


class TimedRecorder(Recorder):
    """Also notes when each delivery was sent."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def stage(self, deliveries: Sequence[Delivery]) -> None:
        return None  # sent by dispatch

    def dispatch(self, deliveries: Sequence[Delivery]) -> None:
        super().dispatch(deliveries)
        self.times.extend(time.time() for _ in deliveries)


def _submit(store: RunStore) -> None:
    record = RunRecord(run_id="r", job_name="pair", created_at=time.time())
    store.create_run(record, compile_plan(pair))


def test_a_delayed_retry_is_sent_when_due_and_the_queue_timeout_counts_from_then(
    store: RunStore,
) -> None:
    recorder = Recorder()
    settings = Settings(step_heartbeat_s=0.02, queue_timeout_s=0.3)
    coordinator = Coordinator(store, recorder, settings)
    _submit(store)
    assert coordinator.adopt("r")
    due = _fail_with_retry(store, 0.4)
    _turn_until(coordinator, due - 0.05)
    assert [d.request.attempt for d in recorder.sent] == [0]  # held, not sent with a countdown
    _turn_until(coordinator, due + 0.2)
    assert [d.request.attempt for d in recorder.sent] == [0, 1]
    assert store.get_run("r").status is RunStatus.STARTED  # no worker yet, within the timeout
    _turn_until(coordinator, due + 0.6)
    (failure,) = [e for _, e in store.read_events("r") if e.kind is E.STEP_FAILURE]
    assert failure.error is not None and "no worker took it" in failure.error.message
    assert failure.attempt == 1


def test_a_coordinator_adopting_the_run_holds_the_retry_until_the_same_time(
    store: RunStore,
) -> None:
    first = Coordinator(store, Recorder(), Settings())
    _submit(store)
    assert first.adopt("r")
    due = _fail_with_retry(store, 0.5)
    first.step(block_s=0.05)
    store.release("r", first.id)  # it stopped while holding the retry
    recorder = TimedRecorder()
    second = Coordinator(store, recorder, Settings())
    assert second.adopt("r")
    assert recorder.sent == []
    _turn_until(second, due + 0.1, block_s=2.0)  # it wakes for the retry, not after 2 s
    (sent,) = recorder.sent
    assert (sent.request.step_key, sent.request.attempt) == ("solo", 1)
    assert due <= recorder.times[0] < due + 0.1
