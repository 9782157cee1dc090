"""What the Cluster page and the ``workers`` query show: every live worker with its pool
and the steps it runs now, the queues, the coordinators with the runs they lease, and
the scheduler leader.

Running steps come from the workers' own announcements (Celery's active requests, sent
with each heartbeat, so nothing is written per step), and each is checked against the
step's claim in one pipelined read: only a delivery whose claim names its attempt and
pool process is shown, never a duplicate being dropped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from .cluster import RunningStep, WorkerInfo, claim_names
from .state import UIState

#: Most active runs whose leases the page reads.
MAX_LEASES_READ = 500


@dataclass(frozen=True, slots=True)
class StepNow:
    """A step a worker runs at this moment."""

    run_id: str
    job_name: str
    step_key: str
    attempt: int
    pid: int
    started_at: float
    elapsed_s: float


@dataclass(frozen=True, slots=True)
class WorkerNow:
    """A live worker as the page shows it (``info`` fields are empty for a worker of an
    older opgrid that announces no description)."""

    hostname: str
    queues: list[str]
    host: str
    pid: int | None
    concurrency: int | None
    pool: str
    running: list[StepNow]


@dataclass(frozen=True, slots=True)
class CoordinatorNow:
    id: str
    #: active runs whose lease it holds, sorted
    runs: list[str]


@dataclass(frozen=True, slots=True)
class ClusterNow:
    workers: list[WorkerNow]
    coordinators: list[CoordinatorNow]
    #: runs whose lease names no live coordinator (they wait for one to adopt them)
    unowned_runs: list[str]
    scheduler_leader: str | None


def workers_now(state: UIState, now: float | None = None) -> list[WorkerNow]:
    """Every live worker, with the steps it runs whose claims it holds."""
    cluster = state.cluster
    queues = cluster.live_workers()
    infos = cluster.live_worker_info()
    candidates = [
        (hostname, info, step) for hostname, info in infos.items() for step in info.running
    ]
    claims = cluster.step_claims([(step.run_id, step.step_key) for _, _, step in candidates])
    held: dict[str, list[RunningStep]] = {}
    for (hostname, info, step), claim in zip(candidates, claims, strict=True):
        if claim_names(claim, info.host, step):
            held.setdefault(hostname, []).append(step)
    clock = time.time() if now is None else now
    return [
        _worker(hostname, qs, infos.get(hostname), held.get(hostname, []), clock)
        for hostname, qs in queues.items()
    ]


def _worker(
    hostname: str, queues: list[str], info: WorkerInfo | None, steps: list[RunningStep], now: float
) -> WorkerNow:
    running = [
        StepNow(
            s.run_id,
            s.job_name,
            s.step_key,
            s.attempt,
            s.pid,
            s.started_at,
            max(0.0, now - s.started_at),
        )
        for s in sorted(steps, key=lambda s: s.started_at)
    ]
    if info is None:
        host = hostname.partition("@")[2] or hostname
        return WorkerNow(hostname, queues, host, None, None, "", running)
    return WorkerNow(hostname, queues, info.host, info.pid, info.concurrency, info.pool, running)


def cluster_now(state: UIState) -> ClusterNow:
    """Workers, coordinators with their leased runs, and the scheduler leader."""
    cluster = state.cluster
    coordinators = cluster.live_coordinators()
    active = cluster.store.active_runs()[:MAX_LEASES_READ]
    leases = cluster.run_leases(active)
    held: dict[str, list[str]] = {c: [] for c in coordinators}
    unowned = []
    for run_id in sorted(active):
        owner = leases.get(run_id)
        if owner in held:
            held[owner].append(run_id)
        else:
            unowned.append(run_id)
    return ClusterNow(
        workers_now(state),
        [CoordinatorNow(c, held[c]) for c in coordinators],
        unowned,
        cluster.scheduler_leader(),
    )
