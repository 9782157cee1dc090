"""Data that crosses a process boundary or is stored: step requests, run records, inputs.

Every model is frozen, forbids unknown fields and carries ``schema_version``.
Field names are permanent: add fields with defaults, never rename.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .status import RunStatus, StepStatus

#: Longest run id or job name a step request may carry.
MAX_ID_CHARS = 256
#: Longest step key (node handle path plus mapping key) or code location a request may carry.
MAX_STEP_KEY_CHARS = 4096
#: Highest attempt number a step request may carry.
MAX_ATTEMPT = 1_000_000


class StepRequest(BaseModel):
    """The body of one ``opgrid.step`` task: identifiers only, nothing to import."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    run_id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    step_key: str = Field(min_length=1, max_length=MAX_STEP_KEY_CHARS)
    attempt: int = Field(default=0, ge=0, le=MAX_ATTEMPT)
    job_name: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    #: the code location the job came from; None lets a worker use any that has the job
    location: str | None = Field(default=None, max_length=MAX_STEP_KEY_CHARS)
    #: hex HMAC-SHA256 of the fields above with ``OPGRID_SECRET`` (``signing.sign_step``);
    #: workers refuse a request without a valid one
    signature: str = Field(default="", max_length=128)


class RunRecord(BaseModel):
    """What is stored about a run besides its plan and events."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    run_id: str
    job_name: str
    location: str | None = None
    status: RunStatus = RunStatus.QUEUED
    tags: dict[str, Any] = {}
    partition_key: str | None = None
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    #: the run this one re-executes, if any
    parent_run_id: str | None = None
    #: for a re-execution: the parent's succeeded steps (in the order they succeeded)
    #: whose outputs this run reuses -> output name -> mapping keys yielded
    reused: dict[str, dict[str, list[str | None]]] = {}


class RunSummary(BaseModel):
    """What a run ended with, written with its final record by the coordinator.

    Waiters, results and re-executions read it instead of replaying the event log
    (replay stays the recovery path, for a run that has not finished).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    status: RunStatus
    #: every step, mapped copies included -> its final status
    steps: dict[str, StepStatus]
    #: step key -> output name -> mapping keys yielded, for the steps that yielded any
    yielded: dict[str, dict[str, list[str | None]]] = {}
    #: the steps that succeeded, in the order they did (reused ones first)
    succeeded: list[str] = []


class StepInputs(BaseModel):
    """For one dispatched step: the stored values each input reads, in order.

    Written by the coordinator (from its ``RunState``) when it dispatches the step,
    read by the worker that runs it, so workers never work out the run's state.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    #: input name -> [(step key, output name, mapping key or None), ...]
    refs: dict[str, list[tuple[str, str, str | None]]] = {}


#: The pseudo step whose "outputs" are the values given to a run's top-level inputs.
RUN_INPUTS_STEP = "__run_inputs__"
#: The pseudo output under which a failed step stores the exception to re-raise.
ERROR_OUTPUT = "__error__"
#: The name of the one Celery task that runs a step (workers register it under this name).
EXECUTE_STEP = "opgrid.step"


def task_id(request: StepRequest) -> str:
    """The Celery task id of a step attempt: the same for every send of that attempt, so
    the coordinator can revoke it and a duplicate send is recognisable."""
    return f"{request.run_id}:{request.step_key}:{request.attempt}"


def parse_task_id(value: str) -> tuple[str, str, int] | None:
    """(run id, step key, attempt) of a ``task_id``; None for any other task id."""
    run_id, _, rest = value.partition(":")
    step_key, _, attempt = rest.rpartition(":")
    if not run_id or not step_key or not attempt.isdigit():
        return None
    return run_id, step_key, int(attempt)
