"""A retry with a delay lives in the run's storage, not in a worker's memory.

The coordinator holds the retry until it is due and only then sends it, so killing
every worker (and the coordinator) during the delay loses nothing: a fresh worker
runs the retry soon after it is due, sent by whichever coordinator owns the run by
then. Real ``opgrid worker`` processes (prefork) and coordinators on a real
redis-server; faults are SIGKILLs.
"""

from __future__ import annotations

import time

import pytest

from opgrid import local_coordinator, submit
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.client.submit import RunHandle
from opgrid.orchestrator.settings import Settings
from tests.harness.processes import Processes, fast_settings, wait_for
from tests.jobs import faults_jobs as jobs

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def _retry_due(handle: RunHandle) -> float:
    """When the retry of ``late`` is due, once its first attempt has failed."""
    found: list[float] = []

    def failed() -> bool:
        found[:] = [
            e.timestamp + (e.retry_delay_s or 0.0)
            for e in handle.events()
            if e.kind is E.STEP_UP_FOR_RETRY
        ]
        return bool(found)

    wait_for(failed, 20, lambda: "\n".join(e.describe() for e in handle.events()))
    return found[0]


def _second_start(handle: RunHandle) -> float:
    (started,) = [
        e.timestamp
        for e in handle.events()
        if e.kind in (E.STEP_START, E.STEP_RESTARTED) and e.attempt == 1
    ]
    return started


def test_killing_every_worker_during_the_delay_loses_nothing(
    procs: Processes, settings: Settings
) -> None:
    doomed = procs.worker("doomed")
    settings = fast_settings(settings)
    with local_coordinator(settings):
        handle = submit(jobs.retried_later, settings=settings)
        due = _retry_due(handle)
        (first_pid,) = procs.marks_of("late", "attempt0")
        doomed.kill()  # the worker of the failed attempt, with its pool: nothing is left
        assert time.time() < due - 1
        fresh = procs.worker("fresh")
        result = handle.wait(timeout=jobs.RETRY_DELAY_S + 15)

    assert result.success, [e.describe() for e in handle.events()]
    assert result.output_for_node("late") == 5
    (second_pid,) = procs.marks_of("late", "attempt1")
    assert second_pid != first_pid
    started = _second_start(handle)
    assert due <= started < due + 1.5  # soon after it was due, not at a visibility timeout
    assert fresh.alive()


def test_a_coordinator_killed_during_the_delay_leaves_the_retry_to_the_next_one(
    procs: Processes, settings: Settings
) -> None:
    worker = procs.worker("w1")
    procs.coordinator("c1")
    handle = submit(jobs.retried_later, settings=fast_settings(settings))
    due = _retry_due(handle)
    for name in ("c1", "w1"):  # the coordinator, and the worker that ran the failed attempt
        next(p for p in procs.started if p.name == name).kill()
    assert not worker.alive()
    procs.worker("w2")
    procs.coordinator("c2")  # adopts the run once c1's lease lapses, before the retry is due
    assert time.time() < due - 1
    result = handle.wait(timeout=jobs.RETRY_DELAY_S + 15)

    assert result.success, [e.describe() for e in handle.events()]
    assert result.output_for_node("late") == 5
    started = _second_start(handle)
    # at the time the log says, not a full delay after the adoption
    assert due <= started < due + 1.5
    assert len(procs.marks_of("late", "attempt1")) == 1
