"""StepWatch in a thread that is not a pool process's main thread (solo and threads pools):
heartbeats, and an op interrupted when its run is canceled or its attempt taken over."""

from __future__ import annotations

import time

import pytest

from opgrid.errors import DagsterExecutionInterruptedError
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.protocol.events import RunEvent
from opgrid.orchestrator.protocol.messages import StepRequest
from opgrid.orchestrator.store.memory import InMemoryRunStore
from opgrid.workers.live_logs import LiveLog, LogLimits
from opgrid.workers.watch import StepWatch

INTERVAL_S = 0.05


def _running(store: InMemoryRunStore) -> None:
    event = RunEvent(run_id="r", kind=E.STEP_START, timestamp=0.0, step_key="s")
    store.save_progress("r", {"s": "queued"}, {}, [])
    begun = store.begin_attempt("r", "s", 0, "me", event, lost_after_s=10)
    assert begun.verdict.runs


def _busy_op(seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.005)


def test_a_running_step_keeps_sending_heartbeats() -> None:
    store = InMemoryRunStore()
    _running(store)
    _, (first,) = store.step_beats("r", ["s"])
    with StepWatch(store, "r", ("s", "0:me"), INTERVAL_S, 1.0, False) as watch:
        _busy_op(0.3)
    _, (last,) = store.step_beats("r", ["s"])
    assert first is not None and last is not None and last > first + 0.1
    assert watch.reason is None


@pytest.mark.parametrize(
    ("stop", "reason"),
    [
        (lambda store: store.save_progress("r", {"s": "canceled"}, {}, []), "canceled"),
        (lambda store: store.declare_lost("r", "s", 0, []), "superseded"),
    ],
)
def test_the_op_is_interrupted_when_its_run_is_canceled_or_its_attempt_taken(stop, reason) -> None:
    store = InMemoryRunStore()
    _running(store)
    began = time.monotonic()
    with pytest.raises(DagsterExecutionInterruptedError):
        with StepWatch(store, "r", ("s", "0:me"), INTERVAL_S, 1.0, False) as watch:
            stop(store)
            _busy_op(5.0)
    assert time.monotonic() - began < 1.0
    assert watch.reason == reason


def test_a_step_that_ends_before_the_next_beat_is_never_interrupted() -> None:
    store = InMemoryRunStore()
    _running(store)
    store.save_progress("r", {"s": "canceled"}, {}, [])
    with StepWatch(store, "r", ("s", "0:me"), 0.5, 1.0, False) as watch:
        pass
    time.sleep(0.6)  # no interrupt arrives late in this thread
    assert watch.reason is None


def _live(store: InMemoryRunStore, flush_s: float) -> LiveLog:
    request = StepRequest(run_id="r", step_key="s", job_name="j")
    return LiveLog(store, request, ("s", "0:me"), LogLimits(flush_s=flush_s))


def _logged(store: InMemoryRunStore) -> list[str]:
    return [e.message for _, e in store.read_events("r") if e.kind is E.LOG_MESSAGE]


def test_the_watcher_sends_a_running_steps_lines_soon_after_they_are_logged() -> None:
    store = InMemoryRunStore()
    _running(store)
    live = _live(store, 0.05)
    with StepWatch(store, "r", ("s", "0:me"), 5.0, 1.0, False).sending(live):
        live.add("INFO", "one")
        _busy_op(0.4)  # far sooner than the next heartbeat
        sent = _logged(store)
    assert sent == ["one"]
    assert live.close() == []  # nothing left to send with the record


def test_an_op_that_ignores_its_interruption_has_its_lines_sent_before_it_is_given_up() -> None:
    store = InMemoryRunStore()
    _running(store)
    live = _live(store, 60.0)  # never due by itself in this test
    with pytest.raises(DagsterExecutionInterruptedError):
        with StepWatch(store, "r", ("s", "0:me"), INTERVAL_S, 0.2, False).sending(live) as watch:
            live.add("INFO", "before the cancel")
            store.save_progress("r", {"s": "canceled"}, {}, [])
            time.sleep(0.8)  # in C: the interruption lands only when this returns
    assert watch.reason == "canceled"
    assert _logged(store) == ["before the cancel"]  # sent when the watcher gave up
