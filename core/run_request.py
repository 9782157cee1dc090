"""What schedules and sensors return: ``RunRequest``, ``SkipReason`` and ``SensorResult``."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import DagsterInvalidDefinitionError, DagsterInvariantViolationError


@dataclass(frozen=True, slots=True, eq=True)
class RunRequest:
    """A request to launch one run of a job.

    Args:
        run_key: identifies the run for its sensor: a sensor never launches two runs
            with the same key; requests without a key always launch.
        run_config: the run's config.
        tags: the run's tags (values are turned into strings).
        job_name: which of the instigator's jobs to run; needed when it targets several.
        partition_key: the partition to run; its config and tags come from the job's
            partitioned config unless ``run_config`` is given.
    """

    run_key: str | None = None
    run_config: Mapping[str, Any] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    job_name: str | None = None
    partition_key: str | None = None

    def __init__(
        self,
        run_key: str | None = None,
        run_config: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        job_name: str | None = None,
        partition_key: str | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs.get("asset_selection") or kwargs.get("asset_check_keys"):
            raise DagsterInvalidDefinitionError(
                "RunRequest: asset_selection and asset_check_keys need assets, which opgrid "
                "does not have"
            )
        if run_config is not None and not isinstance(run_config, Mapping):
            raise DagsterInvariantViolationError(
                f"RunRequest: run_config must be a dict, got {type(run_config).__name__}"
            )
        for name, value in (("run_key", run_key), ("job_name", job_name)):
            if value is not None and not isinstance(value, str):
                raise DagsterInvariantViolationError(
                    f"RunRequest: {name} must be a string, got {type(value).__name__}"
                )
        object.__setattr__(self, "run_key", run_key)
        object.__setattr__(self, "run_config", dict(run_config or {}))
        object.__setattr__(self, "tags", {str(k): tag_value(v) for k, v in (tags or {}).items()})
        object.__setattr__(self, "job_name", job_name)
        object.__setattr__(self, "partition_key", partition_key)

    def with_replaced_attrs(self, **kwargs: Any) -> RunRequest:
        """A copy with some fields replaced."""
        return replace(self, **kwargs)

    def with_tags(self, tags: Mapping[str, str]) -> RunRequest:
        """A copy whose tags are these laid over its own."""
        return replace(self, tags={**self.tags, **tags})


def tag_value(value: Any) -> str:
    """A tag value as a string; other values as JSON (``1`` -> ``"1"``, None -> ``"null"``),
    as Dagster stores them."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return str(value)


@dataclass(frozen=True, slots=True)
class SkipReason:
    """Returned by a schedule or sensor to say why it requests no run this tick.

    Args:
        skip_message: shown on the tick.
    """

    skip_message: str | None = None


@dataclass(frozen=True, slots=True, init=False)
class SensorResult:
    """Everything one sensor tick produced: run requests or a skip reason, and a cursor.

    Args:
        run_requests: the runs to launch.
        skip_reason: why no run is requested (a string or a ``SkipReason``).
        cursor: the sensor's new cursor.
    """

    run_requests: list[RunRequest]
    skip_reason: SkipReason | None
    cursor: str | None

    def __init__(
        self,
        run_requests: Sequence[RunRequest] | None = None,
        skip_reason: str | SkipReason | None = None,
        cursor: str | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs.get("dynamic_partitions_requests") or kwargs.get("asset_events"):
            raise DagsterInvalidDefinitionError(
                "SensorResult: dynamic partitions and asset events are not supported by opgrid"
            )
        if run_requests and skip_reason:
            raise DagsterInvariantViolationError(
                "Expected a single skip reason or one or more run requests: received values "
                "for both run_requests and skip_reason"
            )
        for request in run_requests or ():
            if not isinstance(request, RunRequest):
                raise DagsterInvariantViolationError(
                    f"SensorResult: run_requests holds {request!r}, which is not a RunRequest"
                )
        if cursor is not None and not isinstance(cursor, str):
            raise DagsterInvariantViolationError(
                f"SensorResult: cursor must be a string, got {type(cursor).__name__}"
            )
        skip = SkipReason(skip_reason) if isinstance(skip_reason, str) else skip_reason
        object.__setattr__(self, "run_requests", list(run_requests or ()))
        object.__setattr__(self, "skip_reason", skip)
        object.__setattr__(self, "cursor", cursor)
