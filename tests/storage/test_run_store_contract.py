"""One contract for every RunStore: in memory, on fakeredis, on a real redis-server.

What only Redis has (key TTLs, error translation, Lua on a real server) is tested
on Redis alone, at the end.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import fakeredis
import pytest
import redis

from opgrid import job, op
from opgrid.errors import RunNotFound, StorageError
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.planning.plan import compile_plan
from opgrid.orchestrator.planning.state import ValueRef
from opgrid.orchestrator.protocol.attempts import Verdict
from opgrid.orchestrator.protocol.events import RunEvent
from opgrid.orchestrator.protocol.messages import RunRecord, StepInputs
from opgrid.orchestrator.protocol.status import RunStatus
from opgrid.orchestrator.store.base import RunStore
from opgrid.orchestrator.store.keys import Keys
from opgrid.orchestrator.store.memory import InMemoryRunStore
from opgrid.orchestrator.store.redis import RedisRunStore


@op
def one() -> int:
    return 1


@job
def tiny():
    one()


PLAN = compile_plan(tiny)


@pytest.fixture
def redis_store() -> Iterator[RedisRunStore]:
    client = fakeredis.FakeRedis()
    yield RedisRunStore(client, Keys(f"t-{uuid.uuid4().hex[:6]}"), run_ttl_s=100)
    client.close()


@pytest.fixture(
    params=["memory", "fakeredis", pytest.param("redis", marks=pytest.mark.integration)]
)
def store(request: pytest.FixtureRequest) -> Iterator[RunStore]:
    if request.param == "memory":
        yield InMemoryRunStore()
        return
    if request.param == "fakeredis":
        yield request.getfixturevalue("redis_store")
        return
    client = redis.Redis.from_url(request.getfixturevalue("redis_server").url)
    yield RedisRunStore(client, Keys(f"t-{uuid.uuid4().hex[:6]}"), run_ttl_s=100)
    client.close()


def _record(run_id: str = "r1", at: float = 1.0) -> RunRecord:
    return RunRecord(run_id=run_id, job_name="tiny", created_at=at)


def _event(kind: E, step: str | None = None) -> RunEvent:
    return RunEvent(run_id="r1", kind=kind, timestamp=time.time(), step_key=step)


def test_a_created_run_can_be_read_listed_and_is_announced(store: RunStore) -> None:
    store.create_run(_record("r1", 1.0), PLAN)
    store.create_run(_record("r2", 2.0), PLAN)
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
    store.append_events("r1", [_event(E.RUN_START), _event(E.STEP_START, "one")])
    entries = store.read_events("r1")
    assert [e.kind for _, e in entries] == [E.RUN_START, E.STEP_START]
    assert [e.kind for _, e in store.read_events("r1", after=entries[0][0])] == [E.STEP_START]
    _, found = store.wait("0-0", {"r1": entries[0][0]}, block_s=0.01)
    assert [e.kind for _, e in found["r1"]] == [E.STEP_START]


def test_progress_and_step_commits_are_stored_together(store: RunStore) -> None:
    inputs = StepInputs(refs={"x": [("one", "result", None)]})
    store.save_progress("r1", {"one": "queued"}, {"two": inputs}, [_event(E.STEP_SKIPPED, "s")])
    assert store.step_statuses("r1") == {"one": "queued"}
    store.save_progress("r1", {"two": "queued"}, {}, [])
    begun = store.begin_attempt("r1", "two", 0, "w1", _start_and_lost("two"), 10.0)
    assert begun.verdict is Verdict.GO
    assert begun.inputs == inputs
    store.commit_step("r1", [(ValueRef("one", "result"), b"data")], [_event(E.STEP_SUCCESS, "one")])
    assert store.load_outputs("r1", [ValueRef("one", "result"), ValueRef("x", "y")]) == [
        b"data",
        None,
    ]
    kinds = [e.kind for _, e in store.read_events("r1")]
    assert kinds == [E.STEP_SKIPPED, E.STEP_START, E.STEP_SUCCESS]


def test_finishing_a_run_records_it_and_leaves_the_active_set(store: RunStore) -> None:
    store.create_run(_record("r1"), PLAN)
    store.save_progress("r1", {"one": "queued"}, {}, [])
    done = _record("r1").model_copy(update={"status": RunStatus.SUCCESS})
    store.finish_run(done, [_event(E.RUN_SUCCESS)], {"one": "success"})
    assert store.step_statuses("r1") == {"one": "success"}
    assert store.get_run("r1").status is RunStatus.SUCCESS
    assert store.active_runs() == []
    _, ended = store.wait_run_end("r1", "0-0", block_s=0.01)
    assert ended


def test_finishing_a_run_in_redis_sets_ttls_on_its_keys(redis_store: RedisRunStore) -> None:
    store = redis_store
    store.create_run(_record("r1"), PLAN)
    store.save_progress("r1", {"one": "success"}, {}, [])
    done = _record("r1").model_copy(update={"status": RunStatus.SUCCESS})
    store.finish_run(done, [_event(E.RUN_SUCCESS)], {"one": "success"})
    ttls = {key: store.client.pttl(key) for key in store.keys.run_keys("r1")}
    existing = {key: ttl for key, ttl in ttls.items() if ttl != -2}  # -2: never written
    assert len(existing) == 4  # record, plan, steps, events (no step was dispatched)
    assert all(0 < ttl <= 100_000 for ttl in existing.values()), existing


def test_a_lease_has_one_owner_until_released(store: RunStore) -> None:
    assert store.claim("r1", "a", lease_s=5)
    assert not store.claim("r1", "b", lease_s=5)
    assert store.renew("r1", "a", lease_s=5)
    assert not store.renew("r1", "b", lease_s=5)
    store.release("r1", "b")  # not the owner: no effect
    assert not store.claim("r1", "b", lease_s=5)
    store.release("r1", "a")
    assert store.claim("r1", "b", lease_s=5)


def test_coordinator_heartbeats_are_listed(store: RunStore) -> None:
    store.heartbeat("c1", ttl_s=5)
    assert store.live_coordinators() == ["c1"]


def test_redis_errors_become_storage_errors_with_the_cause_kept() -> None:
    client = redis.Redis(port=1, socket_connect_timeout=0.2)  # nothing listens there
    store = RedisRunStore(client, Keys("t"), run_ttl_s=1)
    with pytest.raises(StorageError, match="get_run") as exc:
        store.get_run("r1")
    assert isinstance(exc.value.__cause__, redis.RedisError)
    client.close()


@pytest.mark.integration
def test_lease_scripts_work_on_a_real_redis_server(redis_server) -> None:
    client = redis.Redis.from_url(redis_server.url)
    store = RedisRunStore(client, Keys(f"t-{uuid.uuid4().hex[:6]}"), run_ttl_s=1)
    try:
        assert store.claim("r1", "a", lease_s=5)
        assert store.renew("r1", "a", lease_s=5)
        assert not store.renew("r1", "b", lease_s=5)
        store.release("r1", "a")
        assert store.claim("r1", "b", lease_s=5)
        store.release("r1", "b")
    finally:
        client.close()


# Claims: who runs a step attempt ---------------------------------------------------------------
def _start_and_lost(step: str, attempt: int = 0) -> tuple[RunEvent, RunEvent]:
    start = _event(E.STEP_START, step).model_copy(update={"attempt": attempt})
    lost = _event(E.ENGINE_EVENT, step).model_copy(update={"message": "lost", "attempt": attempt})
    return start, lost


def _begin(store: RunStore, worker: str, attempt: int = 0, lost_after_s: float = 10.0, **kw):
    return store.begin_attempt(
        "r1", "one", attempt, worker, _start_and_lost("one", attempt), lost_after_s, **kw
    )


def test_one_worker_claims_an_attempt_and_a_duplicate_delivery_is_dropped(store: RunStore) -> None:
    store.save_progress("r1", {"one": "queued"}, {}, [])
    assert _begin(store, "w1").verdict is Verdict.GO
    busy = _begin(store, "w2")
    assert (busy.verdict, busy.holder) == (Verdict.BUSY, "w1")
    assert _begin(store, "w1").verdict is Verdict.GO  # the holder itself, asking again
    assert store.step_statuses("r1") == {"one": "running"}
    assert store.commit_attempt(
        "r1", ("one", "0:w1"), [], [_event(E.STEP_SUCCESS, "one")], "success"
    )
    assert _begin(store, "w2").verdict is Verdict.SETTLED
    kinds = [e.kind for _, e in store.read_events("r1")]
    assert kinds == [E.STEP_START, E.STEP_START, E.STEP_SUCCESS]


def test_steps_never_sent_and_earlier_attempts_are_not_run(store: RunStore) -> None:
    assert _begin(store, "w1").verdict is Verdict.UNDISPATCHED
    store.save_progress("r1", {"one": "up_for_retry"}, {}, [])
    assert _begin(store, "w1", attempt=1).verdict is Verdict.GO
    assert _begin(store, "w2", attempt=0).verdict is Verdict.STALE


def test_a_silent_holder_is_taken_over_and_its_report_refused(store: RunStore) -> None:
    store.save_progress("r1", {"one": "queued"}, {}, [])
    _begin(store, "w1", lost_after_s=0.05)
    time.sleep(0.1)
    taken = _begin(store, "w2", lost_after_s=0.05)
    assert (taken.verdict, taken.holder) == (Verdict.TAKEN_OVER, "w1")
    ref = ValueRef("one", "result")
    assert not store.commit_attempt("r1", ("one", "0:w1"), [(ref, b"zombie")], [], "success")
    assert store.commit_attempt("r1", ("one", "0:w2"), [(ref, b"fresh")], [], "success")
    assert store.load_outputs("r1", [ref]) == [b"fresh"]
    kinds = [e.kind for _, e in store.read_events("r1")]
    assert kinds == [E.STEP_START, E.ENGINE_EVENT, E.STEP_START]


def test_a_holder_known_dead_is_taken_over_at_once(store: RunStore) -> None:
    store.save_progress("r1", {"one": "queued"}, {}, [])
    _begin(store, "w1")
    assert _begin(store, "w2", take_over="w1").verdict is Verdict.TAKEN_OVER


def test_heartbeats_keep_a_claim_and_report_a_cancel(store: RunStore) -> None:
    store.save_progress("r1", {"one": "queued"}, {}, [])
    _begin(store, "w1", lost_after_s=0.3)
    for _ in range(3):
        time.sleep(0.15)
        assert store.beat("r1", "one", "0:w1") == "running"
    assert _begin(store, "w2", lost_after_s=0.3).verdict is Verdict.BUSY
    now, (beat,) = store.step_beats("r1", ["one"])
    assert beat is not None and now - 1 < beat <= now + 0.01
    store.save_progress("r1", {"one": "canceled"}, {}, [])
    assert store.beat("r1", "one", "0:w1") == "canceled"
    assert not store.commit_attempt("r1", ("one", "0:w1"), [], [], "success")
    assert store.step_statuses("r1") == {"one": "canceled"}


def test_a_lost_declaration_takes_the_claim_only_while_the_status_is_expected(
    store: RunStore,
) -> None:
    store.save_progress("r1", {"one": "queued"}, {}, [])
    _begin(store, "w1")
    note = _event(E.ENGINE_EVENT, "one")
    assert not store.declare_lost("r1", "one", 0, [note], expect=("queued",))
    assert store.declare_lost("r1", "one", 0, [note])
    assert store.beat("r1", "one", "0:w1") is None  # the old holder learns it lost the claim
    assert _begin(store, "w2").verdict is Verdict.TAKEN_OVER
    failure = _event(E.STEP_FAILURE, "one")
    assert store.declare_lost("r1", "one", 0, [failure], status="failure")
    assert store.step_statuses("r1") == {"one": "failure"}
    assert not store.commit_attempt("r1", ("one", "0:w2"), [], [], "success")
