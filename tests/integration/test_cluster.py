"""Distributed execution on a real redis-server with real Celery workers."""

from __future__ import annotations

import json
import sys
import time
import uuid
import warnings

import pytest
import redis

from opgrid import ConfigError, In, Nothing, job, op, resource
from opgrid.errors import NoCoordinatorWarning
from opgrid.orchestrator.client.submit import submit
from opgrid.orchestrator.coordinator.dispatch import CeleryDispatcher, Delivery
from opgrid.orchestrator.coordinator.local import CoordinatorThread
from opgrid.orchestrator.coordinator.loop import Coordinator
from opgrid.orchestrator.protocol.messages import StepRequest
from opgrid.orchestrator.protocol.signing import sign_step
from opgrid.orchestrator.protocol.status import RunStatus
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.keys import Keys
from opgrid.orchestrator.store.redis import RedisRunStore
from tests.harness.cluster import running_cluster
from tests.harness.processes import environment, running

pytestmark = pytest.mark.integration


@op
def one() -> int:
    return 1


@op
def add_one(x: int) -> int:
    return x + 1


@pytest.fixture
def cluster(settings):
    with running_cluster(settings) as running:
        yield running


def _client(settings: Settings) -> redis.Redis:
    return redis.Redis.from_url(settings.redis_url)


def test_a_step_message_carries_only_identifiers_as_json_with_a_readable_name(settings):
    dispatcher = CeleryDispatcher(settings)
    request = StepRequest(run_id="r1", step_key="outer.add_one", attempt=2, job_name="j")
    queue = f"probe-{uuid.uuid4().hex[:6]}"
    try:
        dispatcher.dispatch([Delivery(request, queue=queue)])
    finally:
        dispatcher.close()
    client = _client(settings)
    try:
        (raw,) = client.lrange(queue, 0, -1)
        client.delete(queue)
    finally:
        client.close()
    message = json.loads(raw)
    assert message["content-type"] == "application/json"
    assert message["headers"]["task"] == "opgrid.step"
    assert message["headers"]["shadow"] == "j:outer.add_one"  # bounded: job and step
    assert message["headers"]["kwargsrepr"] == "run=r1 job=j step=outer.add_one attempt=2"
    args, kwargs, _ = json.loads(__import__("base64").b64decode(message["body"]))
    signed = sign_step(settings.secret.get_secret_value().encode(), request)
    assert args == [] and kwargs == signed.model_dump(mode="json")
    assert kwargs["signature"]


def test_run_succeeds_and_its_keys_expire_after_it_ends(cluster, settings):
    @job
    def short():
        add_one(one())

    result = cluster.execute(short)
    assert result.success and result.output_for_node("add_one") == 2
    store = RedisRunStore.from_settings(settings)
    try:  # the steps hash ends equal to the run state's final word
        deadline = time.monotonic() + 10
        while store.get_run(result.run_id).status is not RunStatus.SUCCESS:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert store.step_statuses(result.run_id) == {"one": "success", "add_one": "success"}
    finally:
        store.client.close()
    keys = Keys(settings.namespace)
    client = _client(settings)
    try:
        ttls = [client.pttl(key) for key in keys.run_keys(result.run_id)]
        output_ttl = client.pttl(keys.output(result.run_id, "add_one", "result", None))
        active = client.sismember(keys.active(), result.run_id)
    finally:
        client.close()
    existing = [ttl for ttl in ttls if ttl != -2]  # -2: never written (no input refs needed)
    assert len(existing) >= 4
    assert all(0 < ttl <= settings.run_ttl_s * 1000 for ttl in existing), ttls
    assert 0 < output_ttl <= settings.run_ttl_s * 1000
    assert not active


def test_context_log_lines_reach_the_event_stream(cluster):
    @op
    def chatty(context) -> None:
        context.log.info("hello from a worker")

    @job
    def logs():
        chatty()

    result = cluster.execute(logs)
    assert [e.message for e in result.log_messages] == ["hello from a worker"]


def test_resources_are_built_for_each_step_in_the_worker_and_torn_down_after(cluster):
    lifecycle: list[str] = []

    @resource
    def connection(_context):
        lifecycle.append("open")
        yield "conn"
        lifecycle.append("close")

    @op(required_resource_keys={"conn"})
    def first(context) -> str:
        lifecycle.append(f"use:{context.resources.conn}")
        return "a"

    @op(ins={"after": In(Nothing)}, required_resource_keys={"conn"})
    def second(context) -> None:
        lifecycle.append("use:second")

    @job(resource_defs={"conn": connection})
    def with_resource():
        second(after=first())

    assert cluster.execute(with_resource).success
    assert lifecycle == ["open", "use:conn", "close", "open", "use:second", "close"]


def test_bad_config_fails_in_the_caller_before_anything_is_queued(cluster, settings):
    @op(config_schema={"n": int})
    def needs_n(context) -> int:
        return context.op_config["n"]

    @job
    def configured():
        needs_n()

    with pytest.raises(ConfigError, match=r"ops\.needs_n\.config\.n"):
        submit(configured, {"ops": {"needs_n": {"config": {"n": "x"}}}}, settings=settings)
    client = _client(settings)
    try:
        assert client.zcard(Keys(settings.namespace).runs_index()) == 0
    finally:
        client.close()


def test_a_step_of_a_job_the_worker_does_not_have_fails_and_the_worker_keeps_serving(
    cluster, settings
):
    @job
    def unknown_to_workers():
        one()

    handle = submit(unknown_to_workers, settings=settings)
    result = handle.wait(timeout=20)
    handle.close()
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failure.error is not None and "has no job 'unknown_to_workers'" in failure.error.message

    @job
    def known():
        one()

    assert cluster.execute(known).success


def test_queue_tags_route_steps_to_the_workers_of_that_queue(cluster, settings, tmp_path):
    """The in-thread worker serves only the default queue; a worker process serves only
    the tagged op's queue, so the run finishes only if each step went where it belongs."""
    from tests.jobs import routing_jobs

    location = "tests/jobs/routing_jobs.py"
    cluster.app.opgrid_locations.register(routing_jobs.routed)
    env = environment(
        OPGRID_REDIS_URL=settings.redis_url,
        OPGRID_NAMESPACE=settings.namespace,
        OPGRID_SECRET=settings.secret.get_secret_value(),
        OPGRID_LOCATIONS=location,
    )
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "opgrid.workers.app",
        "worker",
        "-Q",
        routing_jobs.SPECIAL_QUEUE,
        "--pool",
        "solo",
        "--loglevel",
        "WARNING",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    with running(command, env, tmp_path / "worker.log"):
        handle = submit(routing_jobs.routed, location=location, settings=settings)
        result = handle.wait(timeout=25)
        handle.close()
    assert result.success and result.output_for_node("on_special_queue") == 10


def test_many_runs_at_once_all_succeed(cluster, settings):
    @job
    def small():
        add_one(add_one(one()))

    cluster.app.opgrid_locations.register(small)
    handles = [submit(small, settings=settings) for _ in range(20)]
    results = [h.wait(timeout=25) for h in handles]
    for handle in handles:
        handle.close()
    assert all(r.success and r.output_for_node("add_one_2") == 3 for r in results)


def test_cancel_stops_a_run(cluster, settings):
    @op
    def slow() -> int:
        time.sleep(1.0)
        return 1

    @job
    def long_chain():
        add_one(add_one(slow()))

    cluster.app.opgrid_locations.register(long_chain)
    handle = submit(long_chain, settings=settings)
    time.sleep(0.3)
    handle.cancel()
    result = handle.wait(timeout=20)
    deadline = time.monotonic() + 10
    while handle.status is not RunStatus.CANCELED and time.monotonic() < deadline:
        time.sleep(0.1)
    status = handle.status
    handle.close()
    assert not result.success
    assert status is RunStatus.CANCELED
    assert not result.is_node_success("add_one_2")


def test_submitting_without_a_live_coordinator_warns_how_to_start_one(settings):
    @job
    def orphan():
        one()

    with pytest.warns(NoCoordinatorWarning, match="opgrid coordinator"):
        handle = submit(orphan, settings=settings)
    handle.close()


def test_a_coordinator_inside_the_submitting_process_runs_the_run(settings):
    @job
    def local():
        add_one(one())

    store = RedisRunStore.from_settings(settings)
    dispatcher = CeleryDispatcher(settings)
    with running_cluster(settings) as running:  # its own coordinator is enough; add a second
        running.app.opgrid_locations.register(local)
        second = Coordinator(store, dispatcher, settings)
        with CoordinatorThread(second), warnings.catch_warnings():
            warnings.simplefilter("error")
            handle = submit(local, settings=settings)
            assert handle.wait(timeout=20).output_for_node("add_one") == 2
            handle.close()
    dispatcher.close()
    store.client.close()


def test_one_coordinator_drives_200_runs_at_once(cluster, settings):
    @job
    def pair():
        add_one(one())

    cluster.app.opgrid_locations.register(pair)
    handles = [submit(pair, settings=settings) for _ in range(200)]
    try:
        results = [h.wait(timeout=60) for h in handles]
    finally:
        for handle in handles:
            handle.close()
    assert sum(r.success for r in results) == 200
    assert {r.output_for_node("add_one") for r in results} == {2}


def test_an_output_over_the_size_limit_fails_its_step_naming_the_op_and_output(settings):
    @op
    def big() -> bytes:
        return b"x" * 10_000

    @job
    def too_big():
        big()

    with running_cluster(settings.model_copy(update={"max_output_bytes": 1000})) as small:
        result = small.execute(too_big, raise_on_error=False)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failure.error is not None
    assert 'output "result" of op "big"' in failure.error.message
    assert "the limit is 1,000" in failure.error.message


def test_outputs_can_live_on_a_shared_volume(settings, tmp_path):
    @job
    def on_volume():
        add_one(one())

    with running_cluster(settings.model_copy(update={"output_dir": str(tmp_path)})) as shared:
        result = shared.execute(on_volume)
    assert result.output_for_node("add_one") == 2
    assert len([p for p in tmp_path.rglob("*") if p.is_file()]) == 2  # one file per output
