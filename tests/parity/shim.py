"""The one import of the library under test: ``dg`` is ``dagster`` or ``opgrid``.

``PARITY_TARGET=dagster|opgrid`` picks it; without the variable it is opgrid,
or Dagster in an environment where opgrid is not installed.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

TARGET = os.environ.get("PARITY_TARGET") or (
    "opgrid" if importlib.util.find_spec("opgrid") is not None else "dagster"
)
if TARGET not in ("opgrid", "dagster"):
    raise RuntimeError(f"PARITY_TARGET must be dagster or opgrid, got {TARGET!r}")

dg: Any = importlib.import_module(TARGET)

_STATUS = {"STEP_SUCCESS": "success", "STEP_FAILURE": "failure", "STEP_SKIPPED": "skipped"}


@dataclass
class Outcome:
    """A run reduced to what both libraries must agree on."""

    success: bool
    steps: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def run(job: Any, **kwargs: Any) -> Outcome:
    """Execute in process without raising; statuses and error class names by step key."""
    result = job.execute_in_process(raise_on_error=False, **kwargs)
    steps: dict[str, str] = {}
    errors: dict[str, str] = {}
    for event in result.all_events:
        kind = event.event_type_value
        if event.step_key is not None and kind in _STATUS:
            steps[event.step_key] = _STATUS[kind]
        if kind == "STEP_FAILURE":
            errors[event.step_key] = failure_class(event)
    return Outcome(result.success, steps, errors)


def failure_class(event: Any) -> str:
    """The class name of the error a STEP_FAILURE event reports."""
    error = event.event_specific_data.error
    if TARGET == "dagster" and error.cause is not None and error.cls_name in _WRAPPERS:
        error = error.cause  # Dagster wraps user code errors; opgrid reports them as raised
    return str(error.cls_name)


_WRAPPERS = {"DagsterExecutionStepExecutionError"}


def raised(fn: Callable[[], Any]) -> str | None:
    """The class name of what ``fn()`` raises, None when it returns."""
    try:
        fn()
    except Exception as exc:
        return type(exc).__name__
    return None


def raised_exc(fn: Callable[[], Any]) -> BaseException:
    """What ``fn()`` raises; fails the test when it returns."""
    try:
        fn()
    except Exception as exc:
        return exc
    raise AssertionError(f"{fn!r} did not raise")


def one_op_job(op_def: Any, name: str | None = None) -> Any:
    """A job of the single op ``op_def``."""
    return dg.GraphDefinition(name=name or f"job_{op_def.name}", node_defs=[op_def]).to_job()
