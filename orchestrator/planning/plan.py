"""``ExecutionPlan``: a job flattened into steps, a frozen value that round-trips JSON.

Steps are keyed by node handle (``outer.inner``); every step input names where its
value comes from; steps downstream of a ``DynamicOut`` are templates (``mapped_by``
set) that the run state copies once per mapping key. ``compiler.compile_plan`` makes
plans.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

_FROZEN = ConfigDict(frozen=True, extra="forbid")

InputKind = Literal["from_step", "fan_in", "collect", "config", "default", "run_input", "none"]

# The parts of a plan are frozen stdlib dataclasses rather than pydantic models: a
# 100,000-step plan builds them three times faster. Pydantic still validates and
# serializes them wherever an ``ExecutionPlan`` crosses a boundary (JSON in and out),
# with unknown fields refused, so the plan remains one pydantic model to the outside.
_PART = ConfigDict(extra="forbid")


@dataclass(frozen=True, slots=True)
class OutputRef:
    """An output of a plan step (a template's, for mapped steps)."""

    __pydantic_config__ = _PART

    step: str
    output: str


@dataclass(frozen=True, slots=True)
class PlanInput:
    """Where one step input gets its value."""

    __pydantic_config__ = _PART

    name: str
    kind: InputKind
    sources: tuple[OutputRef, ...] = ()
    run_inputs: tuple[str, ...] = ()
    value: Any = None
    is_nothing: bool = False


@dataclass(frozen=True, slots=True)
class PlanOutput:
    """An output a step may produce."""

    __pydantic_config__ = _PART

    name: str
    is_required: bool = True
    is_dynamic: bool = False


@dataclass(frozen=True, slots=True)
class PlanRetryPolicy:
    """A step's retry policy, as data."""

    __pydantic_config__ = _PART

    max_retries: int
    delay: float | None = None
    backoff: str | None = None
    jitter: str | None = None


@dataclass(frozen=True, slots=True)
class PlanStep:
    """One op invocation of the job."""

    __pydantic_config__ = _PART

    key: str
    op: str
    inputs: tuple[PlanInput, ...] = ()
    outputs: tuple[PlanOutput, ...] = ()
    tags: Mapping[str, Any] = field(default_factory=dict)
    config: Any = None
    retry_policy: PlanRetryPolicy | None = None
    mapped_by: OutputRef | None = None


class ExecutionPlan(BaseModel):
    """Everything needed to run a job once, as JSON-round-trippable data."""

    model_config = _FROZEN

    schema_version: Literal[1] = 1
    job_name: str
    steps: tuple[PlanStep, ...]
    run_config: dict[str, Any] = {}
    resource_keys: tuple[str, ...] = ()
    resource_config: dict[str, Any] = {}
    tags: dict[str, Any] = {}
    partition_key: str | None = None
    #: the op selection the job was subset by (None: the whole job); informational, since
    #: steps keep the full job's node handles and workers resolve ops by handle
    op_selection: list[str] | None = None

    def step_named(self) -> dict[str, PlanStep]:
        """Steps by key."""
        return {step.key: step for step in self.steps}
