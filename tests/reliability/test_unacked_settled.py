"""A killed worker's message does not wait an hour in the broker's unacknowledged set.

A real ``opgrid worker`` is SIGKILLed while it runs a step; its message stays in kombu's
``unacked`` hash (nobody acknowledges it, and kombu hands it back only after the
visibility timeout, an hour). The coordinator delivers the attempt again to another
worker; once that copy has run, the coordinator settles the stale one within seconds.
"""

from __future__ import annotations

import json

import pytest
import redis

from opgrid import submit
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.keys import UNACKED
from tests.harness.processes import Processes, fast_settings, wait_for
from tests.jobs import faults_jobs as jobs

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture
def broker() -> str:
    """The unacknowledged set is a Redis broker's (RabbitMQ hands messages back itself)."""
    return ""


def test_a_killed_worker_s_unacknowledged_message_is_settled_within_seconds(
    procs: Processes, settings: Settings
) -> None:
    broker = redis.Redis.from_url(settings.broker_url)

    def ours() -> list[str]:
        found = []
        for raw in broker.hvals(UNACKED):
            task_id = json.loads(raw)[0]["headers"]["id"]
            if task_id.startswith(handle.run_id):
                found.append(task_id)
        return found

    doomed = procs.worker("doomed")
    procs.coordinator("c1")
    handle = submit(jobs.slow_chain, settings=fast_settings(settings))
    wait_for(lambda: procs.marks_of("slow", "start"), 30, doomed.text)
    doomed.kill()  # main process and pool: its message stays unacknowledged
    assert [task.rsplit(":", 2)[1] for task in ours()] == ["slow"]
    procs.worker("rescuer")
    assert handle.wait(timeout=60).success
    wait_for(lambda: not ours(), 15, lambda: f"still unacknowledged: {ours()}")
    broker.close()
