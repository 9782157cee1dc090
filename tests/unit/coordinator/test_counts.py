"""The counts a coordinator hands its hooks: ``Tally`` alone, then the loop calling the hooks
(on the in-memory store, workers played by the test), a 1,000-step fan-out included."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

import pytest

from opgrid import DynamicOut, DynamicOutput, job, op
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.coordinator import owned as owned_module
from opgrid.orchestrator.coordinator.dispatch import Delivery
from opgrid.orchestrator.coordinator.hooks import Counts, Hooks
from opgrid.orchestrator.coordinator.loop import Coordinator
from opgrid.orchestrator.coordinator.owned import COUNT_EVERY_S, OwnedRun, Tally
from opgrid.orchestrator.planning.compiler import compile_plan
from opgrid.orchestrator.planning.state import RunState
from opgrid.orchestrator.protocol.events import RunEvent
from opgrid.orchestrator.protocol.messages import RunRecord, RunSummary
from opgrid.orchestrator.protocol.status import RunStatus, StepStatus
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.memory import InMemoryRunStore

from .dispatchers import Recorder

R, S = RunStatus, StepStatus
FAN_OUT = 1_000


@op
def solo() -> int:
    return 1


@op
def after(x: int) -> int:
    return x


@job
def pair():
    after(solo())


@op(out=DynamicOut())
def fan():
    for i in range(FAN_OUT):
        yield DynamicOutput(i, mapping_key=str(i))


@op
def work(x: int) -> int:
    return x


@op
def total(xs: list[int]) -> int:
    return sum(xs)


@job
def fan_out():
    total(fan().map(work).collect())


class Calls(Hooks):
    """Records the hooks called, in order, with the counts handed over."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def after_event(self, record: RunRecord, event: RunEvent) -> None:
        self.calls.append(("event", event.kind))

    def before_dispatch(self, deliveries: Sequence[Delivery]) -> None:
        self.calls.append(("dispatch", [d.request.step_key for d in deliveries]))

    def after_finish(self, record: RunRecord, summary: RunSummary | None = None) -> None:
        self.calls.append(("finish", record.status))

    def after_count(self, counts: Counts) -> None:
        self.calls.append(("count", counts))

    def after_turn(self) -> None:
        self.calls.append(("turn", None))

    def counts(self) -> list[Counts]:
        return [c for name, c in self.calls if name == "count" and isinstance(c, Counts)]


def _owned(run_id: str, status: RunStatus = R.STARTED) -> OwnedRun:
    plan = compile_plan(pair)
    state = RunState(plan)
    state.start()
    record = RunRecord(run_id=run_id, job_name="pair", status=status, created_at=0.0)
    return OwnedRun(record, plan, state, "0-0", plan.step_named())


def _start(owned: OwnedRun, step: str) -> None:
    owned.state.apply(RunEvent(run_id=owned.run_id, kind=E.STEP_START, timestamp=0, step_key=step))


# Tally alone --------------------------------------------------------------------------------
def test_a_tally_counts_runs_in_and_out_and_recounts_changed_ones_when_due():
    tally, one, two = Tally(), _owned("one"), _owned("two")
    assert tally.counts() == Counts(runs={}, steps={})
    tally.count(one)
    tally.count(two)
    assert tally.counts() == Counts(runs={R.STARTED: 2}, steps={S.QUEUED: 2, S.PENDING: 2})

    _start(one, "solo")
    tally.changed("one")
    assert tally.recount({"one": one, "two": two}, monotonic_now=100.0)
    assert tally.counts().steps == {S.RUNNING: 1, S.QUEUED: 1, S.PENDING: 2}
    _start(two, "solo")
    tally.changed("two")
    runs = {"one": one, "two": two}
    assert not tally.recount(runs, monotonic_now=100.0 + COUNT_EVERY_S / 2)  # not due yet
    assert tally.counts().steps == {S.RUNNING: 1, S.QUEUED: 1, S.PENDING: 2}
    assert tally.recount(runs, monotonic_now=100.0 + COUNT_EVERY_S)
    assert tally.counts().steps == {S.RUNNING: 2, S.PENDING: 2}
    assert not tally.recount(runs, monotonic_now=1000.0)  # nothing changed

    tally.changed("two")
    tally.drop("two")  # given up: counted out at once, and not recounted
    assert tally.counts() == Counts(runs={R.STARTED: 1}, steps={S.RUNNING: 1, S.PENDING: 1})
    assert not tally.recount({"one": one}, monotonic_now=1000.0)
    tally.drop("one")
    tally.drop("never-counted")
    assert tally.counts() == Counts(runs={}, steps={})


# The loop and its hooks ------------------------------------------------------------------------
@pytest.fixture
def store() -> Iterator[InMemoryRunStore]:
    yield InMemoryRunStore()


def _events(run_id: str, step: str, *outputs: tuple[str, str | None]) -> list[RunEvent]:
    """What a worker reports for a step that succeeds with ``outputs`` (name, mapping key)."""
    now = time.time()
    done = [RunEvent(run_id=run_id, kind=E.STEP_START, timestamp=now, step_key=step)]
    done += [
        RunEvent(
            run_id=run_id,
            kind=E.STEP_OUTPUT,
            timestamp=now,
            step_key=step,
            output_name=name,
            mapping_key=key,
        )
        for name, key in outputs
    ]
    done.append(RunEvent(run_id=run_id, kind=E.STEP_SUCCESS, timestamp=now, step_key=step))
    return done


def test_the_loop_hands_counts_on_adopt_and_finish_before_the_finish_hook(store):
    hooks = Calls()
    coordinator = Coordinator(store, Recorder(), Settings(block_s=0.01), hooks=hooks)
    store.create_run(
        RunRecord(run_id="r", job_name="pair", created_at=time.time()), compile_plan(pair)
    )
    assert coordinator.adopt("r")
    assert hooks.calls == [
        ("dispatch", ["solo"]),
        ("count", Counts(runs={R.STARTED: 1}, steps={S.QUEUED: 1, S.PENDING: 1})),
    ]
    for step in ("solo", "after"):
        store.append_events("r", _events("r", step, ("result", None)))
        for _ in range(3):
            coordinator.step(0.01)
    assert "r" not in coordinator.runs
    names = [name for name, _ in hooks.calls]
    finish = names.index("finish")
    assert hooks.calls[finish] == ("finish", R.SUCCESS)
    assert hooks.calls[finish - 1] == ("count", Counts(runs={}, steps={}))
    assert names[-1] == "turn" and names.count("turn") == 6
    assert ("event", E.STEP_SUCCESS) in hooks.calls


def test_a_coordinator_that_loses_a_lease_counts_the_run_out(store):
    hooks = Calls()
    coordinator = Coordinator(store, Recorder(), Settings(block_s=0.01, lease_s=30), hooks=hooks)
    store.create_run(
        RunRecord(run_id="r", job_name="pair", created_at=time.time()), compile_plan(pair)
    )
    assert coordinator.adopt("r")
    store.release("r", coordinator.id)
    assert store.claim("r", "another", 30)
    coordinator.step(0.01)  # housekeeping finds the lease gone
    assert "r" not in coordinator.runs
    assert hooks.counts()[-1] == Counts(runs={}, steps={})


def test_a_fan_out_of_1000_steps_is_counted_at_most_every_count_every_s(store, monkeypatch):
    """Counting the steps costs a pass over them: the loop does it when a run comes or
    goes, and else at most every ``COUNT_EVERY_S``, however many turns the run takes."""
    passes: list[int] = []
    count = Tally.count

    def counting(self: Tally, owned: OwnedRun) -> None:
        passes.append(len(owned.state.statuses()))
        count(self, owned)

    monkeypatch.setattr(owned_module.Tally, "count", counting)
    hooks, recorder = Calls(), Recorder()
    coordinator = Coordinator(store, recorder, Settings(block_s=0.001), hooks=hooks)
    store.create_run(
        RunRecord(run_id="f", job_name="fan_out", created_at=time.time()), compile_plan(fan_out)
    )
    began = time.monotonic()
    assert coordinator.adopt("f")
    fanned = [("result", str(i)) for i in range(FAN_OUT)]
    store.append_events("f", _events("f", "fan", *fanned))
    for _ in range(3):  # a turn reads at most 1,000 entries of a stream
        coordinator.step(0.001)
    mapped = [d.request.step_key for d in recorder.sent[1:]]
    assert len(mapped) == FAN_OUT
    turns = 0
    for i in range(0, FAN_OUT, 10):  # workers report ten at a time: about 100 turns
        for key in mapped[i : i + 10]:
            store.append_events("f", _events("f", key, ("result", None)))
        coordinator.step(0.001)
        turns += 1
    in_flight = hooks.counts()[-1]
    store.append_events("f", _events("f", "total", ("result", None)))
    for _ in range(3):
        coordinator.step(0.001)
    elapsed = time.monotonic() - began

    assert "f" not in coordinator.runs
    assert hooks.counts()[-1] == Counts(runs={}, steps={})
    assert in_flight.runs == {R.STARTED: 1}
    assert sum(in_flight.steps.values()) == FAN_OUT + 2
    full = [n for n in passes if n > 2]  # passes over the fanned-out run
    assert len(full) <= 2 + elapsed / COUNT_EVERY_S, (len(full), turns, elapsed)
