"""The coordinator's metrics fed synthetic events, its HTTP endpoints, and the worker registry
(on fakeredis; ``tests/integration/test_metrics.py`` runs them on a real cluster)."""

from __future__ import annotations

import ast
import socket
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import fakeredis
import pytest
from prometheus_client.parser import text_string_to_metric_families

from opgrid import job, op
from opgrid.errors import OpgridError
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.coordinator import loop as coordinator_loop
from opgrid.orchestrator.coordinator import metrics as metrics_module
from opgrid.orchestrator.coordinator import metrics_server as metrics_server_module
from opgrid.orchestrator.coordinator.dispatch import Delivery
from opgrid.orchestrator.coordinator.hooks import Counts, Hooks
from opgrid.orchestrator.coordinator.loop import Coordinator
from opgrid.orchestrator.coordinator.metrics import PrometheusMetrics
from opgrid.orchestrator.coordinator.metrics_server import MetricsServer, served_metrics
from opgrid.orchestrator.planning.compiler import compile_plan
from opgrid.orchestrator.protocol.events import RunEvent
from opgrid.orchestrator.protocol.messages import RunRecord, StepRequest
from opgrid.orchestrator.protocol.status import RunStatus, StepStatus
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.keys import Keys, queue_lists
from opgrid.orchestrator.store.redis import RedisRunStore
from opgrid.workers.presence import WorkerPresence

from .dispatchers import Recorder

RUN = "run-1"


@op(tags={"opgrid/queue": "gpu"})
def first() -> int:
    return 1


@op
def second(x: int) -> int:
    return x + 1


@job
def two_steps():
    second(first())


@pytest.fixture
def client() -> Iterator[fakeredis.FakeRedis]:
    redis_client = fakeredis.FakeRedis()
    yield redis_client
    redis_client.close()


@pytest.fixture
def store(client: fakeredis.FakeRedis) -> RedisRunStore:
    return RedisRunStore(client, Keys(f"m-{uuid.uuid4().hex[:6]}"), run_ttl_s=60)


@pytest.fixture
def settings() -> Settings:
    return Settings(default_queue="default", block_s=0.01, lease_s=0.2)


@pytest.fixture
def metrics(store: RedisRunStore, settings: Settings) -> PrometheusMetrics:
    return PrometheusMetrics(store, settings, broker=store.client)


def _record(status: RunStatus = RunStatus.STARTED) -> RunRecord:
    return RunRecord(run_id=RUN, job_name="two_steps", status=status, created_at=time.time())


def _event(kind: E, step: str | None, at: float) -> RunEvent:
    return RunEvent(run_id=RUN, kind=kind, timestamp=at, step_key=step)


def _delivery(step: str, queue: str) -> Delivery:
    request = StepRequest(run_id=RUN, step_key=step, job_name="two_steps")
    return Delivery(request, queue=queue)


def _value(metrics: PrometheusMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_step_events_durations_and_queue_waits_come_from_the_events(metrics):
    record, now = _record(), time.time()
    metrics.before_dispatch([_delivery("first", "gpu"), _delivery("second", "default")])
    metrics.after_event(record, _event(E.STEP_START, "first", now + 0.5))
    metrics.after_event(record, _event(E.STEP_OUTPUT, "first", now + 1.0))
    metrics.after_event(record, _event(E.STEP_SUCCESS, "first", now + 2.5))
    metrics.after_event(record, _event(E.LOG_MESSAGE, "first", now + 2.6))  # not a step event
    metrics.after_event(record, _event(E.RUN_START, None, now))
    metrics.after_event(record, _event(E.STEP_START, "second", now + 1.0))
    metrics.after_event(record, _event(E.STEP_FAILURE, "second", now + 1.25))
    metrics.after_event(record, _event(E.STEP_SUCCESS, "second", now + 1.5))  # duplicate: not timed
    metrics.after_finish(_record(RunStatus.FAILURE))

    assert _value(metrics, "opgrid_step_events_total", job="two_steps", kind="step_start") == 2
    assert _value(metrics, "opgrid_step_events_total", job="two_steps", kind="step_output") == 1
    assert _value(metrics, "opgrid_step_events_total", job="two_steps", kind="step_success") == 2
    assert _value(metrics, "opgrid_step_events_total", job="two_steps", kind="step_failure") == 1
    assert _value(metrics, "opgrid_step_events_total", job="two_steps", kind="step_skipped") == 0
    assert _value(metrics, "opgrid_step_events_total", job="two_steps", kind="log_message") is None
    assert _value(metrics, "opgrid_step_duration_seconds_count", job="two_steps") == 2
    assert _value(metrics, "opgrid_step_duration_seconds_sum", job="two_steps") == pytest.approx(
        2.25, abs=0.01
    )
    assert _value(metrics, "opgrid_step_queue_wait_seconds_count", job="two_steps") == 2
    waited = _value(metrics, "opgrid_step_queue_wait_seconds_sum", job="two_steps")
    assert waited == pytest.approx(1.5, abs=0.1)  # from when each was sent
    assert _value(metrics, "opgrid_runs_finished_total", job="two_steps", status="failure") == 1
    assert _value(metrics, "opgrid_runs_finished_total", job="two_steps", status="success") == 0


def test_gauges_count_the_owned_runs_steps_queues_and_live_workers(metrics, store, client):
    coordinator = Coordinator(store, Recorder(), metrics.settings, hooks=metrics)
    plan = compile_plan(two_steps)
    store.create_run(_record(RunStatus.QUEUED), plan)
    assert coordinator.adopt(RUN)
    client.rpush(queue_lists("gpu")[0], b"m1")
    client.rpush(queue_lists("gpu")[3], b"m2")  # priority 9
    store.worker_heartbeat("w1@host", ["default", "gpu"], ttl_s=30)
    store.worker_heartbeat("gone@host", ["default"], ttl_s=-1)

    assert _value(metrics, "opgrid_runs", status="started") == 1
    assert _value(metrics, "opgrid_runs", status="queued") == 0
    assert _value(metrics, "opgrid_steps", status="queued") == 1
    assert _value(metrics, "opgrid_steps", status="pending") == 1
    assert _value(metrics, "opgrid_steps", status="success") == 0
    assert _value(metrics, "opgrid_queue_depth", queue="gpu") == 2
    assert _value(metrics, "opgrid_queue_depth", queue="default") == 0
    assert _value(metrics, "opgrid_workers_alive") == 1

    for step in ("first", "second"):  # what workers would report
        at = time.time()
        output = RunEvent(
            run_id=RUN, kind=E.STEP_OUTPUT, timestamp=at, step_key=step, output_name="result"
        )
        done = [_event(E.STEP_START, step, at), output, _event(E.STEP_SUCCESS, step, at)]
        store.append_events(RUN, done)
        for _ in range(3):
            coordinator.step(0.01)
    assert RUN not in coordinator.runs
    assert _value(metrics, "opgrid_runs", status="started") == 0
    assert _value(metrics, "opgrid_steps", status="queued") == 0
    assert _value(metrics, "opgrid_runs_finished_total", job="two_steps", status="success") == 1
    assert _value(metrics, "opgrid_step_duration_seconds_count", job="two_steps") == 2
    assert _value(metrics, "opgrid_step_queue_wait_seconds_count", job="two_steps") == 2


def test_healthz_turns_503_when_the_loop_stops_turning_and_metrics_parse(metrics):
    with MetricsServer(metrics, 0, host="127.0.0.1") as server:
        base = f"http://127.0.0.1:{server.port}"
        metrics.after_turn()
        with urllib.request.urlopen(f"{base}/healthz", timeout=5) as reply:
            assert (reply.status, reply.read()) == (200, b"ok\n")
        with urllib.request.urlopen(f"{base}/metrics", timeout=5) as reply:
            text = reply.read().decode()
            assert reply.headers["Content-Type"].startswith("text/plain")
        time.sleep(metrics.stale_after_s + 0.05)
        with pytest.raises(urllib.error.HTTPError) as stale:
            urllib.request.urlopen(f"{base}/healthz", timeout=5)
        stale.value.close()
        assert stale.value.code == 503
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{base}/other", timeout=5)
        missing.value.close()
        assert missing.value.code == 404
    names = {family.name for family in text_string_to_metric_families(text)}
    assert {
        "opgrid_runs",
        "opgrid_runs_finished",
        "opgrid_steps",
        "opgrid_step_events",
        "opgrid_step_duration_seconds",
        "opgrid_step_queue_wait_seconds",
        "opgrid_queue_depth",
        "opgrid_workers_alive",
    } <= names


def test_the_default_hooks_do_nothing():
    hooks = Hooks()
    hooks.after_event(_record(), _event(E.STEP_START, "first", time.time()))
    hooks.before_dispatch([_delivery("first", "gpu")])
    hooks.after_finish(_record(RunStatus.SUCCESS))
    hooks.after_count(Counts(runs={RunStatus.STARTED: 1}, steps={}))
    hooks.after_turn()


def test_the_gauges_show_the_last_counts_handed_over_and_zero_for_the_rest(metrics):
    assert _value(metrics, "opgrid_runs", status="started") == 0  # nothing handed over yet
    metrics.after_count(
        Counts(
            runs={RunStatus.STARTED: 2},
            steps={StepStatus.RUNNING: 3, StepStatus.SUCCESS: 1},
        )
    )
    assert _value(metrics, "opgrid_runs", status="started") == 2
    assert _value(metrics, "opgrid_runs", status="queued") == 0
    assert _value(metrics, "opgrid_steps", status="running") == 3
    assert _value(metrics, "opgrid_steps", status="success") == 1
    assert _value(metrics, "opgrid_steps", status="pending") == 0
    metrics.after_count(Counts(runs={}, steps={}))
    assert _value(metrics, "opgrid_runs", status="started") == 0
    assert _value(metrics, "opgrid_steps", status="running") == 0


def test_the_metrics_never_see_the_coordinator_and_the_loop_sees_only_the_hooks():
    for module in (metrics_module, metrics_server_module):
        source = Path(module.__file__).read_text()
        assert "Coordinator" not in source
        assert "watch" not in source
    loop_imports = {
        node.module
        for node in ast.walk(ast.parse(Path(coordinator_loop.__file__).read_text()))
        if isinstance(node, ast.ImportFrom)
    }
    assert "metrics" not in loop_imports and "hooks" in loop_imports


def test_two_metrics_objects_in_one_process_do_not_share_a_registry(store, settings):
    one = PrometheusMetrics(store, settings, broker=store.client)
    two = PrometheusMetrics(store, settings, broker=store.client)
    one.after_finish(_record(RunStatus.SUCCESS))
    assert _value(one, "opgrid_runs_finished_total", job="two_steps", status="success") == 1
    assert _value(two, "opgrid_runs_finished_total", job="two_steps", status="success") is None


def test_a_broker_that_is_not_redis_gives_no_queue_depths(store):
    settings = Settings(broker_url="amqp://guest@localhost//", default_queue="default")
    metrics = PrometheusMetrics(store, settings)
    assert _value(metrics, "opgrid_queue_depth", queue="default") is None
    assert _value(metrics, "opgrid_workers_alive") == 0


def test_a_port_that_is_taken_is_a_clear_error(store):
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = Settings(metrics_port=port)
        with pytest.raises(OpgridError, match=f"cannot serve metrics on 127.0.0.1:{port}: "):
            with served_metrics(store, settings):
                pass


# The registry of live workers ----------------------------------------------------------------
def test_live_workers_lists_hostnames_with_queues_until_they_lapse_or_leave(store):
    store.worker_heartbeat("a@h", ["q1", "q2"], ttl_s=30)
    store.worker_heartbeat("b@h", ["q1"], ttl_s=30)
    store.worker_heartbeat("old@h", ["q1"], ttl_s=-1)

    assert store.live_workers() == {"a@h": ["q1", "q2"], "b@h": ["q1"]}
    store.forget_worker("a@h")
    assert store.live_workers() == {"b@h": ["q1"]}
    assert store.client.hkeys(store.keys.worker_queues()) == [b"b@h"]  # lapsed ones dropped


def test_a_worker_presence_announces_until_stopped(store, client):
    presence = WorkerPresence(store, "w@h", ["default"], every_s=0.05)
    presence.start()
    try:
        assert store.live_workers() == {"w@h": ["default"]}
        time.sleep(0.2)  # renewed meanwhile: its first entry would have lapsed after 0.15 s
        assert store.live_workers() == {"w@h": ["default"]}
    finally:
        presence.stop()
    assert store.live_workers() == {}


def test_a_restarted_coordinator_still_reports_the_queues_steps_were_sent_to(store, settings):
    before = PrometheusMetrics(store, settings, broker=store.client)
    before.before_dispatch([_delivery("first", "gpu")])
    before.close()
    after = PrometheusMetrics(store, settings, broker=store.client)  # knows nothing itself
    store.worker_heartbeat("w1@host", ["reports"], ttl_s=30)
    assert _value(after, "opgrid_queue_depth", queue="gpu") == 0
    assert _value(after, "opgrid_queue_depth", queue="reports") == 0  # a live worker's queue
    after.close()
