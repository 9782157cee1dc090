"""The coordinator on both run stores, with a dispatcher that records what it would send."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence

import fakeredis
import pytest

from opgrid import job, op
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.coordinator import Coordinator
from opgrid.orchestrator.dispatch import Delivery
from opgrid.orchestrator.keys import Keys
from opgrid.orchestrator.memory_store import InMemoryRunStore
from opgrid.orchestrator.messages import RunEvent, RunRecord, RunStatus
from opgrid.orchestrator.plan import compile_plan
from opgrid.orchestrator.redis_store import RedisRunStore
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.storage import RunStore


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

    def dispatch(self, deliveries: Sequence[Delivery]) -> None:
        self.sent.extend(deliveries)

    def close(self) -> None:
        return None


@pytest.fixture(params=["memory", "fakeredis"])
def store(request: pytest.FixtureRequest) -> Iterator[RunStore]:
    if request.param == "memory":
        yield InMemoryRunStore()
        return
    client = fakeredis.FakeRedis()
    yield RedisRunStore(client, Keys(f"c-{uuid.uuid4().hex[:6]}"), run_ttl_s=60)
    client.close()


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
