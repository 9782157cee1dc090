"""Backfills: one run per selected partition of a partitioned job, a few at a time.

Pure: which partitions a selection means (``--partitions a,b,c``, ``--all``, ``--from K1
--to K2``), the tags of each partition's run, and which partitions to launch next given
those already launched and finished. Recording and launching are the caller's.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from opgrid.context import PARTITION_TAG
from opgrid.errors import DagsterInvariantViolationError, DagsterUnknownPartitionError

#: The run tag holding the id of the backfill a run belongs to.
BACKFILL_ID_TAG = "dagster/backfill"


def parse_partition_list(text: str) -> list[str]:
    """``"a, b,c"`` -> ``["a", "b", "c"]``: keys in order, blanks and repeats dropped."""
    keys = [part.strip() for part in text.split(",")]
    return list(dict.fromkeys(key for key in keys if key))


def select_partitions(
    partitions_def: Any,
    *,
    partitions: str | Sequence[str] | None = None,
    all_partitions: bool = False,
    from_key: str | None = None,
    to_key: str | None = None,
    now_ts: float,
    job_name: str = "the job",
) -> list[str]:
    """The partition keys a backfill selection means, in the partitions' order.

    Args:
        partitions_def: the job's partitions definition.
        partitions: explicit keys, as a list or as ``"a,b,c"``.
        all_partitions: every partition that exists at ``now_ts``.
        from_key: the first key of a range (the first partition if only ``to_key``).
        to_key: the last key of a range, included (the last partition if only ``from_key``).
        now_ts: the current time, which decides how many time partitions exist.
        job_name: named in errors.

    Raises:
        DagsterUnknownPartitionError: a key the partitions definition does not have.
        DagsterInvariantViolationError: no selection, or more than one kind of selection,
            or a range that ends before it starts.
    """
    ranged = from_key is not None or to_key is not None
    chosen = sum([partitions is not None, all_partitions, ranged])
    if chosen != 1:
        raise DagsterInvariantViolationError(
            "a backfill selects its partitions with exactly one of --partitions, --all, or "
            f"--from/--to (got {chosen})"
        )
    existing = list(partitions_def.get_partition_keys(datetime.fromtimestamp(now_ts, timezone.utc)))
    if all_partitions:
        return existing
    if partitions is not None:
        keys = parse_partition_list(partitions) if isinstance(partitions, str) else list(partitions)
        for key in keys:
            _position(existing, key, job_name)
        if not keys:
            raise DagsterInvariantViolationError("--partitions names no partition")
        return [key for key in existing if key in set(keys)]
    first = _position(existing, from_key, job_name) if from_key is not None else 0
    last = _position(existing, to_key, job_name) if to_key is not None else len(existing) - 1
    if last < first:
        raise DagsterInvariantViolationError(
            f"--from {from_key!r} comes after --to {to_key!r} among the partitions of {job_name}"
        )
    return existing[first : last + 1]


def _position(existing: list[str], key: str, job_name: str) -> int:
    try:
        return existing.index(key)
    except ValueError:
        raise DagsterUnknownPartitionError(
            f"partition {key!r} is not a partition of {job_name}"
            + (f" (partitions: {_sample(existing)})" if existing else " (it has none yet)")
        ) from None


def _sample(keys: list[str]) -> str:
    shown = keys if len(keys) <= 6 else [*keys[:3], "...", *keys[-2:]]
    return ", ".join(shown)


class Backfill(BaseModel):
    """A backfill as it is recorded: which job, which partitions, how many at once."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    backfill_id: str
    job_name: str
    partition_keys: list[str]
    tags: dict[str, str] = Field(default_factory=dict)
    max_concurrent: int | None = None  # None: launch every partition at once
    created_ts: float

    @field_validator("max_concurrent")
    @classmethod
    def _positive(cls, value: int | None) -> int | None:
        if value is not None and value < 1:
            raise ValueError("max_concurrent must be at least 1 (or None for no limit)")
        return value

    @field_validator("partition_keys")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("a backfill needs at least one partition")
        if len(set(value)) != len(value):
            raise ValueError("a backfill names each partition once")
        return value

    def run_tags(self, partition_key: str) -> dict[str, str]:
        """The tags of the run for one partition: the backfill's own, the partition and
        the backfill id."""
        return {**self.tags, PARTITION_TAG: partition_key, BACKFILL_ID_TAG: self.backfill_id}


@dataclass(frozen=True, slots=True)
class BackfillProgress:
    """Where a backfill stands, and what to launch now.

    Attributes:
        to_launch: partitions to launch now, in order.
        in_flight: partitions launched and not finished.
        finished: partitions whose run finished (however it ended).
        pending: partitions not launched and not in ``to_launch``.
    """

    to_launch: list[str]
    in_flight: list[str]
    finished: list[str]
    pending: list[str]

    @property
    def done(self) -> bool:
        """Every partition's run finished."""
        return not (self.to_launch or self.in_flight or self.pending)


def next_partitions(
    backfill: Backfill, launched: Collection[str], finished: Collection[str]
) -> BackfillProgress:
    """Which partitions to launch next: the first not yet launched, as many as keep at
    most ``max_concurrent`` runs in flight. A finished partition counts as launched."""
    launched_set = set(launched) | set(finished)
    finished_list = [key for key in backfill.partition_keys if key in set(finished)]
    in_flight = [
        key for key in backfill.partition_keys if key in launched_set and key not in finished
    ]
    waiting = [key for key in backfill.partition_keys if key not in launched_set]
    limit = backfill.max_concurrent
    room = len(waiting) if limit is None else max(0, limit - len(in_flight))
    return BackfillProgress(
        to_launch=waiting[:room],
        in_flight=in_flight,
        finished=finished_list,
        pending=waiting[room:],
    )
