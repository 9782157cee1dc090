"""``opgrid schedule ...``: the cluster's schedules, turned on and off, previewed, their ticks.

    opgrid schedule list [-f FILE | -m MODULE]
    opgrid schedule start NAME | stop NAME | ticks NAME [--limit N]
    opgrid schedule preview NAME -f FILE | -m MODULE [--ticks N]

``list`` shows the schedules a worker published (or those of ``-f``/``-m``) with their
state in Redis; ``start``/``stop``/``ticks`` work from Redis alone; ``preview`` evaluates
the next ticks here, launching nothing. Also the helpers ``opgrid sensor`` shares.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

import click

from opgrid.code_location import CodeLocation
from opgrid.errors import InstigatorNotFound
from opgrid.orchestrator.scheduler import control
from opgrid.orchestrator.scheduling.definitions import InstigatorDef, instigator_defs
from opgrid.orchestrator.scheduling.evaluation import (
    InstigatorType,
    TickRequest,
    TickResult,
    evaluate_tick,
)
from opgrid.orchestrator.scheduling.tick_task import origin_of
from opgrid.orchestrator.scheduling.ticks import schedule_tick, ticks_between
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.redis import RedisRunStore
from opgrid.orchestrator.store.tick_records import InstigatorState, TickRecord

from .options import (
    UsageProblem,
    cluster_errors,
    cluster_options,
    cluster_settings,
    load_location,
    location_options,
    open_store,
)

KIND = InstigatorType.SCHEDULE


def when(ts: float | None) -> str:
    """A time as ISO 8601 UTC, to the second ("-" for none)."""
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def known_defs(
    store: RedisRunStore, kind: InstigatorType, location: CodeLocation | None
) -> dict[str, InstigatorDef]:
    """Name -> definition: those of ``location`` if given, else those workers published."""
    if location is not None:
        defs = instigator_defs(location)
    else:
        defs = list(store.instigator_defs().values())
    return {d.name: d for d in defs if d.kind is kind}


def set_running(
    settings: Settings,
    kind: InstigatorType,
    name: str,
    running: bool,
    location: CodeLocation | None,
) -> None:
    """``start``/``stop``: record the schedule or sensor on or off (ticks from now on)."""
    with cluster_errors(settings), open_store(settings) as store:
        known = known_defs(store, kind, location).values()
        try:
            control.set_running(store, kind, name, running, known)
        except InstigatorNotFound as exc:
            raise UsageProblem(str(exc)) from exc
    click.echo(f"{kind.value} {name} {'started' if running else 'stopped'}")


def print_ticks(settings: Settings, kind: InstigatorType, name: str, limit: int) -> None:
    """``ticks``: the newest ticks of a schedule or sensor."""
    with cluster_errors(settings), open_store(settings) as store:
        ticks = store.list_ticks(origin_of(kind, name), limit)
    if not ticks:
        click.echo(f"no ticks recorded for {kind.value} {name}")
    for tick in ticks:
        click.echo(tick_line(tick))


def tick_line(tick: TickRecord) -> str:
    detail = ", ".join(tick.run_ids) if tick.run_ids else ""
    if tick.error is not None:
        detail = f"{tick.error.cls_name}: {tick.error.message}"
    elif tick.skip_reason:
        detail = tick.skip_reason
    state = "" if tick.launched or not tick.evaluated else " (launching)"
    return f"{when(tick.timestamp)}  {tick.status.upper():8} {detail}{state}".rstrip()


def result_lines(result: TickResult) -> list[str]:
    """What a previewed tick would do."""
    if result.error is not None:
        return [f"  FAILURE  {result.error.cls_name}: {result.error.message}"]
    if not result.run_requests:
        return [f"  SKIPPED  {result.skip_reason or 'no run requested'}"]
    lines = []
    for run in result.run_requests:
        key = f" run_key={run.run_key}" if run.run_key else ""
        part = f" partition={run.partition_key}" if run.partition_key else ""
        lines.append(f"  RUN      {run.job_name}{key}{part} config={run.run_config}")
    return lines


def defs_and_states(
    ctx: click.Context,
    kind: InstigatorType,
    file: str | None,
    module: str | None,
    redis_url: str | None,
    namespace: str | None,
) -> tuple[dict[str, InstigatorDef], dict[str, InstigatorState]]:
    """What ``list`` shows: the schedules or sensors known (published by workers, or read
    from ``-f``/``-m``) and the stored state of each."""
    settings = cluster_settings(ctx, redis_url, namespace)
    location = load_location(file, module) if file or module else None
    with cluster_errors(settings), open_store(settings) as store:
        defs = known_defs(store, kind, location)
        states = {name: store.get_instigator_state(origin_of(kind, name)) for name in defs}
    return defs, states


def state_word(state: InstigatorState, definition: InstigatorDef) -> str:
    return "RUNNING" if state.is_running(definition) else "STOPPED"


# opgrid schedule ... --------------------------------------------------------------------
@click.group(name="schedule")
def schedule_group() -> None:
    """The cluster's schedules: list, turn on and off, preview, look at their ticks."""


@schedule_group.command(name="list")
@location_options
@cluster_options
@click.pass_context
def list_schedules(
    ctx: click.Context,
    file: str | None,
    module: str | None,
    redis_url: str | None,
    namespace: str | None,
) -> None:
    """The schedules, their state and their next tick."""
    defs, states = defs_and_states(ctx, KIND, file, module, redis_url, namespace)
    if not defs:
        click.echo("no schedules (none published by a worker; give -f/-m to read a location)")
    now = time.time()
    for name, d in sorted(defs.items()):
        info = d.info
        upcoming = schedule_tick(
            info.cron_schedules, info.execution_timezone, None, now
        ).next_tick_ts
        cron = " | ".join(info.cron_schedules)
        click.echo(
            f"{name}  {state_word(states[name], d)}  {cron}  job={d.job_name}  "
            f"next={when(upcoming) if states[name].is_running(d) else '-'}"
        )


def add_state_commands(group: click.Group, kind: InstigatorType, noun: str) -> None:
    """``start NAME``, ``stop NAME`` and ``ticks NAME`` on ``group``, for schedules or
    sensors alike (their state and ticks live in Redis, by kind and name)."""

    @group.command(name="start", help=f"Turn a {noun} on (on the coordinators' scheduler).")
    @click.argument("name")
    @location_options
    @cluster_options
    @click.pass_context
    def start(
        ctx: click.Context, /, name: str, file: str | None, module: str | None, **opts: str | None
    ) -> None:
        location = load_location(file, module) if file or module else None
        settings = cluster_settings(ctx, opts["redis_url"], opts["namespace"])
        set_running(settings, kind, name, True, location)

    @group.command(name="stop", help=f"Turn a {noun} off.")
    @click.argument("name")
    @location_options
    @cluster_options
    @click.pass_context
    def stop(
        ctx: click.Context, /, name: str, file: str | None, module: str | None, **opts: str | None
    ) -> None:
        location = load_location(file, module) if file or module else None
        settings = cluster_settings(ctx, opts["redis_url"], opts["namespace"])
        set_running(settings, kind, name, False, location)

    @group.command(
        name="ticks", help=f"The newest ticks of a {noun}: time, status, runs launched or why not."
    )
    @click.argument("name")
    @click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
    @cluster_options
    @click.pass_context
    def ticks(ctx: click.Context, /, name: str, limit: int, **opts: str | None) -> None:
        print_ticks(cluster_settings(ctx, opts["redis_url"], opts["namespace"]), kind, name, limit)


add_state_commands(schedule_group, KIND, "schedule")


@schedule_group.command(name="preview")
@click.argument("name")
@location_options
@click.option("--ticks", "count", type=click.IntRange(min=1), default=3, show_default=True)
def preview_schedule(name: str, file: str | None, module: str | None, count: int) -> None:
    """Evaluate the schedule's next ticks here and show what each would launch."""
    location = load_location(file, module)
    try:
        schedule_def = location.get_schedule(name)
    except Exception as exc:
        raise UsageProblem(str(exc)) from exc
    found = ticks_between(
        schedule_def.cron_schedule,
        schedule_def.execution_timezone,
        time.time(),
        float("inf"),
        limit=count,
    )
    for tick in found:
        request = TickRequest(instigator_type=KIND, name=name, scheduled_ts=tick.timestamp())
        click.echo(tick.isoformat())
        for line in result_lines(evaluate_tick(location, request)):
            click.echo(line)
