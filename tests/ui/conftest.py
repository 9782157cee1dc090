"""A real cluster for the UI tests: redis-server, an ``opgrid worker`` process, an
``opgrid coordinator`` process and an ``opgrid ui`` process, all on loopback.

One cluster serves the ``tests/ui`` package (its own namespace and queue), and is
stopped when the package's tests are done; tests tell their runs apart by run id.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from opgrid.orchestrator.cli.embedded_redis import RedisServer
from opgrid.orchestrator.settings import Settings
from tests.harness.processes import OPGRID, cluster_env, start, stop, wait_for_text

#: The job file every process of the UI cluster loads (relative to the repository root).
JOBS = "tests/jobs/ui_jobs.py"
#: How long a test waits for a run to end.
RUN_TIMEOUT_S = 25.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class UICluster:
    """The running cluster and its UI server's address."""

    settings: Settings
    url: str
    port: int
    logs: Path

    def client(self, **kwargs: object) -> httpx.Client:
        options: dict = {"timeout": 10.0, **kwargs}
        return httpx.Client(base_url=self.url, **options)

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        with self.client() as http:
            reply = http.post("/graphql", json={"query": query, "variables": variables or {}})
        reply.raise_for_status()
        body = reply.json()
        assert "errors" not in body, body
        return body["data"]

    def wait_status(self, run_id: str, *statuses: str, timeout_s: float = RUN_TIMEOUT_S) -> str:
        """The run's status once it is one of ``statuses``."""
        deadline = time.monotonic() + timeout_s
        query = "query($id: ID!){runOrError(runId: $id){... on Run {status}}}"
        status = ""
        while time.monotonic() < deadline:
            status = self.graphql(query, {"id": run_id})["runOrError"]["status"]
            if status in statuses:
                return status
            time.sleep(0.1)
        raise AssertionError(f"run {run_id} is {status}, not {statuses}, after {timeout_s} s")


def start_ui(settings: Settings, port: int, log: Path, *extra: str, **env: str):
    command = [OPGRID, "ui", "-f", JOBS, "--port", str(port), *extra]
    process = start(command, cluster_env(settings, **env), log)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"opgrid ui exited: {log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    stop(process)
    raise AssertionError(f"opgrid ui did not answer within 20 s: {log.read_text()}")


@pytest.fixture(scope="package")
def ui_cluster(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[UICluster]:
    logs = tmp_path_factory.mktemp("ui-cluster")
    name = f"ui-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        redis_url=redis_server.url,
        namespace=name,
        secret="ui-secret",
        default_queue=name,
        block_s=0.2,
    )
    env = {"OPGRID_BLOCK_S": "0.2"}
    worker = start(
        [
            OPGRID,
            "worker",
            "-f",
            JOBS,
            "--pool",
            "prefork",  # a canceled step that ignores its interruption is killed: its child only
            "--concurrency",
            "2",
            "-n",
            f"{name}@%h",
            "--",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cluster_env(settings, **env),
        logs / "worker.log",
    )
    coordinator = start(
        [OPGRID, "coordinator"], cluster_env(settings, **env), logs / "coordinator.log"
    )
    port = free_port()
    processes = [worker, coordinator]
    try:
        wait_for_text(logs / "worker.log", "ready", worker, timeout_s=30)
        processes.append(start_ui(settings, port, logs / "ui.log"))
        yield UICluster(settings, f"http://127.0.0.1:{port}", port, logs)
    finally:
        for process in reversed(processes):
            stop(process)
