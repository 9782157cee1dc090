"""Cron strings: validation and the tick times of a schedule in its execution timezone.

Parsing and matching are croniter's; this module adds what a schedule needs on top:
wall-clock times in an IANA timezone, turned into instants the way Dagster turns them
around daylight-saving changes:

- a schedule that fires every hour of the day (``0 * * * *``, ``*/30 * * * *``) follows
  the clock as it is: the hour that does not exist (clocks jump forward) has no ticks,
  and the hour that happens twice (clocks fall back) has its ticks twice, first all of
  its daylight-time ticks, then all of its standard-time ones;
- any other schedule fires a wall time that does not exist once, at the end of the gap
  (``30 2 * * *`` in ``America/New_York`` fires at 03:00 EDT on the spring day), and a
  wall time that happens twice only at its second, standard-time instant (``30 1 * * *``
  fires at 01:30 EST on the autumn day).

Ticks are strictly increasing; two wall times that land on one instant fire once.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from .errors import DagsterInvalidDefinitionError

#: The ``@`` shorthands Dagster accepts (``@reboot`` is not a time).
CRON_ALIASES = frozenset(
    {"@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually"}
)

#: How far before a start time the wall-clock walk begins, to cover any UTC offset change.
_WALL_MARGIN = timedelta(hours=3)


def is_valid_cron_string(cron_string: str) -> bool:
    """Whether ``cron_string`` is a standard five-field cron expression or a known alias."""
    text = cron_string.strip()
    if text in CRON_ALIASES:
        return True
    fields = text.split()
    if len(fields) != 5 or any("W" in field.upper() for field in fields[2:3]):
        return False
    return bool(croniter.is_valid(text))


def cron_strings(cron_schedule: str | Sequence[str]) -> list[str]:
    """A schedule's cron expressions as a list (a schedule may have several)."""
    return [cron_schedule] if isinstance(cron_schedule, str) else list(cron_schedule)


def check_cron_schedule(cron_schedule: str | Sequence[str], schedule_name: str | None) -> None:
    """Raise ``DagsterInvalidDefinitionError`` unless every expression is a valid cron string."""
    crons = cron_strings(cron_schedule) if isinstance(cron_schedule, str | Sequence) else []
    valid = bool(crons) and all(isinstance(c, str) and is_valid_cron_string(c) for c in crons)
    if not valid:
        raise DagsterInvalidDefinitionError(
            f"Found invalid cron schedule '{cron_schedule}' for schedule '{schedule_name}''. "
            "Dagster recognizes standard cron expressions consisting of 5 fields."
        )


def check_timezone(execution_timezone: str | None, owner: str | None) -> None:
    """Raise ``DagsterInvalidDefinitionError`` unless the timezone is a known IANA name."""
    if execution_timezone is None:
        return
    try:
        ZoneInfo(execution_timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise DagsterInvalidDefinitionError(
            f"Invalid execution timezone {execution_timezone} for {owner}"
        ) from exc


def cron_ticks(
    cron_schedule: str | Sequence[str],
    execution_timezone: str | None,
    start: datetime,
    *,
    inclusive: bool = True,
) -> Iterator[datetime]:
    """The schedule's tick times from ``start`` on, as aware datetimes in its timezone.

    Args:
        cron_schedule: one cron expression or several (their ticks merged).
        execution_timezone: an IANA name; UTC when None.
        start: an aware datetime.
        inclusive: whether a tick exactly at ``start`` is yielded.
    """
    tz = ZoneInfo(execution_timezone or "UTC")
    start = start.astimezone(timezone.utc)
    streams = [_ticks_of_one(cron, tz, start) for cron in cron_strings(cron_schedule)]
    last: datetime | None = None
    for tick in heapq.merge(*streams):
        if tick < start or (tick == start and not inclusive) or (last and tick <= last):
            continue
        last = tick
        yield tick.astimezone(tz)


def latest_tick_at_or_before(
    cron_schedule: str | Sequence[str], execution_timezone: str | None, moment: datetime
) -> datetime | None:
    """The last tick at or before ``moment`` (None if the cron never matched before it)."""
    tz = ZoneInfo(execution_timezone or "UTC")
    moment = moment.astimezone(timezone.utc)
    found = [_latest_of_one(cron, tz, moment) for cron in cron_strings(cron_schedule)]
    candidates = [tick for tick in found if tick is not None]
    return max(candidates).astimezone(tz) if candidates else None


# Below, instants are UTC datetimes: aware datetimes that share one zone compare by
# wall time, which would order the two 01:30s of an autumn night wrongly.


def _ticks_of_one(cron: str, tz: ZoneInfo, start: datetime) -> Iterator[datetime]:
    every_hour = _fires_every_hour(cron)
    wall_start = _wall(start, tz) - _margin(start, tz)
    walls = croniter(cron.strip(), wall_start - timedelta(seconds=1))
    pending: list[datetime] = []  # instants of wall times that come out of order
    last: datetime | None = None
    while True:
        wall = walls.get_next(datetime)
        for tick in _instants(wall, tz, every_hour):
            heapq.heappush(pending, tick)
        reference = _utc(wall.replace(tzinfo=tz))
        horizon = reference - _margin(reference, tz)  # later wall times land after this
        while pending and pending[0] <= horizon:
            tick = heapq.heappop(pending)
            if last is None or tick > last:
                last = tick
                yield tick


def _latest_of_one(cron: str, tz: ZoneInfo, moment: datetime) -> datetime | None:
    every_hour = _fires_every_hour(cron)
    walls = croniter(cron.strip(), _wall(moment, tz) + _margin(moment, tz) + timedelta(seconds=1))
    best: datetime | None = None
    while True:
        try:
            wall = walls.get_prev(datetime)
        except (StopIteration, ValueError, OverflowError):  # walked past year 1
            return best
        if best is not None and wall < _wall(best, tz) - 2 * _margin(best, tz):
            return best
        for tick in _instants(wall, tz, every_hour):
            if tick <= moment and (best is None or tick > best):
                best = tick


def _wall(moment: datetime, tz: ZoneInfo) -> datetime:
    return moment.astimezone(tz).replace(tzinfo=None)


def _margin(moment: datetime, tz: ZoneInfo) -> timedelta:
    """How far wall times and instants may be out of step around ``moment``: nothing when
    the UTC offset is the same a margin before and after it."""
    before = (moment - _WALL_MARGIN).astimezone(tz).utcoffset()
    after = (moment + _WALL_MARGIN).astimezone(tz).utcoffset()
    return timedelta(0) if before == after else _WALL_MARGIN


def _fires_every_hour(cron: str) -> bool:
    """Whether the expression matches all 24 hours (croniter writes that as ``*``)."""
    hours = croniter(cron.strip()).expanded[1]
    return hours == ["*"] or set(hours) >= set(range(24))


def _instants(wall: datetime, tz: ZoneInfo, every_hour: bool) -> list[datetime]:
    """The UTC instants a naive wall-clock time stands for in ``tz``, per the rules above."""
    first = _utc(wall.replace(tzinfo=tz, fold=0))
    second = _utc(wall.replace(tzinfo=tz, fold=1))
    if first == second:
        return [first]
    if first.astimezone(tz).replace(tzinfo=None) != wall:
        return [] if every_hour else [_end_of_gap(second, first, tz)]
    return [first, second] if every_hour else [second]


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc)


def _end_of_gap(before: datetime, after: datetime, tz: ZoneInfo) -> datetime:
    """The first instant on the far side of a forward jump that lies between two instants."""
    low = int(before.timestamp())  # still on the old offset
    high = int(after.timestamp())  # already on the new one
    new_offset = datetime.fromtimestamp(high, tz).utcoffset()
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, tz).utcoffset() == new_offset:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, timezone.utc)
