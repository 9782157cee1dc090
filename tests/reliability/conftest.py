"""Fixtures of the fault tests: a ``procs`` that stops every process it started, and
``settings`` for each broker: every fault test that takes them runs with Redis as the
broker and again with RabbitMQ (a node of the session's own; storage stays on Redis).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from opgrid.orchestrator.settings import Settings
from tests.harness.processes import Processes
from tests.harness.rabbitmq import RabbitServer, server_binary


@pytest.fixture(scope="session")
def rabbitmq() -> Iterator[RabbitServer]:
    """A RabbitMQ node for the whole session (it takes seconds to boot)."""
    if server_binary() is None:
        pytest.skip("rabbitmq-server is not installed (Debian: apt-get install rabbitmq-server)")
    with RabbitServer() as server:
        yield server


@pytest.fixture(params=["redis", "rabbitmq"])
def broker(request: pytest.FixtureRequest) -> str:
    """The broker URL of the test: the test's Redis, or the session's RabbitMQ node."""
    if request.param == "redis":
        return ""
    server: RabbitServer = request.getfixturevalue("rabbitmq")
    return server.url


@pytest.fixture
def settings(redis_url: str, namespace: str, broker: str) -> Settings:
    # a queue per test keeps the workers of one test from taking another test's steps
    return Settings(
        redis_url=redis_url,
        broker_url=broker,
        namespace=namespace,
        secret="test-secret",
        default_queue=namespace,
        block_s=0.5,
    )


@pytest.fixture
def procs(settings: Settings, tmp_path: Path) -> Iterator[Processes]:
    processes = Processes(settings, tmp_path)
    try:
        yield processes
    finally:
        processes.stop_all()
