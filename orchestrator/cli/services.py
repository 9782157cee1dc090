"""The long-running processes of a cluster: opgrid worker and opgrid coordinator."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from types import FrameType

import click

from opgrid.errors import (
    OpgridError,
)
from opgrid.orchestrator.coordinator import collector
from opgrid.orchestrator.coordinator.dispatch import CeleryDispatcher
from opgrid.orchestrator.coordinator.loop import Coordinator
from opgrid.orchestrator.coordinator.metrics import PrometheusMetrics
from opgrid.orchestrator.coordinator.metrics_server import served_metrics
from opgrid.orchestrator.coordinator.unacked import UnackedSweeper
from opgrid.orchestrator.scheduler.thread import start_scheduler
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.connect import safe_url

from .options import (
    UsageProblem,
    cluster_errors,
    cluster_options,
    cluster_settings,
    load_location,
    location_options,
    log_format_option,
    open_store,
    service_logging,
)

logger = logging.getLogger(__name__)

#: The Celery app a worker process runs (``celery -A``).
WORKER_APP = "opgrid.workers.app"
#: Celery pools ``opgrid worker --pool`` accepts.
POOLS = ("prefork", "solo", "threads")


# opgrid worker ---------------------------------------------------------------------------
@click.command(name="worker", context_settings={"ignore_unknown_options": True})
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
@click.command(name="coordinator")
@click.option("--id", "coordinator_id", metavar="NAME", help="Its name in logs; random by default.")
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    metavar="PORT",
    help="Serve Prometheus /metrics and /healthz on this port; 0: off.  "
    "[default: $OPGRID_METRICS_PORT or 0]",
)
@click.option(
    "--metrics-host",
    metavar="HOST",
    help="The address to serve them on.  [default: $OPGRID_METRICS_HOST or 127.0.0.1]",
)
@log_format_option
@cluster_options
@click.pass_context
def coordinator(
    ctx: click.Context,
    coordinator_id: str | None,
    metrics_port: int | None,
    metrics_host: str | None,
    log_format: str | None,
    redis_url: str | None,
    namespace: str | None,
) -> None:
    """Drive the cluster's runs (dispatch ready steps, finish runs) until SIGINT or SIGTERM."""
    settings = cluster_settings(
        ctx,
        redis_url,
        namespace,
        metrics_port=metrics_port,
        metrics_host=metrics_host,
        log_format=log_format,
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
        sweeper = UnackedSweeper.for_settings(store, settings)
        stack.callback(sweeper.close)
        driver = Coordinator(store, dispatcher, settings, coordinator_id, metrics, sweeper)
        collector.settle()
        driver.heartbeat()  # alive for submitters from the moment it says it runs
        logger.info(
            "coordinator %s: namespace %r at %s, default queue %r, %d other(s) alive",
            driver.id,
            settings.namespace,
            safe_url(settings.redis_url),
            settings.default_queue,
            len(others),
        )
        with stop_on_signals(stop):
            registry = metrics.registry if isinstance(metrics, PrometheusMetrics) else None
            scheduler = start_scheduler(store, settings, driver.id, stop, registry)
            driver.run(stop)
            scheduler.join(timeout=settings.block_s + 5)  # before the store closes


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
