"""A worker outlives any number of Redis restarts, even with a step running across them.

A real ``opgrid worker`` (prefork pool) and ``opgrid coordinator`` on a real
redis-server with its append-only file; Redis is stopped and started again while a
step runs, several times. When the step ends, its pool process reports back and the
worker acknowledges the message on the channel of the broker connection that was
lost: the worker must take that in its stride, then serve the next run.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any, TypeVar

import kombu
import pytest
import redis

from opgrid import submit
from opgrid.orchestrator.cli.embedded_redis import RedisServer
from opgrid.orchestrator.settings import Settings
from opgrid.workers.acks import LiveChannel, orphaned, settle_orphan
from opgrid.workers.transport import Transport
from tests.harness.processes import Processes, fast_settings, through_outages, wait_for
from tests.jobs import faults_jobs as jobs

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

#: How often Redis restarts while the slow step runs.
RESTARTS = 3
T = TypeVar("T")


def test_a_worker_survives_redis_restarting_while_it_runs_a_step(
    tmp_path: Path, namespace: str
) -> None:
    with RedisServer(appendonly=True, dir=tmp_path / "redis") as server:
        settings = fast_settings(
            Settings(
                redis_url=server.url,
                namespace=namespace,
                secret="test-secret",
                default_queue=namespace,
            )
        )
        procs = Processes(settings, tmp_path, SLOW_S=str(4 * RESTARTS + 2))
        try:
            # two pool processes for one running step: the worker keeps a BRPOP in flight
            # while the step runs, and Redis going away breaks it mid-read
            worker = procs.worker("w1", concurrency=2)
            coordinator = procs.coordinator("c1")
            handle = submit(jobs.slow_chain, settings=settings)
            wait_for(lambda: procs.marks_of("slow", "start"), 30, coordinator.text)
            for _ in range(RESTARTS):
                server.stop()
                time.sleep(1.0)
                server.start()
                # the worker notices, reconnects and consumes again before the next outage
                time.sleep(3.0)
            assert worker.alive(), worker.text()
            result = through_outages(lambda: handle.wait(timeout=60))
            assert result.success, [e.describe() for e in handle.events()]
            assert result.output_for_node("last") == [1, 2]
            wait_for(lambda: "Connection to broker lost" in worker.text(), 10, worker.text)
            assert worker.alive(), worker.text()
            assert "Unrecoverable error" not in worker.text(), worker.text()

            # the same worker still takes and runs new steps
            again = submit(jobs.single, settings=settings)
            assert again.wait(timeout=60).output_for_node("once") == 7
            assert worker.alive(), worker.text()
        finally:
            procs.stop_all()
    assert len(procs.marks_of("slow", "done")) == 1, procs.marks.read_text()


def _lost_mid_close(server: RedisServer, transport: Any = None) -> kombu.Message:
    """The sequence behind the lost workers, step by step on a real redis-server.

    A consumer's channel has a message in hand and a BRPOP in flight (a prefork worker
    with a free pool process always has one), and a second channel (Celery's control
    channel) listens on a fanout exchange. Redis goes away; the consumer drops the
    connection as Celery's does (``collect``, then ``close``): the first close of the
    consumer's channel stops at the broken BRPOP, the control channel's close fails,
    the transport forgets its client, and only then does the consumer's channel really
    close, wanting to restore its unacknowledged message. Returns that message.
    """
    queue = kombu.Queue("steps", routing_key="steps")
    with kombu.Connection(server.url, transport=transport) as producer:
        producer.Producer().publish({"step": 1}, routing_key="steps", declare=[queue])
    old = kombu.Connection(server.url, transport=transport)
    received: list[kombu.Message] = []
    kombu.Consumer(old, [queue], callbacks=[lambda _, m: received.append(m)]).consume()
    control = kombu.Queue("control", kombu.Exchange("control", "fanout"), auto_delete=True)
    kombu.Consumer(old.channel(), [control], no_ack=True).consume()
    while not received:
        old.drain_events(timeout=5)
    (message,) = received
    message.channel._brpop_start()  # the event loop's BRPOP, in flight
    server.stop()
    with contextlib.suppress(Exception):  # Celery ignores what collect raises
        old.collect(socket_timeout=2)
    old.close()  # Celery ignores only connection errors here: anything else ends the worker
    server.start()
    return message


def test_opgrid_s_transport_closes_and_acks_a_channel_whose_connection_was_dropped(
    tmp_path: Path,
) -> None:
    """With kombu's own transport, ``close`` above raises AttributeError ('NoneType'
    object has no attribute 'hostname'), and so would ``Message.ack`` afterwards."""
    with RedisServer(appendonly=True, dir=tmp_path / "redis") as server:
        message = _lost_mid_close(server, Transport)
        unacked = redis.Redis.from_url(server.url)
        assert unacked.hexists("unacked", message.delivery_tag)  # its restore met no Redis
        message.ack()
        assert not unacked.hexists("unacked", message.delivery_tag)
        unacked.close()


def test_a_message_of_a_closed_channel_is_acked_through_the_live_one(tmp_path: Path) -> None:
    with RedisServer(appendonly=True, dir=tmp_path / "redis") as server:
        message = _lost_mid_close(server, Transport)
        assert orphaned(message)
        unacked = redis.Redis.from_url(server.url)
        with kombu.Connection(server.url, transport=Transport) as new:
            live = LiveChannel()
            live.channel = new.default_channel
            assert settle_orphan(message, live) == "acknowledged through the new connection"
        assert not unacked.hexists("unacked", message.delivery_tag)
        assert unacked.zscore("unacked_index", message.delivery_tag) is None
        assert settle_orphan(message, LiveChannel()).startswith("left for redelivery")
        unacked.close()
