"""A code location with one schedule, running by default, every minute: the schedule test
drives it with a settable clock."""

from __future__ import annotations

from opgrid import DefaultScheduleStatus, RunRequest, job, op, schedule


@op(config_schema={"minute": str})
def note_minute(context) -> str:
    return context.op_config["minute"]


@job
def minutely_job():
    note_minute()


@schedule(
    cron_schedule="* * * * *",
    job=minutely_job,
    default_status=DefaultScheduleStatus.RUNNING,
)
def every_minute(context):
    minute = context.scheduled_execution_time.strftime("%H:%M")
    return RunRequest(run_config={"ops": {"note_minute": {"config": {"minute": minute}}}})
