"""A publish the broker did not (or maybe did not) take is a ``BrokerError`` for the
coordinator, which sends it again: never an exception that ends the coordinator."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import redis
from kombu.exceptions import BatchPublishError, OperationalError

from opgrid.errors import BrokerError
from opgrid.orchestrator.coordinator.dispatch import CeleryDispatcher, Delivery
from opgrid.orchestrator.protocol.messages import StepRequest
from opgrid.orchestrator.settings import Settings


class _Producer:
    """A producer whose batch fails as it flushes (Redis went away mid-batch)."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.connection = SimpleNamespace(
            recoverable_connection_errors=(), recoverable_channel_errors=()
        )

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        yield
        raise self.error


@pytest.mark.parametrize(
    "error",
    [
        BatchPublishError("Redis publish batch failed; delivery is uncertain"),
        OperationalError("connection refused"),
        redis.ConnectionError("Connection reset by peer"),
    ],
)
def test_a_failed_publish_is_a_broker_error(error: Exception, monkeypatch: Any) -> None:
    # with task-sent events asked for, steps go through kombu's producer
    dispatcher = CeleryDispatcher(Settings(redis_url="redis://127.0.0.1:1/0", sent_events=True))
    producer = _Producer(error)
    monkeypatch.setattr(dispatcher, "_kept_producer", lambda: producer)
    monkeypatch.setattr(dispatcher._publisher, "publish", lambda producer, messages: None)
    request = StepRequest(run_id="r1", step_key="one", job_name="j")
    with pytest.raises(BrokerError, match="the broker did not take 1 step"):
        dispatcher.dispatch([Delivery(request, queue="opgrid")])


def test_a_failed_push_onto_a_redis_brokers_lists_is_a_broker_error(monkeypatch: Any) -> None:
    dispatcher = CeleryDispatcher(Settings(redis_url="redis://127.0.0.1:1/0"))
    dispatcher._declared.add("opgrid")  # declared before Redis went away
    request = StepRequest(run_id="r1", step_key="one", job_name="j")
    with pytest.raises(BrokerError, match="the broker did not take 1 step"):
        dispatcher.dispatch([Delivery(request, queue="opgrid")])
    dispatcher.close()


def test_steps_are_staged_for_the_stores_writes_only_when_the_broker_is_the_store() -> None:
    same = CeleryDispatcher(Settings(redis_url="redis://127.0.0.1:1/0"))
    apart = CeleryDispatcher(
        Settings(redis_url="redis://127.0.0.1:1/0", broker_url="redis://127.0.0.1:1/1")
    )
    events = CeleryDispatcher(Settings(redis_url="redis://127.0.0.1:1/0", sent_events=True))
    assert same.shares_store
    assert not apart.shares_store
    assert not events.shares_store  # task-sent events go through kombu
    assert apart.stage([]) is None
    for dispatcher in (same, apart, events):
        dispatcher.close()
