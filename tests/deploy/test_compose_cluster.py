"""The compose services, run as local processes: together they run a job.

No Docker engine here, so each service of ``deploy/docker-compose.yml`` (but
``redis``: the session's redis-server stands in) runs its container's command
line, as Compose builds it from the image's entry point and ``.env.example``, in
a process group of its own. What the containers would differ in is substituted:
the test's Redis URL, namespace and queue, free loopback ports for Flower and
the coordinator's metrics, and ``tests/jobs/`` as ``/code`` with
``deploy_jobs.py`` as the code location. Then a job is submitted as
deploy/README.md says, and each service's own health check is run.
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from opgrid.orchestrator.cli.embedded_redis import free_port
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.redis import RedisRunStore
from tests.harness.processes import ROOT, start, stop_all

from .manifests import (
    ENV_EXAMPLE,
    METRICS_PENDING,
    METRICS_PENDING_REASON,
    compose_service_argv,
    compose_variables,
    healthcheck_argv,
    image_workdir,
    load_compose,
    read_env_file,
)

pytestmark = pytest.mark.integration

#: The tests' jobs folder plays ``/code``, the image's working directory.
CODE = ROOT / "tests" / "jobs"
#: The code location, relative to ``/code``: workers and submitters spell it alike.
JOBS = "deploy_jobs.py"
BIN = Path(sys.executable).parent
#: The ports the compose file gives Flower and the coordinator's metrics server.
FLOWER_PORT, METRICS_PORT = 5555, 9808
#: Longest a service may take to pass its health check here.
HEALTHY_WITHIN_S = 30.0


@dataclass(frozen=True, slots=True)
class Service:
    """One compose service as a local process: its command line, environment and check."""

    name: str
    argv: list[str]
    env: dict[str, str]
    healthcheck: list[str]


def _repoint(text: str, ports: dict[int, int]) -> str:
    """``127.0.0.1:5555`` / ``--port=5555`` -> the free port standing in for it."""
    return re.sub(r"(?<=[:=])(\d+)\b", lambda m: str(ports.get(int(m.group(1)), m.group(1))), text)


def compose_services(settings: Settings, ports: dict[int, int]) -> dict[str, Service]:
    """The opgrid services of the compose file, ready to run here."""
    test_values = {
        "OPGRID_REDIS_URL": settings.redis_url,
        "OPGRID_BROKER_URL": settings.broker_url,
        "OPGRID_NAMESPACE": settings.namespace,
        "OPGRID_DEFAULT_QUEUE": settings.default_queue,
        "OPGRID_SECRET": settings.secret.get_secret_value(),
        "OPGRID_LOCATIONS": JOBS,
        "CODE_DIR": str(CODE),
    }
    dot_env = compose_variables(**test_values)  # .env.example with the test's values
    compose = load_compose(dot_env)
    base = {key: value for key, value in os.environ.items() if not key.startswith("OPGRID_")}
    base["PATH"] = f"{BIN}{os.pathsep}{base.get('PATH', '')}"  # opgrid, celery, python
    base["HOSTNAME"] = socket.gethostname()  # what Docker sets in a container
    services = {}
    for name, spec in compose["services"].items():
        if name == "redis":
            continue
        assert spec["env_file"] == ".env"
        # env_file, then the service's own environment, which wins (as in Compose)
        env = {**base, **dot_env, **spec.get("environment", {})}
        if "OPGRID_METRICS_PORT" in env:
            env["OPGRID_METRICS_PORT"] = str(ports[int(env["OPGRID_METRICS_PORT"])])
        for volume in spec.get("volumes", []):  # the code is where the processes run
            assert volume == f"{CODE}:{image_workdir()}:ro"
        argv = [_repoint(arg, ports) for arg in compose_service_argv(spec)]
        if name == "flower":
            argv.append("--address=127.0.0.1")  # a container listens on all of its own
        check = [_repoint(arg, ports) for arg in healthcheck_argv(spec["healthcheck"]["test"])]
        services[name] = Service(name, argv, env, check)
    return services


class Processes:
    """Services started in process groups of their own; all of them stopped on exit."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, service: Service) -> None:
        log = self.logs / f"{service.name}.log"
        # the image's WORKDIR, where the code is mounted
        self.running[service.name] = start(service.argv, service.env, log, cwd=CODE)

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def all_logs(self) -> str:
        return "\n".join(f"--- {name}\n{self.log(name)[-3000:]}" for name in self.running)

    def check_alive(self) -> None:
        for name, process in self.running.items():
            assert process.poll() is None, f"{name} exited:\n{self.log(name)}"

    def stop_all(self) -> None:
        """SIGTERM to every group, then SIGKILL to what is left after the grace period."""
        stop_all(self.running.values())

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop_all()


def wait_until(check: Callable[[], bool], what: str, processes: Processes) -> None:
    deadline = time.monotonic() + HEALTHY_WITHIN_S
    while not check():
        processes.check_alive()
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {HEALTHY_WITHIN_S:g}s\n{processes.all_logs()}")
        time.sleep(0.3)


def passes_healthcheck(service: Service) -> bool:
    """The compose health check, run as Docker runs it (in the container's environment)."""
    completed = subprocess.run(
        service.healthcheck, cwd=CODE, env=service.env, capture_output=True, timeout=30, check=False
    )
    return completed.returncode == 0


def coordinator_alive(settings: Settings) -> bool:
    store = RedisRunStore.from_settings(settings)
    try:
        return bool(store.live_coordinators())
    finally:
        store.client.close()


@pytest.fixture
def ports() -> dict[int, int]:
    return {FLOWER_PORT: free_port(), METRICS_PORT: free_port()}


@pytest.fixture
def processes(tmp_path: Path, namespace: str) -> Iterator[Processes]:
    """The services of a test; none is left running after it, passed or failed."""
    with Processes(tmp_path) as running:
        yield running
    assert _processes_in(namespace) == []


def _processes_in(namespace: str) -> list[int]:
    """Live processes whose environment names this namespace."""
    marker = f"OPGRID_NAMESPACE={namespace}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and marker in _read(proc / "environ").split(b"\0"):
            state = _read(proc / "stat").rsplit(b")", 1)[-1].split()
            found += [int(proc.name)] if state and state[0] != b"Z" else []
    return found


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:  # gone meanwhile, or not ours to read
        return b""


def _flower_json(port: int, path: str, login: str) -> Any:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    request.add_header("Authorization", "Basic " + base64.b64encode(login.encode()).decode())
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


@pytest.mark.timeout(120)
def test_the_compose_services_run_a_submitted_job_and_pass_their_health_checks(
    settings: Settings, ports: dict[int, int], processes: Processes
) -> None:
    services = compose_services(settings, ports)
    for name in ("coordinator", "worker", "flower"):
        processes.start(services[name])

    wait_until(lambda: coordinator_alive(settings), "the coordinator is not up", processes)
    wait_until(lambda: passes_healthcheck(services["worker"]), "the worker is unhealthy", processes)
    submitted = subprocess.run(
        ["opgrid", "job", "submit", "-f", JOBS, "-j", "deploy_check", "--wait", "--timeout", "30"],
        cwd=CODE,  # the user's checkout: the location is spelled as the workers spell it
        env=services["worker"].env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert submitted.returncode == 0, submitted.stdout + submitted.stderr + processes.all_logs()
    assert "  success  numbers" in submitted.stdout
    assert "  success  total" in submitted.stdout
    assert "status  success" in submitted.stdout
    assert "numbers - made on a worker of the deployed cluster" in submitted.stderr

    wait_until(lambda: passes_healthcheck(services["flower"]), "Flower is unhealthy", processes)
    login = read_env_file(ENV_EXAMPLE)["FLOWER_BASIC_AUTH"]
    workers = _flower_json(ports[FLOWER_PORT], "/api/workers?refresh=1", login)
    assert f"celery@{socket.gethostname()}" in workers  # Flower sees the compose worker
    processes.check_alive()


def test_a_health_check_fails_when_its_service_is_down(
    settings: Settings, ports: dict[int, int]
) -> None:
    services = compose_services(settings, ports)

    assert not passes_healthcheck(services["flower"])  # nothing listens on its port
    if not METRICS_PENDING:
        assert not passes_healthcheck(services["coordinator"])


@pytest.mark.skipif(METRICS_PENDING, reason=METRICS_PENDING_REASON)
@pytest.mark.timeout(60)
def test_the_coordinator_passes_its_health_check_and_serves_metrics(
    settings: Settings, ports: dict[int, int], processes: Processes
) -> None:
    services = compose_services(settings, ports)
    processes.start(services["coordinator"])

    wait_until(
        lambda: passes_healthcheck(services["coordinator"]),
        "the coordinator's /healthz does not answer",
        processes,
    )
    url = f"http://127.0.0.1:{ports[METRICS_PORT]}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        assert response.read()
