"""The RunLog contract (records, plans, events, summaries), on every run store."""

from __future__ import annotations

import pytest

from opgrid.errors import RunNotFound
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.protocol.messages import RunSummary
from opgrid.orchestrator.protocol.status import RunStatus, StepStatus
from opgrid.orchestrator.store.base import RunStore

from .runs import PLAN, event, record


def test_a_created_run_can_be_read_listed_and_is_announced(store: RunStore) -> None:
    store.create_run(record("r1", 1.0), PLAN)
    store.create_run(record("r2", 2.0), PLAN)
    assert store.get_run("r1").job_name == "tiny"
    assert store.get_plan("r1") == PLAN
    assert [r.run_id for r in store.list_runs()] == ["r2", "r1"]
    assert store.active_runs() == ["r1", "r2"]
    submitted, _ = store.wait("0-0", {}, block_s=0.01)
    assert [run_id for _, run_id in submitted] == ["r1", "r2"]


def test_unknown_runs_raise_run_not_found(store: RunStore) -> None:
    with pytest.raises(RunNotFound, match="nope"):
        store.get_run("nope")
    with pytest.raises(RunNotFound, match="nope"):
        store.get_plan("nope")


def test_events_are_read_back_in_order_after_a_cursor(store: RunStore) -> None:
    store.append_events("r1", [event(E.RUN_START), event(E.STEP_START, "one")])
    entries = store.read_events("r1")
    assert [e.kind for _, e in entries] == [E.RUN_START, E.STEP_START]
    assert [e.kind for _, e in store.read_events("r1", after=entries[0][0])] == [E.STEP_START]
    _, found = store.wait("0-0", {"r1": entries[0][0]}, block_s=0.01)
    assert [e.kind for _, e in found["r1"]] == [E.STEP_START]


def test_a_summary_is_there_once_the_run_finished(store: RunStore) -> None:
    store.create_run(record(), PLAN)
    assert store.get_summary("r1") is None
    summary = RunSummary(
        status=RunStatus.SUCCESS,
        steps={"one": StepStatus.SUCCESS},
        yielded={"one": {"result": [None]}},
        succeeded=["one"],
    )
    done = record().model_copy(update={"status": RunStatus.SUCCESS, "finished_at": 2.0})
    store.finish_run(done, [event(E.RUN_SUCCESS)], {"one": "success"}, summary)
    assert store.get_summary("r1") == summary
    assert store.get_run("r1").status is RunStatus.SUCCESS


def test_a_run_finished_without_a_summary_reads_as_none(store: RunStore) -> None:
    store.create_run(record(), PLAN)
    done = record().model_copy(update={"status": RunStatus.FAILURE, "finished_at": 2.0})
    store.finish_run(done, [event(E.RUN_FAILURE)], {"one": "failure"})
    assert store.get_summary("r1") is None


def test_a_finished_run_s_events_read_the_same_after_any_cursor(store: RunStore) -> None:
    store.create_run(record("r1"), PLAN)
    store.append_events("r1", [event(E.STEP_START, "one"), event(E.STEP_SUCCESS, "one")])
    before = store.read_events("r1")
    cursor = before[0][0]  # a follower that has read the first event only
    done = record("r1").model_copy(update={"status": RunStatus.SUCCESS})
    store.finish_run(done, [event(E.RUN_SUCCESS)], {"one": "success"})
    ended = store.read_events("r1")
    assert ended[:2] == before and [e.kind for _, e in ended[2:]] == [E.RUN_SUCCESS]
    assert store.read_events("r1", cursor) == ended[1:]
    assert store.wait_run("r1", cursor, 0.01) == ended[1:]
    assert store.wait_run("r1", ended[-1][0], 0.01) == []
    late = event(E.ENGINE_EVENT, "one")  # a canceled step's last lines, after the end
    store.append_events("r1", [late])
    assert [e for _, e in store.read_events("r1", ended[-1][0])] == [late]
    assert [e for _, e in store.wait_run("r1", ended[-1][0], 0.01)] == [late]
