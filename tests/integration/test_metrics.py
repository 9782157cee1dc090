"""The coordinator's metrics on a real cluster: a worker process, a coordinator with its
HTTP endpoints, runs that succeed and fail, scraped over HTTP as Prometheus would.

The worker is a real ``opgrid worker`` process (an in-thread test worker never sends
Celery's ``worker_ready``, so it would not announce itself as live).
"""

from __future__ import annotations

import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from opgrid.orchestrator.client.submit import submit
from opgrid.orchestrator.coordinator.dispatch import CeleryDispatcher, Delivery
from opgrid.orchestrator.coordinator.local import CoordinatorThread
from opgrid.orchestrator.coordinator.loop import Coordinator
from opgrid.orchestrator.coordinator.metrics import PrometheusMetrics
from opgrid.orchestrator.coordinator.metrics_server import MetricsServer
from opgrid.orchestrator.protocol.messages import StepRequest
from opgrid.orchestrator.protocol.status import RunStatus
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.keys import queue_lists
from opgrid.orchestrator.store.redis import RedisRunStore
from tests.harness.processes import OPGRID, ROOT, cluster_env, start, stop
from tests.integration.test_cli_cluster import JOBS
from tests.jobs.cli_cluster_jobs import broken, greeting

pytestmark = pytest.mark.integration

#: Longest a run (worker start-up included) may take here.
RUN_TIMEOUT_S = 20.0


def worker_env(settings: Settings) -> dict[str, str]:
    """The cluster's settings for a worker process, the test's own queue included."""
    return cluster_env(
        settings, PYTHONWARNINGS="ignore:You're running the worker with superuser privileges"
    )


def start_worker(
    settings: Settings, jobs: str, log: Path, *options: str
) -> subprocess.Popen[bytes]:
    """``opgrid worker -f jobs`` (solo pool) in a session of its own; its stdout goes to
    ``log``, its stderr (the log lines) to ``log`` with the suffix ``.err``."""
    command = [OPGRID, "worker", "-f", jobs, "--pool", "solo", "-n", f"{settings.namespace}@%h"]
    command += [*options, "--", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    return start(command, worker_env(settings), log, stderr=log.with_suffix(".err"))


def scrape(port: int, path: str = "/metrics") -> tuple[int, str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
        return reply.status, reply.read().decode()


def scrape_finished(port: int, runs: int) -> str:
    """``/metrics`` once the coordinator has counted ``runs`` finished runs (a waiter sees
    a run's end as soon as it is stored, a moment before the coordinator counts it)."""
    deadline = time.monotonic() + 5
    while True:
        _, text = scrape(port)
        found = samples(text)
        counted = sum(
            count for (name, _), count in found.items() if name == "opgrid_runs_finished_total"
        )
        if counted >= runs or time.monotonic() > deadline:
            return text
        time.sleep(0.05)


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """(sample name, labels) -> value, from Prometheus' text format."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str):
    return found.get((name, frozenset(labels.items())))


@pytest.fixture
def store(settings: Settings) -> Iterator[RedisRunStore]:
    store = RedisRunStore.from_settings(settings)
    yield store
    store.client.close()


@pytest.mark.timeout(60)
def test_a_scrape_counts_the_runs_steps_queues_and_workers_of_a_real_cluster(
    settings, store, tmp_path, monkeypatch
):
    monkeypatch.chdir(ROOT)  # the code location is named by the path the worker loads
    worker = start_worker(settings, JOBS, tmp_path / "worker.log")
    dispatcher = CeleryDispatcher(settings)
    metrics = PrometheusMetrics(store, settings)
    coordinator = Coordinator(store, dispatcher, settings, hooks=metrics)
    try:
        with MetricsServer(metrics, 0, host="127.0.0.1") as server, CoordinatorThread(coordinator):
            statuses = []
            for job in (greeting, broken):
                handle = submit(job, location=JOBS, settings=settings)
                try:
                    handle.wait(timeout=RUN_TIMEOUT_S, raise_on_error=False)
                    statuses.append(handle.status)
                finally:
                    handle.close()
            text = scrape_finished(server.port, runs=2)
            health = scrape(server.port, "/healthz")
    finally:
        dispatcher.close()
        metrics.close()
        exit_code = stop(worker)

    assert statuses == [RunStatus.SUCCESS, RunStatus.FAILURE], (tmp_path / "worker.err").read_text()
    assert health == (200, "ok\n")
    found = samples(text)
    # the run counters are by job: "job broken failed" is a query on /metrics alone
    assert value(found, "opgrid_runs_finished_total", job="greeting", status="success") == 1
    assert value(found, "opgrid_runs_finished_total", job="greeting", status="failure") == 0
    assert value(found, "opgrid_runs_finished_total", job="broken", status="failure") == 1
    assert value(found, "opgrid_runs_finished_total", job="broken", status="canceled") == 0
    assert value(found, "opgrid_run_duration_seconds_count", job="broken", status="failure") == 1
    # greeting: greet and count_letters succeed; broken: explode fails, never_runs is abandoned
    assert value(found, "opgrid_steps_finished_total", job="greeting", status="success") == 2
    assert value(found, "opgrid_steps_finished_total", job="broken", status="failure") == 1
    assert value(found, "opgrid_steps_finished_total", job="broken", status="abandoned") == 1
    assert value(found, "opgrid_step_events_total", job="greeting", kind="step_start") == 2
    assert value(found, "opgrid_step_events_total", job="broken", kind="step_start") == 1
    assert value(found, "opgrid_step_events_total", job="greeting", kind="step_success") == 2
    assert value(found, "opgrid_step_events_total", job="broken", kind="step_failure") == 1
    assert value(found, "opgrid_step_events_total", job="greeting", kind="step_output") == 2
    assert value(found, "opgrid_step_duration_seconds_count", job="greeting") == 2
    assert value(found, "opgrid_step_queue_wait_seconds_count", job="broken") == 1
    assert 0 < value(found, "opgrid_step_queue_wait_seconds_sum", job="greeting") < RUN_TIMEOUT_S
    assert value(found, "process_resident_memory_bytes") > 0
    assert any(name.startswith("python_info") for name, _ in found)
    assert value(found, "opgrid_queue_depth", queue=settings.default_queue) == 0
    assert value(found, "opgrid_workers_alive") == 1
    assert value(found, "opgrid_runs", status="started") == 0  # both ended: none owned
    assert value(found, "opgrid_steps", status="running") == 0
    assert exit_code == 0
    assert store.live_workers() == {}  # the worker left the registry as it shut down


def test_queue_depths_read_every_priority_list_kombu_writes(settings, store):
    idle = f"{settings.namespace}-idle"  # a queue nobody consumes
    dispatcher = CeleryDispatcher(settings)
    try:
        dispatcher.dispatch(
            [
                Delivery(StepRequest(run_id="r", step_key=f"s{i}", job_name="j"), idle, priority)
                for i, priority in enumerate((None, 0, 4, 7, 9))
            ]
        )
        assert store.queue_depths([idle, settings.default_queue]) == {
            idle: 5,
            settings.default_queue: 0,
        }
        assert sum(store.client.llen(key) > 0 for key in queue_lists(idle)) >= 3
    finally:
        dispatcher.close()
        store.client.delete(*queue_lists(idle))


def test_the_worker_registry_on_a_real_redis(store):
    store.worker_heartbeat("a@h", ["q1", "q2"], ttl_s=30)
    store.worker_heartbeat("lapsed@h", ["q1"], ttl_s=0.05)
    time.sleep(0.1)

    assert store.live_workers() == {"a@h": ["q1", "q2"]}
    store.forget_worker("a@h")
    assert store.live_workers() == {}
