"""A canceled run leaves no message on the broker, consumed queue or not.

The broker is a real redis-server; kombu keeps each queue's waiting messages in one
list per priority step (``keys.queue_lists``), where a queue nobody consumes would
keep them forever. Workers and the coordinator are real processes.
"""

from __future__ import annotations

import json

import pytest
import redis

from opgrid import local_coordinator, submit
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.protocol.status import RunStatus
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.keys import queue_lists
from tests.harness.processes import Processes, fast_settings, wait_for
from tests.jobs import faults_jobs as jobs

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def _waiting_tasks(settings: Settings, queue: str) -> list[str]:
    """The task ids of the messages waiting in ``queue``'s broker lists."""
    client = redis.Redis.from_url(settings.broker_url)
    try:
        raw = [item for key in queue_lists(queue) for item in client.lrange(key, 0, -1)]
    finally:
        client.close()
    return [json.loads(item)["headers"]["id"] for item in raw]


def _of_run(task_ids: list[str], run_id: str) -> list[str]:
    return [task for task in task_ids if task.startswith(f"{run_id}:")]


@pytest.fixture
def broker() -> str:
    """Messages are withdrawn from Redis lists: the broker is the test's Redis (RabbitMQ
    offers no removal of chosen messages; revoked ones are dropped when delivered)."""
    return ""


def test_a_canceled_run_on_a_queue_nobody_consumes_leaves_no_message(
    settings: Settings,
) -> None:
    settings = fast_settings(settings)
    queue = f"{settings.namespace}-unconsumed"
    with local_coordinator(settings):
        plain = submit(jobs.single, tags={"opgrid/queue": queue}, settings=settings)
        urgent = submit(
            jobs.single, tags={"opgrid/queue": queue, "opgrid/priority": 9}, settings=settings
        )
        runs = [plain.run_id, urgent.run_id]
        wait_for(
            lambda: all(_of_run(_waiting_tasks(settings, queue), r) for r in runs),
            20,
            lambda: repr(_waiting_tasks(settings, queue)),
        )
        plain.cancel()
        urgent.cancel()
        for handle in (plain, urgent):
            assert not handle.wait(timeout=20, raise_on_error=False).success
            assert handle.status is RunStatus.CANCELED

    assert _waiting_tasks(settings, queue) == []


def test_a_step_queued_behind_a_busy_worker_is_taken_off_the_queue_and_never_runs(
    procs: Processes, settings: Settings
) -> None:
    worker = procs.worker("w1")  # one pool process: one hang runs, the other two wait
    settings = fast_settings(settings)
    queue = settings.default_queue
    with local_coordinator(settings):
        handle = submit(jobs.hangs, settings=settings)
        wait_for(lambda: procs.marks_of("hang", "start"), 20, worker.text)
        wait_for(
            lambda: len(_of_run(_waiting_tasks(settings, queue), handle.run_id)) == 2,
            20,
            lambda: repr(_waiting_tasks(settings, queue)),
        )
        handle.cancel()
        assert not handle.wait(timeout=20, raise_on_error=False).success
        assert _of_run(_waiting_tasks(settings, queue), handle.run_id) == []
        wait_for(lambda: procs.marks_of("hang", "interrupted"), 10, worker.text)
        single = submit(jobs.single, settings=settings)  # the worker is free again...
        assert single.wait(timeout=20).success

    # ...and ran nothing of the canceled run but the step it was running
    assert not procs.marks_of("hang2", "start") and not procs.marks_of("hang3", "start")
    assert {e.step_key for e in handle.events() if e.kind is E.STEP_START} == {"hang"}
    assert worker.alive()
