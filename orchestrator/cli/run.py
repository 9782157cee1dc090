"""The cluster commands of ``opgrid``: a worker, a coordinator, and the runs' views.

    opgrid worker -f FILE | -m MODULE [-Q QUEUES] [-c N] [--pool prefork|solo|threads] [-- ARGS]
    opgrid coordinator [--id NAME]
    opgrid run list [--limit N] | show RUN_ID | logs RUN_ID [--follow] | cancel RUN_ID
    opgrid run logs RUN_ID --step KEY --stdout|--stderr [--attempt N]
    opgrid run prune --older-than AGE [--dry-run]

(``opgrid job submit`` and ``opgrid dev`` are in ``cli_dev``.)

Workers are Celery processes started by command (``python -m celery -A
opgrid.workers.app worker``), never imported: the orchestrator does not import
the workers (STYLE.md §1).
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Literal

import click

from opgrid.errors import DagsterInvariantViolationError, RunNotFound
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.client.reexecute import reexecute
from opgrid.orchestrator.client.runs import RunFilter, find_runs, record_json
from opgrid.orchestrator.protocol.events import run_event
from opgrid.orchestrator.protocol.status import FINAL_RUN_STATUSES, RunStatus
from opgrid.orchestrator.protocol.step_keys import is_copy_of

from .captured import echo_captured
from .options import (
    EXIT_RUN_FAILED,
    WATCH_BLOCK_S,
    UsageProblem,
    cluster_errors,
    cluster_options,
    cluster_settings,
    follow_run,
    json_option,
    open_store,
    parse_tags,
    wait_options,
)
from .render import event_line, print_run_summary
from .show import STATUS_COLORS, clock, record_of, run_duration, show_run

logger = logging.getLogger(__name__)


# opgrid run ... --------------------------------------------------------------------------
@click.group(name="run")
def run_group() -> None:
    """Look at the cluster's runs, and cancel them."""


@run_group.command(name="list")
@click.option("--job", "job_name", metavar="JOB", help="Only runs of this job.")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice([status.value for status in RunStatus]),
    help="Only runs with this status; repeat for several.",
)
@click.option(
    "--tag",
    "tags",
    multiple=True,
    metavar="KEY=VALUE",
    callback=lambda ctx, param, values: parse_tags(values, ctx, param),
    help="Only runs with this tag; repeat for several (all must match).",
)
@click.option(
    "--since",
    "since_s",
    metavar="AGE",
    callback=lambda ctx, param, value: None if value is None else _age_option(ctx, param, value),
    help="Only runs created less than AGE ago: 30s, 15m, 12h, 7d, 2w.",
)
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@json_option
@cluster_options
@click.pass_context
def list_runs(
    ctx: click.Context,
    job_name: str | None,
    statuses: tuple[str, ...],
    tags: dict[str, str],
    since_s: float | None,
    limit: int,
    as_json: bool,
    redis_url: str | None,
    namespace: str | None,
) -> None:
    """The newest runs: id, job, status, created, duration."""
    settings = cluster_settings(ctx, redis_url, namespace)
    since = None if since_s is None else time.time() - since_s
    where = RunFilter(job_name, frozenset(RunStatus(s) for s in statuses), tags, since)
    with cluster_errors(settings), open_store(settings) as store:
        records = find_runs(store, where, limit)
    if as_json:
        click.echo(json.dumps([record_json(r) for r in records], indent=2))
        return
    if not records:
        click.echo(f"no runs in namespace {settings.namespace!r} match", err=True)
        return
    header = ("RUN ID", "JOB", "STATUS", "CREATED", "DURATION")
    rows = [
        (r.run_id, r.job_name, r.status.value, clock(r.created_at), run_duration(r))
        for r in records
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        if row is not header:
            cells[2] = click.style(cells[2], fg=STATUS_COLORS.get(row[2]))
        click.echo("  ".join(cells).rstrip())


run_group.add_command(show_run)


@run_group.command(name="logs")
@click.argument("run_id")
@click.option("-F", "--follow", is_flag=True, help="Keep printing events until the run ends.")
@click.option(
    "--step",
    "step_keys",
    multiple=True,
    metavar="KEY",
    help="Only this step's events (its mapped copies too); repeat for several.",
)
@click.option(
    "--stdout",
    "stream",
    flag_value="stdout",
    default=None,
    help="What the --step printed on stdout instead (its latest attempt, or --attempt).",
)
@click.option("--stderr", "stream", flag_value="stderr", help="As --stdout, for stderr.")
@click.option("--attempt", type=click.IntRange(min=0), help="With --stdout/--stderr: which one.")
@json_option
@cluster_options
@click.pass_context
def run_logs(
    ctx: click.Context,
    run_id: str,
    follow: bool,
    step_keys: tuple[str, ...],
    stream: Literal["stdout", "stderr"] | None,
    attempt: int | None,
    as_json: bool,
    redis_url: str | None,
    namespace: str | None,
) -> None:
    """Every event of a run in time order, context.log lines included, one line each.

    RUN_ID may be a unique prefix of the run's id. With --json, one JSON object per line.
    With --step KEY --stdout (or --stderr), what that step printed instead.
    """
    if stream is not None and follow:
        raise UsageProblem(f"--{stream} shows an attempt's output once it ended: drop --follow")
    if attempt is not None and stream is None:
        raise UsageProblem("--attempt goes with --stdout or --stderr")
    settings = cluster_settings(ctx, redis_url, namespace)
    with cluster_errors(settings), open_store(settings) as store:
        record = record_of(store, run_id)
        if stream is not None:
            echo_captured(store, record, step_keys, stream, attempt)
            return
        cursor = "0-0"
        while True:
            finished = not follow or record.status in FINAL_RUN_STATUSES  # read before events
            entries = store.read_events(record.run_id, cursor)
            for _, event in entries:
                if step_keys and not _of_steps(event.step_key, step_keys):
                    continue
                click.echo(event.model_dump_json() if as_json else event_line(event))
            cursor = entries[-1][0] if entries else cursor
            if finished:
                return
            store.wait_run(record.run_id, cursor, WATCH_BLOCK_S)  # returns when more arrive
            record = store.get_run(record.run_id)


def _of_steps(step_key: str | None, wanted: tuple[str, ...]) -> bool:
    return step_key is not None and any(
        step_key == key or is_copy_of(step_key, key) for key in wanted
    )


@run_group.command(name="cancel")
@click.argument("run_id")
@cluster_options
@click.pass_context
def cancel_run(
    ctx: click.Context, run_id: str, redis_url: str | None, namespace: str | None
) -> None:
    """Ask the run's coordinator to stop it: running steps end, nothing new starts."""
    settings = cluster_settings(ctx, redis_url, namespace)
    with cluster_errors(settings), open_store(settings) as store:
        record = record_of(store, run_id)
        run_id = record.run_id
        if record.status in FINAL_RUN_STATUSES:
            raise UsageProblem(f"run {run_id} has already finished ({record.status.value})")
        event = run_event(run_id, E.RUN_CANCELING, message="requested")
        store.append_events(run_id, [event])
        alive = store.live_coordinators()
    click.echo(f"cancel requested for run {run_id}")
    if not alive:
        click.echo("warning: no coordinator is alive; the run stops when one starts", err=True)


#: Seconds per unit of an ``--older-than`` age.
AGE_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}


def parse_age(text: str) -> float:
    """``30s``, ``15m``, ``12h``, ``7d``, ``2w`` -> seconds.

    Raises:
        ValueError: ``text`` is not a number followed by one of those units.
    """
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text)
    if found is None:
        raise ValueError(
            f"{text!r} is not an age: give a number and a unit, e.g. 30s, 15m, 12h, 7d, 2w"
        )
    return float(found.group(1)) * AGE_UNITS[found.group(2)]


def _age_option(ctx: click.Context, param: click.Parameter, value: str) -> float:
    try:
        return parse_age(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from exc


@run_group.command(name="prune")
@click.option(
    "--older-than",
    "older_than_s",
    required=True,
    metavar="AGE",
    callback=_age_option,
    help="Prune the finished runs that ended more than AGE ago: 30s, 15m, 12h, 7d, 2w.",
)
@click.option("--dry-run", is_flag=True, help="Only list the runs that would be pruned.")
@cluster_options
@click.pass_context
def prune_runs(
    ctx: click.Context,
    older_than_s: float,
    dry_run: bool,
    redis_url: str | None,
    namespace: str | None,
) -> None:
    """Delete finished runs (every key, outputs included); active runs are never touched.

    Prints the id of each run pruned (or, with --dry-run, that would be), oldest first.
    """
    settings = cluster_settings(ctx, redis_url, namespace)
    cutoff = time.time() - older_than_s
    with cluster_errors(settings), open_store(settings) as store:
        pruned = store.prune_runs(cutoff, dry_run=dry_run)
    for run_id in pruned:
        click.echo(run_id)
    verb = "would prune" if dry_run else "pruned"
    count = f"{len(pruned)} run" + ("" if len(pruned) == 1 else "s")
    click.echo(f"{verb} {count} that ended before {clock(cutoff)}", err=True)


# opgrid run reexecute ---------------------------------------------------------------------
@run_group.command(name="reexecute")
@click.argument("run_id")
@click.option(
    "--from-failure",
    is_flag=True,
    help="Reuse the outputs of the steps that succeeded; run only what failed or never ran.",
)
@click.option(
    "--step",
    "steps",
    multiple=True,
    metavar="KEY",
    help="Run only this step (repeat for several), reusing the outputs it reads.",
)
@wait_options
@click.option("-v", "--verbose", is_flag=True, help="Print error stacks.")
@cluster_options
@click.pass_context
def reexecute_run(
    ctx: click.Context,
    run_id: str,
    from_failure: bool,
    steps: tuple[str, ...],
    wait: bool,
    timeout_s: float | None,
    verbose: bool,
    redis_url: str | None,
    namespace: str | None,
) -> None:
    """Queue a new run of a finished run's plan and print its id (no code needed here)."""
    settings = cluster_settings(ctx, redis_url, namespace)
    with cluster_errors(settings), open_store(settings) as store:
        try:
            run_id = record_of(store, run_id).run_id
            if steps and from_failure:
                raise UsageProblem("give --step or --from-failure, not both")
            record = reexecute(store, run_id, from_failure=from_failure, steps=steps)
        except (RunNotFound, DagsterInvariantViolationError) as exc:
            raise UsageProblem(str(exc)) from exc
        if not store.live_coordinators():
            click.echo("warning: no coordinator is alive; the run waits for one", err=True)
    if not (wait or timeout_s is not None):
        click.echo(record.run_id)
        return
    started = time.monotonic()
    reused = f", reusing {len(record.reused)} step(s)" if from_failure or steps else ""
    click.echo(f"run {record.run_id} re-executes run {run_id}{reused}")
    with cluster_errors(settings):
        try:
            final = follow_run(record.run_id, record.job_name, settings, verbose, timeout_s)
        except KeyboardInterrupt:
            click.echo(f"\nstopped watching run {record.run_id}; it goes on", err=True)
            ctx.exit(130)
    with cluster_errors(settings), open_store(settings) as store:
        summary = store.get_summary(record.run_id)
    ended = summary.steps if summary is not None else {}
    success = final.status is RunStatus.SUCCESS
    print_run_summary(record.run_id, record.job_name, success, ended, time.monotonic() - started)
    if final.status is not RunStatus.SUCCESS:
        ctx.exit(EXIT_RUN_FAILED)
