"""Fixtures shared by every test folder.

One real ``redis-server`` serves the whole session (started only if a test asks
for it); each test writes under its own namespace, whose keys are deleted after
the test. Nothing ever runs FLUSHALL.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import fakeredis
import pytest
import redis

from opgrid.orchestrator.cli.embedded_redis import RedisServer
from opgrid.orchestrator.settings import Settings
from tests.harness.cluster import Cluster, running_cluster
from tests.harness.redis_cluster import RedisClusterServers


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server on a free loopback port, for the whole session."""
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterServers]:
    """A real three-primary Redis Cluster on loopback, for the whole session."""
    with RedisClusterServers(tmp_path_factory.mktemp("redis-cluster")) as servers:
        yield servers


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture
def namespace(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh ``test-<uuid8>`` namespace; its keys on the real server are deleted afterwards."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    yield name
    if "redis_server" in request.fixturenames:
        server: RedisServer = request.getfixturevalue("redis_server")
        _delete_namespace(server.url, name)


def _delete_namespace(url: str, name: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        batch = list(client.scan_iter(match=f"{name}:*", count=500))
        for start in range(0, len(batch), 500):
            client.delete(*batch[start : start + 500])
    finally:
        client.close()


@pytest.fixture
def settings(redis_url: str, namespace: str) -> Settings:
    # Celery's queues are not under the namespace: a queue per test keeps the workers
    # of one test (or a stray one) from taking another test's steps.
    return Settings(
        redis_url=redis_url,
        namespace=namespace,
        secret="test-secret",
        default_queue=namespace,
        block_s=0.5,
    )


@pytest.fixture(scope="session")
def session_cluster(redis_server: RedisServer) -> Iterator[Cluster]:
    """One in-process cluster (a Celery worker thread and a coordinator) for the session.

    Celery keeps some worker state in module globals, so a test process runs at most
    one in-thread worker at a time: tests that need their own cluster run before the
    first test that asks for this one (pytest's file order: integration, then unit).
    """
    settings = Settings(
        redis_url=redis_server.url,
        namespace=f"session-{uuid.uuid4().hex[:8]}",
        secret="session-secret",
        default_queue=f"session-{uuid.uuid4().hex[:8]}",
        lease_s=10,
        block_s=0.5,
    )
    with running_cluster(settings) as cluster:
        yield cluster


@pytest.fixture
def fake_redis() -> Iterator[fakeredis.FakeRedis]:
    """An in-memory Redis of its own (bytes replies, like the real client opgrid uses)."""
    client = fakeredis.FakeRedis()
    yield client
    client.close()
