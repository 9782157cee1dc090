"""The kinds of event a run records, named as Dagster names them."""

from __future__ import annotations

from enum import Enum


class DagsterEventType(str, Enum):
    """What an event reports; the value is what ``event.event_type_value`` returns."""

    # Run-level events keep the values Dagster still reports for them.
    RUN_START = "PIPELINE_START"
    RUN_SUCCESS = "PIPELINE_SUCCESS"
    RUN_FAILURE = "PIPELINE_FAILURE"
    RUN_CANCELING = "PIPELINE_CANCELING"
    RUN_CANCELED = "PIPELINE_CANCELED"
    STEP_START = "STEP_START"
    STEP_OUTPUT = "STEP_OUTPUT"
    STEP_SUCCESS = "STEP_SUCCESS"
    STEP_FAILURE = "STEP_FAILURE"
    STEP_UP_FOR_RETRY = "STEP_UP_FOR_RETRY"
    STEP_RESTARTED = "STEP_RESTARTED"
    STEP_SKIPPED = "STEP_SKIPPED"
    STEP_ABANDONED = "STEP_ABANDONED"
    STEP_CANCELED = "STEP_CANCELED"
    LOGS_CAPTURED = "LOGS_CAPTURED"
    ENGINE_EVENT = "ENGINE_EVENT"
    HOOK_COMPLETED = "HOOK_COMPLETED"
    HOOK_ERRORED = "HOOK_ERRORED"
    HOOK_SKIPPED = "HOOK_SKIPPED"
    LOG_MESSAGE = "LOG_MESSAGE"
