"""Partitioned config: a run's config generated from a partition key."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, NamedTuple

from .errors import (
    ConfigError,
    DagsterInvalidDefinitionError,
    DagsterInvariantViolationError,
    DagsterUnknownPartitionError,
)


class StaticPartitionsDefinition:
    """A fixed list of partition keys."""

    def __init__(self, partition_keys: Sequence[str]) -> None:
        if len(set(partition_keys)) != len(partition_keys):
            raise DagsterInvalidDefinitionError("partition keys must be unique")
        self._keys = list(partition_keys)

    def get_partition_keys(self, current_time: datetime | None = None) -> list[str]:
        return list(self._keys)

    def has_partition_key(self, key: str) -> bool:
        return key in self._keys


class DynamicPartitionsDefinition:
    """Partition keys computed when asked: ``partition_fn(current_time)``.

    Args:
        partition_fn: returns the keys (strings, or objects with a ``name``).
        name: Dagster's instance-backed form; opgrid has no instance to store keys in, so
            it needs ``partition_fn``.
    """

    def __init__(
        self,
        partition_fn: Callable[[datetime | None], Sequence[Any]] | None = None,
        name: str | None = None,
    ) -> None:
        if partition_fn is None:
            raise DagsterInvalidDefinitionError(
                f"DynamicPartitionsDefinition {name!r}: opgrid needs a partition_fn (it keeps "
                "no instance in which partitions are added by name)"
            )
        self.name = name
        self._fn = partition_fn

    def get_partition_keys(self, current_time: datetime | None = None) -> list[str]:
        return [k if isinstance(k, str) else str(k.name) for k in self._fn(current_time)]

    def has_partition_key(self, key: str) -> bool:
        return key in self.get_partition_keys()


class PartitionKeyRange(NamedTuple):
    """The first and last partition key of a run."""

    start: str
    end: str


class TimeWindow(NamedTuple):
    """The time span a time partition covers."""

    start: datetime
    end: datetime


class DailyPartitionsDefinition:
    """One partition per day from ``start_date``, keyed ``YYYY-MM-DD``."""

    def __init__(
        self,
        start_date: str | datetime | date,
        end_offset: int = 0,
        fmt: str = "%Y-%m-%d",
        hour_offset: int = 0,
        minute_offset: int = 0,
    ) -> None:
        self.fmt = fmt
        self.start = _as_datetime(start_date, fmt)
        self.end_offset = end_offset
        self.offset = timedelta(hours=hour_offset, minutes=minute_offset)

    def window(self, key: str) -> tuple[datetime, datetime]:
        """The (start, end) of the day a key names."""
        try:
            start = datetime.strptime(key, self.fmt).replace(tzinfo=timezone.utc) + self.offset
        except ValueError as exc:
            raise ConfigError([("partition_key", f"{key!r} is not a {self.fmt} date")]) from exc
        return start, start + timedelta(days=1)

    def get_partition_keys(self, current_time: datetime | None = None) -> list[str]:
        now = current_time or datetime.now(timezone.utc)
        keys = []
        day = self.start
        last = now - timedelta(days=1 - self.end_offset)
        while day <= last:
            keys.append(day.strftime(self.fmt))
            day += timedelta(days=1)
        return keys

    def has_partition_key(self, key: str) -> bool:
        start, _ = self.window(key)
        return start - self.offset >= self.start


def _as_datetime(value: str | datetime | date, fmt: str) -> datetime:
    if isinstance(value, str):
        value = datetime.strptime(value, fmt)
    if not isinstance(value, datetime):
        value = datetime.combine(value, time())
    return value.replace(tzinfo=value.tzinfo or timezone.utc)


PartitionsDefinition = (
    StaticPartitionsDefinition | DailyPartitionsDefinition | DynamicPartitionsDefinition
)


class PartitionedConfig:
    """Run config for a job, generated per partition.

    Args:
        partitions_def: which partition keys exist.
        run_config_for_partition_key_fn: from a key to that partition's run config.
        tags_for_partition_key_fn: from a key to extra run tags.
        decorated_fn: the function a decorator made this from, which calling the
            ``PartitionedConfig`` still calls (the key function by default).
    """

    def __init__(
        self,
        partitions_def: PartitionsDefinition,
        run_config_for_partition_key_fn: Callable[[str], Mapping[str, Any]],
        tags_for_partition_key_fn: Callable[[str], Mapping[str, str]] | None = None,
        decorated_fn: Callable[..., Any] | None = None,
    ) -> None:
        self.partitions_def = partitions_def
        self._config_fn = run_config_for_partition_key_fn
        self._tags_fn = tags_for_partition_key_fn
        self._decorated_fn = decorated_fn or run_config_for_partition_key_fn

    def __call__(self, *args: Any) -> Any:
        """The decorated function stays callable."""
        return self._decorated_fn(*args)

    def get_run_config_for_partition_key(self, key: str) -> dict[str, Any]:
        if not self.partitions_def.has_partition_key(key):
            raise DagsterUnknownPartitionError(
                f"Could not find a partition with key `{key}` (partition_key)."
            )
        return dict(self._config_fn(key))

    def get_tags_for_partition_key(self, key: str) -> dict[str, str]:
        tags = dict(self._tags_fn(key)) if self._tags_fn else {}
        return {**tags, "dagster/partition": key}

    def get_partition_keys(self, current_time: datetime | None = None) -> list[str]:
        """The keys of the partitions this config is defined for."""
        return self.partitions_def.get_partition_keys(current_time)


def static_partitioned_config(
    partition_keys: Sequence[str],
    tags_for_partition_fn: Callable[[str], Mapping[str, str]] | None = None,
    tags_for_partition_key_fn: Callable[[str], Mapping[str, str]] | None = None,
) -> Callable[[Callable[[str], Mapping[str, Any]]], PartitionedConfig]:
    """Decorate ``fn(partition_key) -> run_config`` over a fixed list of keys."""

    def wrap(fn: Callable[[str], Mapping[str, Any]]) -> PartitionedConfig:
        return PartitionedConfig(
            StaticPartitionsDefinition(partition_keys),
            fn,
            tags_for_partition_key_fn or tags_for_partition_fn,
        )

    return wrap


def dynamic_partitioned_config(
    partition_fn: Callable[[datetime | None], Sequence[Any]],
    tags_for_partition_fn: Callable[[str], Mapping[str, str]] | None = None,
    tags_for_partition_key_fn: Callable[[str], Mapping[str, str]] | None = None,
) -> Callable[[Callable[[str], Mapping[str, Any]]], PartitionedConfig]:
    """Decorate ``fn(partition_key) -> run_config`` over keys that ``partition_fn`` lists."""

    def wrap(fn: Callable[[str], Mapping[str, Any]]) -> PartitionedConfig:
        return PartitionedConfig(
            DynamicPartitionsDefinition(partition_fn),
            fn,
            tags_for_partition_key_fn or tags_for_partition_fn,
        )

    return wrap


def partition_time_window(partitions_def: Any, key: str) -> TimeWindow:
    """The time window of ``key``; only time partitions have one."""
    if not isinstance(partitions_def, DailyPartitionsDefinition):
        raise DagsterInvariantViolationError(
            "Expected a TimeWindowPartitionsDefinition with a single time dimension, but "
            f"instead found {type(partitions_def).__name__}"
        )
    return TimeWindow(*partitions_def.window(key))


def daily_partitioned_config(
    start_date: str | datetime | date,
    minute_offset: int = 0,
    hour_offset: int = 0,
    end_offset: int = 0,
    fmt: str = "%Y-%m-%d",
    tags_for_partition_fn: Callable[[datetime, datetime], Mapping[str, str]] | None = None,
    tags_for_partition_key_fn: Callable[[str], Mapping[str, str]] | None = None,
) -> Callable[[Callable[[datetime, datetime], Mapping[str, Any]]], PartitionedConfig]:
    """Decorate ``fn(start, end) -> run_config``, one partition per day."""

    def wrap(fn: Callable[[datetime, datetime], Mapping[str, Any]]) -> PartitionedConfig:
        days = DailyPartitionsDefinition(start_date, end_offset, fmt, hour_offset, minute_offset)
        tags_fn = tags_for_partition_key_fn or (
            (lambda key: tags_for_partition_fn(*days.window(key)))
            if tags_for_partition_fn
            else None
        )
        return PartitionedConfig(days, lambda key: fn(*days.window(key)), tags_fn, fn)

    return wrap
