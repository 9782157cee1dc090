"""The Registry contract (live workers and their queues), on every run store."""

from __future__ import annotations

import time

from opgrid.orchestrator.protocol.presence import RunningStep, WorkerInfo, claim_names
from opgrid.orchestrator.store.base import RunStore

from .runs import begin


def test_announced_workers_are_listed_with_their_queues(store: RunStore) -> None:
    store.worker_heartbeat("w2@host", ["gpu", "default"], ttl_s=30)
    store.worker_heartbeat("w1@host", ["default"], ttl_s=30)
    assert store.live_workers() == {"w1@host": ["default"], "w2@host": ["gpu", "default"]}


def test_a_forgotten_or_lapsed_worker_is_not_listed(store: RunStore) -> None:
    store.worker_heartbeat("w1@host", ["default"], ttl_s=30)
    store.worker_heartbeat("w2@host", ["default"], ttl_s=0.05)
    store.forget_worker("w1@host")
    time.sleep(0.1)
    assert store.live_workers() == {}


def test_an_announcement_renews_a_worker_and_replaces_its_queues(store: RunStore) -> None:
    store.worker_heartbeat("w1@host", ["default"], ttl_s=0.05)
    store.worker_heartbeat("w1@host", ["gpu"], ttl_s=30)
    time.sleep(0.1)
    assert store.live_workers() == {"w1@host": ["gpu"]}


def test_queues_steps_were_sent_to_are_remembered(store: RunStore) -> None:
    assert store.known_queues() == []
    store.remember_queues(["gpu", "default"])
    store.remember_queues(["gpu"])
    store.remember_queues([])
    assert store.known_queues() == ["default", "gpu"]


def test_live_workers_secret_fingerprints_are_listed(store: RunStore) -> None:
    store.worker_heartbeat("w1@host", ["default"], ttl_s=30, fingerprint="abcd1234")
    store.worker_heartbeat("w2@host", ["default"], ttl_s=30)
    store.worker_heartbeat("w3@host", ["default"], ttl_s=0.05, fingerprint="ffff0000")
    time.sleep(0.1)
    assert store.live_fingerprints() == {"w1@host": "abcd1234"}
    store.forget_worker("w1@host")
    assert store.live_fingerprints() == {}


def _info(pid: int, *running: RunningStep) -> WorkerInfo:
    return WorkerInfo(host="box", pid=pid, concurrency=4, pool="prefork", running=running)


def test_live_workers_descriptions_are_listed_and_replaced(store: RunStore) -> None:
    step = RunningStep(run_id="r1", step_key="a", attempt=1, job_name="j", pid=12, started_at=100.0)
    store.worker_heartbeat("w1@box", ["default"], ttl_s=30, info=_info(10))
    store.worker_heartbeat("w1@box", ["default"], ttl_s=30, info=_info(10, step))
    store.worker_heartbeat("w2@box", ["default"], ttl_s=30)
    store.worker_heartbeat("w3@box", ["default"], ttl_s=0.05, info=_info(30))
    time.sleep(0.1)
    assert store.live_worker_info() == {"w1@box": _info(10, step)}
    store.forget_worker("w1@box")
    assert store.live_worker_info() == {}


def test_step_claims_name_the_holder_of_each_step(store: RunStore) -> None:
    store.save_progress("r1", {"one": "queued"}, {}, [])
    begin(store, "box/12/abcd", attempt=1)
    assert store.step_claims([("r1", "one"), ("r1", "two"), ("nope", "one")]) == [
        "1:box/12/abcd",
        None,
        None,
    ]
    step = RunningStep(
        run_id="r1", step_key="one", attempt=1, job_name="tiny", pid=12, started_at=1.0
    )
    assert claim_names("1:box/12/abcd", "box", step)
    assert not claim_names("1:box/120/abcd", "box", step)
    assert not claim_names("2:box/12/abcd", "box", step)
    assert not claim_names(None, "box", step)
