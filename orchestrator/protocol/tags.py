"""Every system tag opgrid reads or writes, under Dagster's and opgrid's prefixes.

Op tags and run tags share these names; an op's tag wins over the run's. The
``opgrid/`` tags steer the cluster and are checked when a run is submitted, so a
bad value fails before anything is queued, naming the op (``check_cluster_tags``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opgrid.context import PARTITION_TAG
from opgrid.errors import DagsterInvalidDefinitionError

#: Op or run tag: the Celery queue a step is sent to.
QUEUE_TAG = "opgrid/queue"
#: Op or run tag: the step's Celery priority (0-9).
PRIORITY_TAG = "opgrid/priority"
#: Op or run tag: seconds a step may run; Celery's soft limit interrupts the op then,
#: its hard limit kills the step's process ``cancel_grace_s`` later.
TIMEOUT_TAG = "opgrid/timeout_s"
#: Run tag: the run a re-execution re-executes (Dagster's name).
PARENT_RUN_TAG = "dagster/parent_run_id"
#: Run tag: the first run of a chain of re-executions (Dagster's name).
ROOT_RUN_TAG = "dagster/root_run_id"

__all__ = [
    "PARENT_RUN_TAG",
    "PARTITION_TAG",
    "PRIORITY_TAG",
    "QUEUE_TAG",
    "ROOT_RUN_TAG",
    "TIMEOUT_TAG",
    "check_cluster_tags",
]


def step_tag(op_tags: Mapping[str, Any], run_tags: Mapping[str, Any], name: str) -> Any:
    """The value of tag ``name`` for one step: the op's, else the run's, else None."""
    value = op_tags.get(name)
    return run_tags.get(name) if value is None else value


def step_queue(op_tags: Mapping[str, Any], run_tags: Mapping[str, Any], default: str) -> str:
    """The Celery queue a step goes to: its ``opgrid/queue`` (op, else run), else ``default``."""
    return str(op_tags.get(QUEUE_TAG) or run_tags.get(QUEUE_TAG) or default)


def check_cluster_tags(owner: str, tags: Mapping[str, Any]) -> None:
    """The tags that steer the cluster must make sense before anything is queued.

    Raises:
        DagsterInvalidDefinitionError: naming the owner, the tag and the bad value.
    """
    if TIMEOUT_TAG in tags:
        value = tags[TIMEOUT_TAG]
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            seconds = -1.0
        if not seconds > 0 or seconds == float("inf"):
            raise DagsterInvalidDefinitionError(
                f"{owner}: tag {TIMEOUT_TAG} must be a positive number of seconds, got {value!r}"
            )
    if PRIORITY_TAG in tags:
        value = tags[PRIORITY_TAG]
        if str(value).strip() not in {str(n) for n in range(10)}:
            raise DagsterInvalidDefinitionError(
                f"{owner}: tag {PRIORITY_TAG} must be an integer from 0 to 9, got {value!r}"
            )
