"""A worker's broker channel sends its commands through one Redis client per connection pool.

kombu's own Redis channel builds a new ``redis.Redis`` around its pool for every publish,
every unacknowledged delivery it records and every ack; opgrid's channel
(``workers/transport.py``) keeps one, on a real redis-server, and builds it again only
when kombu replaced the pool.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import kombu
import pytest
import redis
from kombu.transport import redis as kombu_redis

from opgrid.orchestrator.cli.embedded_redis import RedisServer
from opgrid.workers.transport import Transport

pytestmark = pytest.mark.integration

#: Messages sent and acknowledged one by one.
MESSAGES = 20


def _counting(monkeypatch: pytest.MonkeyPatch) -> Counter[bool]:
    """Counts the clients kombu's channels build, by ``asynchronous``."""
    built: Counter[bool] = Counter()
    create = kombu_redis.Channel._create_client

    def counted(self: Any, asynchronous: bool = False) -> Any:
        built[asynchronous] += 1
        return create(self, asynchronous=asynchronous)

    monkeypatch.setattr(kombu_redis.Channel, "_create_client", counted)
    return built


def _round_trips(url: str, transport: Any, count: int) -> list[int]:
    """Publish ``count`` messages on one channel, then take and ack each: their bodies."""
    queue = kombu.Queue("steps", routing_key="steps")
    got: list[int] = []
    with kombu.Connection(url, transport=transport) as connection:
        channel = connection.default_channel
        producer = kombu.Producer(channel)
        for i in range(count):
            producer.publish({"n": i}, routing_key="steps", declare=[queue])
        consumer = kombu.Consumer(
            channel, [queue], callbacks=[lambda b, m: (got.append(b["n"]), m.ack())]
        )
        with consumer:
            while len(got) < count:
                connection.drain_events(timeout=5)
    return got


def test_a_channel_publishes_records_and_acks_through_one_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built = _counting(monkeypatch)
    with RedisServer() as server:
        assert sorted(_round_trips(server.url, Transport, MESSAGES)) == list(range(MESSAGES))
        assert built[False] == 1, built
        check = redis.Redis.from_url(server.url)
        assert check.hlen("unacked") == 0 and check.zcard("unacked_index") == 0
        check.close()
        built.clear()
        _round_trips(server.url, kombu_redis.Transport, MESSAGES)  # kombu's own
        assert built[False] > 2 * MESSAGES, built


def test_a_replaced_pool_gets_a_client_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    built = _counting(monkeypatch)
    queue = kombu.Queue("steps", routing_key="steps")
    with RedisServer() as server, kombu.Connection(server.url, transport=Transport) as connection:
        channel = connection.default_channel
        kombu.Producer(channel).publish({"n": 1}, routing_key="steps", declare=[queue])
        first = channel._pool_client()
        channel._disconnect_pools()  # what kombu does when the connection is lost
        kombu.Producer(channel).publish({"n": 2}, routing_key="steps", declare=[queue])
        second = channel._pool_client()
        assert second is not first and second.connection_pool is channel.pool
        assert built[False] == 2, built
        check = redis.Redis.from_url(server.url)
        assert check.llen("steps") == 2
        check.close()
