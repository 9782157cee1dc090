"""What the coordinator sends together: the steps one wake readies across runs go in one
batch, a revoke drops what is not sent yet, and the wait before reading grows with the
steps in flight (never for a chain)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from opgrid import job, op
from opgrid.errors import BrokerError
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.coordinator.dispatch import Delivery
from opgrid.orchestrator.coordinator.loop import Coordinator
from opgrid.orchestrator.coordinator.outbox import Outbox
from opgrid.orchestrator.planning.compiler import compile_plan
from opgrid.orchestrator.protocol.events import RunEvent
from opgrid.orchestrator.protocol.messages import RunRecord, StepRequest, task_id
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.base import RunStore


@op
def first() -> int:
    return 1


@op
def second(x: int) -> int:
    return x + 1


@job
def pair():
    second(first())


class Batches:
    """A dispatcher that records each batch it is given."""

    def __init__(self) -> None:
        self.batches: list[list[Delivery]] = []
        self.revoked: list[str] = []

    def stage(self, deliveries: Sequence[Delivery]) -> None:
        return None  # sent by dispatch

    def dispatch(self, deliveries: Sequence[Delivery]) -> None:
        self.batches.append(list(deliveries))

    def revoke(self, task_ids: Sequence[str]) -> None:
        self.revoked.extend(task_ids)

    def withdraw(self, queued: Mapping[str, Sequence[str]]) -> int:
        return 0

    def close(self) -> None:
        return None


def _submit(store: RunStore, run_id: str) -> str:
    plan = compile_plan(pair)
    record = RunRecord(run_id=run_id, job_name="pair", tags={}, created_at=time.time())
    store.create_run(record, plan)
    return run_id


def _succeeded(run_id: str, step: str) -> list[RunEvent]:
    now = time.time()
    return [
        RunEvent(run_id=run_id, kind=E.STEP_START, timestamp=now, step_key=step),
        RunEvent(
            run_id=run_id, kind=E.STEP_OUTPUT, timestamp=now, step_key=step, output_name="result"
        ),
        RunEvent(run_id=run_id, kind=E.STEP_SUCCESS, timestamp=now, step_key=step),
    ]


def test_the_steps_one_wake_readies_in_many_runs_go_to_the_broker_in_one_batch(
    store: RunStore,
):
    batches = Batches()
    coordinator = Coordinator(store, batches, Settings(default_queue="default"))
    runs = [_submit(store, f"run-{n}") for n in range(5)]
    for run_id in runs:
        assert coordinator.adopt(run_id)  # adopted one by one: each sends at once
    assert [[d.request.step_key for d in batch] for batch in batches.batches] == [["first"]] * 5
    for run_id in runs:
        store.append_events(run_id, _succeeded(run_id, "first"))
    coordinator.step(block_s=0.01)
    (*_, together) = batches.batches
    assert len(batches.batches) == 6
    assert sorted((d.request.run_id, d.request.step_key) for d in together) == [
        (run_id, "second") for run_id in runs
    ]


def test_sends_inside_gathered_wait_for_its_end_and_a_revoke_drops_what_is_unsent(
    store: RunStore,
):
    batches = Batches()
    coordinator = Coordinator(store, batches, Settings(default_queue="default"))
    run_id = _submit(store, "run-r")
    outbox: Outbox = coordinator.outbox
    with outbox.gathered():
        assert coordinator.adopt(run_id)
        assert batches.batches == []
        owned = coordinator.runs[run_id]
        assert [d.request.step_key for d in outbox.undelivered] == ["first"]
        outbox.revoke(owned, [("first", 0)])
    assert batches.batches == []  # nothing left to send
    assert batches.revoked == [task_id(owned.request("first", 0))]


def test_staging_that_the_broker_refuses_leaves_the_steps_to_the_next_send() -> None:
    class Refusing(Batches):
        def stage(self, deliveries: Sequence[Delivery]) -> None:
            raise BrokerError("the broker did not declare ['q']")

    dispatcher = Refusing()
    outbox = Outbox(dispatcher, "q", "c1")
    delivery = Delivery(StepRequest(run_id="r1", step_key="one", job_name="j"), queue="q")
    with outbox.gathered():
        outbox.send([delivery])
        assert outbox.staged() == ([], [])
        assert outbox.undelivered == [delivery]
    assert dispatcher.batches == [[delivery]]
