"""Backfills: ``opgrid job backfill`` submits one, ``opgrid backfill ...`` follows them.

    opgrid job backfill -f FILE | -m MODULE [-j JOB] (--partitions a,b,c | --all |
        --from K1 --to K2) [--max-concurrent N] [--tag K=V] [--wait [--timeout S]]
    opgrid backfill list [--limit N] | show ID | cancel ID

The plan of every partition's run is compiled here (a bad config fails before anything
is stored); the scheduler leader of the coordinators launches the runs, at most
``--max-concurrent`` at a time, each partition once, resuming after any restart.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import click

from opgrid.errors import (
    BackfillNotFound,
    ConfigError,
    DagsterInvariantViolationError,
    OpgridError,
)
from opgrid.orchestrator.planning.compiler import compile_plan
from opgrid.orchestrator.planning.plan import ExecutionPlan
from opgrid.orchestrator.scheduler import control
from opgrid.orchestrator.scheduling.backfill import Backfill, select_partitions
from opgrid.orchestrator.store.redis import RedisRunStore
from opgrid.orchestrator.store.tick_records import BackfillProgressRecord, BackfillRecord

from .job import job_group
from .options import (
    EXIT_RUN_FAILED,
    UsageProblem,
    cluster_errors,
    cluster_options,
    cluster_settings,
    describe_config_error,
    load_location,
    location_options,
    open_store,
    parse_tags,
    select_job,
)
from .schedule import when

#: How often ``--wait`` looks at the backfill.
WAIT_POLL_S = 0.5


def _plans(job: Any, backfill: Backfill) -> dict[str, ExecutionPlan]:
    try:
        return {
            key: compile_plan(job, None, partition_key=key, tags=backfill.run_tags(key))
            for key in backfill.partition_keys
        }
    except ConfigError as exc:
        raise UsageProblem(describe_config_error(job, exc)) from exc
    except OpgridError as exc:
        raise UsageProblem(str(exc)) from exc


@job_group.command(name="backfill")
@location_options
@click.option("-j", "--job", "job_name", metavar="JOB", help="The job.  [default: the only one]")
@click.option("--partitions", metavar="A,B,C", help="These partitions, comma-separated.")
@click.option("--all", "all_partitions", is_flag=True, help="Every partition.")
@click.option("--from", "from_key", metavar="KEY", help="From this partition on (included).")
@click.option("--to", "to_key", metavar="KEY", help="Up to this partition (included).")
@click.option("--max-concurrent", type=click.IntRange(min=1), help="Runs in flight at most.")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="A tag on every run.")
@click.option("--wait", is_flag=True, help="Wait until every partition's run finished.")
@click.option("--timeout", "timeout_s", type=float, metavar="S", help="With --wait: at most S s.")
@cluster_options
@click.pass_context
def backfill_job(ctx: click.Context, /, **opts: Any) -> None:
    """Launch one run per selected partition of a partitioned job."""
    settings = cluster_settings(ctx, opts["redis_url"], opts["namespace"])
    location = load_location(opts["file"], opts["module"])
    job = select_job(location, opts["job_name"])
    if job.partitioned_config is None:
        raise UsageProblem(f"job {job.name!r} is not partitioned: nothing to backfill")
    try:
        keys = select_partitions(
            job.partitioned_config.partitions_def,
            partitions=opts["partitions"],
            all_partitions=opts["all_partitions"],
            from_key=opts["from_key"],
            to_key=opts["to_key"],
            now_ts=time.time(),
            job_name=job.name,
        )
    except OpgridError as exc:
        raise UsageProblem(str(exc)) from exc
    backfill = Backfill(
        backfill_id=uuid.uuid4().hex[:8],
        job_name=job.name,
        partition_keys=keys,
        tags={k: str(v) for k, v in parse_tags(opts["tags"]).items()},
        max_concurrent=opts["max_concurrent"],
        created_ts=time.time(),
    )
    plans = _plans(job, backfill)
    with cluster_errors(settings), open_store(settings) as store:
        store.create_backfill(BackfillRecord(backfill=backfill, location=location.name), plans)
        click.echo(f"backfill {backfill.backfill_id}: {len(keys)} partition(s) of {job.name}")
        if not store.live_coordinators():
            click.echo("warning: no coordinator is alive to launch its runs", err=True)
        if opts["wait"]:
            _wait(store, backfill.backfill_id, opts["timeout_s"])


def _wait(store: RedisRunStore, backfill_id: str, timeout_s: float | None) -> None:
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        progress = store.get_backfill(backfill_id)
        if progress is not None and progress.record.status != "requested":
            _show(progress)
            failed = [k for k, s in progress.finished.items() if s != "success"]
            if failed or progress.record.status == "canceled":
                ctx = click.get_current_context()
                ctx.exit(EXIT_RUN_FAILED)
            return
        if deadline is not None and time.monotonic() > deadline:
            raise UsageProblem(f"backfill {backfill_id} did not finish within {timeout_s} s")
        time.sleep(WAIT_POLL_S)


def _show(progress: BackfillProgressRecord) -> None:
    record = progress.record
    backfill = record.backfill
    limit = backfill.max_concurrent or "no limit"
    click.echo(f"backfill {backfill.backfill_id}  {record.status.upper()}  job={backfill.job_name}")
    click.echo(f"  created {when(backfill.created_ts)}  max concurrent {limit}")
    for key in backfill.partition_keys:
        run_id = progress.launched.get(key, "")
        status = progress.finished.get(key) or ("launched" if run_id else "waiting")
        click.echo(f"  {key:<20} {status:<9} {run_id}".rstrip())


# opgrid backfill ... ---------------------------------------------------------------------
@click.group(name="backfill")
def backfill_group() -> None:
    """The cluster's backfills: list, show, cancel (submit with: opgrid job backfill)."""


@backfill_group.command(name="list")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@cluster_options
@click.pass_context
def list_backfills(ctx: click.Context, /, limit: int, **opts: str | None) -> None:
    """The newest backfills: id, status, job, how many partitions finished."""
    settings = cluster_settings(ctx, opts["redis_url"], opts["namespace"])
    with cluster_errors(settings), open_store(settings) as store:
        found = [store.get_backfill(r.backfill_id) for r in store.list_backfills(limit)]
    if not found:
        click.echo("no backfills")
    for progress in filter(None, found):
        backfill = progress.record.backfill
        done = f"{len(progress.finished)}/{len(backfill.partition_keys)} finished"
        click.echo(
            f"{backfill.backfill_id}  {progress.record.status.upper():9}  {backfill.job_name}  "
            f"{done}  {when(backfill.created_ts)}"
        )


def _get(store: RedisRunStore, backfill_id: str) -> BackfillProgressRecord:
    progress = store.get_backfill(backfill_id)
    if progress is None:
        raise UsageProblem(f"no backfill {backfill_id!r} (see `opgrid backfill list`)")
    return progress


@backfill_group.command(name="show")
@click.argument("backfill_id")
@cluster_options
@click.pass_context
def show_backfill(ctx: click.Context, /, backfill_id: str, **opts: str | None) -> None:
    """A backfill and the state of each partition."""
    settings = cluster_settings(ctx, opts["redis_url"], opts["namespace"])
    with cluster_errors(settings), open_store(settings) as store:
        _show(_get(store, backfill_id))


@backfill_group.command(name="cancel")
@click.argument("backfill_id")
@cluster_options
@click.pass_context
def cancel_backfill(ctx: click.Context, /, backfill_id: str, **opts: str | None) -> None:
    """Launch no more partitions, and cancel the runs in flight."""
    settings = cluster_settings(ctx, opts["redis_url"], opts["namespace"])
    with cluster_errors(settings), open_store(settings) as store:
        try:
            in_flight = control.cancel_backfill(store, backfill_id)
        except (BackfillNotFound, DagsterInvariantViolationError) as exc:
            raise UsageProblem(str(exc)) from exc
    click.echo(f"backfill {backfill_id} canceled ({len(in_flight)} run(s) in flight asked to stop)")
