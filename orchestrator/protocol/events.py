"""A run's event log: ``RunEvent`` (one entry) and ``ErrorInfo`` (an exception as text).

Workers append step events, the coordinator appends the run's own events (start,
skips, the final event) and submitters append cancel requests; every reader
(coordinator, waiters, the CLI) reads the same models back. Every model is frozen,
forbids unknown fields and carries ``schema_version``; field names are permanent.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from opgrid.event_type import DagsterEventType

from .status import RunStatus
from .step_keys import template_of


class ErrorInfo(BaseModel):
    """An exception, as text that can be stored and shown anywhere."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cls_name: str
    message: str
    stack: str = ""

    def line(self) -> str:
        """``ValueError: bad input`` (or just the class name when there is no message)."""
        return f"{self.cls_name}: {self.message}" if self.message else self.cls_name

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
    #: on a step's start: the worker running it (``host/pid``)
    worker: str | None = None
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
        return template_of(self.step_key) if self.step_key else None

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
            parts.append(self.error.line())
        if self.message:
            parts.append(self.message)
        return " ".join(parts)


#: The event that ends a run, by the run's final status.
FINAL_RUN_EVENTS = {
    RunStatus.SUCCESS: DagsterEventType.RUN_SUCCESS,
    RunStatus.FAILURE: DagsterEventType.RUN_FAILURE,
    RunStatus.CANCELED: DagsterEventType.RUN_CANCELED,
}
#: The kinds of event that end a run.
FINAL_RUN_KINDS = frozenset(FINAL_RUN_EVENTS.values())


def run_event(run_id: str, kind: DagsterEventType, **fields: Any) -> RunEvent:
    """A new event of run ``run_id``, stamped now."""
    return RunEvent(run_id=run_id, kind=kind, timestamp=time.time(), **fields)
