"""Cancel and time limits on real worker processes (prefork pool).

A cancel revokes what is queued and interrupts what runs; an op that ignores the
interruption loses its process after the grace period, and the worker goes on
serving. A time limit (``opgrid/timeout_s``) is Celery's soft limit, then its hard
limit; either way the step fails saying so.
"""

from __future__ import annotations

import time

import pytest
from click.testing import CliRunner

from opgrid import local_coordinator, submit
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.cli import main
from opgrid.orchestrator.protocol.status import RunStatus, StepStatus
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.redis import RedisRunStore
from tests.harness.processes import Processes, fast_settings, pool_children, wait_for
from tests.jobs import faults_jobs as jobs

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def test_cancel_from_the_cli_interrupts_the_running_step_and_revokes_the_queued_ones(
    procs: Processes, settings: Settings
) -> None:
    worker = procs.worker("w1")  # one pool process: one hang runs, two wait
    settings = fast_settings(settings)
    with local_coordinator(settings):
        handle = submit(jobs.hangs, settings=settings)
        wait_for(lambda: procs.marks_of("hang", "start"), 20, worker.text)
        time.sleep(0.3)
        result = CliRunner().invoke(main, ["run", "cancel", handle.run_id], env=procs.env)
        assert result.exit_code == 0, result.output
        assert f"cancel requested for run {handle.run_id}" in result.output
        canceled = handle.wait(timeout=15)
        wait_for(lambda: procs.marks_of("hang", "interrupted"), 10, worker.text)

    assert not canceled.success
    assert handle.status is RunStatus.CANCELED
    store = RedisRunStore.from_settings(settings)
    try:
        statuses = store.step_statuses(handle.run_id)
    finally:
        store.client.close()
    assert set(statuses.values()) == {StepStatus.CANCELED.value}, statuses
    # the queued hangs and the step after the running one never started
    assert not procs.marks_of("hang2", "start") and not procs.marks_of("hang3", "start")
    assert not procs.marks_of("after_hang", "start")
    started = {e.step_key for e in handle.events() if e.kind is E.STEP_START}
    assert started == {"hang"}
    assert worker.alive()


def test_a_step_that_ignores_the_cancel_loses_its_process_and_the_worker_goes_on(
    procs: Processes, settings: Settings
) -> None:
    worker = procs.worker("w1")
    settings = fast_settings(settings)
    with local_coordinator(settings):
        handle = submit(jobs.stubborn_job, settings=settings)
        wait_for(lambda: procs.marks_of("stubborn", "start"), 20, worker.text)
        (stubborn_pid,) = procs.marks_of("stubborn", "start")
        handle.cancel()
        assert handle.wait(timeout=15).success is False
        assert handle.status is RunStatus.CANCELED
        wait_for(lambda: stubborn_pid not in pool_children(worker.pid), 15, worker.text)
        assert procs.marks_of("stubborn", "ignored")  # it was asked first
        assert "ignored the interruption" in worker.text()
        # the same worker, with a fresh pool process, runs the next job
        after = submit(jobs.single, settings=settings).wait(timeout=20)

    assert after.success and after.output_for_node("once") == 7
    assert worker.alive()


def test_a_step_past_its_time_limit_fails_saying_so(procs: Processes, settings: Settings) -> None:
    procs.worker("w1")
    settings = fast_settings(settings)
    with local_coordinator(settings):
        began = time.monotonic()
        result = submit(jobs.timed, settings=settings).wait(timeout=20)
        took = time.monotonic() - began

    assert not result.success and took < 10
    (failure,) = [e for e in result.all_events if e.kind is E.STEP_FAILURE]
    assert failure.error is not None
    assert failure.error.cls_name == "StepTimeLimitExceeded"
    assert "time limit of 1 s (tag opgrid/timeout_s)" in failure.error.message
    assert procs.marks_of("hang", "interrupted")


def test_a_step_that_ignores_its_soft_time_limit_is_killed_at_the_hard_one(
    procs: Processes, settings: Settings
) -> None:
    worker = procs.worker("w1")
    settings = fast_settings(settings)
    with local_coordinator(settings):
        result = submit(jobs.timed_stubborn, settings=settings).wait(timeout=30)

    assert not result.success
    (failure,) = [e for e in result.all_events if e.kind is E.STEP_FAILURE]
    assert failure.error is not None
    assert failure.error.cls_name == "StepTimeLimitExceeded", failure.error
    assert "its process was killed" in failure.error.message
    assert worker.alive()
