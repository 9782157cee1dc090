"""Runs on a Redis Cluster: storage on a real three-primary cluster on loopback, the
broker on a plain redis-server of its own, a real ``opgrid worker`` and ``opgrid
coordinator``; the runs complete with the right outputs, also while their slots move."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from opgrid.errors import StorageError
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.cli.embedded_redis import RedisServer
from opgrid.orchestrator.client.submit import RunHandle, submit
from opgrid.orchestrator.protocol.status import RunStatus
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.keys import Keys
from opgrid.orchestrator.store.redis import RedisRunStore
from opgrid.orchestrator.ui import runs_query
from opgrid.orchestrator.ui.cluster import ClusterHandle
from opgrid.orchestrator.ui.runs_query import RunFilter
from tests.harness.processes import OPGRID, Processes, cluster_env
from tests.harness.redis_cluster import RedisClusterServers
from tests.jobs import redis_cluster_jobs as jobs

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

#: The code location, relative to the repository root, as workers and submitters name it.
JOBS = "tests/jobs/redis_cluster_jobs.py"


@pytest.fixture
def on_cluster(
    redis_cluster: RedisClusterServers, redis_server: RedisServer, namespace: str
) -> Settings:
    """Storage on the cluster, the broker on the session's plain redis-server."""
    return Settings(
        redis_url=redis_cluster.url,
        broker_url=redis_server.url,
        namespace=namespace,
        secret="test-secret",
        default_queue=namespace,
        block_s=0.3,
    )


@pytest.fixture
def procs(on_cluster: Settings, tmp_path: Path) -> Iterator[Processes]:
    started = Processes(on_cluster, tmp_path)
    try:
        started.worker("w1", concurrency=2, location=JOBS)
        started.coordinator("c1")
        yield started
    finally:
        started.stop_all()


def _submit(settings: Settings, job: object, **kwargs: object) -> RunHandle:
    return submit(job, settings=settings, location=JOBS, **kwargs)  # type: ignore[arg-type]


def _done(handle: RunHandle, procs: Processes, timeout_s: float) -> object:
    try:
        result = handle.wait(timeout=timeout_s)
    except BaseException:
        print("\n".join(proc.text()[-4000:] for proc in procs.started))
        raise
    assert result.success, [e.message for e in handle.events() if e.kind is E.STEP_FAILURE]
    return result


def test_seed_jobs_a_map_a_retry_and_a_1000_step_fan_out_complete_with_their_outputs(
    on_cluster: Settings, procs: Processes, redis_cluster: RedisClusterServers
) -> None:
    config = {"simplified_param": "stuff"}
    handles = {
        "do_stuff": _submit(on_cluster, jobs.do_stuff),
        "inputs_and_outputs": _submit(on_cluster, jobs.inputs_and_outputs),
        "simplified": _submit(on_cluster, jobs.do_it_all_with_simplified_config, run_config=config),
        "fan_in": _submit(on_cluster, jobs.fan_in),
        "mapped": _submit(on_cluster, jobs.mapped),
        "retried": _submit(on_cluster, jobs.retried),
    }
    results = {name: _done(handle, procs, 60) for name, handle in handles.items()}
    assert results["do_stuff"].output_for_node("add_one") == 6  # type: ignore[attr-defined]
    assert results["inputs_and_outputs"].output_for_node("adder") == 4  # type: ignore[attr-defined]
    assert results["simplified"].output_for_node("do_something") == "stuff"  # type: ignore[attr-defined]
    assert results["fan_in"].output_for_node("sum_fan_in") == 10  # type: ignore[attr-defined]
    assert results["mapped"].output_for_node("total") == 55  # type: ignore[attr-defined]
    assert results["retried"].output_for_node("add_one") == 12  # type: ignore[attr-defined]
    retries = [e for e in handles["retried"].events() if e.kind is E.STEP_UP_FOR_RETRY]
    assert len(retries) == 1

    wide = _submit(on_cluster, jobs.wide, run_config=_start(7))
    result = _done(wide, procs, 180)
    assert result.output_for_node("combine") == jobs.wide_expected(7)  # type: ignore[attr-defined]
    successes = [e for e in wide.events() if e.kind is E.STEP_SUCCESS]
    assert len(successes) == jobs.WIDE

    # the runs' keys are spread over the primaries; listing and pruning reach every one
    keys = Keys(on_cluster.namespace)
    owners = {redis_cluster.owner_of(keys.run(h.run_id)) for h in [*handles.values(), wide]}
    assert len(owners) > 1
    _ui_pages_list(on_cluster, [*handles.values(), wide])
    listed = _cli(on_cluster, "run", "list", "--limit", "20")
    assert all(h.run_id[:8] in listed for h in [*handles.values(), wide]), listed
    _cli(on_cluster, "run", "prune", "--older-than", "0s")
    store = RedisRunStore.from_settings(on_cluster)
    try:
        assert store.list_runs() == []
        pattern = keys.run_pattern()
        assert not list(store.client.scan_iter(match=pattern, target_nodes="primaries"))
    finally:
        store.client.close()


def test_a_run_completes_while_its_slot_and_the_submissions_slot_move(
    on_cluster: Settings, procs: Processes, redis_cluster: RedisClusterServers
) -> None:
    keys = Keys(on_cluster.namespace)
    wide = _submit(on_cluster, jobs.wide, run_config=_start(3))
    client = redis_cluster.client()
    run_slot = client.keyslot(keys.run(wide.run_id))
    submissions_slot = client.keyslot(keys.submissions())
    before = {slot: redis_cluster.port_of_slot(slot) for slot in (run_slot, submissions_slot)}
    _until_steps_succeed(wide, 50)
    assert wide.status is RunStatus.STARTED
    succeeded = _successes(wide)
    for slot, port in before.items():
        target = next(p for p in redis_cluster.ports if p != port)
        redis_cluster.move_slot(slot, target)
    assert all(redis_cluster.port_of_slot(slot) != port for slot, port in before.items())
    assert _successes(wide) > succeeded, "no step committed while the slots moved"
    result = _done(wide, procs, 180)
    assert result.output_for_node("combine") == jobs.wide_expected(3)  # type: ignore[attr-defined]
    # a run submitted once the submissions stream has moved is picked up too
    later = _done(_submit(on_cluster, jobs.do_stuff), procs, 30)
    assert later.output_for_node("add_one") == 6  # type: ignore[attr-defined]
    client.close()


def _done_across_failover(handle: RunHandle, procs: Processes, timeout_s: float) -> object:
    """``_done``, for this process's own waiter: its client may still be reaching for the
    killed node when it gives up (a loaded machine's failover outlasts redis-py's
    retries), which is the waiter's outage, not the run's; it waits again."""
    deadline = time.monotonic() + timeout_s
    while (result := _done_unless_unreachable(handle, procs, deadline)) is None:
        time.sleep(1.0)
    return result


def _done_unless_unreachable(handle: RunHandle, procs: Processes, deadline: float) -> object:
    try:
        return _done(handle, procs, max(1.0, deadline - time.monotonic()))
    except StorageError:
        if time.monotonic() > deadline:
            raise
        return None


def test_a_run_completes_when_the_primary_of_its_slot_is_killed_and_its_replica_takes_over(
    redis_server: RedisServer, namespace: str, tmp_path: Path
) -> None:
    with RedisClusterServers(tmp_path / "cluster", replicas=1) as servers:
        settings = Settings(
            redis_url=servers.url,
            broker_url=redis_server.url,
            namespace=namespace,
            secret="test-secret",
            default_queue=namespace,
            block_s=0.3,
        )
        started = Processes(settings, tmp_path)
        try:
            started.worker("w1", concurrency=2, location=JOBS)
            started.coordinator("c1")
            wide = _submit(settings, jobs.wide, run_config=_start(5))
            client = servers.client()
            slot = client.keyslot(Keys(namespace).run(wide.run_id))
            client.close()
            _until_steps_succeed(wide, 50)
            old = servers.port_of_slot(slot)
            servers.kill_primary(old)
            assert servers.wait_for_failover(slot, old) != old
            result = _done_across_failover(wide, started, 180)
            assert result.output_for_node("combine") == jobs.wide_expected(5)  # type: ignore[attr-defined]
            later = _done(_submit(settings, jobs.do_stuff), started, 60)
            assert later.output_for_node("add_one") == 6  # type: ignore[attr-defined]
        finally:
            started.stop_all()


def _ui_pages_list(settings: Settings, handles: list[RunHandle]) -> None:
    """The UI's run listing pages through the runs, newest first, and filters by job."""
    cluster = ClusterHandle.open(settings)
    try:
        seen: list[str] = []
        cursor = None
        while True:
            page = runs_query.list_runs(cluster, RunFilter(), limit=3, cursor=cursor)
            seen += [record.run_id for record in page.runs]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == [h.run_id for h in reversed(handles)]
        only = runs_query.list_runs(cluster, RunFilter(job="wide"))
        assert [record.run_id for record in only.runs] == [handles[-1].run_id]
    finally:
        cluster.close()


def _successes(handle: RunHandle) -> int:
    return sum(e.kind is E.STEP_SUCCESS for e in handle.events())


def _until_steps_succeed(handle: RunHandle, count: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while _successes(handle) < count:
        assert time.monotonic() < deadline, f"fewer than {count} steps succeeded"
        time.sleep(0.1)


def _start(value: int) -> dict[str, object]:
    return {"ops": {"start": {"config": {"value": value}}}}


def _cli(settings: Settings, *args: str) -> str:
    done = subprocess.run(
        [OPGRID, *args],
        env=cluster_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout
