"""One contract for every OutputStore: in memory, on fakeredis, on a real redis-server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import fakeredis
import pytest
import redis

from opgrid.errors import OutputNotFound
from opgrid.orchestrator.planning.state import ValueRef
from opgrid.orchestrator.store.base import OutputStore
from opgrid.orchestrator.store.envelopes import SignedPickleIOManager
from opgrid.orchestrator.store.keys import Keys
from opgrid.orchestrator.store.memory import InMemoryOutputStore
from opgrid.orchestrator.store.redis import RedisOutputStore, RedisRunStore


class Point:
    def __init__(self, x: int) -> None:
        self.x = x

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and other.x == self.x


def _redis_store(client: Any) -> RedisOutputStore:
    store = RedisRunStore(client, Keys(f"contract-{uuid.uuid4().hex[:8]}"), run_ttl_s=60)
    return RedisOutputStore(store, SignedPickleIOManager(b"secret", max_bytes=1 << 20))


@pytest.fixture(
    params=["memory", "fakeredis", pytest.param("redis", marks=pytest.mark.integration)]
)
def store(request: pytest.FixtureRequest) -> Iterator[OutputStore]:
    if request.param == "memory":
        yield InMemoryOutputStore()
    elif request.param == "fakeredis":
        client = fakeredis.FakeRedis()
        yield _redis_store(client)
        client.close()
    else:
        client = redis.Redis.from_url(request.getfixturevalue("redis_server").url)
        yield _redis_store(client)
        client.close()


@pytest.mark.parametrize("value", [1, "text", None, {"a": [1, 2]}, Point(3)])
def test_a_stored_value_comes_back_equal(store: OutputStore, value: Any) -> None:
    ref = ValueRef("step", "result")
    store.put("run", ref, value)
    assert store.has("run", ref)
    assert store.get("run", ref) == value


def test_mapped_values_are_kept_apart_by_mapping_key(store: OutputStore) -> None:
    store.put("run", ValueRef("emit", "result", "a"), 1)
    store.put("run", ValueRef("emit", "result", "b"), 2)
    assert store.get("run", ValueRef("emit", "result", "a")) == 1
    assert store.get("run", ValueRef("emit", "result", "b")) == 2
    assert not store.has("run", ValueRef("emit", "result"))


def test_runs_do_not_see_each_others_values(store: OutputStore) -> None:
    store.put("run-1", ValueRef("step", "result"), "one")
    assert not store.has("run-2", ValueRef("step", "result"))


def test_a_missing_value_raises_output_not_found_naming_it(store: OutputStore) -> None:
    with pytest.raises(OutputNotFound, match="step"):
        store.get("run", ValueRef("step", "result"))


def test_a_later_attempt_overwrites_the_value(store: OutputStore) -> None:
    ref = ValueRef("step", "result")
    store.put("run", ref, "first")
    store.put("run", ref, "second")
    assert store.get("run", ref) == "second"
