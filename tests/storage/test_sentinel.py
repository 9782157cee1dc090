"""Redis Sentinel URLs, the broker settings made from them, and commits that wait for a
replica (``DurableWrites``) on a real redis-server."""

from __future__ import annotations

import logging
import uuid

import pytest
import redis
from redis.sentinel import SentinelConnectionPool

from opgrid.errors import StorageError
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.cli.embedded_redis import RedisServer
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.connect import broker_conf, broker_ssl, connect, safe_url
from opgrid.orchestrator.store.keys import Keys
from opgrid.orchestrator.store.redis import RedisRunStore
from opgrid.orchestrator.store.sentinel import DurableWrites, SentinelGroup, parse

from .runs import event, start_of

URL = "redis+sentinel://:s3cret@10.0.0.1:26379,10.0.0.2:26380/prod/2?sentinel_password=x"


def test_a_sentinel_url_names_the_sentinels_the_service_and_the_db() -> None:
    assert parse(URL) == SentinelGroup(
        sentinels=(("10.0.0.1", 26379), ("10.0.0.2", 26380)),
        service="prod",
        db=2,
        password="s3cret",
        sentinel_password="x",
    )
    assert parse("redis+sentinel://h:1/main").db == 0
    assert parse("rediss+sentinel://h:1/main").tls


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("redis+sentinel://:pw@h:1", "names sentinels and a service"),
        ("redis+sentinel://:pw@/main", "names sentinels and a service"),
        ("redis+sentinel://:pw@h/main", "a sentinel is host:port, not 'h'"),
        ("redis+sentinel://:pw@h:1/main/x", "path is /service[/db]"),
        ("redis://:pw@h:1/0", "not a Sentinel URL"),
    ],
)
def test_a_bad_sentinel_url_is_refused_without_its_password(url: str, says: str) -> None:
    with pytest.raises(StorageError) as raised:
        parse(url)
    assert says in str(raised.value)
    assert "pw" not in str(raised.value)


def test_the_broker_gets_the_same_group_in_kombu_s_form() -> None:
    url, conf = broker_conf(URL)
    assert url == "sentinel://:s3cret@10.0.0.1:26379/2;sentinel://:s3cret@10.0.0.2:26380/2"
    assert conf["broker_transport_options"] == {
        "master_name": "prod",
        "sentinel_kwargs": {"password": "x"},
    }
    assert broker_conf("redis://h:1/0") == (
        "redis://h:1/0",
        {"broker_use_ssl": None, "broker_transport_options": {}},
    )
    assert broker_conf("amqp://h:5672//")[1]["task_queue_max_priority"] == 9
    assert broker_ssl("rediss+sentinel://h:1/prod") is not None
    assert "s3cret" not in safe_url(URL)


def test_storage_connects_to_the_primary_through_the_sentinels() -> None:
    client = connect(URL)
    pool = client.connection_pool
    assert isinstance(pool, SentinelConnectionPool)
    assert pool.service_name == "prod"
    assert pool.connection_kwargs["password"] == "s3cret"
    assert pool.connection_kwargs["db"] == 2


def test_commits_wait_for_one_replica_under_sentinel_unless_told() -> None:
    assert Settings(redis_url=URL).wait_replicas() == 1
    assert Settings(redis_url=URL, redis_wait_replicas=0).wait_replicas() == 0
    assert Settings(redis_url="redis://h:1/0").wait_replicas() == 0
    assert Settings(redis_url="redis://h:1/0", redis_wait_replicas=2).wait_replicas() == 2


@pytest.mark.integration
def test_a_commit_without_a_replica_waits_once_then_pauses_waiting(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    client = redis.Redis.from_url(redis_server.url)
    durable = DurableWrites(replicas=1, timeout_s=0.05)
    store = RedisRunStore(client, Keys(f"t-{uuid.uuid4().hex[:6]}"), 100, durable)
    for step in ("one", "two"):
        store.save_progress("r1", {step: "queued"}, {}, [])
        store.begin_attempt("r1", step, 0, "w1", start_of(step), 10.0)
    with caplog.at_level(logging.WARNING, logger="opgrid.orchestrator.store.sentinel"):
        assert store.commit_attempt("r1", ("one", "0:w1"), [], [event(E.STEP_SUCCESS)], "success")
        assert not durable.wanted()  # the primary has no replica: commits stop waiting
        assert store.commit_attempt("r1", ("two", "0:w1"), [], [], "success")
    (warning,) = caplog.messages
    assert "0 of 1 replica(s) confirmed it within 50 ms" in warning
    assert store.step_statuses("r1") == {"one": "success", "two": "success"}
    client.close()
