"""Step and run statuses, the sets of them that matter, and which process writes which.

Statuses are stored as their lowercase values (``StepStatus.RUNNING.value`` is
``"running"``) in a run's ``:steps`` hash and its record. Two processes write a
step's status: the worker that runs an attempt records what it reports
(``WORKER_REPORTED``), the coordinator records what it decides (queued, skipped,
abandoned, canceled) and, on its own authority, a failure when a worker was lost.
"""

from __future__ import annotations

from enum import Enum


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
#: Stored values of the statuses a step never leaves.
FINAL_STEP_VALUES = frozenset(status.value for status in FINAL_STEP_STATUSES)
#: Statuses of a step that has been dispatched and has not ended.
IN_FLIGHT = frozenset({StepStatus.QUEUED, StepStatus.RUNNING, StepStatus.UP_FOR_RETRY})
#: Statuses a worker records itself when it reports them; the coordinator records the rest.
WORKER_REPORTED = frozenset(
    {StepStatus.RUNNING, StepStatus.SUCCESS, StepStatus.FAILURE, StepStatus.UP_FOR_RETRY}
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
