"""When a schedule or sensor is due: pure functions of its definition, what was recorded
and the current time (seconds since the epoch, passed in).

After downtime a schedule fires only its latest missed tick, as Dagster's scheduler does;
the ticks in between are dropped, not queued. A schedule built from a partitioned job
catches up on up to its ``max_catchup_ticks`` latest missed ticks (Dagster's
``max_catchup_runs``, 5), one run per missed partition.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from opgrid.cron import cron_ticks, latest_tick_at_or_before


@dataclass(frozen=True, slots=True)
class ScheduleTick:
    """What a schedule should do now.

    Attributes:
        due_ticks: the ticks to evaluate now, oldest first: the latest one not yet
            recorded, and before it up to ``max_catchup_ticks - 1`` earlier missed ones.
        next_tick: the first tick after ``now``: when to look again.
    """

    due_ticks: tuple[datetime, ...]
    next_tick: datetime | None

    @property
    def due(self) -> datetime | None:
        """The latest due tick, or None."""
        return self.due_ticks[-1] if self.due_ticks else None

    @property
    def due_ts(self) -> float | None:
        return self.due.timestamp() if self.due is not None else None

    @property
    def next_tick_ts(self) -> float | None:
        return self.next_tick.timestamp() if self.next_tick is not None else None


def schedule_tick(
    cron_schedule: str | Sequence[str],
    execution_timezone: str | None,
    last_tick_ts: float | None,
    now_ts: float,
    *,
    started_ts: float | None = None,
    max_catchup_ticks: int = 1,
) -> ScheduleTick:
    """The ticks due now, if any, and the next one.

    Args:
        cron_schedule: the schedule's cron string(s).
        execution_timezone: the IANA timezone they are read in (UTC if None).
        last_tick_ts: the time of the last tick recorded for the schedule, or None.
        now_ts: the current time.
        started_ts: when the schedule was turned on; with no tick recorded, ticks from
            then on are due. With neither, only a tick exactly at ``now_ts`` is due.
        max_catchup_ticks: how many missed ticks to evaluate at most (the schedule's
            ``max_catchup_ticks``: 1, or 5 for a schedule of a partitioned job).

    Returns:
        The latest ticks in ``(last_tick_ts, now_ts]`` (or ``[started_ts, now_ts]``) as
        ``due_ticks``, and the first tick after ``now_ts`` as ``next_tick``.
    """
    if max_catchup_ticks < 1:
        raise ValueError(f"max_catchup_ticks must be at least 1, got {max_catchup_ticks}")
    due: list[datetime] = []
    moment = _at(now_ts)
    while len(due) < max_catchup_ticks:
        tick = latest_tick_at_or_before(cron_schedule, execution_timezone, moment)
        if tick is None or not _after_floor(tick, last_tick_ts, started_ts, now_ts):
            break
        due.insert(0, tick)
        moment = tick.astimezone(timezone.utc) - timedelta(microseconds=1)  # real time
    upcoming = cron_ticks(cron_schedule, execution_timezone, _at(now_ts), inclusive=False)
    return ScheduleTick(due_ticks=tuple(due), next_tick=next(upcoming, None))


def _after_floor(
    tick: datetime, last_tick_ts: float | None, started_ts: float | None, now_ts: float
) -> bool:
    if last_tick_ts is not None:
        return tick.timestamp() > last_tick_ts
    floor = started_ts if started_ts is not None else now_ts
    return tick.timestamp() >= floor


def ticks_between(
    cron_schedule: str | Sequence[str],
    execution_timezone: str | None,
    after_ts: float,
    until_ts: float,
    *,
    limit: int = 1000,
) -> list[datetime]:
    """The ticks in ``(after_ts, until_ts]``, at most ``limit`` of them (the first ones):
    what a tick history or a catch-up report shows."""
    found: list[datetime] = []
    for tick in cron_ticks(cron_schedule, execution_timezone, _at(after_ts), inclusive=False):
        if tick.timestamp() > until_ts or len(found) >= limit:
            break
        found.append(tick)
    return found


@dataclass(frozen=True, slots=True)
class SensorTick:
    """Whether a sensor is due now, and when it is due next."""

    due: bool
    next_ts: float


def sensor_tick(
    minimum_interval_seconds: float, last_evaluation_ts: float | None, now_ts: float
) -> SensorTick:
    """A sensor is due when it never ran or ``minimum_interval_seconds`` have passed since
    its last evaluation started."""
    if last_evaluation_ts is None:
        return SensorTick(due=True, next_ts=now_ts + minimum_interval_seconds)
    ready_at = last_evaluation_ts + minimum_interval_seconds
    if now_ts >= ready_at:
        return SensorTick(due=True, next_ts=now_ts + minimum_interval_seconds)
    return SensorTick(due=False, next_ts=ready_at)


def _at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)
