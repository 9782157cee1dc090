"""An op that kills its own process fails its step after a few deaths, not forever.

A real ``opgrid worker`` (prefork pool) runs ops that end their pool process
(``os._exit``, SIGSEGV). Celery hands each message back when its process dies and a
new pool process takes the attempt over; after ``OPGRID_MAX_REDELIVERIES`` such
deaths of one attempt the step fails with ``StepProcessDied``, naming the exit code or
signal, and the run goes on as for any failure.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from opgrid import local_coordinator, submit
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.settings import Settings
from tests.harness.processes import Proc, Processes, fast_settings
from tests.jobs import crash_jobs as jobs

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

#: The code location of the crashing jobs, as workers and submitters name it.
CRASH_JOBS = "tests/jobs/crash_jobs.py"
#: Deaths of one attempt allowed before its step fails.
MAX_REDELIVERIES = 1
#: Long enough that the coordinator never takes the attempt from the worker here: each
#: death is seen by the worker itself, its message handed back in a few seconds.
LOST_AFTER_S = 60.0


class CrashCluster(Processes):
    """``Processes`` whose workers serve the crashing jobs."""

    def __init__(self, settings: Settings, tmp_path: Path) -> None:
        super().__init__(settings, tmp_path, OPGRID_MAX_REDELIVERIES=str(MAX_REDELIVERIES))
        self.env["OPGRID_STEP_LOST_AFTER_S"] = str(LOST_AFTER_S)

    def crash_worker(self, name: str) -> Proc:
        return self.worker(name, location=CRASH_JOBS)


@pytest.fixture
def cluster(settings: Settings, tmp_path: Path) -> Iterator[CrashCluster]:
    procs = CrashCluster(settings, tmp_path)
    yield procs
    procs.stop_all()


@pytest.mark.parametrize(
    ("job", "op_name", "how"),
    [
        (jobs.exiting, "exits", "exitcode 3"),
        (jobs.segfaulting, "segfaults", "signal 11 (SIGSEGV)"),
    ],
    ids=["os._exit", "SIGSEGV"],
)
def test_an_op_that_kills_its_process_fails_its_step_after_the_allowed_deaths(
    cluster: CrashCluster, settings: Settings, job, op_name: str, how: str
) -> None:
    worker = cluster.crash_worker("w1")
    settings = fast_settings(
        settings, max_redeliveries=MAX_REDELIVERIES, step_lost_after_s=LOST_AFTER_S
    )
    with local_coordinator(settings):
        handle = submit(job, settings=settings)
        result = handle.wait(timeout=60)

    assert not result.success
    assert result.is_node_failed(op_name)
    assert result.output_for_node("independent") == 2  # the other branch ran
    assert not result.is_node_success("downstream")
    assert cluster.marks_of("downstream", "start") == []
    starts = cluster.marks_of(op_name, "start")
    assert len(starts) == MAX_REDELIVERIES + 1, starts  # ran, died, ran again, died: done
    (failure,) = [e for e in handle.events() if e.kind is E.STEP_FAILURE]
    assert failure.step_key == op_name and failure.error is not None
    assert failure.error.cls_name == "StepProcessDied"
    message = failure.error.message
    assert f"the op's process died {MAX_REDELIVERIES + 1} times" in message, message
    assert how in message, message
    assert handle.status.value == "failure"
    assert worker.alive()
