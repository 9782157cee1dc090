"""A worker running steps against the in-memory store: ``context.log`` lines sent while a
step runs (each once), none of it for a step that logs nothing, and what an op prints
kept per attempt, cut at the capture limit."""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from typing import Any

import pytest

from opgrid import OpExecutionContext, job, op
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.planning.compiler import compile_plan
from opgrid.orchestrator.protocol.events import RunEvent
from opgrid.orchestrator.protocol.messages import RunRecord, StepRequest
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.envelopes import io_manager_from_settings
from opgrid.orchestrator.store.memory import InMemoryRunStore
from opgrid.workers.capture import Capture
from opgrid.workers.live_logs import BATCH_LINES, LiveLog, LogLimits, cut_line
from opgrid.workers.locations import LocationRegistry
from opgrid.workers.runtime import WorkerRuntime


class CountingStore:
    """The in-memory store, counting every call made to it by name."""

    def __init__(self) -> None:
        self.store = InMemoryRunStore()
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.store, name)
        if not callable(found):
            return found

        def counted(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.calls[name] += 1
            return found(*args, **kwargs)

        return counted


@op
def quiet() -> int:
    return 1


@op
def chatty(context: OpExecutionContext) -> int:
    context.log.info("first line")
    time.sleep(0.6)  # long enough for the first line to be sent while the op runs
    context.log.warning("second line")
    return 2


@op
def printing(context: OpExecutionContext) -> int:
    print("to stdout")
    print("to stderr", file=sys.stderr)
    print("x" * 300)  # over the test's capture limit
    return 3


@op
def failing() -> int:
    print("about to fail")
    raise ValueError("nope")


@job
def steps():
    quiet()
    chatty()
    printing()
    failing()


SETTINGS = Settings(
    secret="unit-secret",
    step_heartbeat_s=30.0,
    step_lost_after_s=60.0,
    log_flush_s=0.1,
    capture_limit_bytes=200,
)


def _run_step(store: CountingStore, step_key: str) -> None:
    plan = compile_plan(steps)
    if not store.store.list_runs():
        store.store.create_run(RunRecord(run_id="r", job_name="steps", created_at=1.0), plan)
    store.store.save_progress("r", {step_key: "queued"}, {}, [])
    locations = LocationRegistry()
    locations.register(steps)
    runtime = WorkerRuntime(SETTINGS, locations, store, io_manager_from_settings(SETTINGS))  # type: ignore[arg-type]
    store.calls.clear()
    runtime.execute(StepRequest(run_id="r", step_key=step_key, job_name="steps"))


def test_a_step_that_logs_and_prints_nothing_makes_no_extra_store_call() -> None:
    store = CountingStore()
    _run_step(store, "quiet")
    assert set(store.calls) == {"get_plan", "begin_attempt", "commit_attempt"}, store.calls
    assert store.store.captured_attempts("r") == []


def test_lines_are_sent_while_the_step_runs_and_recorded_once() -> None:
    store = CountingStore()
    _run_step(store, "chatty")
    assert store.calls["append_step_logs"] >= 1
    events = [e for _, e in store.store.read_events("r") if e.step_key == "chatty"]
    kinds = [e.kind for e in events]
    assert kinds == [E.STEP_START, E.LOG_MESSAGE, E.LOG_MESSAGE, E.STEP_OUTPUT, E.STEP_SUCCESS]
    assert [e.message for e in events if e.kind is E.LOG_MESSAGE] == ["first line", "second line"]


def test_what_an_op_prints_is_kept_per_attempt_and_cut_at_the_limit() -> None:
    store = CountingStore()
    _run_step(store, "printing")
    captured = store.store.get_captured("r", "printing")
    assert captured is not None and captured.attempt == 0
    assert captured.stdout.startswith("to stdout\n" + "x" * 100)
    assert "more bytes of stdout cut" in captured.stdout
    assert "OPGRID_CAPTURE_LIMIT_BYTES" in captured.stdout
    assert captured.stdout_cut_bytes == len("to stdout\n") + 301 - 200
    assert captured.stderr == "to stderr\n" and captured.stderr_cut_bytes == 0


def test_a_failed_step_keeps_what_it_printed() -> None:
    store = CountingStore()
    _run_step(store, "failing")
    assert store.store.step_statuses("r")["failing"] == "failure"
    captured = store.store.get_captured("r", "failing")
    assert captured is not None and captured.stdout == "about to fail\n"


def test_prints_from_other_threads_go_to_the_real_stream(capsys: pytest.CaptureFixture[str]):
    capture = Capture(1000)
    seen: list[str] = []

    def elsewhere() -> None:
        print("not the step's")

    with capture:
        print("the step's")
        other = threading.Thread(target=elsewhere)
        other.start()
        other.join()
        seen.append(capture.stdout.text("stdout"))
    print("after the step")
    assert seen == ["the step's\n"]
    assert capsys.readouterr().out.splitlines() == ["not the step's", "after the step"]


def test_a_long_line_is_cut_saying_so() -> None:
    kept, size = cut_line("é" * 100, 11)
    assert kept.startswith("ééééé [cut: 189 more bytes")
    assert size == 11 + len(kept.split(" ", 1)[1]) + 1
    assert cut_line("short", 11) == ("short", 5)


def _live(store: InMemoryRunStore, limits: LogLimits) -> LiveLog:
    store.save_progress("r", {"s": "queued"}, {}, [])
    start = RunEvent(run_id="r", kind=E.STEP_START, timestamp=0.0, step_key="s")
    store.begin_attempt("r", "s", 0, "me", start, lost_after_s=10)
    request = StepRequest(run_id="r", step_key="s", job_name="j")
    return LiveLog(store, request, ("s", "0:me"), limits)


def test_lines_beyond_the_budget_are_counted_in_one_line() -> None:
    store = InMemoryRunStore()
    live = _live(store, LogLimits(flush_s=0.01, step_max_lines=3))
    for n in range(5):
        live.add("INFO", f"line {n}")
    rest = live.close()
    assert [e.message for e in rest[:3]] == ["line 0", "line 1", "line 2"]
    assert rest[3].level == "WARNING" and rest[3].message.startswith("2 log lines dropped")
    assert live.close() == []  # once


def test_a_send_carries_a_bounded_batch_and_nothing_is_sent_twice() -> None:
    store = InMemoryRunStore()
    live = _live(store, LogLimits(flush_s=0.01))
    for n in range(BATCH_LINES + 10):
        live.add("INFO", f"line {n}")
    assert live.due() < time.monotonic() + 0.02
    live.flush(time.monotonic() + 1)
    sent = [e.message for _, e in store.read_events("r") if e.kind is E.LOG_MESSAGE]
    assert len(sent) == BATCH_LINES
    rest = live.close()
    assert [e.message for e in rest] == [f"line {n}" for n in range(BATCH_LINES, BATCH_LINES + 10)]
    live.flush(time.monotonic() + 1, everything=True)  # closed: nothing more
    assert len(store.read_events("r")) == 1 + BATCH_LINES
