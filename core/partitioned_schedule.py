"""``build_schedule_from_partitioned_job``: a schedule that runs a job's partitions.

For daily partitions the schedule fires once a day, by default at the partitions' hour
and minute offset, and runs the latest partition that has ended by the tick's time. For
static partitions it fires on the given cron schedule and runs every partition.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from .errors import DagsterInvalidDefinitionError
from .instigator import DefaultScheduleStatus, as_job
from .job import JobDefinition
from .partition import DailyPartitionsDefinition, PartitionsDefinition
from .run_request import RunRequest, SkipReason
from .schedule import ScheduleDefinition, ScheduleEvaluationContext


def build_schedule_from_partitioned_job(
    job: JobDefinition,
    description: str | None = None,
    name: str | None = None,
    minute_of_hour: int | None = None,
    hour_of_day: int | None = None,
    day_of_week: int | None = None,
    day_of_month: int | None = None,
    default_status: DefaultScheduleStatus = DefaultScheduleStatus.STOPPED,
    tags: Mapping[str, str] | None = None,
    cron_schedule: str | None = None,
    execution_timezone: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    owners: Sequence[str] | None = None,
) -> ScheduleDefinition:
    """A schedule that launches the runs of a partitioned job's partitions.

    Args:
        job: a job with partitioned config.
        minute_of_hour: daily partitions: the tick's minute (default: their minute offset);
            ``hour_of_day`` likewise. ``day_of_week``/``day_of_month`` are refused for them.
        cron_schedule: required for static partitions, refused for daily ones (as is
            ``execution_timezone``). The other arguments are kept on the schedule.

    Raises:
        DagsterInvalidDefinitionError: the job is not partitioned, or the timing arguments
            do not fit its partitions.
    """
    job = as_job(job, "build_schedule_from_partitioned_job")
    partitions_def = job.partitions_def
    if partitions_def is None:
        raise DagsterInvalidDefinitionError(
            f"build_schedule_from_partitioned_job: job {job.name!r} is not partitioned"
        )
    day = (minute_of_hour, hour_of_day, day_of_week, day_of_month)
    cron_schedule, execution_timezone = _timing(
        partitions_def, cron_schedule, execution_timezone, day
    )
    return PartitionedScheduleDefinition(
        name=name or f"{job.name}_schedule",
        cron_schedule=cron_schedule,
        execution_timezone=execution_timezone,
        execution_fn=_PartitionRuns(job, partitions_def, dict(tags or {})),
        description=description,
        job=job,
        default_status=default_status,
        metadata=metadata,
        owners=owners,
    )


#: How many missed ticks a schedule of a partitioned job catches up on (Dagster's
#: ``max_catchup_runs`` default).
DEFAULT_MAX_CATCHUP_RUNS = 5


class PartitionedScheduleDefinition(ScheduleDefinition):
    """A schedule built by ``build_schedule_from_partitioned_job``: after downtime it
    catches up on up to ``DEFAULT_MAX_CATCHUP_RUNS`` missed ticks, one partition each."""

    max_catchup_ticks = DEFAULT_MAX_CATCHUP_RUNS


def _timing(
    partitions_def: PartitionsDefinition,
    cron_schedule: str | None,
    execution_timezone: str | None,
    day: tuple[int | None, int | None, int | None, int | None],
) -> tuple[str, str | None]:
    """The schedule's cron string and timezone."""
    if isinstance(partitions_def, DailyPartitionsDefinition):
        if cron_schedule is not None or execution_timezone is not None:
            raise DagsterInvalidDefinitionError(
                "Cannot provide cron_schedule or execution_timezone to "
                "build_schedule_from_partitioned_job for a time-partitioned job."
            )
        return _daily_cron(partitions_def, *day), "UTC"
    if cron_schedule is None:
        raise DagsterInvalidDefinitionError(
            "Creating a schedule from a static partitions definition requires a cron schedule"
        )
    return cron_schedule, execution_timezone


def _daily_cron(
    days: DailyPartitionsDefinition,
    minute: int | None,
    hour: int | None,
    day_of_week: int | None,
    day_of_month: int | None,
) -> str:
    """Once a day, at the given time or else at the partitions' offset."""
    for value, what in ((day_of_week, "day of week"), (day_of_month, "day of month")):
        if value is not None:
            raise DagsterInvalidDefinitionError(
                f"Cannot set {what} parameter with daily partitions."
            )
    offset_minutes = int(days.offset.total_seconds() // 60)
    minute = minute if minute is not None else offset_minutes % 60
    hour = hour if hour is not None else offset_minutes // 60
    return f"{minute} {hour} * * *"


class _PartitionRuns:
    """The execution function of a partitioned schedule."""

    def __init__(
        self, job: JobDefinition, partitions_def: PartitionsDefinition, tags: dict[str, str]
    ) -> None:
        self.job = job
        self.partitions_def = partitions_def
        self.tags = tags

    def __call__(self, context: ScheduleEvaluationContext) -> list[RunRequest] | SkipReason:
        if isinstance(self.partitions_def, DailyPartitionsDefinition):
            moment = (
                context.scheduled_execution_time
                if context.has_scheduled_execution_time
                else datetime.now(timezone.utc)
            )
            latest = last_ended_partition(self.partitions_def, moment)
            keys = [latest] if latest is not None else []
        else:  # static (and computed) partitions: every one of them
            keys = list(self.partitions_def.get_partition_keys())
        if not keys:
            return SkipReason("The job's PartitionsDefinition has no partitions")
        return [
            RunRequest(run_key=key, partition_key=key, job_name=self.job.name, tags=self.tags)
            for key in keys
        ]


def last_ended_partition(days: DailyPartitionsDefinition, moment: datetime) -> str | None:
    """The latest daily partition that ended at or before ``moment`` (None before the first).

    With ``end_offset`` the partitions that end up to that many days later count too.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    day = (moment.astimezone(timezone.utc) - days.offset).date()
    key_day = day - timedelta(days=1 - days.end_offset)
    start = datetime(key_day.year, key_day.month, key_day.day, tzinfo=timezone.utc)
    if start < days.start:
        return None
    return start.strftime(days.fmt)
