"""The ``opgrid`` command line: one root group, built from a module per noun.

    opgrid job list|execute|submit      (job.py)
    opgrid run list|show|logs|cancel|reexecute|prune   (run.py)
    opgrid worker | coordinator         (services.py)
    opgrid dev                          (dev.py)
    opgrid schedule list|start|stop|preview|ticks           (schedule.py)
    opgrid sensor list|start|stop|preview|ticks|cursor      (sensor.py)
    opgrid job backfill; opgrid backfill list|show|cancel   (backfill.py)

Options, exit codes and the problems every command may report are in
``options.py``; what a terminal shows of a run is in ``render.py``. Nothing imports
this package: it is the top of the import layers.

Cluster commands read their settings from ``OPGRID_*`` variables; ``--redis-url``
and ``--namespace``, given to ``opgrid`` or to the command, override them.

Exit codes: 0 the run succeeded, 1 the run failed, 2 a usage, config or
definition error, or a cluster that cannot be reached (also click's own usage
errors). Those errors are one line on stderr (a config error lists every bad
field), never a Python traceback.
"""

from __future__ import annotations

import logging

import click

from opgrid.orchestrator.logs import stream_handler

from .backfill import backfill_group
from .dev import dev
from .job import job_group
from .options import LOG_FORMAT, LOG_LEVELS, ClusterOptions
from .run import run_group
from .schedule import schedule_group
from .sensor import sensor_group
from .services import coordinator, worker
from .ui import ui_command


class _RootGroup(click.Group):
    """The root group; ``--log-level`` may also come after the subcommand's name."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, _log_level_first(args))


def _log_level_first(args: list[str]) -> list[str]:
    """``job execute --log-level debug ...`` -> ``--log-level debug job execute ...``
    (never past a ``--``, after which the arguments belong to another program)."""
    head: list[str] = []
    rest: list[str] = []
    items = iter(args)
    for arg in items:
        if arg == "--":
            rest += [arg, *items]
            break
        if arg == "--log-level":
            head += [arg, next(items, "")]
        elif arg.startswith("--log-level="):
            head.append(arg)
        else:
            rest.append(arg)
    return head + rest


@click.group(
    name="opgrid", cls=_RootGroup, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(package_name="opgrid")
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    default=None,
    help="Level of opgrid's own log records on stderr; may follow any subcommand too.  "
    "[default: WARNING; INFO for services]",
)
@click.option(
    "--redis-url",
    metavar="URL",
    help="The cluster's Redis, for cluster commands.  [default: $OPGRID_REDIS_URL]",
)
@click.option(
    "--namespace",
    metavar="NAME",
    help="The cluster's key prefix, for cluster commands.  [default: $OPGRID_NAMESPACE]",
)
@click.pass_context
def main(
    ctx: click.Context, log_level: str | None, redis_url: str | None, namespace: str | None
) -> None:
    """Run Dagster-style jobs and graphs, in this process or on a Celery cluster."""
    logging.basicConfig(
        level=(log_level or "WARNING").upper(), handlers=[stream_handler("text", LOG_FORMAT)]
    )
    ctx.obj = ClusterOptions(redis_url, namespace, log_level is not None)


for _command in (
    job_group,
    run_group,
    worker,
    coordinator,
    dev,
    ui_command,
    schedule_group,
    sensor_group,
    backfill_group,
):
    main.add_command(_command)
