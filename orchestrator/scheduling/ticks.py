"""When a schedule or sensor is due: pure functions of its definition, what was recorded
and the current time (seconds since the epoch, passed in).

After downtime a schedule fires only its latest missed tick, as Dagster's scheduler does
by default; the ticks in between are dropped, not queued.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from opgrid.cron import cron_ticks, latest_tick_at_or_before


@dataclass(frozen=True, slots=True)
class ScheduleTick:
    """What a schedule should do now.

    Attributes:
        due: the tick to evaluate now (the latest one not yet recorded), or None.
        next_tick: the first tick after ``now``: when to look again.
    """

    due: datetime | None
    next_tick: datetime | None

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
) -> ScheduleTick:
    """The tick due now, if any, and the next one.

    Args:
        cron_schedule: the schedule's cron string(s).
        execution_timezone: the IANA timezone they are read in (UTC if None).
        last_tick_ts: the time of the last tick recorded for the schedule, or None.
        now_ts: the current time.
        started_ts: when the schedule was turned on; with no tick recorded, ticks from
            then on are due. With neither, only a tick exactly at ``now_ts`` is due.

    Returns:
        The latest tick in ``(last_tick_ts, now_ts]`` (or ``[started_ts, now_ts]``) as
        ``due``, and the first tick after ``now_ts`` as ``next_tick``.
    """
    now = _at(now_ts)
    latest = latest_tick_at_or_before(cron_schedule, execution_timezone, now)
    due = (
        latest
        if latest is not None and _after_floor(latest, last_tick_ts, started_ts, now_ts)
        else None
    )
    upcoming = cron_ticks(cron_schedule, execution_timezone, now, inclusive=False)
    return ScheduleTick(due=due, next_tick=next(upcoming, None))


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
