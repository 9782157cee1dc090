"""Workers die, messages come twice: runs still finish, each step's result counted once.

Real ``opgrid worker`` processes (prefork pool) on a real redis-server; the
coordinator runs in the test process. Faults are real signals.
"""

from __future__ import annotations

import os
import signal

import pytest

from opgrid import local_coordinator, submit
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.coordinator.dispatch import CeleryDispatcher, Delivery
from opgrid.orchestrator.protocol.messages import StepRequest
from opgrid.orchestrator.settings import Settings
from tests.harness.processes import Processes, fast_settings, pool_children, wait_for
from tests.jobs import faults_jobs as jobs

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def _kinds(handle, step_key: str) -> list[str]:
    return [e.event_type_value for e in handle.events() if e.step_key == step_key]


def test_a_pool_process_killed_mid_step_is_replaced_and_the_step_runs_again(
    procs: Processes, settings: Settings
) -> None:
    worker = procs.worker("w1")
    settings = fast_settings(settings)
    with local_coordinator(settings):
        handle = submit(jobs.slow_chain, settings=settings)
        wait_for(lambda: procs.marks_of("slow", "start"), 20, worker.text)
        (victim,) = procs.marks_of("slow", "start")
        assert victim in pool_children(worker.pid)
        os.kill(victim, signal.SIGKILL)
        result = handle.wait(timeout=30)

    assert result.success
    assert result.output_for_node("last") == [1, 2]  # the upstream value, once
    starts = procs.marks_of("slow", "start")
    assert len(starts) == 2 and starts[0] == victim and starts[1] != victim
    assert len(procs.marks_of("slow", "done")) == 1
    kinds = _kinds(handle, "slow")
    assert kinds.count("STEP_START") == 2 and kinds.count("STEP_SUCCESS") == 1
    notes = [e.message for e in handle.events() if e.kind is E.ENGINE_EVENT]
    assert any("was lost with its worker; running it again" in note for note in notes), notes
    assert procs.marks_of("first", "start") == procs.marks_of("first", "done")  # ran once
    assert len(procs.marks_of("last", "start")) == 1
    assert worker.alive()


def test_a_worker_killed_outright_loses_its_step_to_another_worker(
    procs: Processes, settings: Settings
) -> None:
    doomed = procs.worker("doomed")
    settings = fast_settings(settings)
    with local_coordinator(settings):
        handle = submit(jobs.slow_chain, settings=settings)
        wait_for(lambda: procs.marks_of("slow", "start"), 20, doomed.text)
        doomed.kill()  # main process and pool: the broker never gets the message back
        rescuer = procs.worker("rescuer")
        result = handle.wait(timeout=40)

    assert result.success, [e.describe() for e in handle.events()]
    assert result.output_for_node("last") == [1, 2]
    assert len(procs.marks_of("slow", "done")) == 1
    notes = [e.message for e in handle.events() if e.kind is E.ENGINE_EVENT]
    # the coordinator redelivers once heartbeats stop; with RabbitMQ the broker may hand
    # the message back first (the dead worker's connection closed), and the rescuer
    # takes the attempt over: the log says which
    lost = ("its worker was lost (no heartbeat", "was lost with its worker")
    assert any(text in note for note in notes for text in lost), notes
    assert rescuer.alive()


def test_a_lost_step_fails_with_the_reason_once_redeliveries_are_used_up(
    procs: Processes, settings: Settings
) -> None:
    doomed = procs.worker("doomed")
    settings = fast_settings(settings, max_redeliveries=0)
    with local_coordinator(settings):
        handle = submit(jobs.slow_chain, settings=settings)
        wait_for(lambda: procs.marks_of("slow", "start"), 20, doomed.text)
        doomed.kill()
        result = handle.wait(timeout=30)

    assert not result.success
    (failure,) = [e for e in handle.events() if e.kind is E.STEP_FAILURE]
    assert failure.step_key == "slow"
    assert failure.error is not None and failure.error.cls_name == "StepLost"
    assert "its worker was lost" in failure.error.message
    assert result.events_for_node("last") == []  # downstream of a failure never runs


def test_a_step_no_worker_consumes_fails_after_the_queue_timeout(
    procs: Processes, settings: Settings
) -> None:
    procs.worker("w1")  # consumes the default queue only
    settings = fast_settings(settings, queue_timeout_s=1.0)
    with local_coordinator(settings):
        result = submit(jobs.misrouted, settings=settings).wait(timeout=20)

    assert not result.success
    (failure,) = [e for e in result.all_events if e.kind is E.STEP_FAILURE]
    assert failure.error is not None
    assert "'nobody-consumes-this'" in failure.error.message
    assert "not started within 1 s" in failure.error.message


def test_duplicate_deliveries_of_an_attempt_are_settled_once(
    procs: Processes, settings: Settings
) -> None:
    procs.worker("w1", concurrency=2)
    settings = fast_settings(settings)
    sender = CeleryDispatcher(settings)
    try:
        with local_coordinator(settings):
            handle = submit(jobs.single, settings=settings)
            request = StepRequest(run_id=handle.run_id, step_key="once", job_name="single")
            copy = Delivery(request, queue=settings.default_queue)
            sender.dispatch([copy, copy])  # two more deliveries of the running attempt
            result = handle.wait(timeout=20)
            sender.dispatch([copy])  # and one after the step ended
            wait_for(lambda: "delivery dropped (settled" in _worker_log(procs), 10, lambda: "")
    finally:
        sender.close()

    assert result.success and result.output_for_node("once") == 7
    assert len(procs.marks_of("once", "start")) == 1
    kinds = _kinds(handle, "once")
    assert kinds.count("STEP_START") == 1 and kinds.count("STEP_SUCCESS") == 1
    assert kinds.count("STEP_OUTPUT") == 1


def _worker_log(procs: Processes) -> str:
    return "".join(proc.text() for proc in procs.started)
