"""The reaper alone: which pool processes it kills, and when.

No Celery and no processes: the active requests are plain objects shaped like
Celery's, statuses come from the in-memory run store, the clock is the test's, and
"killing" records the pid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from opgrid.orchestrator.protocol.messages import EXECUTE_STEP
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.memory import InMemoryRunStore
from opgrid.workers.reaper import PoolStep, Reaper, pool_steps, verdict

GRACE_S = 2.0
#: A step that started at 100.0 with a hard time limit of 10 s.
LIMITED = PoolStep(pid=7, task_id="t", run_id="r", step_key="s", started=100.0, hard_limit_s=10.0)


@pytest.mark.parametrize(
    ("canceled_at", "now", "expected"),
    [
        pytest.param(None, 105.0, None, id="running-within-its-limit"),
        pytest.param(104.0, 105.9, None, id="canceled-within-the-grace"),
        pytest.param(104.0, 106.0, "the run was canceled 2.0 s ago", id="canceled-grace-over"),
        pytest.param(None, 111.9, None, id="past-the-hard-limit-within-the-grace"),
        pytest.param(
            None,
            112.0,
            "it ran 12.0 s, past its hard time limit of 10 s",
            id="past-the-hard-limit-grace-over",
        ),
    ],
)
def test_verdict(canceled_at: float | None, now: float, expected: str | None) -> None:
    assert verdict(LIMITED, canceled_at, now, GRACE_S) == expected


def test_a_step_without_a_limit_is_never_killed_for_its_time() -> None:
    step = PoolStep(pid=7, task_id="t", run_id="r", step_key="s", started=0.0)
    assert verdict(step, None, 1e9, GRACE_S) is None


@dataclass
class _Task:
    name: str = EXECUTE_STEP


@dataclass
class _Request:
    """The parts of a Celery request the reaper reads."""

    id: str
    worker_pid: int | None
    kwargs: Any = field(default_factory=lambda: {"run_id": "r", "step_key": "s", "attempt": 0})
    task: _Task = field(default_factory=_Task)
    time_start: float | None = 100.0
    time_limits: tuple[float | None, float | None] = (None, None)


def test_only_step_requests_running_in_another_process_are_watched() -> None:
    requests = [
        _Request("mine", worker_pid=1),  # the worker's own process (solo pool)
        _Request("accepted-not-yet", worker_pid=None),
        _Request("other-task", worker_pid=8, task=_Task("opgrid.tick")),
        _Request("junk", worker_pid=9, kwargs={"nonsense": 1}),
        _Request("step", worker_pid=10, time_limits=(11.0, 10.0)),
    ]
    assert pool_steps(requests, own_pid=1) == [
        PoolStep(pid=10, task_id="step", run_id="r", step_key="s", started=100.0, hard_limit_s=11.0)
    ]


def test_a_canceled_step_still_running_after_the_grace_loses_its_process_once() -> None:
    store = InMemoryRunStore()
    store.save_progress("r", {"s": "running"}, {}, [])
    requests = [_Request("step", worker_pid=10)]
    killed: list[int] = []
    settings = Settings(cancel_grace_s=GRACE_S, step_heartbeat_s=0.5)
    reaper = Reaper(store, settings, requests=lambda: requests, kill=killed.append)
    assert reaper.tick(100.0) == []
    store.save_progress("r", {"s": "canceled"}, {}, [])
    assert reaper.tick(101.0) == []  # first seen canceled: the grace starts now
    assert reaper.tick(102.9) == []
    assert [step.pid for step in reaper.tick(103.0)] == [10]
    assert killed == [10]
    assert reaper.tick(104.0) == []  # the same request, still listed: not killed again
    requests[:] = [_Request("next", worker_pid=11)]  # a new process runs the next step
    assert reaper.tick(105.0) == []  # its step is canceled too, but only seen now
    assert killed == [10]
