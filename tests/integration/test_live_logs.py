"""Live ``context.log`` lines and captured stdout/stderr on a real cluster: ``opgrid
worker`` and ``opgrid coordinator`` processes on the test's redis-server, read back
with the ``opgrid`` command as a user would."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.client.submit import submit
from opgrid.orchestrator.protocol.status import RunStatus
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.redis import RedisRunStore
from tests.harness.processes import OPGRID, ROOT, Processes, cluster_env, wait_for
from tests.jobs.live_logs_jobs import cancelable, printing, slow_logger

pytestmark = pytest.mark.integration

#: The code location, relative to ROOT, as the worker loads it and the runs name it.
JOBS = "tests/jobs/live_logs_jobs.py"
#: The capture limit the workers of these tests have.
LIMIT = 1000


@pytest.fixture
def store(settings: Settings) -> Iterator[RedisRunStore]:
    store = RedisRunStore.from_settings(settings)
    yield store
    store.client.close()


def _cluster(settings: Settings, tmp_path: Path, **env: str) -> Processes:
    procs = Processes(settings, tmp_path, OPGRID_CAPTURE_LIMIT_BYTES=str(LIMIT), **env)
    procs.worker("w1", location=JOBS)
    procs.coordinator("c1")
    return procs


def _opgrid(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [OPGRID, *args],
        cwd=ROOT,
        env=cluster_env(settings),
        capture_output=True,
        text=True,
        timeout=30,
    )


def _messages(store: RedisRunStore, run_id: str) -> list[str]:
    return [e.message for _, e in store.read_events(run_id) if e.kind is E.LOG_MESSAGE]


@pytest.mark.timeout(90)
def test_a_line_logged_by_a_running_step_shows_in_run_logs_follow_before_it_ends(
    settings: Settings, tmp_path: Path, store: RedisRunStore
) -> None:
    procs = _cluster(settings, tmp_path)
    try:
        handle = submit(slow_logger, location=JOBS, settings=settings)
        follow = subprocess.Popen(
            [OPGRID, "run", "logs", handle.run_id, "--follow"],
            cwd=ROOT,
            env=cluster_env(settings),
            stdout=subprocess.PIPE,
            text=True,
        )
        assert follow.stdout is not None
        seen: list[str] = []
        for line in follow.stdout:
            seen.append(line)
            if "warming up" in line:
                break
        # the line came while the step still ran: it has not ended, nor has the run
        assert store.step_statuses(handle.run_id)["warm_up"] == "running", seen
        assert not any("STEP_SUCCESS" in line for line in seen)
        rest, _ = follow.communicate(timeout=30)
        handle.wait(timeout=30)
        handle.close()
    finally:
        procs.stop_all()
    assert follow.returncode == 0
    lines = [*seen, *rest.splitlines()]
    assert sum("warming up" in line for line in lines) == 1, lines  # once in the log
    assert any("warmed up" in line for line in lines)
    assert _messages(store, handle.run_id) == ["warming up", "warmed up"]


@pytest.mark.timeout(90)
def test_job_submit_wait_prints_a_running_steps_line_before_it_ends(
    settings: Settings, tmp_path: Path, store: RedisRunStore
) -> None:
    procs = _cluster(settings, tmp_path)
    try:
        submitting = subprocess.Popen(
            [OPGRID, "job", "submit", "-f", JOBS, "-j", "slow_logger", "--wait"],
            cwd=ROOT,
            env=cluster_env(settings),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert submitting.stderr is not None
        for line in submitting.stderr:
            if "warming up" in line:
                break
        (record,) = store.list_runs(limit=1)
        assert store.step_statuses(record.run_id)["warm_up"] == "running"
        out, err = submitting.communicate(timeout=30)
    finally:
        procs.stop_all()
    assert submitting.returncode == 0, err
    assert " - INFO - slow_logger - " in line and line.rstrip().endswith("warm_up - warming up")
    assert "warmed up" in err and "success  warm_up" in out


@pytest.mark.timeout(90)
def test_a_canceled_step_keeps_the_lines_it_logged(
    settings: Settings, tmp_path: Path, store: RedisRunStore
) -> None:
    # lines are sent only every 30 s here: the canceled step's line is kept by the
    # worker when the op is interrupted, not by a live send
    procs = _cluster(settings, tmp_path, OPGRID_LOG_FLUSH_S="30")
    try:
        config = {"ops": {"warm_up": {"config": {"seconds": 60}}}}
        handle = submit(cancelable, config, location=JOBS, settings=settings)
        wait_for(
            lambda: store.step_statuses(handle.run_id).get("warm_up") == "running",
            20,
            lambda: procs.started[0].text(),
        )
        time.sleep(0.5)  # the op has logged its first line (and is asleep)
        assert _opgrid(settings, "run", "cancel", handle.run_id).returncode == 0
        handle.wait(timeout=30, raise_on_error=False)
        assert handle.status is RunStatus.CANCELED
        wait_for(
            lambda: _messages(store, handle.run_id) == ["warming up"],
            10,
            lambda: f"{_messages(store, handle.run_id)}\n{procs.started[0].text()}",
        )
        handle.close()
        logs = _opgrid(settings, "run", "logs", handle.run_id)
    finally:
        procs.stop_all()
    assert logs.returncode == 0, logs.stderr
    assert sum("warming up" in line for line in logs.stdout.splitlines()) == 1, logs.stdout


@pytest.mark.timeout(90)
def test_what_steps_print_is_read_back_per_step_failed_ones_too_and_cut_at_the_limit(
    settings: Settings, tmp_path: Path, store: RedisRunStore
) -> None:
    procs = _cluster(settings, tmp_path)
    try:
        handle = submit(printing, location=JOBS, settings=settings)
        handle.wait(timeout=30, raise_on_error=False)
        handle.close()
        assert handle.status is RunStatus.FAILURE
        run_id = handle.run_id
        out = _opgrid(settings, "run", "logs", run_id, "--step", "talk", "--stdout")
        err = _opgrid(settings, "run", "logs", run_id[:8], "--step", "talk", "--stderr")
        failed = _opgrid(settings, "run", "logs", run_id, "--step", "talk_and_fail", "--stdout")
        failed_err = _opgrid(
            settings, "run", "logs", run_id, "--step", "talk_and_fail", "--stderr", "--attempt", "0"
        )
        unknown = _opgrid(settings, "run", "logs", run_id, "--step", "nope", "--stdout")
        no_attempt = _opgrid(
            settings, "run", "logs", run_id, "--step", "talk", "--stdout", "--attempt", "3"
        )
        worker_log = procs.started[0].text()
    finally:
        procs.stop_all()
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("hello on stdout\n" + "z" * 100)
    kept = len(out.stdout.split("\n[opgrid:")[0].encode())
    assert kept == LIMIT
    cut = len("hello on stdout\n") + 5001 - LIMIT
    assert f"[opgrid: {cut} more bytes of stdout cut" in out.stdout
    assert "OPGRID_CAPTURE_LIMIT_BYTES" in out.stdout
    assert err.stdout == "trouble on stderr\n", err.stderr
    assert failed.stdout == "got 1, failing\n", failed.stderr
    assert failed_err.stdout == "the reason is below\n", failed_err.stderr
    assert unknown.returncode == 2 and f"run {run_id} has no step 'nope'" in unknown.stderr
    assert no_attempt.returncode == 2
    assert "attempt 3 of step 'talk'" in no_attempt.stderr
    assert "attempts with output: 0" in no_attempt.stderr
    # prints went to the captured output; one outside it reached the worker's stdout as
    # it was printed, not relabelled as a WARNING log line by Celery
    assert "hello on stdout" not in worker_log
    assert "printed by a thread of talk" not in out.stdout
    assert "\nprinted by a thread of talk\n" in worker_log, worker_log
    assert "WARNING/ForkPoolWorker" not in worker_log
