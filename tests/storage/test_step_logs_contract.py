"""The StepLogs contract (a running attempt's log lines, what an attempt printed), on every
run store."""

from __future__ import annotations

import time

from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.protocol.captured import CapturedOutput
from opgrid.orchestrator.protocol.events import RunEvent
from opgrid.orchestrator.protocol.status import RunStatus
from opgrid.orchestrator.store.base import RunStore

from .runs import PLAN, begin, event, record


def _line(message: str) -> RunEvent:
    return RunEvent(
        run_id="r1",
        kind=E.LOG_MESSAGE,
        timestamp=time.time(),
        step_key="one",
        level="INFO",
        message=message,
    )


def test_lines_of_a_running_attempt_reach_the_log_in_order(store: RunStore) -> None:
    store.save_progress("r1", {"one": "queued"}, {}, [])
    begin(store, "w1")
    assert store.append_step_logs("r1", ("one", "0:w1"), [_line("a"), _line("b")])
    assert store.append_step_logs("r1", ("one", "0:w1"), [_line("c")])
    logged = [e.message for _, e in store.read_events("r1") if e.kind is E.LOG_MESSAGE]
    assert logged == ["a", "b", "c"]


def test_a_canceled_step_keeps_its_lines_and_one_taken_over_cannot_write(store: RunStore) -> None:
    store.save_progress("r1", {"one": "queued"}, {}, [])
    begin(store, "w1", lost_after_s=0.05)
    store.save_progress("r1", {"one": "canceled"}, {}, [])
    assert store.append_step_logs("r1", ("one", "0:w1"), [_line("before the end")])
    store.save_progress("r1", {"one": "running"}, {}, [])
    time.sleep(0.1)
    begin(store, "w2", lost_after_s=0.05)  # takes the attempt over
    assert not store.append_step_logs("r1", ("one", "0:w1"), [_line("zombie")])
    logged = [e.message for _, e in store.read_events("r1") if e.kind is E.LOG_MESSAGE]
    assert logged == ["before the end"]


def test_captured_output_is_kept_per_attempt_and_the_latest_is_the_default(
    store: RunStore,
) -> None:
    store.create_run(record(), PLAN)
    store.save_progress("r1", {"one": "queued"}, {}, [])
    begin(store, "w1")
    first = CapturedOutput(step_key="one", attempt=0, stdout="first\n", stderr="oops\n")
    assert store.save_captured("r1", ("one", "0:w1"), first)
    store.save_progress("r1", {"one": "up_for_retry"}, {}, [])
    begin(store, "w1", attempt=1)
    second = CapturedOutput(step_key="one", attempt=1, stdout="second\n")
    assert store.save_captured("r1", ("one", "1:w1"), second)
    assert not store.save_captured("r1", ("one", "0:w1"), first)  # a claim since replaced
    assert store.captured_attempts("r1") == [("one", 0), ("one", 1)]
    assert store.get_captured("r1", "one") == second
    assert store.get_captured("r1", "one", 0) == first
    assert store.get_captured("r1", "one", 5) is None
    assert store.get_captured("r1", "two") is None
    assert store.get_captured("nope", "one") is None


def test_pruning_a_run_removes_its_captured_output(store: RunStore) -> None:
    store.create_run(record(), PLAN)
    store.save_progress("r1", {"one": "queued"}, {}, [])
    begin(store, "w1")
    store.save_captured("r1", ("one", "0:w1"), CapturedOutput(step_key="one", stdout="x"))
    finished = record().model_copy(update={"status": RunStatus.SUCCESS, "finished_at": 2.0})
    store.finish_run(finished, [event(E.RUN_SUCCESS)], {})
    assert store.prune_runs(100.0) == ["r1"]
    assert store.captured_attempts("r1") == []
