"""The run stores every storage contract runs on: in memory, on fakeredis, on a real
redis-server, on a real three-primary Redis Cluster (``store``), and the fakeredis one
alone (``redis_store``).

One contract suite per protocol of ``opgrid.orchestrator.store.base`` (the
``test_*_contract.py`` files); what only Redis has is in ``test_redis_store.py``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import fakeredis
import pytest
import redis

from opgrid.orchestrator.store.base import RunStore
from opgrid.orchestrator.store.connect import Client, connect_store
from opgrid.orchestrator.store.keys import Keys
from opgrid.orchestrator.store.memory import InMemoryRunStore
from opgrid.orchestrator.store.redis import RedisRunStore


@pytest.fixture
def redis_store() -> Iterator[RedisRunStore]:
    client = fakeredis.FakeRedis()
    yield RedisRunStore(client, Keys(f"t-{uuid.uuid4().hex[:6]}"), run_ttl_s=100)
    client.close()


@pytest.fixture(
    params=[
        "memory",
        "fakeredis",
        pytest.param("redis", marks=pytest.mark.integration),
        pytest.param("redis_cluster", marks=pytest.mark.integration),
    ]
)
def store(request: pytest.FixtureRequest) -> Iterator[RunStore]:
    if request.param == "memory":
        yield InMemoryRunStore()
        return
    if request.param == "fakeredis":
        yield request.getfixturevalue("redis_store")
        return
    if request.param == "redis_cluster":
        client: Client = connect_store(request.getfixturevalue("redis_cluster").url)
    else:
        client = redis.Redis.from_url(request.getfixturevalue("redis_server").url)
    yield RedisRunStore(client, Keys(f"t-{uuid.uuid4().hex[:6]}"), run_ttl_s=100)
    client.close()
