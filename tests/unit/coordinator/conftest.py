"""The run store of the coordinator tests: both implementations, one at a time."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import fakeredis
import pytest

from opgrid.orchestrator.store.base import RunStore
from opgrid.orchestrator.store.keys import Keys
from opgrid.orchestrator.store.memory import InMemoryRunStore
from opgrid.orchestrator.store.redis import RedisRunStore


@pytest.fixture(params=["memory", "fakeredis"])
def store(request: pytest.FixtureRequest) -> Iterator[RunStore]:
    if request.param == "memory":
        yield InMemoryRunStore()
        return
    client = fakeredis.FakeRedis()
    yield RedisRunStore(client, Keys(f"c-{uuid.uuid4().hex[:6]}"), run_ttl_s=60)
    client.close()
