"""The cluster commands of ``opgrid``: a worker, a coordinator, and the runs' views.

    opgrid worker -f FILE | -m MODULE [-Q QUEUES] [-c N] [--pool prefork|solo|threads] [-- ARGS]
    opgrid coordinator [--id NAME]
    opgrid run list [--limit N] | show RUN_ID | logs RUN_ID [--follow] | cancel RUN_ID
    opgrid run prune --older-than AGE [--dry-run]

(``opgrid job submit`` and ``opgrid dev`` are in ``cli_dev``.)

Workers are Celery processes started by command (``python -m celery -A
opgrid.workers.app worker``), never imported: the orchestrator does not import
the workers (STYLE.md §1).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from types import FrameType

import click

from opgrid.errors import OpgridError, RunNotFound
from opgrid.event_type import DagsterEventType as E

from .cli import (
    UsageProblem,
    cluster_errors,
    cluster_options,
    cluster_settings,
    load_location,
    location_options,
    log_format_option,
    main,
    safe_url,
    service_logging,
)
from .cli_progress import format_duration
from .coordinator import Coordinator
from .dispatch import CeleryDispatcher
from .messages import FINAL_RUN_STATUSES as FINAL_RUN_STATUSES  # cli_dev imports it from here
from .messages import RunEvent, RunRecord, StepStatus
from .metrics import served_metrics
from .redis_store import RedisRunStore
from .settings import Settings

logger = logging.getLogger(__name__)

#: The Celery app a worker process runs (``celery -A``).
WORKER_APP = "opgrid.workers.app"
#: Celery pools ``opgrid worker --pool`` accepts.
POOLS = ("prefork", "solo", "threads")
#: Longest a watcher blocks on a run's stream before it checks on its helpers.
WATCH_BLOCK_S = 1.0


# opgrid worker ---------------------------------------------------------------------------
@main.command(name="worker", context_settings={"ignore_unknown_options": True})
@location_options
@click.option(
    "-Q",
    "--queues",
    metavar="QUEUE[,QUEUE]",
    help="Queues to consume.  [default: the default queue]",
)
@click.option(
    "-c", "--concurrency", type=click.IntRange(min=1), help="Pool size.  [default: one per CPU]"
)
@click.option("--pool", type=click.Choice(POOLS), default="prefork", show_default=True)
@click.option("-n", "--hostname", metavar="NAME", help="Celery node name, e.g. w1@%h.")
@log_format_option
@cluster_options
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED, metavar="[-- CELERY ARGS]")
@click.pass_context
def worker(
    ctx: click.Context,
    file: str | None,
    module: str | None,
    queues: str | None,
    concurrency: int | None,
    pool: str,
    hostname: str | None,
    log_format: str | None,
    redis_url: str | None,
    namespace: str | None,
    celery_args: tuple[str, ...],
) -> None:
    """Run the steps of a code location's jobs: becomes a Celery worker (Flower sees it)."""
    settings = cluster_settings(ctx, redis_url, namespace, log_format=log_format)
    location = load_location(file, module).name  # fail here, not at the first step
    options = ["-E"]  # task events, for Flower
    if concurrency is not None:
        options += ["-c", str(concurrency)]
    if hostname is not None:
        options += ["-n", hostname]
    argv, env = worker_command(
        settings, location, queues or settings.default_queue, pool, "INFO", [*options, *celery_args]
    )
    logger.info("exec %s", " ".join(argv))
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvpe(argv[0], argv, env)


def worker_command(
    settings: Settings,
    location: str,
    queues: str,
    pool: str,
    loglevel: str,
    options: Sequence[str] = (),
) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of a Celery worker serving ``location``."""
    argv = [sys.executable, "-m", "celery", "-A", WORKER_APP, "worker"]
    argv += ["-Q", queues, "--pool", pool, "--loglevel", loglevel, *options]
    env = {
        **os.environ,
        "OPGRID_REDIS_URL": settings.redis_url,
        "OPGRID_BROKER_URL": settings.broker_url,
        "OPGRID_NAMESPACE": settings.namespace,
        "OPGRID_SECRET": settings.secret.get_secret_value(),
        "OPGRID_LOCATIONS": location,
        "OPGRID_DEFAULT_QUEUE": settings.default_queue,
        "OPGRID_LOG_FORMAT": settings.log_format,
    }
    return argv, env


# opgrid coordinator ----------------------------------------------------------------------
@main.command(name="coordinator")
@click.option("--id", "coordinator_id", metavar="NAME", help="Its name in logs; random by default.")
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    metavar="PORT",
    help="Serve Prometheus /metrics and /healthz on this port; 0: off.  "
    "[default: $OPGRID_METRICS_PORT or 0]",
)
@log_format_option
@cluster_options
@click.pass_context
def coordinator(
    ctx: click.Context,
    coordinator_id: str | None,
    metrics_port: int | None,
    log_format: str | None,
    redis_url: str | None,
    namespace: str | None,
) -> None:
    """Drive the cluster's runs (dispatch ready steps, finish runs) until SIGINT or SIGTERM."""
    settings = cluster_settings(
        ctx, redis_url, namespace, metrics_port=metrics_port, log_format=log_format
    )
    service_logging(ctx, settings.log_format)
    stop = threading.Event()
    with cluster_errors(settings), open_store(settings) as store, contextlib.ExitStack() as stack:
        others = store.live_coordinators()  # also checks that Redis answers
        dispatcher = CeleryDispatcher(settings)
        stack.callback(dispatcher.close)
        try:
            metrics = stack.enter_context(served_metrics(store, settings))
        except OpgridError as exc:  # the port is taken
            raise UsageProblem(str(exc)) from exc
        driver = Coordinator(store, dispatcher, settings, coordinator_id, metrics)
        metrics.watch(driver)
        logger.info(
            "coordinator %s: namespace %r at %s, default queue %r, %d other(s) alive",
            driver.id,
            settings.namespace,
            safe_url(settings.redis_url),
            settings.default_queue,
            len(others),
        )
        with stop_on_signals(stop):
            driver.run(stop)


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set ``stop``; a second one interrupts at once."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        logger.info("%s received, stopping", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextlib.contextmanager
def open_store(settings: Settings) -> Iterator[RedisRunStore]:
    """The cluster's run store; its connections are closed on exit."""
    store = RedisRunStore.from_settings(settings)
    try:
        yield store
    finally:
        store.client.close()


def log_line(event: RunEvent, job_name: str) -> str:
    """A ``context.log`` line as Dagster's console logger writes it."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(event.timestamp))
    return (
        f"{stamp} - opgrid - {event.level or 'INFO'} - {job_name} - {event.run_id} - "
        f"{event.step_key} - {event.message}"
    )


# opgrid run ... --------------------------------------------------------------------------
@main.group(name="run")
def run_group() -> None:
    """Look at the cluster's runs, and cancel them."""


@run_group.command(name="list")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@cluster_options
@click.pass_context
def list_runs(ctx: click.Context, limit: int, redis_url: str | None, namespace: str | None) -> None:
    """The newest runs: id, job, status, created, duration."""
    settings = cluster_settings(ctx, redis_url, namespace)
    with cluster_errors(settings), open_store(settings) as store:
        records = store.list_runs(limit)
    if not records:
        click.echo(f"no runs in namespace {settings.namespace!r}", err=True)
        return
    header = ("RUN ID", "JOB", "STATUS", "CREATED", "DURATION")
    rows = [
        (r.run_id, r.job_name, r.status.value, _clock(r.created_at), _run_duration(r))
        for r in records
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        if row is not header:
            cells[2] = click.style(cells[2], fg=_STATUS_COLORS.get(row[2]))
        click.echo("  ".join(cells).rstrip())


@run_group.command(name="show")
@click.argument("run_id")
@click.option("-v", "--verbose", is_flag=True, help="Print the stack of each error.")
@cluster_options
@click.pass_context
def show_run(
    ctx: click.Context, run_id: str, verbose: bool, redis_url: str | None, namespace: str | None
) -> None:
    """A run's record, the status of each step, and the errors of failed steps."""
    settings = cluster_settings(ctx, redis_url, namespace)
    with cluster_errors(settings), open_store(settings) as store:
        record = _record(store, run_id)
        plan = store.get_plan(run_id)
        statuses = store.step_statuses(run_id)
        events = [event for _, event in store.read_events(run_id)]
    fields = {
        "run": record.run_id,
        "job": record.job_name,
        "location": record.location or "",
        "status": click.style(record.status.value, fg=_STATUS_COLORS.get(record.status.value)),
        "tags": ", ".join(f"{key}={value}" for key, value in sorted(record.tags.items())),
        "partition": record.partition_key or "",
        "created": _clock(record.created_at),
        "started": _clock(record.started_at),
        "finished": _clock(record.finished_at),
        "duration": _run_duration(record),
    }
    for name, value in fields.items():
        if value:
            click.echo(f"{name:<10}{value}")
    took = _step_durations(events)
    rows = _step_rows([step.key for step in plan.steps], statuses)
    click.echo(f"steps ({len(rows)})")
    width = max((len(key) for key, _ in rows), default=0)
    for key, status in rows:
        label = click.style(f"{status:<12}", fg=_STATUS_COLORS.get(status))
        click.echo(f"  {label} {key:<{width}}  {took.get(key, '')}".rstrip())
    _echo_errors(events, verbose)


@run_group.command(name="logs")
@click.argument("run_id")
@click.option("-F", "--follow", is_flag=True, help="Keep printing events until the run ends.")
@cluster_options
@click.pass_context
def run_logs(
    ctx: click.Context, run_id: str, follow: bool, redis_url: str | None, namespace: str | None
) -> None:
    """Every event of a run, ``context.log`` lines included, one line each."""
    settings = cluster_settings(ctx, redis_url, namespace)
    with cluster_errors(settings), open_store(settings) as store:
        record = _record(store, run_id)
        cursor = "0-0"
        while True:
            finished = not follow or record.status in FINAL_RUN_STATUSES  # read before events
            entries = store.read_events(run_id, cursor)
            for _, event in entries:
                click.echo(_event_line(event))
            cursor = entries[-1][0] if entries else cursor
            if finished:
                return
            store.wait_run(run_id, cursor, WATCH_BLOCK_S)  # returns early when more arrive
            record = store.get_run(run_id)


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
        record = _record(store, run_id)
        if record.status in FINAL_RUN_STATUSES:
            raise UsageProblem(f"run {run_id} has already finished ({record.status.value})")
        event = RunEvent(
            run_id=run_id, kind=E.RUN_CANCELING, timestamp=time.time(), message="requested"
        )
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
    click.echo(f"{verb} {count} that ended before {_clock(cutoff)}", err=True)


_STATUS_COLORS = {"success": "green", "failure": "red", "canceled": "yellow", "skipped": "yellow"}


def _record(store: RedisRunStore, run_id: str) -> RunRecord:
    try:
        return store.get_run(run_id)
    except RunNotFound as exc:
        raise UsageProblem(str(exc)) from exc


def _clock(timestamp: float | None) -> str:
    if timestamp is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))


def _run_duration(record: RunRecord) -> str:
    if record.started_at is None:
        return ""
    if record.finished_at is None:
        return format_duration(time.time() - record.started_at) + " so far"
    return format_duration(record.finished_at - record.started_at)


def _step_rows(plan_keys: list[str], statuses: dict[str, str]) -> list[tuple[str, str]]:
    """Steps in plan order, each mapped copy after its template; never seen: pending."""
    rows: list[tuple[str, str]] = []
    for key in plan_keys:
        copies = sorted(k for k in statuses if k.startswith(key + "["))
        if key in statuses or not copies:
            rows.append((key, statuses.get(key, StepStatus.PENDING.value)))
        rows += [(copy, statuses[copy]) for copy in copies]
    listed = {key for key, _ in rows}
    return rows + sorted((k, v) for k, v in statuses.items() if k not in listed)


def _step_durations(events: list[RunEvent]) -> dict[str, str]:
    started: dict[str, float] = {}
    took: dict[str, str] = {}
    for event in events:
        if event.step_key is None:
            continue
        if event.kind in (E.STEP_START, E.STEP_RESTARTED):
            started[event.step_key] = event.timestamp
        elif event.kind in (E.STEP_SUCCESS, E.STEP_FAILURE) and event.step_key in started:
            took[event.step_key] = format_duration(event.timestamp - started[event.step_key])
    return took


def _echo_errors(events: list[RunEvent], verbose: bool) -> None:
    failures = {
        event.step_key or "<run>": event.error
        for event in events
        if event.error is not None and event.kind in (E.STEP_FAILURE, E.RUN_FAILURE)
    }
    if not failures:
        return
    click.echo("errors")
    for where, error in failures.items():
        text = f"{error.cls_name}: {error.message}" if error.message else error.cls_name
        click.echo(click.style(f"  {where}  {text}", fg="red"))
        if verbose and error.stack:
            click.echo("\n".join("      " + line for line in error.stack.rstrip().splitlines()))


def _event_line(event: RunEvent) -> str:
    seconds = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(event.timestamp))
    stamp = f"{seconds}.{int(event.timestamp % 1 * 1000):03d}"
    if event.kind is E.LOG_MESSAGE:
        label, detail = f"LOG {event.level or 'INFO'}", event.message
    else:
        label, detail = event.kind.name, _event_detail(event)
    line = f"{stamp}  {label:<17} {event.step_key or '-'}  {detail}".rstrip()
    return line.replace("\n", "\\n")


def _event_detail(event: RunEvent) -> str:
    parts = [f"attempt {event.attempt}"] if event.attempt else []
    if event.output_name:
        mapping = f"[{event.mapping_key}]" if event.mapping_key is not None else ""
        parts.append(f"output {event.output_name}{mapping}")
    if event.error:
        parts.append(f"{event.error.cls_name}: {event.error.message}")
    if event.message:
        parts.append(event.message)
    return "  ".join(parts)
