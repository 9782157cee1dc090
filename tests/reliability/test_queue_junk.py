"""Junk pushed straight into a step queue's Redis list never ends a worker.

A real ``opgrid worker`` (prefork pool) consumes the test's queue; the test pushes raw
items into the queue's list the way kombu's Redis transport stores messages (a JSON
envelope per item, see ``_envelope``), only broken: not JSON, not UTF-8, a JSON list,
a JSON string, an envelope without properties, one whose base64 body does not decode.
Each is refused with one logged line and is gone from the broker; then a real run on
the same worker succeeds.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import redis

from opgrid import local_coordinator, submit
from opgrid.orchestrator.settings import Settings
from tests.harness.processes import Processes, fast_settings, wait_for
from tests.jobs import faults_jobs as jobs

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

#: The worker's line for each refused item.
REFUSED = "refused an item on "


def _envelope(queue: str, body: str, **properties: Any) -> bytes:
    """A queue item in kombu's format (``LRANGE`` of a real step message shows one)."""
    task_id = str(uuid.uuid4())
    return json.dumps(
        {
            "body": body,
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": {"lang": "py", "task": "opgrid.step", "id": task_id, "retries": 0},
            "properties": {
                "correlation_id": task_id,
                "body_encoding": "base64",
                "delivery_info": {"exchange": "", "routing_key": queue},
                "delivery_mode": 2,
                "delivery_tag": str(uuid.uuid4()),
                "priority": 0,
                **properties,
            },
        }
    ).encode()


@pytest.fixture
def broker() -> str:
    """These items are Redis list entries: the broker is the test's Redis."""
    return ""


def test_junk_items_on_the_queue_are_refused_and_the_worker_runs_later_steps(
    procs: Processes, settings: Settings
) -> None:
    queue = settings.default_queue
    broker = redis.Redis.from_url(settings.broker_url)
    worker = procs.worker("w1")
    junk = [
        b"this is not json",
        b"\xff\xfe\x00 not even utf-8",
        b"[1, 2, 3]",
        b'"a JSON string"',
        json.dumps({"body": "e30=", "headers": {}}).encode(),  # no properties
        _envelope(queue, "%%% not base64 %%%"),
    ]
    for item in junk:
        broker.lpush(queue, item)  # kombu pushes on the left and pops on the right
    wait_for(lambda: worker.text().count(REFUSED) >= len(junk), 20, worker.text)
    assert broker.llen(queue) == 0
    assert worker.alive(), worker.text()

    settings = fast_settings(settings)
    with local_coordinator(settings):
        result = submit(jobs.single, settings=settings).wait(timeout=30)
    assert result.output_for_node("once") == 7
    log = worker.text()
    assert log.count(REFUSED) == len(junk), log
    assert "not JSON" in log and "not a message envelope (a JSON list)" in log
    assert "no properties" in log and "the body is not base64" in log
    assert "Unrecoverable error" not in log
    assert worker.alive()

    def ours_unacked() -> list[bytes]:
        return [raw for raw in broker.hgetall("unacked").values() if queue.encode() in raw]

    # the step's message is acknowledged once its task returns, a moment after the run ends
    wait_for(lambda: not ours_unacked(), 10, lambda: repr(ours_unacked()))
    broker.close()
