"""Waiting steps: visible in ``opgrid run show``, and never waiting forever by accident.

A step on a queue that has had no live consumer for ``no_consumer_timeout_s`` fails,
naming the queue; a step behind a busy worker (a backlog) waits as long as it takes.
Workers are real processes, the broker and the registry a real redis-server.
"""

from __future__ import annotations

import json
import re
import time

import pytest
import redis
from click.testing import CliRunner

from opgrid import local_coordinator, submit
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.cli import main
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.keys import queue_lists
from opgrid.orchestrator.store.redis import RedisRunStore
from tests.harness.processes import Processes, fast_settings, wait_for
from tests.jobs import faults_jobs as jobs

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


@pytest.fixture
def broker() -> str:
    """Queue depths and withdrawn messages are read from Redis lists: a Redis broker."""
    return ""


def _status(settings: Settings, run_id: str, step_key: str) -> str | None:
    store = RedisRunStore.from_settings(settings)
    try:
        return store.step_statuses(run_id).get(step_key)
    finally:
        store.client.close()


def _show(procs: Processes, run_id: str, *options: str) -> str:
    result = CliRunner().invoke(main, ["run", "show", run_id, *options], env=procs.env)
    assert result.exit_code == 0, result.output
    return result.output


def test_a_step_on_a_queue_without_a_live_consumer_fails_naming_the_queue(
    procs: Processes, settings: Settings
) -> None:
    procs.worker("w1")  # consumes the default queue only
    settings = fast_settings(settings, no_consumer_timeout_s=3.0)
    queue = f"{settings.namespace}-gpu"
    with local_coordinator(settings):
        began = time.monotonic()
        handle = submit(jobs.single, tags={"opgrid/queue": queue}, settings=settings)
        wait_for(lambda: _status(settings, handle.run_id, "once") == "queued", 10, lambda: "")
        shown = _show(procs, handle.run_id)
        assert re.search(rf"queued \d+ s on '{queue}': no live consumer", shown), shown
        (step,) = json.loads(_show(procs, handle.run_id, "--json"))["steps"]
        assert step["queued"]["queue"] == queue and step["queued"]["consumed"] is False
        result = handle.wait(timeout=30, raise_on_error=False)
        waited = time.monotonic() - began

    assert not result.success
    assert waited >= 3.0
    (failure,) = [e for e in result.all_events if e.kind is E.STEP_FAILURE]
    assert failure.error is not None and failure.error.cls_name == "StepLost"
    assert f"waited on queue '{queue}', which had no live consumer for 3 s" in (
        failure.error.message
    )
    assert f"opgrid worker -Q {queue}" in failure.error.message
    client = redis.Redis.from_url(settings.broker_url)
    try:  # and its message left the queue with it
        assert sum(client.llen(key) for key in queue_lists(queue)) == 0
    finally:
        client.close()


def test_a_step_behind_a_busy_worker_waits_past_the_timeout_and_runs(
    procs: Processes, settings: Settings
) -> None:
    procs.worker("w1")  # one pool process: the second nap waits for the first
    settings = fast_settings(settings, no_consumer_timeout_s=1.0)
    with local_coordinator(settings):
        handle = submit(jobs.two_naps, settings=settings)
        wait_for(lambda: procs.marks_of("nap", "start"), 20, lambda: "")
        time.sleep(1.5)  # past the no-consumer timeout: the queue is only busy
        shown = _show(procs, handle.run_id)
        queue = settings.default_queue
        assert re.search(rf"queued \d+ s on '{queue}' \(1 waiting on it\)", shown), shown
        assert "no live consumer" not in shown
        result = handle.wait(timeout=30)

    assert result.success
    assert len(procs.marks_of("nap", "done")) == 2
    assert not [e for e in result.all_events if e.kind is E.STEP_FAILURE]
