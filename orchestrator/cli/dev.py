"""Submitting jobs from the command line: ``opgrid job submit`` and ``opgrid dev``.

    opgrid job submit -f FILE | -m MODULE [-j JOB] [-c config.yaml ...] [--tag k=v ...]
                      [--partition KEY] [--wait] [--coordinate] [--timeout S]
    opgrid dev -f FILE | -m MODULE [-j JOB] [--workers N] [-c config.yaml ...] [--keep-running]

``opgrid dev`` is a whole cluster on one machine, for a fresh checkout: Redis (a
``redis-server`` of its own unless ``OPGRID_REDIS_URL`` or ``--redis-url`` names
one), N Celery worker processes, a coordinator thread. It runs the jobs, shows
their steps and outputs, and stops everything it started, whether the runs
succeed or fail and on Ctrl-C or SIGTERM alike.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterable
from types import FrameType
from typing import Any

import click

from opgrid import JobDefinition
from opgrid.errors import (
    ConfigError,
    OpgridError,
    StorageError,
)
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.client.submit import RunHandle
from opgrid.orchestrator.coordinator.local import local_coordinator, local_coordinator_with_metrics
from opgrid.orchestrator.planning.compiler import compile_plan
from opgrid.orchestrator.planning.state import ValueRef
from opgrid.orchestrator.protocol.status import RunStatus
from opgrid.orchestrator.protocol.step_keys import mapping_suffix
from opgrid.orchestrator.protocol.tags import QUEUE_TAG
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.connect import safe_url
from opgrid.orchestrator.store.envelopes import io_manager_from_settings
from opgrid.output import DEFAULT_OUTPUT

from .embedded_redis import RedisServer, free_port
from .job import submit_run
from .options import (
    EXIT_INTERRUPTED,
    EXIT_RUN_FAILED,
    WATCH_BLOCK_S,
    ClusterOptions,
    RunProblem,
    UsageProblem,
    cluster_errors,
    cluster_options,
    cluster_settings,
    describe_config_error,
    follow_run,
    load_location,
    location_options,
    open_store,
    read_run_config,
    run_options,
    select_job,
)
from .render import print_summary
from .services import worker_command

#: Seconds ``opgrid dev`` gives its workers to finish a step after SIGTERM before SIGKILL.
WORKER_STOP_GRACE_S = 5.0
#: Longest value shown in a run's outputs summary.
PREVIEW_CHARS = 72
#: A ``-W`` filter for the warning Celery gives every worker started as root.
_ROOT = "ignore:You're running the worker with superuser privileges"
#: Where ``opgrid dev`` serves the web UI (as ``dagster dev`` does, on loopback).
UI_HOST = "127.0.0.1"
UI_PORT = 3000


# opgrid dev ------------------------------------------------------------------------------
@click.command(name="dev")
@location_options
@click.option("-j", "--job", "job_name", metavar="JOB", help="The job; all in turn by default.")
@click.option("--workers", "worker_count", type=click.IntRange(min=1), default=2, show_default=True)
@run_options
@click.option("--keep-running", is_flag=True, help="Keep the cluster up after the runs (Ctrl-C).")
@click.option("-v", "--verbose", is_flag=True, help="Error stacks, outputs, worker logs.")
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    metavar="PORT",
    help="Serve the coordinator's /metrics and /healthz on this port; 0: off.  "
    "[default: $OPGRID_METRICS_PORT or 0]",
)
@click.option(
    "--ui-port",
    type=click.IntRange(0, 65535),
    default=UI_PORT,
    show_default=True,
    help="Serve the web UI and GraphQL API on this loopback port (taken: a free one).",
)
@click.option("--no-ui", is_flag=True, help="Do not start the web UI.")
@cluster_options
@click.pass_context
def dev(
    ctx: click.Context,
    file: str | None,
    module: str | None,
    job_name: str | None,
    worker_count: int,
    config_files: tuple[str, ...],
    tags: dict[str, str],
    keep_running: bool,
    verbose: bool,
    metrics_port: int | None,
    ui_port: int,
    no_ui: bool,
    redis_url: str | None,
    namespace: str | None,
) -> None:
    """Run jobs on a whole cluster on this machine: Redis, workers, a coordinator, the UI."""
    location = load_location(file, module, verbose)
    jobs = [select_job(location, job_name)] if job_name else list(location.jobs.values())
    run_config = read_run_config(config_files)
    settings = cluster_settings(ctx, redis_url, namespace)
    queues = _queues(jobs, run_config, tags, settings.default_queue)  # config errors: here
    stack = contextlib.ExitStack()
    previous = _handle_signals(_interrupt, _interrupt)
    try:
        with cluster_errors(settings):
            settings = _bring_up(stack, ctx, settings, redis_url, namespace)
        workers = WorkerProcesses(settings, location.name, ",".join(queues), verbose)
        stack.callback(workers.stop)
        workers.start(worker_count)
        with cluster_errors(settings):
            _start_coordinator(stack, settings, metrics_port)
            if not no_ui:
                _start_ui(stack, settings, file, module, ui_port)
            code = _run_all(jobs, run_config, tags, location.name, settings, workers, verbose)
        if keep_running:
            _serve(settings, workers)
    except KeyboardInterrupt:
        click.echo("\ninterrupted: stopping the cluster", err=True)
        code = EXIT_INTERRUPTED
    finally:
        _handle_signals(signal.SIG_IGN, signal.SIG_IGN)  # a second Ctrl-C cannot leak processes
        try:
            stack.close()
        finally:
            _handle_signals(*previous)
    ctx.exit(code)


def _start_coordinator(
    stack: contextlib.ExitStack, settings: Settings, metrics_port: int | None
) -> None:
    """The coordinator thread; with a metrics port, its metrics are served there."""
    port = settings.metrics_port if metrics_port is None else metrics_port
    if not port:
        stack.enter_context(local_coordinator(settings))
        return
    try:
        served = local_coordinator_with_metrics(settings.model_copy(update={"metrics_port": port}))
        stack.enter_context(served)
    except OpgridError as exc:  # the port is taken
        raise UsageProblem(str(exc)) from exc
    click.echo(f"coordinator metrics at http://{settings.metrics_host}:{port}/metrics", err=True)


def _start_ui(
    stack: contextlib.ExitStack,
    settings: Settings,
    file: str | None,
    module: str | None,
    port: int,
) -> None:
    """The web UI in a thread, on ``port`` (a free one if it is taken); prints its URL."""
    from opgrid.orchestrator.ui.catalog import LocationSource
    from opgrid.orchestrator.ui.server import serving  # starlette, strawberry: only here

    if not port or not _free(port):
        port = free_port()
    source = LocationSource(file=file) if file is not None else LocationSource(module=module)
    try:
        url = stack.enter_context(serving(settings, [source], UI_HOST, port))
    except OpgridError as exc:
        raise UsageProblem(f"cannot start the web UI: {exc}") from exc
    click.echo(f"opgrid UI at {url}", err=True)


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((UI_HOST, port))
        except OSError:
            return False
    return True


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM too: unwind through the cleanup


def _handle_signals(on_int: Any, on_term: Any) -> tuple[Any, Any]:
    """Install handlers for SIGINT and SIGTERM (main thread only); the previous ones."""
    if threading.current_thread() is not threading.main_thread():
        return on_int, on_term
    return signal.signal(signal.SIGINT, on_int), signal.signal(signal.SIGTERM, on_term)


def _queues(
    jobs: list[JobDefinition], run_config: Any, tags: dict[str, str], default_queue: str
) -> list[str]:
    """The default queue and every queue the jobs' tags name; compiling checks the config."""
    queues = [default_queue]
    for job in jobs:
        try:
            plan = compile_plan(job, run_config, tags=tags, input_names=frozenset(job.input_values))
        except ConfigError as exc:
            raise UsageProblem(describe_config_error(job, exc)) from exc
        except OpgridError as exc:
            raise UsageProblem(f"cannot run job {job.name!r}: {exc}") from exc
        named = [plan.tags.get(QUEUE_TAG)] + [step.tags.get(QUEUE_TAG) for step in plan.steps]
        queues += [str(queue) for queue in named if queue and str(queue) not in queues]
    return queues


def _bring_up(
    stack: contextlib.ExitStack,
    ctx: click.Context,
    settings: Settings,
    redis_url: str | None,
    namespace: str | None,
) -> Settings:
    """The cluster's Redis: the one named by option or environment, else a new one."""
    group = ctx.find_root().obj
    named = redis_url or (group.redis_url if isinstance(group, ClusterOptions) else None)
    if named or os.environ.get("OPGRID_REDIS_URL"):
        click.echo(f"using Redis at {safe_url(settings.redis_url)}", err=True)
        return settings
    server = RedisServer()
    stack.callback(server.close)
    server.start()
    click.echo(f"started redis-server at {server.url} (pid {server.pid})", err=True)
    return cluster_settings(ctx, server.url, namespace, broker_url=server.url)


def _run_all(
    jobs: Iterable[JobDefinition],
    run_config: Any,
    tags: dict[str, str],
    location: str,
    settings: Settings,
    workers: WorkerProcesses,
    verbose: bool,
) -> int:
    """Submit and follow each job in turn; 0 if every run succeeded, else 1."""
    code = 0
    for job in jobs:
        started = time.monotonic()
        # its own workers consume every queue of the jobs (they may not be listed yet)
        handle = submit_run(job, run_config, tags, None, location, settings, "ignore")
        try:
            click.echo(f"run {handle.run_id} of job {job.name!r} submitted")
            record = follow_run(handle.run_id, job.name, settings, verbose, check=workers.check)
            print_summary(handle.result(), time.monotonic() - started)
            _echo_outputs(handle, settings)
        finally:
            handle.close()
        if record.status is not RunStatus.SUCCESS:
            code = EXIT_RUN_FAILED
    return code


def _serve(settings: Settings, workers: WorkerProcesses) -> None:
    click.echo(
        f"the cluster keeps running: OPGRID_REDIS_URL={safe_url(settings.redis_url)} "
        f"OPGRID_NAMESPACE={settings.namespace}; Ctrl-C stops it",
        err=True,
    )
    try:
        while True:
            workers.check()
            time.sleep(WATCH_BLOCK_S)
    except KeyboardInterrupt:
        click.echo("\nstopping the cluster", err=True)


def _echo_outputs(handle: RunHandle, settings: Settings) -> None:
    """Each output the run stored, with a short ``repr`` of its value."""
    produced = [e for e in handle.events() if e.kind is E.STEP_OUTPUT and e.step_key]
    if not produced:
        return
    refs = [ValueRef(str(e.step_key), str(e.output_name), e.mapping_key) for e in produced]
    with open_store(settings) as store:
        stored = store.load_outputs(handle.run_id, refs)
    io = io_manager_from_settings(settings)
    names = [
        ref.step_key
        + ("" if ref.output == DEFAULT_OUTPUT else f".{ref.output}")
        + mapping_suffix(ref.mapping_key)
        for ref in refs
    ]
    width = max(len(name) for name in names)
    click.echo("outputs")
    for name, data in zip(names, stored, strict=True):
        click.echo(f"  {name:<{width}}  {_preview(io, data, name)}")


def _preview(io: Any, data: bytes | None, name: str) -> str:
    if data is None:
        return "<expired>"
    try:
        text = repr(io.loads(data, where=f"output {name}"))
    except StorageError as exc:
        return f"<cannot load: {exc}>"
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 3] + "..."


class WorkerProcesses:
    """``opgrid dev``'s Celery workers: solo-pool processes, each in a process group of its own.

    They serve ``location`` and consume the comma-separated ``queues``; ``verbose``
    lets them log at INFO rather than WARNING, banner included.
    """

    def __init__(self, settings: Settings, location: str, queues: str, verbose: bool) -> None:
        self.settings = settings
        self.location = location
        self.queues = queues
        self.verbose = verbose
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, count: int) -> None:
        for index in range(count):
            options = ["-n", f"dev{index + 1}-{os.getpid()}@%h", "--without-gossip"]
            options += ["--without-mingle", "--without-heartbeat"]
            argv, env = worker_command(
                self.settings,
                self.location,
                self.queues,
                "solo",
                "INFO" if self.verbose else "WARNING",
                options,
            )
            # One machine, one user: Celery's advice against running as root is noise here.
            env["PYTHONWARNINGS"] = ",".join(filter(None, [env.get("PYTHONWARNINGS"), _ROOT]))
            self.processes.append(
                subprocess.Popen(
                    argv,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=None if self.verbose else subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        pids = ", ".join(str(process.pid) for process in self.processes)
        click.echo(f"started {count} worker(s) on {self.queues} (pid {pids})", err=True)

    def check(self) -> None:
        """Raise ``RunProblem`` once every worker has exited: no run could end."""
        codes = [process.poll() for process in self.processes]
        if codes and all(code is not None for code in codes):
            listed = ", ".join(str(code) for code in codes)
            raise RunProblem(f"every worker process exited (exit codes {listed}); see above")

    def stop(self) -> None:
        """SIGTERM each group (a step in flight may end), then SIGKILL what is left."""
        for process in self.processes:
            if process.poll() is None:
                _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + WORKER_STOP_GRACE_S
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
        for process in self.processes:
            _signal_group(process, signal.SIGKILL)  # also any child a worker left behind
            process.wait()


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)
