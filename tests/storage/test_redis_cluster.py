"""Redis Cluster URLs, the settings that go with them, and a store on a real cluster: its
keys spread over the primaries, and work that goes on while slots move."""

from __future__ import annotations

import socket
import threading
import uuid

import pytest
import redis
from pydantic import ValidationError
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import (
    ClusterDownError,
    ClusterError,
    CrossSlotTransactionError,
    TryAgainError,
)

from opgrid.errors import StorageError
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.planning.state import ValueRef
from opgrid.orchestrator.protocol.status import RunStatus
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.connect import connect, connect_store, translated
from opgrid.orchestrator.store.keys import Keys
from opgrid.orchestrator.store.redis import RedisRunStore
from opgrid.orchestrator.store.redis_cluster import ClusterNodes, parse, stream_read_keys
from tests.harness.redis_cluster import RedisClusterServers

from .runs import PLAN, event, record, start_of


def test_a_cluster_url_names_its_startup_nodes() -> None:
    assert parse("redis+cluster://app:s3cret@10.0.0.1:7000,10.0.0.2:7001/") == ClusterNodes(
        nodes=(("10.0.0.1", 7000), ("10.0.0.2", 7001)), username="app", password="s3cret"
    )
    assert parse("rediss+cluster://h:1").tls
    assert parse("redis+cluster://[::1]:7000/0").nodes == (("::1", 7000),)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("redis+cluster://:pw@/", "names its nodes"),
        ("redis+cluster://:pw@h/", "a cluster node is host:port, not 'h'"),
        ("redis+cluster://:pw@h:1/3", "only database 0"),
        ("redis://:pw@h:1/0", "not a Redis Cluster URL"),
    ],
)
def test_a_bad_cluster_url_is_refused_without_its_password(url: str, says: str) -> None:
    with pytest.raises(StorageError) as raised:
        parse(url)
    assert says in str(raised.value)
    assert "pw" not in str(raised.value)


def test_a_cluster_is_storage_only_so_the_broker_must_be_named() -> None:
    with pytest.raises(ValidationError, match="OPGRID_BROKER_URL"):
        Settings(redis_url="redis+cluster://h:7000/")
    with pytest.raises(ValidationError, match="not to a Redis Cluster"):
        Settings(
            redis_url="redis+cluster://h:7000/", broker_url="redis://b/0", redis_wait_replicas=1
        )
    settings = Settings(redis_url="redis+cluster://h:7000/", broker_url="redis://b:6379/0")
    assert settings.wait_replicas() == 0
    with pytest.raises(StorageError, match="only storage can use"):
        connect("redis+cluster://:pw@h:7000/")


def test_an_unreachable_cluster_is_a_storage_error_without_its_password() -> None:
    with pytest.raises(StorageError, match="cannot reach the Redis Cluster") as raised:
        connect_store("redis+cluster://:pw@127.0.0.1:1/", socket_connect_timeout=0.5)
    assert "pw" not in str(raised.value)


@pytest.mark.parametrize(
    ("error", "hint"),
    [
        (ClusterDownError("CLUSTERDOWN The cluster is down"), True),
        (ClusterError("TTL exhausted."), True),
        (TryAgainError("TRYAGAIN Multiple keys request during rehashing of slot"), True),
        (CrossSlotTransactionError("keys in request don't hash to the same slot"), False),
    ],
    ids=["down", "ttl", "tryagain", "crossslot"],
)
def test_cluster_errors_become_storage_errors_that_say_what_happened(
    error: Exception, hint: bool
) -> None:
    @translated
    def commit() -> None:
        raise error

    with pytest.raises(StorageError) as raised:
        commit()
    assert raised.value.__cause__ is error
    assert type(error).__name__ in str(raised.value)
    assert ("resharding or failing over" in str(raised.value)) is hint


@pytest.mark.integration
def test_runs_spread_over_every_primary_and_list_and_prune_from_all(
    redis_cluster: RedisClusterServers,
) -> None:
    store = RedisRunStore(connect_store(redis_cluster.url), Keys(_namespace()), run_ttl_s=100)
    ids = [f"run-{n}" for n in range(30)]
    for n, run_id in enumerate(ids):
        store.create_run(record(run_id, float(n + 1)), PLAN)
    client: RedisCluster = store.client  # type: ignore[assignment]
    owners = {client.get_node_from_key(store.keys.run(run_id)).port for run_id in ids}
    assert owners == set(redis_cluster.ports)
    assert [r.run_id for r in store.list_runs(limit=100)] == ids[::-1]
    for run_id in ids:
        store.commit_step(run_id, [(ValueRef("one", "result"), b"v")], [event(E.STEP_SUCCESS)])
        done = {"status": RunStatus.SUCCESS, "finished_at": 2.0}
        store.finish_run(record(run_id, 1.0).model_copy(update=done), [], {})
    assert sorted(store.prune_runs(finished_before=1e12)) == sorted(ids)
    assert list(client.scan_iter(match=store.keys.run_pattern(), target_nodes="primaries")) == []
    store.client.close()


@pytest.mark.integration
def test_claims_and_commits_go_on_while_their_slots_move(
    redis_cluster: RedisClusterServers,
) -> None:
    store = RedisRunStore(connect_store(redis_cluster.url), Keys(_namespace()), run_ttl_s=100)
    source, target = redis_cluster.ports[0], redis_cluster.ports[1]
    committed: list[str] = []
    failures: list[BaseException] = []

    def work() -> None:
        try:
            for n in range(300):
                run_id = f"move-{n}"
                store.save_progress(run_id, {"one": "queued"}, {}, [])
                begun = store.begin_attempt(run_id, "one", 0, "w", start_of("one"), 10.0)
                assert begun.verdict.value == "go"
                ref = ValueRef("one", "result")
                assert store.commit_attempt(run_id, ("one", "0:w"), [(ref, b"v")], [], "success")
                committed.append(run_id)
        except BaseException as exc:  # reported by the test below
            failures.append(exc)

    worker = threading.Thread(target=work)
    worker.start()
    before = redis_cluster.slots_of(source)
    redis_cluster.move_slots(2000, source, target)
    worker.join(timeout=60)
    assert not failures, failures
    assert redis_cluster.slots_of(source) == before - 2000
    assert len(committed) == 300
    for run_id in committed:
        assert store.step_statuses(run_id) == {"one": "success"}
        assert store.load_outputs(run_id, [ValueRef("one", "result")]) == [b"v"]
    redis_cluster.move_slots(2000, target, source)
    store.client.close()


def _namespace() -> str:
    return f"t-{uuid.uuid4().hex[:6]}"


def test_on_a_single_redis_event_writes_leave_no_wake_notice(redis_store: RedisRunStore) -> None:
    redis_store.save_progress("r1", {"one": "queued"}, {}, [])
    redis_store.begin_attempt("r1", "one", 0, "w", start_of("one"), 10.0)
    redis_store.commit_attempt("r1", ("one", "0:w"), [], [event(E.STEP_SUCCESS, "one")], "success")
    redis_store.append_events("r1", [event(E.ENGINE_EVENT)])
    assert not redis_store.on_cluster
    assert redis_store.client.exists(redis_store.keys.wake()) == 0


@pytest.mark.integration
def test_on_a_cluster_each_event_write_of_a_worker_or_submitter_leaves_one_notice(
    redis_cluster: RedisClusterServers,
) -> None:
    store = RedisRunStore(connect_store(redis_cluster.url), Keys(_namespace()), run_ttl_s=100)
    store.save_progress("r1", {"one": "queued"}, {}, [event(E.STEP_SKIPPED, "x")])
    store.begin_attempt("r1", "one", 0, "w", start_of("one"), 10.0)
    store.commit_attempt("r1", ("one", "0:w"), [], [event(E.STEP_SUCCESS, "one")], "success")
    store.append_events("r1", [event(E.ENGINE_EVENT)])
    notices = store.client.xrange(store.keys.wake())
    assert [fields[b"run"] for _id, fields in notices] == [b"r1"] * 3
    store.client.close()


def test_a_stream_reads_keys_come_from_its_arguments() -> None:
    assert stream_read_keys(
        ("XREAD", "COUNT", 1, "BLOCK", 5, "STREAMS", "a", "b", "0-0", "1-0")
    ) == [
        "a",
        "b",
    ]
    assert stream_read_keys((b"XREADGROUP", b"GROUP", b"g", b"c", b"STREAMS", b"k", b">")) == [b"k"]
    assert stream_read_keys(("XADD", "k", "*", "e", "1")) is None


def _unreachable_node() -> ClusterNode:
    """A cluster node on a loopback port nothing listens on (a primary that died)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    node = ClusterNode("127.0.0.1", port)  # type: ignore[no-untyped-call]
    node.redis_connection = redis.Redis(port=port, socket_connect_timeout=1)
    return node


@pytest.mark.integration
def test_stream_reads_and_moving_key_commands_outlive_a_dead_default_node(redis_cluster) -> None:
    """redis-py routes a command whose keys move by asking the cluster's default node; when
    that node died (a failover), stream reads are routed from their own arguments and any
    other such command picks another default node."""
    client = connect_store(redis_cluster.url)
    assert isinstance(client, RedisCluster)
    store = RedisRunStore(client, Keys(f"t-{uuid.uuid4().hex[:6]}"), run_ttl_s=100)
    store.create_run(record("r1"), PLAN)
    store.append_events("r1", [event(E.RUN_START)])
    client.nodes_manager.default_node = _unreachable_node()
    assert [e.kind for _, e in store.wait_run("r1", "0-0", 0.1)] == [E.RUN_START]
    assert store.wait_run_end("r1", "0-0", 0.1)[1] is False
    client.nodes_manager.default_node = _unreachable_node()
    assert client.execute_command("ZUNION", 2, "{z}a", "{z}b") == []  # keys by COMMAND GETKEYS
    assert client.get_default_node().port != 0
    client.close()
