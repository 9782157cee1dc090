"""Flower watches an opgrid cluster unchanged: ``celery -A opgrid.workers.app flower``.

A real worker (``opgrid worker``) and Flower run as subprocesses against the test
redis-server; the coordinator runs in this process. Two runs of ``pipeline`` (the
second with a failing step) must show up in Flower's HTTP API as one task per
dispatched step, named the way the dispatcher labels it, on our worker, finished.
"""

from __future__ import annotations

import base64
import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import opgrid
from opgrid.orchestrator.cli.embedded_redis import free_port
from opgrid.orchestrator.settings import Settings
from tests.harness.processes import cluster_env, start, stop, wait_for_text
from tests.jobs.hosts_jobs import dawdling, pipeline, wobbly_job

pytestmark = pytest.mark.integration

#: The code location, relative to the repository root, as the worker and submitter name it.
JOBS = "tests/jobs/hosts_jobs.py"
BIN = Path(sys.executable).parent
#: Flower's API refuses anonymous requests unless told otherwise; a deployment sets a login.
LOGIN = "opgrid:flower-test"
#: Longest a run, or Flower catching up with its events, may take here.
TIMEOUT_S = 20.0


class Flower:
    """Flower's HTTP API at ``base``, with the test login."""

    def __init__(self, base: str) -> None:
        self.base = base
        token = base64.b64encode(LOGIN.encode()).decode()
        self.headers = {"Authorization": f"Basic {token}"}

    def get(self, path: str) -> tuple[int, bytes]:
        request = urllib.request.Request(self.base + path, headers=self.headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def json(self, path: str) -> Any:
        status, body = self.get(path)
        assert status == 200, (path, status, body)
        return json.loads(body)


@pytest.fixture
def worker_name(settings: Settings, tmp_path: Path) -> Iterator[str]:
    """``opgrid worker -f JOBS`` in a subprocess, task events on; yields its node name."""
    name = f"flower-{settings.namespace}@localhost"
    log = tmp_path / "worker.log"
    command = [str(BIN / "opgrid"), "worker", "-f", JOBS, "--pool", "solo", "-n", name]
    command += ["--", "--without-gossip", "--without-mingle"]  # heartbeats stay: Flower uses them
    process = start(command, cluster_env(settings), log)
    try:
        wait_for_text(log, "ready.", process)
        yield name
    finally:
        stop(process)


@pytest.fixture
def flower(settings: Settings, tmp_path: Path) -> Iterator[Flower]:
    """``celery -A opgrid.workers.app flower`` on a free loopback port, as a user starts it."""
    port = free_port()
    log = tmp_path / "flower.log"
    command = [str(BIN / "celery"), "-A", "opgrid.workers.app", "flower"]
    command += [f"--port={port}", "--address=127.0.0.1", f"--basic-auth={LOGIN}"]
    process = start(command, cluster_env(settings), log)
    client = Flower(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while _health(client) != (200, b"OK"):
            assert process.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.2)
        yield client
    finally:
        stop(process)


def _health(client: Flower) -> tuple[int, bytes] | None:
    try:
        return client.get("/healthcheck")
    except OSError:  # not listening yet
        return None


def _poll(what: str, found: Any, timeout_s: float = TIMEOUT_S) -> Any:
    """Call ``found()`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while not (value := found()):
        assert time.monotonic() < deadline, f"Flower never showed {what}"
        time.sleep(0.3)
    return value


@pytest.mark.timeout(60)
def test_flower_shows_each_step_task_by_its_label_and_final_state(
    settings: Settings, worker_name: str, flower: Flower
) -> None:
    # Flower learns of workers from their events (worker-online, heartbeats).
    _poll("the worker online", lambda: flower.json("/api/workers?status=true").get(worker_name))

    with opgrid.local_coordinator(settings):
        good = opgrid.submit(pipeline, settings=settings, location=JOBS)
        assert good.wait(timeout=TIMEOUT_S).success
        bad = opgrid.submit(
            pipeline,
            run_config={"ops": {"transform": {"config": {"fail": True}}}},
            settings=settings,
            location=JOBS,
        )
        failed = bad.wait(timeout=TIMEOUT_S)
    assert not failed.success
    assert failed.get_failed_step_keys() == {"transform"}

    # One task per dispatched step: `load` of the failed run was abandoned, never sent.
    expected = {f"{good.run_id}:{step}:0" for step in ("extract", "transform", "load")} | {
        f"{bad.run_id}:{step}:0" for step in ("extract", "transform")
    }

    def finished_tasks() -> dict[str, dict[str, Any]] | None:
        tasks = flower.json("/api/tasks")
        ours = {uuid: task for uuid, task in tasks.items() if uuid in expected}
        final = all(task["state"] in ("SUCCESS", "FAILURE") for task in ours.values())
        return ours if set(ours) == expected and final else None

    tasks = _poll("the five step tasks finished", finished_tasks)

    # The dispatcher's `shadow` is what the worker reports as the task's name: job and step
    # (a bounded set of names for Flower's metrics); the run shows in the kwargs' repr.
    for uuid, task in tasks.items():
        run_id, step, attempt = uuid.split(":")  # the task id: run, step, attempt
        assert task["name"] == f"pipeline:{step}", task
        assert task["worker"] == worker_name, task
        assert task["kwargs"] == f"run={run_id} job=pipeline step={step} attempt={attempt}"
        if (run_id, step) == (bad.run_id, "transform"):
            # a step failure: FAILURE, with the op's exception type and message
            assert task["state"] == "FAILURE", task
            assert "ValueError" in task["exception"], task
        else:
            assert task["state"] == "SUCCESS", task
            assert task["exception"] is None, task

    workers = flower.json("/api/workers?refresh=1")
    assert "opgrid.step" in workers[worker_name]["registered"]
    queues = [queue["name"] for queue in workers[worker_name]["active_queues"]]
    assert queues == [settings.default_queue]


def test_flower_shows_retried_attempts_as_retry_and_canceled_steps_as_revoked(
    settings: Settings, worker_name: str, flower: Flower
) -> None:
    _poll("the worker online", lambda: flower.json("/api/workers?status=true").get(worker_name))
    with opgrid.local_coordinator(settings):
        retried = opgrid.submit(wobbly_job, settings=settings, location=JOBS)
        assert retried.wait(timeout=TIMEOUT_S).success
        canceled = opgrid.submit(dawdling, settings=settings, location=JOBS)
        _poll(
            "the slow step running",
            lambda: (
                canceled.status.value == "started"
                and any(event.kind.name == "STEP_START" for event in canceled.events())
            ),
        )
        canceled.cancel()
        assert not canceled.wait(timeout=TIMEOUT_S).success
    states = {
        f"{retried.run_id}:wobbly:0": "RETRY",
        f"{retried.run_id}:wobbly:1": "SUCCESS",
        f"{canceled.run_id}:dawdle:0": "REVOKED",
    }

    def settled() -> dict[str, Any] | None:
        tasks = flower.json("/api/tasks")
        shown = {uuid: tasks[uuid]["state"] for uuid in states if uuid in tasks}
        return tasks if shown == states else None

    tasks = _poll("a RETRY, a SUCCESS and a REVOKED task", settled)
    assert "the first attempt fails" in tasks[f"{retried.run_id}:wobbly:0"]["exception"]
    # Flower's own metrics label series by task name: job and step, never a run id
    status, metrics = flower.get("/metrics")
    assert status == 200 and b"wobbly_job:wobbly" in metrics
    assert retried.run_id.encode() not in metrics and canceled.run_id.encode() not in metrics


def _series(metrics: bytes) -> set[str]:
    """The series (metric name and labels) of a Prometheus text page."""
    lines = metrics.decode().splitlines()
    return {line.rsplit(" ", 1)[0] for line in lines if line and not line.startswith("#")}


@pytest.mark.timeout(120)
def test_flower_s_metric_series_stay_bounded_across_twenty_runs(
    settings: Settings, worker_name: str, flower: Flower
) -> None:
    _poll("the worker online", lambda: flower.json("/api/workers?status=true").get(worker_name))
    handles = []
    with opgrid.local_coordinator(settings):
        for wave in range(4):
            for _ in range(5):
                handles.append(opgrid.submit(pipeline, settings=settings, location=JOBS))
            for handle in handles[-5:]:
                handle.wait(timeout=TIMEOUT_S, raise_on_error=False)
            runs = len(handles)

            def caught_up(runs: int = runs) -> bool:  # at least a task per run
                return len(flower.json("/api/tasks")) >= runs

            _poll("every task so far", caught_up)
            status, metrics = flower.get("/metrics")
            assert status == 200
            if wave == 0:
                after_five = {s for s in _series(metrics) if "flower_" in s}
    after_twenty = {s for s in _series(metrics) if "flower_" in s}
    named = {s for s in after_twenty if "pipeline:" in s}
    assert named, sorted(after_twenty)[:20]
    # the same series after 20 runs as after 5: names by job and step, never by run
    assert after_twenty == after_five, sorted(after_twenty ^ after_five)[:20]
    assert not any(handle.run_id.encode() in metrics for handle in handles)
