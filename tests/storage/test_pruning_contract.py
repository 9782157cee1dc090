"""The Pruning contract (finished runs deleted, active ones never), on every run store."""

from __future__ import annotations

import pytest

from opgrid.errors import RunNotFound
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.planning.state import ValueRef
from opgrid.orchestrator.protocol.status import RunStatus
from opgrid.orchestrator.store.base import RunStore

from .runs import PLAN, event, record


def _finished(store: RunStore, run_id: str, at: float) -> None:
    store.create_run(record(run_id, at), PLAN)
    store.commit_step(run_id, [(ValueRef("one", "result"), b"1")], [])
    done = record(run_id, at).model_copy(update={"status": RunStatus.SUCCESS, "finished_at": at})
    store.finish_run(done, [event(E.RUN_SUCCESS)], {"one": "success"})


def test_runs_that_ended_before_the_cutoff_are_pruned_oldest_first(store: RunStore) -> None:
    _finished(store, "old2", at=20.0)
    _finished(store, "old1", at=10.0)
    _finished(store, "new", at=1000.0)
    store.create_run(record("active", 5.0), PLAN)
    assert store.prune_runs(100.0, dry_run=True) == ["old1", "old2"]
    assert store.get_run("old1").status is RunStatus.SUCCESS  # a dry run deletes nothing
    assert store.prune_runs(100.0) == ["old1", "old2"]
    with pytest.raises(RunNotFound):
        store.get_run("old1")
    assert store.load_outputs("old2", [ValueRef("one", "result")]) == [None]
    assert store.get_run("new").status is RunStatus.SUCCESS
    assert store.get_run("active").status is RunStatus.QUEUED
    assert store.prune_runs(100.0) == []
