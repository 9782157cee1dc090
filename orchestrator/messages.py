"""Data that crosses a process boundary or is stored: run events and the models they use.

Every model is frozen, forbids unknown fields and carries ``schema_version``.
Field names are permanent: add fields with defaults, never rename.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from opgrid.event_type import DagsterEventType


class StepStatus(str, Enum):
    """Where a step is in its life; the value is stored as-is."""

    PENDING = "pending"  #: waiting for its inputs
    QUEUED = "queued"  #: dispatched, not started
    RUNNING = "running"
    UP_FOR_RETRY = "up_for_retry"  #: failed, another attempt is due
    SUCCESS = "success"
    FAILURE = "failure"
    SKIPPED = "skipped"  #: an input was never produced
    ABANDONED = "abandoned"  #: an upstream step failed; it will never run
    CANCELED = "canceled"


#: Statuses a step never leaves.
FINAL_STEP_STATUSES = frozenset(
    {
        StepStatus.SUCCESS,
        StepStatus.FAILURE,
        StepStatus.SKIPPED,
        StepStatus.ABANDONED,
        StepStatus.CANCELED,
    }
)


class RunStatus(str, Enum):
    """Where a run is in its life; the value is stored as-is."""

    QUEUED = "queued"
    STARTED = "started"
    SUCCESS = "success"
    FAILURE = "failure"
    CANCELED = "canceled"


#: Statuses a run never leaves.
FINAL_RUN_STATUSES = frozenset({RunStatus.SUCCESS, RunStatus.FAILURE, RunStatus.CANCELED})


class ErrorInfo(BaseModel):
    """An exception, as text that can be stored and shown anywhere."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cls_name: str
    message: str
    stack: str = ""

    @staticmethod
    def from_exception(exc: BaseException) -> ErrorInfo:
        stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return ErrorInfo(cls_name=type(exc).__name__, message=str(exc), stack=stack)


@dataclass(frozen=True, slots=True)
class UserFailureData:
    """What a ``Failure`` raised by an op said (Dagster's ``user_failure_data``)."""

    description: str | None
    metadata: dict[str, Any]


class RunEvent(BaseModel):
    """One entry of a run's event log."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    run_id: str
    kind: DagsterEventType
    timestamp: float
    step_key: str | None = None
    attempt: int = 0
    output_name: str | None = None
    mapping_key: str | None = None
    error: ErrorInfo | None = None
    retry_delay_s: float | None = None
    message: str = ""
    level: str | None = None
    #: an output's metadata (``Output(metadata=)``, ``context.add_output_metadata``), JSON
    metadata: dict[str, Any] = Field(default_factory=dict)

    # Dagster's accessors ---------------------------------------------------------
    @property
    def event_specific_data(self) -> RunEvent:
        """Dagster keeps ``error``, ``metadata``, ... on a per-kind object; here they are
        fields of the event itself, so the event stands in for it."""
        return self

    @property
    def user_failure_data(self) -> UserFailureData | None:
        """For a step that raised ``Failure``: its description and metadata."""
        if self.kind is not DagsterEventType.STEP_FAILURE or self.error is None:
            return None
        if self.error.cls_name != "Failure":
            return None
        return UserFailureData(description=self.error.message or None, metadata=self.metadata)

    @property
    def step_output_handle(self) -> RunEvent:
        """Dagster's handle of an output event: ``output_name`` and ``mapping_key``."""
        return self

    @property
    def event_type(self) -> DagsterEventType:
        return self.kind

    @property
    def event_type_value(self) -> str:
        return self.kind.value

    @property
    def node_name(self) -> str | None:
        return self.step_key.split("[", 1)[0] if self.step_key else None

    @property
    def is_step_start(self) -> bool:
        return self.kind is DagsterEventType.STEP_START

    @property
    def is_step_success(self) -> bool:
        return self.kind is DagsterEventType.STEP_SUCCESS

    @property
    def is_step_failure(self) -> bool:
        return self.kind is DagsterEventType.STEP_FAILURE

    @property
    def is_step_skipped(self) -> bool:
        return self.kind is DagsterEventType.STEP_SKIPPED

    @property
    def is_step_up_for_retry(self) -> bool:
        return self.kind is DagsterEventType.STEP_UP_FOR_RETRY

    @property
    def is_successful_output(self) -> bool:
        return self.kind is DagsterEventType.STEP_OUTPUT

    @property
    def is_failure(self) -> bool:
        return self.kind in (DagsterEventType.STEP_FAILURE, DagsterEventType.RUN_FAILURE)

    def describe(self) -> str:
        """One line for a terminal."""
        parts = [self.kind.value]
        if self.step_key:
            parts.append(self.step_key)
        if self.output_name:
            parts.append(f"output={self.output_name}")
        if self.error:
            parts.append(f"{self.error.cls_name}: {self.error.message}")
        if self.message:
            parts.append(self.message)
        return " ".join(parts)


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
#: Op or run tag: the Celery queue a step is sent to.
QUEUE_TAG = "opgrid/queue"
#: Op or run tag: the step's Celery priority (0-9).
PRIORITY_TAG = "opgrid/priority"
#: Op or run tag: seconds a step may run; Celery's soft limit interrupts the op then,
#: its hard limit kills the step's process ``cancel_grace_s`` later.
TIMEOUT_TAG = "opgrid/timeout_s"
