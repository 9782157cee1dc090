"""The Outputs contract (stored values as bytes, copied between runs), on every run store."""

from __future__ import annotations

from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.planning.state import ValueRef
from opgrid.orchestrator.store.base import RunStore

from .runs import event

PLAIN = ValueRef("one", "result")
MAPPED = ValueRef("one", "result", "a")


def test_committed_values_are_read_back_and_missing_ones_are_none(store: RunStore) -> None:
    store.commit_step("r1", [(PLAIN, b"1"), (MAPPED, b"2")], [event(E.STEP_OUTPUT, "one")])
    assert store.load_outputs("r1", [PLAIN, MAPPED, ValueRef("two", "result")]) == [
        b"1",
        b"2",
        None,
    ]
    assert store.has_output("r1", PLAIN)
    assert not store.has_output("r1", ValueRef("one", "other"))
    assert not store.has_output("r2", PLAIN)


def test_values_are_copied_to_another_run_and_missing_ones_reported(store: RunStore) -> None:
    store.commit_step("r1", [(PLAIN, b"1")], [])
    missing = store.copy_outputs("r1", "r2", [PLAIN, MAPPED])
    assert missing == [MAPPED]
    assert store.load_outputs("r2", [PLAIN, MAPPED]) == [b"1", None]
