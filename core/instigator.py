"""What schedules and sensors (Dagster's "instigators") share.

Name checks, calling the user's function with or without its context, flattening what it
returned, and resolving a run request's partition against its job.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping
from enum import Enum
from typing import Any

from .context import PARTITION_TAG
from .errors import (
    ConfigError,
    DagsterInvalidDefinitionError,
    DagsterInvalidInvocationError,
    DagsterInvariantViolationError,
    DagsterUnknownPartitionError,
)
from .graph import GraphDefinition
from .job import JobDefinition
from .run_request import RunRequest

#: The tag naming the schedule that requested a run.
SCHEDULE_NAME_TAG = "dagster/schedule_name"
#: The tag naming the sensor that requested a run.
SENSOR_NAME_TAG = "dagster/sensor_name"
#: The tag naming the partition set of a partitioned run (``<job>_partition_set``).
PARTITION_SET_TAG = "dagster/partition_set"


class DefaultScheduleStatus(Enum):
    """Whether a schedule runs as soon as it is loaded, before anyone turns it on or off."""

    RUNNING = "RUNNING"
    STOPPED = "STOPPED"


class DefaultSensorStatus(Enum):
    """Whether a sensor runs as soon as it is loaded, before anyone turns it on or off."""

    RUNNING = "RUNNING"
    STOPPED = "STOPPED"


def check_valid_name(name: str) -> str:
    """Raise ``DagsterInvalidDefinitionError`` unless ``name`` matches ``^[A-Za-z0-9_]+$``."""
    if not isinstance(name, str) or not name or not (name.isascii() and _alnum(name)):
        raise DagsterInvalidDefinitionError(
            f'"{name}" is not a valid name in Dagster. Names must be in regex ^[A-Za-z0-9_]+$.'
        )
    return name


def _alnum(name: str) -> bool:
    return name.replace("_", "a").isalnum()


def as_job(target: Any, owner: str) -> JobDefinition:
    """A schedule's or sensor's target as a job (a graph becomes its default job)."""
    if isinstance(target, JobDefinition):
        return target
    if isinstance(target, GraphDefinition):
        return target.to_job()
    raise DagsterInvalidDefinitionError(
        f"{owner} targets {target!r}; only jobs and graphs can be targets"
    )


def takes_context(fn: Callable[..., Any]) -> bool:
    """Whether the function has a first parameter, which receives the context."""
    params = list(inspect.signature(fn).parameters.values())
    return bool(params) and params[0].kind in (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    )


def direct_call(
    fn: Callable[..., Any],
    kind: str,
    context_type: type,
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
) -> Any:
    """``my_schedule(context)`` / ``my_sensor(context)``: the function's own return value."""
    if not takes_context(fn):
        return fn()
    param = next(iter(inspect.signature(fn).parameters))
    given = list(args) + [kwargs[key] for key in dict.fromkeys((param, "context")) if key in kwargs]
    if not given:
        raise DagsterInvalidInvocationError(
            f"{kind} evaluation function expected context argument, but no context argument "
            "was provided when invoking."
        )
    if len(given) > 1:
        raise DagsterInvalidInvocationError(
            f"{kind} invocation takes one argument, the context; got {len(given)}"
        )
    context = given[0]
    if not isinstance(context, context_type):
        raise DagsterInvalidInvocationError(
            f"Object {context!r} is not a {context_type.__name__}. "
            f"Got {context!r} with type {type(context)}."
        )
    return fn(context)


def flatten(result: Any) -> list[Any]:
    """What a schedule or sensor function returned, as a list of items."""
    if result is None:
        return []
    if isinstance(result, Iterator) or inspect.isgenerator(result):
        return list(result)
    if isinstance(result, list):
        return list(result)
    return [result]


def resolve_partition(request: RunRequest, job: JobDefinition | None, owner: str) -> RunRequest:
    """A partitioned request with its partition's config (unless it has its own) and tags."""
    key = request.partition_key
    if key is None:
        return request
    if job is None:
        raise DagsterInvariantViolationError(
            f"{owner} requested partition {key!r} but names its job only by name; give it the "
            "job itself (job=...) so the partition's config can be found"
        )
    partitioned = job.partitioned_config
    if partitioned is None:
        raise DagsterInvariantViolationError(
            f"{owner} requested partition {key!r} of job {job.name!r}, which is not partitioned"
        )
    try:
        known = partitioned.partitions_def.has_partition_key(key)
    except ConfigError:
        known = False
    if not known:
        raise DagsterUnknownPartitionError(f"Could not find a partition with key `{key}`.")
    run_config = request.run_config or partitioned.get_run_config_for_partition_key(key)
    tags = {
        **partitioned.get_tags_for_partition_key(key),
        **request.tags,
        PARTITION_TAG: key,
        PARTITION_SET_TAG: f"{job.name}_partition_set",
    }
    return request.with_replaced_attrs(run_config=dict(run_config), tags=tags)
