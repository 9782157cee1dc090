"""What only the Redis store has: key TTLs, error translation, Lua on a real server."""

from __future__ import annotations

import uuid

import pytest
import redis

from opgrid.errors import StorageError
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.protocol.status import RunStatus
from opgrid.orchestrator.store.keys import Keys
from opgrid.orchestrator.store.redis import RedisRunStore

from .runs import PLAN, begin, event, record


def test_finishing_a_run_in_redis_sets_ttls_on_its_keys(redis_store: RedisRunStore) -> None:
    store = redis_store
    store.create_run(record("r1"), PLAN)
    store.save_progress("r1", {"one": "success"}, {}, [])
    done = record("r1").model_copy(update={"status": RunStatus.SUCCESS})
    store.finish_run(done, [event(E.RUN_SUCCESS)], {"one": "success"})
    ttls = {key: store.client.pttl(key) for key in store.keys.run_keys("r1")}
    existing = {key: ttl for key, ttl in ttls.items() if ttl != -2}  # -2: never written
    # record, plan, steps, events (emptied), their archive, ended (no step was dispatched)
    assert len(existing) == 6
    assert all(0 < ttl <= 100_000 for ttl in existing.values()), existing
    assert store.client.xlen(store.keys.events("r1")) == 0


def test_a_beat_after_its_run_ended_expires_with_the_run(redis_store: RedisRunStore) -> None:
    """A canceled run's step may still beat after the run's end took its beats away: the
    beats written then expire with the run's claims, never stay for good."""
    store = redis_store
    store.create_run(record("r1"), PLAN)
    store.save_progress("r1", {"one": "queued"}, {}, [])
    begin(store, "w1")
    done = record("r1").model_copy(update={"status": RunStatus.CANCELED})
    store.finish_run(done, [event(E.RUN_CANCELED)], {"one": "canceled"})
    assert store.client.exists(store.keys.beats("r1")) == 0
    assert store.beat("r1", "one", "0:w1") == "canceled"
    assert 0 < store.client.pttl(store.keys.beats("r1")) <= 100_000


def test_a_finished_run_s_events_move_to_an_archive_and_the_stream_keeps_its_ttl(
    redis_store: RedisRunStore,
) -> None:
    store = redis_store
    store.create_run(record("r1"), PLAN)
    logged = [event(E.STEP_START, "one"), event(E.STEP_SUCCESS, "one")]
    store.append_events("r1", logged)
    before = store.read_events("r1")
    cursor = before[0][0]  # a follower that has read the first event only
    done = record("r1").model_copy(update={"status": RunStatus.SUCCESS})
    store.finish_run(done, [event(E.RUN_SUCCESS)], {"one": "success"})
    assert store.client.xlen(store.keys.events("r1")) == 0
    archived = store.read_events("r1")
    assert archived[:2] == before and [e.kind for _, e in archived[2:]] == [E.RUN_SUCCESS]
    assert store.read_events("r1", cursor) == archived[1:]
    assert store.wait_run("r1", cursor, 0.01) == archived[1:]
    assert store.wait_run("r1", archived[-1][0], 0.01) == []
    late = event(E.ENGINE_EVENT, "one")  # written after the end: after the archive's
    store.append_events("r1", [late])
    assert [e for _, e in store.read_events("r1", archived[-1][0])] == [late]
    assert store.client.pttl(store.keys.events("r1")) > 0  # the stream keeps its TTL
    store.finish_run(done, [], {})  # a second end keeps the first archive
    assert [e for _, e in store.read_events("r1")] == [e for _, e in archived] + [late]


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


def test_a_run_whose_events_cannot_be_archived_still_ends_with_its_log_whole(
    redis_store: RedisRunStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = redis_store
    store.create_run(record("r1"), PLAN)
    store.append_events("r1", [event(E.STEP_START, "one")])

    def refused(*args: object, **kwargs: object) -> None:
        raise redis.ResponseError("OOM command not allowed when used memory > 'maxmemory'")

    monkeypatch.setattr(store, "_archive_events", refused)
    done = record("r1").model_copy(update={"status": RunStatus.SUCCESS})
    store.finish_run(done, [event(E.RUN_SUCCESS)], {"one": "success"})
    assert store.active_runs() == []
    assert [e.kind for _, e in store.read_events("r1")] == [E.STEP_START, E.RUN_SUCCESS]
