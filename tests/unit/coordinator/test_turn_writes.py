"""A turn's writes are held, stored with the turn's first sends, and when that fails the
runs they were for are let go while the other sends wait (``coordinator.turn_writes``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from opgrid.errors import StorageError
from opgrid.orchestrator.coordinator.dispatch import Delivery
from opgrid.orchestrator.coordinator.outbox import Outbox
from opgrid.orchestrator.coordinator.turn_writes import TurnWrites
from opgrid.orchestrator.protocol.messages import RunRecord, RunSummary, StepRequest
from opgrid.orchestrator.protocol.status import RunStatus
from opgrid.orchestrator.store.turns import FinishWrite, ProgressWrite, TurnWrite

from .dispatchers import Recorder


class Staging(Recorder):
    """A dispatcher whose broker is the store's database: it stages every send."""

    def stage(self, deliveries: Sequence[Delivery]) -> list[tuple[str, bytes]]:
        return [("q", d.request.step_key.encode()) for d in deliveries]


class Store:
    """Records each ``write_turn``; fails while ``down``."""

    def __init__(self) -> None:
        self.turns: list[tuple[list[TurnWrite], list[tuple[str, bytes]]]] = []
        self.down = False

    def write_turn(self, writes: Sequence[TurnWrite], pushes: Sequence[Any] = ()) -> None:
        if self.down:
            raise StorageError("Redis failed during write_turn: ConnectionError")
        self.turns.append((list(writes), list(pushes)))


def _delivery(run_id: str, step: str) -> Delivery:
    return Delivery(StepRequest(run_id=run_id, step_key=step, job_name="j"), queue="q")


def _parts() -> tuple[Store, Outbox, TurnWrites, list[set[str]], list[str]]:
    store, outbox = Store(), Outbox(Staging(), "q", "c1")
    let_go: list[set[str]] = []
    ended: list[str] = []
    writes = TurnWrites(
        store,  # type: ignore[arg-type]
        outbox,
        "c1",
        let_go.append,
        lambda record, summary: ended.append(record.run_id),
    )
    return store, outbox, writes, let_go, ended


def test_a_turns_writes_go_in_one_write_with_its_sends_after_them() -> None:
    store, outbox, writes, let_go, ended = _parts()
    record = RunRecord(run_id="r2", job_name="j", created_at=1.0, status=RunStatus.SUCCESS)
    summary = RunSummary(status=RunStatus.SUCCESS, steps={})
    with writes.held():
        writes.write(ProgressWrite("r1", {"a": "queued"}))
        outbox.send([_delivery("r1", "a")])
        writes.ended(record, summary)
        writes.write(FinishWrite(record, [], {}, summary, "c1"))
        assert store.turns == [] and ended == []  # held until the block ends
    assert [([w.run_id for w in ws], pushes) for ws, pushes in store.turns] == [
        (["r1", "r2"], [("q", b"a")])
    ]
    assert ended == ["r2"] and let_go == [] and outbox.undelivered == []


def test_outside_a_turn_a_write_is_stored_at_once() -> None:
    store, _, writes, _, _ = _parts()
    writes.write(ProgressWrite("r1", {"a": "queued"}))
    assert len(store.turns) == 1


def test_a_failed_write_lets_its_runs_go_and_keeps_the_other_sends() -> None:
    store, outbox, writes, let_go, ended = _parts()
    store.down = True
    record = RunRecord(run_id="r1", job_name="j", created_at=1.0, status=RunStatus.SUCCESS)
    with pytest.raises(StorageError), writes.held():
        writes.write(ProgressWrite("r1", {"a": "queued"}))
        outbox.send([_delivery("r1", "a"), _delivery("r3", "retry")])  # r3: a held retry
        writes.ended(record, RunSummary(status=RunStatus.SUCCESS, steps={}))
    assert let_go == [{"r1"}]
    assert ended == []  # not stored: not told
    # r1's step is not sent; r3's goes by the next send (here the outbox's own, at once)
    dispatcher = outbox.dispatcher
    assert isinstance(dispatcher, Staging)
    assert [d.request.run_id for d in dispatcher.sent] == ["r3"]
    assert outbox.undelivered == []
