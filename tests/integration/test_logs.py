"""Structured logs from real service processes: ``opgrid worker --log-format json`` and
``opgrid coordinator --log-format json --metrics-port``, on the test's redis-server.

Every line either writes on stderr is a JSON object; the lines logged while a step
ran name its run and step, and the coordinator's line about a run names the run.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from opgrid.orchestrator.client.submit import submit
from opgrid.orchestrator.protocol.status import RunStatus
from opgrid.orchestrator.settings import Settings
from tests.harness.processes import OPGRID, ROOT, start, stop
from tests.integration.test_metrics import (
    samples,
    scrape,
    scrape_finished,
    start_worker,
    value,
    worker_env,
)
from tests.jobs.logs_jobs import logged

pytestmark = pytest.mark.integration

#: The code location, relative to ROOT, as the worker loads it and the run names it.
JOBS = "tests/jobs/logs_jobs.py"
#: Longest the run (worker start-up included) may take.
RUN_TIMEOUT_S = 20.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _json_lines(path: Path) -> list[dict]:
    """Every line of ``path`` as JSON; fails naming the first line that is not."""
    text = path.read_text(errors="replace")
    try:
        return [json.loads(line) for line in text.splitlines()]
    except json.JSONDecodeError as exc:
        pytest.fail(f"{path.name}: a line is not JSON ({exc}):\n{text}")


def _wait_healthy(port: int, process: subprocess.Popen[bytes], err: Path) -> None:
    deadline = time.monotonic() + 15
    while True:
        assert process.poll() is None, err.read_text()
        try:
            if scrape(port, "/healthz") == (200, "ok\n"):
                return
        except (urllib.error.URLError, ConnectionError):
            pass
        assert time.monotonic() < deadline, err.read_text()
        time.sleep(0.1)


@pytest.mark.timeout(60)
def test_worker_and_coordinator_write_json_lines_naming_the_run_and_step(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(ROOT)
    port = _free_port()
    worker_log = tmp_path / "worker.log"
    worker = start_worker(settings, JOBS, worker_log, "--log-format", "json")
    coordinator_err = tmp_path / "coordinator.err"
    coordinator = start(
        [OPGRID, "coordinator", "--log-format", "json", "--metrics-port", str(port)],
        worker_env(settings),
        tmp_path / "coordinator.out",
        stderr=coordinator_err,
    )
    try:
        _wait_healthy(port, coordinator, coordinator_err)
        handle = submit(logged, location=JOBS, settings=settings)
        try:
            handle.wait(timeout=RUN_TIMEOUT_S, raise_on_error=False)
            status, run_id = handle.status, handle.run_id
        finally:
            handle.close()
        text = scrape_finished(port, runs=1)
    finally:
        stop(coordinator)
        stop(worker)

    assert status is RunStatus.SUCCESS, worker_log.with_suffix(".err").read_text()
    assert value(samples(text), "opgrid_runs_finished_total", job="logged", status="success") == 1

    worker_lines = _json_lines(worker_log.with_suffix(".err"))
    assert all({"ts", "level", "logger", "message"} <= line.keys() for line in worker_lines)
    ops = {
        line["message"]: line for line in worker_lines if line["logger"] == "tests.jobs.logs_jobs"
    }
    assert set(ops) == {"loading the number", "doubling 2"}
    assert (ops["loading the number"]["run_id"], ops["loading the number"]["step_key"]) == (
        run_id,
        "load",
    )
    assert (ops["doubling 2"]["run_id"], ops["doubling 2"]["step_key"]) == (run_id, "double")
    assert ops["doubling 2"]["level"] == "WARNING"
    assert any("ready" in line["message"] for line in worker_lines)  # Celery's own lines too

    coordinator_lines = _json_lines(coordinator_err)
    finished = [line for line in coordinator_lines if "finished: success" in line["message"]]
    assert [line["run_id"] for line in finished] == [run_id]
    assert any(line["message"].startswith("serving /metrics") for line in coordinator_lines)
    assert settings.secret.get_secret_value() not in coordinator_err.read_text()
