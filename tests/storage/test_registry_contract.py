"""The Registry contract (live workers and their queues), on every run store."""

from __future__ import annotations

import time

from opgrid.orchestrator.store.base import RunStore


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
