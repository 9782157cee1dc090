"""opgrid job list|execute|submit: the jobs of a code location, run here or on the cluster."""

from __future__ import annotations

import contextlib
import time
import warnings
from typing import Any, Literal

import click

from opgrid import GraphDefinition, JobDefinition
from opgrid.errors import (
    ConfigError,
    OpgridError,
    StorageError,
)
from opgrid.orchestrator.client.in_process import execute_in_process
from opgrid.orchestrator.client.submit import RunHandle, submit
from opgrid.orchestrator.coordinator.local import local_coordinator
from opgrid.orchestrator.protocol.status import RunStatus
from opgrid.orchestrator.settings import Settings

from .describe import job_outline, scaffold_config
from .options import (
    EXIT_RUN_FAILED,
    UsageProblem,
    cluster_errors,
    cluster_options,
    cluster_settings,
    describe_config_error,
    follow_run,
    load_location,
    location_options,
    op_selection_option,
    read_run_config,
    run_options,
    select_job,
    select_ops,
    wait_options,
)
from .render import Progress, print_summary


@click.group(name="job")
def job_group() -> None:
    """List and run the jobs of a code location."""


@job_group.command(name="list")
@location_options
def list_jobs(file: str | None, module: str | None) -> None:
    """One line per job: its name, how many ops it has, its description's first line."""
    location = load_location(file, module)
    width = max(len(name) for name in location.jobs)
    for name in sorted(location.jobs):
        job = location.jobs[name]
        count = count_ops(job.graph)
        ops = f"{count} op" + ("" if count == 1 else "s")
        line = f"{name:<{width}}  {ops:>7}  {_first_line(job.description)}"
        click.echo(line.rstrip())


@job_group.command(name="execute")
@location_options
@click.option(
    "-j", "--job", "job_name", metavar="JOB", help="The job to run; optional if only one."
)
@run_options
@click.option("--partition", metavar="KEY", help="The partition to run, for a partitioned job.")
@op_selection_option
@click.option("-v", "--verbose", is_flag=True, help="Print error stacks and outputs produced.")
@click.pass_context
def execute_job(
    ctx: click.Context,
    file: str | None,
    module: str | None,
    job_name: str | None,
    config_files: tuple[str, ...],
    tags: dict[str, str],
    partition: str | None,
    op_selection: list[str] | None,
    verbose: bool,
) -> None:
    """Run a job in this process, printing each step as it finishes."""
    job = select_ops(select_job(load_location(file, module, verbose), job_name), op_selection)
    run_config = read_run_config(config_files)
    started = time.monotonic()
    try:
        result = execute_in_process(
            job,
            run_config=run_config,
            raise_on_error=False,
            tags=tags,
            partition_key=partition,
            on_event=Progress(job.name, verbose),
        )
    except ConfigError as exc:
        raise UsageProblem(describe_config_error(job, exc)) from exc
    except OpgridError as exc:  # the job cannot run as defined (definition, plan, partition)
        raise UsageProblem(f"cannot run job {job.name!r}: {exc}") from exc
    print_summary(result, time.monotonic() - started)
    if not result.success:
        ctx.exit(EXIT_RUN_FAILED)


def count_ops(graph_def: GraphDefinition) -> int:
    """The ops of a graph, counted through its nested graphs."""
    return sum(
        count_ops(node.definition) if isinstance(node.definition, GraphDefinition) else 1
        for node in graph_def.node_dict.values()
    )


@job_group.command(name="print")
@location_options
@click.option("-j", "--job", "job_name", metavar="JOB", help="The job; optional if only one.")
def print_job(file: str | None, module: str | None, job_name: str | None) -> None:
    """A job's op graph (what each op reads from) and its config schema."""
    job = select_job(load_location(file, module), job_name)
    for line in job_outline(job):
        click.echo(line)


@job_group.command(name="scaffold-config")
@location_options
@click.option("-j", "--job", "job_name", metavar="JOB", help="The job; optional if only one.")
def scaffold_job_config(file: str | None, module: str | None, job_name: str | None) -> None:
    """A run config YAML with every field, defaults filled in, required ones marked."""
    job = select_job(load_location(file, module), job_name)
    click.echo(scaffold_config(job), nl=False)


def submit_run(
    job: JobDefinition,
    run_config: Any,
    tags: dict[str, str],
    partition: str | None,
    location: str,
    settings: Settings,
    unconsumed: Literal["ignore", "warn", "refuse"] = "warn",
) -> RunHandle:
    """``submit`` with its errors and warnings as the CLI shows them."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            handle = submit(
                job, run_config, tags, partition, location, settings=settings, unconsumed=unconsumed
            )
        except ConfigError as exc:
            raise UsageProblem(describe_config_error(job, exc)) from exc
        except StorageError:
            raise
        except OpgridError as exc:
            raise UsageProblem(f"cannot run job {job.name!r}: {exc}") from exc
    for warning in caught:
        click.echo(f"warning: {warning.message}", err=True)
    return handle


def _first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0].strip() if lines else ""


# opgrid job submit -----------------------------------------------------------------------
@job_group.command(name="submit")
@location_options
@click.option("-j", "--job", "job_name", metavar="JOB", help="The job; optional if only one.")
@run_options
@click.option("--partition", metavar="KEY", help="The partition to run, for a partitioned job.")
@wait_options
@click.option(
    "--coordinate", is_flag=True, help="Run a coordinator in this process meanwhile (--wait)."
)
@click.option(
    "--strict",
    is_flag=True,
    help="Refuse the run when a step's queue has no live worker (else a warning).",
)
@op_selection_option
@click.option("-v", "--verbose", is_flag=True, help="Print error stacks and outputs produced.")
@cluster_options
@click.pass_context
def submit_job(
    ctx: click.Context,
    file: str | None,
    module: str | None,
    job_name: str | None,
    config_files: tuple[str, ...],
    tags: dict[str, str],
    partition: str | None,
    wait: bool,
    coordinate: bool,
    strict: bool,
    op_selection: list[str] | None,
    timeout_s: float | None,
    verbose: bool,
    redis_url: str | None,
    namespace: str | None,
) -> None:
    """Queue a run on the cluster and print its id; --wait follows it to the end."""
    location = load_location(file, module, verbose)
    job = select_ops(select_job(location, job_name), op_selection)
    run_config = read_run_config(config_files)
    settings = cluster_settings(ctx, redis_url, namespace)
    wait = wait or coordinate or timeout_s is not None
    started = time.monotonic()
    with cluster_errors(settings), contextlib.ExitStack() as stack:
        if coordinate:
            stack.enter_context(local_coordinator(settings))
        handle = submit_run(
            job,
            run_config,
            tags,
            partition,
            location.name,
            settings,
            "refuse" if strict else "warn",
        )
        stack.callback(handle.close)
        if not wait:
            click.echo(handle.run_id)
            return
        click.echo(f"run {handle.run_id} of job {job.name!r} submitted")
        try:
            record = follow_run(handle.run_id, job.name, settings, verbose, timeout_s)
        except KeyboardInterrupt:
            click.echo(f"\nstopped watching run {handle.run_id}; it goes on", err=True)
            ctx.exit(130)
        print_summary(handle.result(), time.monotonic() - started)
    if record.status is not RunStatus.SUCCESS:
        ctx.exit(EXIT_RUN_FAILED)
