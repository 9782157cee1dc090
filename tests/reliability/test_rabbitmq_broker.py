"""What only RabbitMQ as broker shows: queue priorities, and junk messages on a queue.

The fault tests of this folder run with both brokers (``conftest.broker``); these
two need AMQP's own means: queues declared with ``x-max-priority`` (higher goes first
there), and raw messages published with py-amqp.
"""

from __future__ import annotations

import amqp
import pytest

from opgrid import submit
from opgrid.orchestrator.settings import Settings
from tests.harness.processes import Processes, fast_settings, wait_for
from tests.harness.rabbitmq import RabbitServer
from tests.jobs import faults_jobs as jobs

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture
def broker(rabbitmq: RabbitServer) -> str:
    return rabbitmq.url


def test_junk_messages_on_a_rabbitmq_queue_are_refused_and_the_worker_goes_on(
    procs: Processes, settings: Settings, rabbitmq: RabbitServer
) -> None:
    worker = procs.worker("w1")  # declares the queue (with x-max-priority)
    with amqp.Connection(f"127.0.0.1:{rabbitmq.port}") as connection:
        channel = connection.channel()
        junk = [
            amqp.Message(b"\xff not json", content_type="application/json"),
            amqp.Message(b"[1, 2, 3]", content_type="application/json"),
            amqp.Message(b"pickled?", content_type="application/x-python-serialize"),
            amqp.Message(b"{}", content_type="application/json"),  # no task header
        ]
        for message in junk:
            channel.basic_publish(message, exchange="", routing_key=settings.default_queue)
        settings = fast_settings(settings)
        procs.coordinator("c1")
        result = submit(jobs.single, settings=settings).wait(timeout=60)
        assert result.output_for_node("once") == 7
        assert worker.alive(), worker.text()
        _, waiting, _ = channel.queue_declare(settings.default_queue, passive=True)
        assert waiting == 0  # every junk message was taken off the queue
    assert "Unrecoverable error" not in worker.text()


def test_steps_queued_together_run_by_priority_highest_first(
    procs: Processes, settings: Settings, rabbitmq: RabbitServer
) -> None:
    settings = fast_settings(settings)
    procs.coordinator("c1")
    handle = submit(jobs.prioritized, settings=settings)
    with amqp.Connection(f"127.0.0.1:{rabbitmq.port}") as connection:
        channel = connection.channel()

        def queued() -> int:
            try:
                return int(channel.queue_declare(settings.default_queue, passive=True)[1])
            except amqp.exceptions.NotFound:
                return 0

        wait_for(lambda: queued() == 3, 30, lambda: f"{queued()} message(s) queued")
    procs.worker("w1", concurrency=1)  # takes one message at a time, the highest first
    assert handle.wait(timeout=60).success
    starts = [line.split()[0] for line in procs.marks.read_text().splitlines()]
    assert starts == ["ranked9", "ranked5", "ranked1"]
