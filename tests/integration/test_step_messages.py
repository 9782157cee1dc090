"""Step messages written straight onto a Redis broker's lists are the messages kombu's
producer would publish, and a real kombu consumer (what a Celery worker reads with)
takes them from its priority lists, with their body, headers and properties."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import kombu
import pytest
import redis

from opgrid.orchestrator.cli.embedded_redis import RedisServer
from opgrid.orchestrator.coordinator.dispatch import CeleryDispatcher, Delivery
from opgrid.orchestrator.protocol.messages import StepRequest
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.keys import queue_lists

pytestmark = pytest.mark.integration


def _deliveries(queue: str) -> list[Delivery]:
    return [
        Delivery(
            StepRequest(run_id="r1", step_key=f"s{p}", job_name="j", location="jobs.py"),
            queue=queue,
            priority=p,
            time_limit_s=30.0 if p else None,
        )
        for p in (None, 5, 9)
    ]


def _waiting(client: redis.Redis, queue: str) -> list[dict[str, Any]]:
    """The messages waiting on the queue's lists, without what differs per publish."""
    found = []
    for key in queue_lists(queue):
        for raw in client.lrange(key, 0, -1):
            message = json.loads(raw)
            del message["properties"]["delivery_tag"]
            message["body"] = json.loads(base64.b64decode(message["body"]))  # as JSON, not text
            found.append({"list": key, **message})
    return sorted(found, key=lambda m: m["headers"]["id"])


def test_a_pushed_step_message_is_what_kombu_publishes(redis_server: RedisServer) -> None:
    url = redis_server.url
    client = redis.Redis.from_url(url)
    direct = CeleryDispatcher(Settings(redis_url=url, secret="s" * 32))
    through_kombu = CeleryDispatcher(Settings(redis_url=url, secret="s" * 32))
    through_kombu._direct = False  # kombu's producer, as with task-sent events on
    through_kombu.app = direct.app  # one app: the same reply-to and origin
    through_kombu._publisher = direct._publisher
    try:
        direct.dispatch(_deliveries("pushed"))
        through_kombu.dispatch(_deliveries("published"))
        pushed, published = _waiting(client, "pushed"), _waiting(client, "published")
        assert len(pushed) == 3
        for ours, kombus in zip(pushed, published, strict=True):
            assert ours["list"].replace("pushed", "published") == kombus["list"]
            ours["properties"]["delivery_info"]["routing_key"] = "published"
            del ours["list"], kombus["list"]
            assert ours == kombus
    finally:
        direct.close()
        through_kombu.close()
        client.close()


def test_a_kombu_consumer_takes_pushed_steps_from_its_priority_lists_in_order(
    redis_server: RedisServer,
) -> None:
    url, queue = redis_server.url, f"steps-{uuid.uuid4().hex[:6]}"
    dispatcher = CeleryDispatcher(Settings(redis_url=url, secret="s" * 32))
    got: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    try:
        dispatcher.dispatch(_deliveries(queue))
        with kombu.Connection(url) as connection:

            def take(body: Any, message: Any) -> None:
                got.append((message.headers["shadow"], body[1], message.properties))
                message.ack()

            with kombu.Consumer(connection, [kombu.Queue(queue)], callbacks=[take]):
                for _ in range(3):
                    connection.drain_events(timeout=5)
    finally:
        dispatcher.close()
    # kombu's Redis transport reads its lists in the order of its priority steps
    assert [shadow for shadow, _, _ in got] == ["j:sNone", "j:s5", "j:s9"]
    assert all(kwargs["run_id"] == "r1" and kwargs["signature"] for _, kwargs, _ in got)
    assert [props["priority"] for _, _, props in got] == [0, 5, 9]
