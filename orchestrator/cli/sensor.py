"""``opgrid sensor ...``: the cluster's sensors, turned on and off, previewed, their ticks
and cursors.

    opgrid sensor list [-f FILE | -m MODULE]
    opgrid sensor start NAME | stop NAME | ticks NAME [--limit N] | cursor NAME [--set C]
    opgrid sensor preview NAME -f FILE | -m MODULE [--cursor C]

``start``/``stop``/``ticks``/``cursor`` work from Redis alone; ``preview`` evaluates the
sensor here once, launching nothing and keeping the stored cursor as it is.
"""

from __future__ import annotations

import click

from opgrid.orchestrator.scheduling.evaluation import InstigatorType, TickRequest, evaluate_tick
from opgrid.orchestrator.scheduling.tick_task import origin_of

from .options import (
    UsageProblem,
    cluster_errors,
    cluster_options,
    cluster_settings,
    load_location,
    location_options,
    open_store,
)
from .schedule import (
    add_state_commands,
    defs_and_states,
    result_lines,
    state_word,
    when,
)

KIND = InstigatorType.SENSOR


@click.group(name="sensor")
def sensor_group() -> None:
    """The cluster's sensors: list, turn on and off, preview, ticks and cursors."""


@sensor_group.command(name="list")
@location_options
@cluster_options
@click.pass_context
def list_sensors(
    ctx: click.Context,
    file: str | None,
    module: str | None,
    redis_url: str | None,
    namespace: str | None,
) -> None:
    """The sensors, their state, interval and last tick."""
    defs, states = defs_and_states(ctx, KIND, file, module, redis_url, namespace)
    if not defs:
        click.echo("no sensors (none published by a worker; give -f/-m to read a location)")
    for name, d in sorted(defs.items()):
        state = states[name]
        kind = f"run_status={d.run_status}" if d.run_status else f"job={d.job_name}"
        click.echo(
            f"{name}  {state_word(state, d)}  every {d.minimum_interval_seconds:g}s  {kind}  "
            f"last={when(state.last_tick_ts)}"
        )


add_state_commands(sensor_group, KIND, "sensor")


@sensor_group.command(name="cursor")
@click.argument("name")
@click.option("--set", "new_cursor", metavar="C", help="Store this cursor instead.")
@cluster_options
@click.pass_context
def sensor_cursor(
    ctx: click.Context, /, name: str, new_cursor: str | None, **opts: str | None
) -> None:
    """Show a sensor's stored cursor, or set it (--set '' clears it)."""
    settings = cluster_settings(ctx, opts["redis_url"], opts["namespace"])
    origin = origin_of(KIND, name)
    with cluster_errors(settings), open_store(settings) as store:
        if new_cursor is None:
            cursor = store.get_instigator_state(origin).cursor
            click.echo(cursor if cursor is not None else "(no cursor)")
            return
        value = new_cursor or None
        store.update_instigator_state(origin, lambda s: s.model_copy(update={"cursor": value}))
    click.echo(f"sensor {name} cursor set to {value!r}")


@sensor_group.command(name="preview")
@click.argument("name")
@location_options
@click.option("--cursor", metavar="C", help="Evaluate with this cursor.  [default: none]")
def preview_sensor(name: str, file: str | None, module: str | None, cursor: str | None) -> None:
    """Evaluate the sensor once here and show what it would launch and its new cursor."""
    location = load_location(file, module)
    if name not in location.sensors:
        raise UsageProblem(
            f"code location {location.name!r} has no sensor {name!r} "
            f"(sensors: {', '.join(sorted(location.sensors)) or 'none'})"
        )
    result = evaluate_tick(location, TickRequest(instigator_type=KIND, name=name, cursor=cursor))
    for line in result_lines(result):
        click.echo(line)
    click.echo(f"  cursor   {result.cursor!r}")
