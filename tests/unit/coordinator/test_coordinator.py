"""The coordinator on both run stores, with a dispatcher that records what it would send.

Workers are played by the test, also in the second part: how the coordinator watches
them (a silent running step is delivered again, then failed; a step nobody takes fails
after the queue timeout; a cancel revokes what is in flight).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from opgrid import job, op
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.coordinator.dispatch import Delivery
from opgrid.orchestrator.coordinator.loop import Coordinator
from opgrid.orchestrator.planning.compiler import compile_plan
from opgrid.orchestrator.protocol.attempts import Verdict
from opgrid.orchestrator.protocol.events import RunEvent
from opgrid.orchestrator.protocol.messages import RunRecord
from opgrid.orchestrator.protocol.status import RunStatus
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.base import RunStore


@op(tags={"opgrid/queue": "gpu", "opgrid/priority": 7})
def tagged() -> int:
    return 1


@op
def plain(x: int) -> int:
    return x + 1


@job(tags={"opgrid/queue": "team-a"})
def routed():
    plain(tagged())


class Recorder:
    def __init__(self) -> None:
        self.sent: list[Delivery] = []
        self.revoked: list[str] = []
        self.withdrawn: dict[str, list[str]] = {}

    def stage(self, deliveries: Sequence[Delivery]) -> None:
        return None  # sent by dispatch

    def dispatch(self, deliveries: Sequence[Delivery]) -> None:
        self.sent.extend(deliveries)

    def revoke(self, task_ids: Sequence[str]) -> None:
        self.revoked.extend(task_ids)

    def withdraw(self, queued: Mapping[str, Sequence[str]]) -> int:
        self.withdrawn.update({queue: list(ids) for queue, ids in queued.items()})
        return 0

    def close(self) -> None:
        return None


def _submit(store: RunStore) -> str:
    plan = compile_plan(routed)
    record = RunRecord(
        run_id="run-1", job_name="routed", tags=dict(plan.tags), created_at=time.time()
    )
    store.create_run(record, plan)
    return record.run_id


def _event(kind: E, step: str) -> RunEvent:
    return RunEvent(run_id="run-1", kind=kind, timestamp=time.time(), step_key=step)


def test_steps_go_to_the_queue_and_priority_of_their_tags_else_the_runs(store: RunStore):
    recorder = Recorder()
    coordinator = Coordinator(store, recorder, Settings(default_queue="default"))
    run_id = _submit(store)
    assert coordinator.adopt(run_id)
    (first,) = recorder.sent
    assert (first.request.step_key, first.queue, first.priority) == ("tagged", "gpu", 7)
    assert store.get_run(run_id).status is RunStatus.STARTED
    store.append_events(
        run_id,
        [
            _event(E.STEP_START, "tagged"),
            RunEvent(
                run_id=run_id,
                kind=E.STEP_OUTPUT,
                timestamp=time.time(),
                step_key="tagged",
                output_name="result",
            ),
            _event(E.STEP_SUCCESS, "tagged"),
        ],
    )
    coordinator.step(block_s=0.01)
    second = recorder.sent[1]
    assert (second.request.step_key, second.queue, second.priority) == ("plain", "team-a", None)
    # the coordinator records what it decides; "success" is the worker's to record
    assert store.step_statuses(run_id)["plain"] == "queued"


def test_log_lines_of_a_running_step_move_nothing_and_write_nothing(store: RunStore):
    recorder = Recorder()
    coordinator = Coordinator(store, recorder, Settings(default_queue="default"))
    run_id = _submit(store)
    assert coordinator.adopt(run_id)
    store.append_events(run_id, [_event(E.STEP_START, "tagged")])
    coordinator.step(block_s=0.01)
    before = store.step_statuses(run_id)
    writes: list[str] = []
    save_progress = store.save_progress

    def counted(*args: object, **kwargs: object) -> None:
        writes.append("save_progress")
        save_progress(*args, **kwargs)  # type: ignore[arg-type]

    store.save_progress = counted  # type: ignore[method-assign]
    lines = [
        RunEvent(
            run_id=run_id,
            kind=E.LOG_MESSAGE,
            timestamp=time.time(),
            step_key="tagged",
            level="INFO",
            message=f"line {n}",
        )
        for n in range(3)
    ]
    store.append_events(run_id, lines)
    coordinator.step(block_s=0.01)
    assert writes == []
    assert len(recorder.sent) == 1
    assert store.step_statuses(run_id) == before
    assert coordinator.runs[run_id].state.status_of("tagged").value == "running"
    owned = coordinator.runs[run_id]
    assert owned.cursor == store.read_events(run_id)[-1][0]  # read past, not read again


def test_a_second_coordinator_cannot_take_an_owned_run_but_adopts_it_after_release(
    store: RunStore,
):
    first = Coordinator(store, Recorder(), Settings(lease_s=30))
    second_recorder = Recorder()
    second = Coordinator(store, second_recorder, Settings(lease_s=30))
    run_id = _submit(store)
    assert first.adopt(run_id)
    assert not second.adopt(run_id)
    store.release(run_id, first.id)
    assert second.adopt(run_id)
    # the run is rebuilt from its log: the root step is dispatched again, as it never started
    assert [d.request.step_key for d in second_recorder.sent] == ["tagged"]


# Watching workers --------------------------------------------------------------------------
#: Heartbeats every 20 ms, lost after 60 ms: the test waits out silences quickly.
QUICK = {"step_heartbeat_s": 0.02, "step_lost_after_s": 0.06, "block_s": 0.01}


@op
def solo() -> int:
    return 1


@op
def after(x: int) -> int:
    return x


@job
def pair():
    after(solo())


def _started(store: RunStore, recorder: Recorder, **settings: object) -> Coordinator:
    coordinator = Coordinator(store, recorder, Settings(**{**QUICK, **settings}))
    plan = compile_plan(pair)
    store.create_run(RunRecord(run_id="r", job_name="pair", created_at=time.time()), plan)
    assert coordinator.adopt("r")
    assert [d.request.step_key for d in recorder.sent] == ["solo"]
    return coordinator


def _worker_starts(store: RunStore, worker: str) -> Verdict:
    start = RunEvent(run_id="r", kind=E.STEP_START, timestamp=time.time(), step_key="solo")
    return store.begin_attempt("r", "solo", 0, worker, start, 0.06).verdict


def _turns(coordinator: Coordinator, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        coordinator.step(block_s=0.01)


def test_a_silent_step_is_delivered_again_then_failed_with_the_reason(store: RunStore) -> None:
    recorder = Recorder()
    coordinator = _started(store, recorder, max_redeliveries=1)
    assert _worker_starts(store, "w1") is Verdict.GO
    _turns(coordinator, 0.2)  # w1 never beats
    assert [d.request.step_key for d in recorder.sent] == ["solo", "solo"]
    assert recorder.sent[1].request.attempt == 0  # the same attempt, delivered again
    assert _worker_starts(store, "w2") is Verdict.TAKEN_OVER
    _turns(coordinator, 0.2)  # w2 goes silent too: no more redeliveries
    assert len(recorder.sent) == 2
    assert store.get_run("r").status is RunStatus.FAILURE
    events = [event for _, event in store.read_events("r")]
    notes = [e.message for e in events if e.kind is E.ENGINE_EVENT]
    assert any("its worker was lost (no heartbeat" in note for note in notes)
    (failure,) = [e for e in events if e.kind is E.STEP_FAILURE]
    assert failure.error is not None and failure.error.cls_name == "StepLost"
    assert "1 redelivery(ies) did not finish it" in failure.error.message
    assert store.step_statuses("r")["after"] == "abandoned"


def test_a_beating_step_is_left_alone(store: RunStore) -> None:
    recorder = Recorder()
    coordinator = _started(store, recorder)
    _worker_starts(store, "w1")
    deadline = time.monotonic() + 0.3
    while time.monotonic() < deadline:
        assert store.beat("r", "solo", "0:w1") == "running"
        coordinator.step(block_s=0.01)
    assert len(recorder.sent) == 1
    assert store.get_run("r").status is RunStatus.STARTED


def test_a_step_no_worker_takes_fails_after_the_queue_timeout_and_is_revoked(
    store: RunStore,
) -> None:
    recorder = Recorder()
    coordinator = _started(store, recorder, queue_timeout_s=0.05)
    _turns(coordinator, 0.2)
    assert store.get_run("r").status is RunStatus.FAILURE
    (failure,) = [e for _, e in store.read_events("r") if e.kind is E.STEP_FAILURE]
    assert failure.error is not None and "no worker took it" in failure.error.message
    assert recorder.revoked == ["r:solo:0"]
    assert _worker_starts(store, "late") is Verdict.SETTLED  # a late delivery is dropped


def test_a_cancel_revokes_the_steps_in_flight(store: RunStore) -> None:
    recorder = Recorder()
    coordinator = _started(store, recorder)
    cancel = RunEvent(run_id="r", kind=E.RUN_CANCELING, timestamp=time.time())
    store.append_events("r", [cancel])
    _turns(coordinator, 0.05)
    assert recorder.revoked == ["r:solo:0"]
    assert recorder.withdrawn == {coordinator.settings.default_queue: ["r:solo:0"]}
    assert store.get_run("r").status is RunStatus.CANCELED
    assert set(store.step_statuses("r").values()) == {"canceled"}
    assert _worker_starts(store, "late") is Verdict.SETTLED


# Long dispatches -------------------------------------------------------------------------
@op
def wide_root() -> int:
    return 1


@op
def wide_leaf(x: int) -> int:
    return x


@job
def wide():
    root = wide_root()
    for i in range(60):
        wide_leaf.alias(f"leaf_{i}")(root)


class SlowRecorder(Recorder):
    """A broker that takes 10 ms per message."""

    def stage(self, deliveries: Sequence[Delivery]) -> None:
        return None  # sent by dispatch

    def dispatch(self, deliveries: Sequence[Delivery]) -> None:
        time.sleep(0.01 * len(deliveries))
        super().dispatch(deliveries)


def test_a_dispatch_longer_than_a_lease_keeps_the_lease(store: RunStore, monkeypatch) -> None:
    monkeypatch.setattr("opgrid.orchestrator.coordinator.outbox.CHUNK", 5)
    recorder = SlowRecorder()
    coordinator = Coordinator(store, recorder, Settings(lease_s=0.15, **QUICK))
    store.create_run(
        RunRecord(run_id="r", job_name="wide", created_at=time.time()), compile_plan(wide)
    )
    assert coordinator.adopt("r")
    at = time.time()
    done = [
        RunEvent(run_id="r", kind=kind, timestamp=at, step_key="wide_root", output_name=name)
        for kind, name in ((E.STEP_START, None), (E.STEP_OUTPUT, "result"), (E.STEP_SUCCESS, None))
    ]
    store.append_events("r", done)
    began = time.monotonic()
    coordinator.step(0.01)  # sends the 60 leaves: 0.6 s, four leases
    assert time.monotonic() - began > 0.6
    assert len(recorder.sent) == 61
    assert store.renew("r", coordinator.id, 0.15)  # still its own
    coordinator.step(0.01)
    assert "r" in coordinator.runs and len(recorder.sent) == 61  # nothing sent twice
