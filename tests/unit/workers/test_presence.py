"""What a worker says about itself with each announcement (``presence.celery_describer``)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from typing import Any

from celery.worker import state

from opgrid.orchestrator.protocol.messages import EXECUTE_STEP
from opgrid.orchestrator.store.memory import InMemoryRunStore
from opgrid.workers.presence import WorkerPresence, celery_describer


class TaskPool:  # named after its module's last part, as Celery's pools are
    limit = 3


TaskPool.__module__ = "celery.concurrency.prefork"


@dataclass
class Consumer:
    pool: Any = field(default_factory=TaskPool)


@dataclass(eq=False)
class Request:
    type: str
    kwargs: dict[str, Any]
    time_start: float | None
    worker_pid: int | None


STEP = {"run_id": "r1", "step_key": "a", "attempt": 2, "job_name": "j", "signature": "x"}


def test_the_description_has_the_pool_and_each_step_a_pool_process_took(monkeypatch) -> None:
    requests = [
        Request(EXECUTE_STEP, STEP, 100.0, 41),
        Request(EXECUTE_STEP, {**STEP, "step_key": "b"}, None, None),  # not taken yet
        Request("opgrid.tick", {}, 100.0, 42),  # not a step
        Request(EXECUTE_STEP, {"step_key": "c"}, 100.0, 43),  # malformed: refused by the task
    ]
    monkeypatch.setattr(state, "active_requests", requests)
    info = celery_describer(Consumer())()
    assert (info.host, info.pid, info.concurrency, info.pool) == (
        socket.gethostname(),
        os.getpid(),
        3,
        "prefork",
    )
    assert [
        (s.run_id, s.step_key, s.attempt, s.job_name, s.pid, s.started_at) for s in info.running
    ] == [("r1", "a", 2, "j", 41, 100.0)]


def test_a_worker_that_cannot_describe_itself_is_still_announced(caplog) -> None:
    def broken() -> Any:
        raise AttributeError("pool has no limit")

    store = InMemoryRunStore()
    presence = WorkerPresence(store, "w1@box", ["q"], describe=broken)
    presence._announce()
    assert store.live_workers() == {"w1@box": ["q"]}
    assert store.live_worker_info() == {}
    assert "could not describe itself" in caplog.text
