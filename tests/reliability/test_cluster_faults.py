"""The coordinator dies, Redis goes away: runs finish, and no finished step runs again.

Coordinators and workers are real processes (``opgrid coordinator``, ``opgrid
worker``); Redis is a real redis-server, restarted with its append-only file.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TypeVar

import pytest

from opgrid import submit
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.cli.embedded_redis import RedisServer
from opgrid.orchestrator.settings import Settings
from tests.harness.processes import Processes, fast_settings, through_outages, wait_for
from tests.jobs import faults_jobs as jobs

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

STAGES = [f"stage{i}" for i in range(1, 6)]
T = TypeVar("T")


def _each_stage_ran_once(procs: Processes, story: str = "") -> None:
    for stage in STAGES:
        assert len(procs.marks_of(stage, "start")) == 1, (stage, procs.marks.read_text(), story)
        assert len(procs.marks_of(stage, "done")) == 1, stage


def test_a_killed_coordinator_s_run_is_adopted_and_finished_by_a_new_one(
    procs: Processes, settings: Settings
) -> None:
    worker = procs.worker("w1")
    doomed = procs.coordinator("doomed")
    settings = fast_settings(settings)
    handle = submit(jobs.staged, settings=settings)
    wait_for(lambda: procs.marks_of("stage2", "start"), 20, doomed.text)
    doomed.kill()
    successor = procs.coordinator("successor")
    result = handle.wait(timeout=40)

    assert result.success, [e.describe() for e in handle.events()]
    assert result.output_for_node("stage5") == 5
    _each_stage_ran_once(procs)
    assert "owns run" in successor.text() and "events replayed" in successor.text()
    starts = [e.step_key for e in handle.events() if e.kind is E.STEP_START]
    assert sorted(starts) == sorted(["zero", *STAGES])  # nothing started twice
    assert worker.alive()


def test_take_overs_record_each_skip_once(procs: Processes, settings: Settings) -> None:
    procs.worker("w1")
    owner = procs.coordinator("owner0")
    settings = fast_settings(settings)
    handle = submit(jobs.branch_and_hang, settings=settings)

    def skipped() -> list[str | None]:
        return [e.step_key for e in handle.events() if e.kind is E.STEP_SKIPPED]

    wait_for(lambda: procs.marks_of("hang", "start") and skipped(), 20, owner.text)
    for turn in range(1, 4):  # killed twice, stopped once: each successor replays the log
        if turn % 2:
            owner.kill()
        else:
            owner.stop()
        owner = procs.coordinator(f"owner{turn}")
        wait_for(lambda proc=owner: "owns run" in proc.text(), 20, owner.text)
    handle.cancel()
    result = handle.wait(timeout=40, raise_on_error=False)

    assert not result.success
    assert skipped() == ["on_untaken"], [e.describe() for e in handle.events()]
    assert len(procs.marks_of("choose", "start")) == 1


def test_a_run_survives_redis_restarting_with_its_append_only_file(
    tmp_path: Path, namespace: str
) -> None:
    with RedisServer(appendonly=True, dir=tmp_path / "redis") as server:
        settings = fast_settings(
            Settings(
                redis_url=server.url,
                namespace=namespace,
                secret="test-secret",
                default_queue=namespace,
            )
        )
        procs = Processes(settings, tmp_path)
        try:
            procs.worker("w1")
            coordinator = procs.coordinator("c1")
            handle = submit(jobs.staged, settings=settings)
            wait_for(lambda: procs.marks_of("stage2", "start"), 20, coordinator.text)
            server.stop()
            time.sleep(2.0)  # stage2 ends while Redis is away; its report has to wait
            server.start()
            result = through_outages(lambda: handle.wait(timeout=40))
            assert result.success, [e.describe() for e in handle.events()]
            assert result.output_for_node("stage5") == 5
            assert handle.status.value == "success"
            story = "\n".join(e.describe() for e in handle.events())
        finally:
            procs.stop_all()
    _each_stage_ran_once(procs, story)
