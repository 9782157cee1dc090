"""An op stuck in C code that holds the GIL is stopped from outside its process.

Such an op starves every other thread of its pool process, the step watcher
included, so only the worker's main process can stop it: once the run is canceled
and the grace period has passed, it kills the pool process, the run ends canceled,
and the worker goes on serving with a new pool process; a warm shutdown does not
wait on such an op forever. Real ``opgrid worker`` processes (prefork, one pool
process) on a real redis-server.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from opgrid import local_coordinator, submit
from opgrid.orchestrator.protocol.status import RunStatus, StepStatus
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.redis import RedisRunStore
from tests.harness.processes import FAST, Processes, fast_settings, pool_children, wait_for
from tests.jobs import faults_jobs as jobs

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

#: The cancel grace period of FAST, and the few seconds a kill may take beyond it.
GRACE_S = float(FAST["OPGRID_CANCEL_GRACE_S"])
SLACK_S = 4.0


def test_a_canceled_op_holding_the_gil_loses_its_process_and_the_worker_goes_on(
    procs: Processes, settings: Settings
) -> None:
    worker = procs.worker("w1")  # one pool process: the next run needs a new one
    settings = fast_settings(settings)
    with local_coordinator(settings):
        handle = submit(jobs.stuck_in_c, settings=settings)
        wait_for(lambda: procs.marks_of("backtrack", "start"), 20, worker.text)
        (stuck,) = procs.marks_of("backtrack", "start")
        time.sleep(0.5)  # well into the regex
        handle.cancel()
        canceled = time.monotonic()
        wait_for(lambda: stuck not in pool_children(worker.pid), GRACE_S + SLACK_S, worker.text)
        took = time.monotonic() - canceled
        assert handle.wait(timeout=15).success is False
        after = submit(jobs.single, settings=settings).wait(timeout=20)

    assert handle.status is RunStatus.CANCELED
    assert GRACE_S <= took < GRACE_S + SLACK_S
    assert "killing pool process" in worker.text()
    assert not procs.marks_of("backtrack", "done")
    store = RedisRunStore.from_settings(settings)
    try:
        assert store.step_statuses(handle.run_id) == {"backtrack": StepStatus.CANCELED.value}
    finally:
        store.client.close()
    assert after.success and after.output_for_node("once") == 7
    assert procs.marks_of("once", "start")[0] != stuck
    assert worker.alive()


def test_a_warm_shutdown_ends_once_the_canceled_op_holding_the_gil_is_killed(
    procs: Processes, settings: Settings
) -> None:
    worker = procs.worker("w1")
    settings = fast_settings(settings)
    with local_coordinator(settings):
        handle = submit(jobs.stuck_in_c, settings=settings)
        wait_for(lambda: procs.marks_of("backtrack", "start"), 20, worker.text)
        os.kill(worker.pid, signal.SIGTERM)  # warm shutdown: it waits for the running op
        wait_for(lambda: "warm shutdown" in worker.text().lower(), 10, worker.text)
        assert worker.alive()
        handle.cancel()
        canceled = time.monotonic()
        worker.process.wait(timeout=GRACE_S + SLACK_S + 5)
        took = time.monotonic() - canceled
        assert handle.wait(timeout=15).success is False

    assert handle.status is RunStatus.CANCELED
    assert took < GRACE_S + SLACK_S + 5
    assert "killing pool process" in worker.text()
