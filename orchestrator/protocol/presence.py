"""What a live worker says about itself with each announcement (``WorkerInfo``).

A worker's main process writes one of these into the registry every time it renews its
entry (``Registry.worker_heartbeat``): where it runs, how many steps it runs at once,
and the step deliveries its pool is executing at that moment (Celery's own list of
active requests, so nothing is written per step). Readers check each running step
against the step's claim (``claim_names``), so a duplicate delivery that is being
dropped never shows as running.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from .attempts import parse_claim


class RunningStep(BaseModel):
    """One step delivery a worker's pool executes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: str
    step_key: str
    attempt: int
    job_name: str
    #: the pool process running it
    pid: int
    #: when the pool process took it (wall clock, seconds)
    started_at: float


class WorkerInfo(BaseModel):
    """A worker's process, pool and the steps it runs, as of its last announcement."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    #: the machine's hostname (the first part of its claims' worker tokens)
    host: str
    #: the worker's main process
    pid: int
    #: how many steps the pool runs at once
    concurrency: int
    #: the pool's kind (prefork, solo, threads, ...)
    pool: str = ""
    started_at: float = 0.0
    running: tuple[RunningStep, ...] = ()


def claim_names(claim: str | None, host: str, step: RunningStep) -> bool:
    """Whether the stored ``claim`` of ``step`` names this attempt held by the pool
    process ``step.pid`` on ``host`` (worker tokens are ``<host>/<pid>/<random>``)."""
    if claim is None:
        return False
    attempt, holder = parse_claim(claim)
    return attempt == step.attempt and holder.startswith(f"{host}/{step.pid}/")
