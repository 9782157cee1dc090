"""The ``opgrid`` command line.

    opgrid job list    -f FILE | -m MODULE
    opgrid job execute -f FILE | -m MODULE [-j JOB] [-c config.yaml ...] [--tag k=v ...]
                       [--partition KEY] [--verbose]

Exit codes: 0 the run succeeded, 1 the run failed, 2 a usage, config or
definition error (also click's own usage errors). Those errors are one line on
stderr (a config error lists every bad field), never a Python traceback.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import click
import yaml

from opgrid import CodeLocation, GraphDefinition, JobDefinition, load_code_location
from opgrid.errors import ConfigError, OpgridError
from opgrid.utils.yaml_utils import load_yaml_from_path

from .cli_progress import Progress, print_summary
from .executor import execute_in_process
from .run_config import deep_merge

#: Exit code of a run that failed.
EXIT_RUN_FAILED = 1
#: Exit code of a usage, config or definition error (click's usage errors use it too).
EXIT_USAGE = 2
#: Levels ``--log-level`` accepts.
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
#: Format of the log records of opgrid's own loggers (not of ``context.log`` lines).
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_Command = TypeVar("_Command", bound=Callable[..., Any])


class _UsageProblem(click.ClickException):
    """Something the user asked for cannot be done: printed as ``Error: ...``, exit code 2."""

    exit_code = EXIT_USAGE


@click.group(name="opgrid", context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="opgrid")
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    default="WARNING",
    show_default=True,
    help="Level of opgrid's own log records on stderr.",
)
def main(log_level: str) -> None:
    """Run Dagster-style jobs and graphs."""
    logging.basicConfig(level=log_level.upper(), format=LOG_FORMAT)


@main.group(name="job")
def job_group() -> None:
    """List and run the jobs of a code location."""


def _location_options(command: _Command) -> _Command:
    command = click.option(
        "-m", "--module", metavar="MODULE", help="Import the jobs from this Python module."
    )(command)
    command = click.option(
        "-f",
        "--file",
        type=click.Path(),
        help="Load the jobs from this Python file.",
    )(command)
    return command


@job_group.command(name="list")
@_location_options
def list_jobs(file: str | None, module: str | None) -> None:
    """One line per job: its name, how many ops it has, its description's first line."""
    location = _load(file, module)
    width = max(len(name) for name in location.jobs)
    for name in sorted(location.jobs):
        job = location.jobs[name]
        count = count_ops(job.graph)
        ops = f"{count} op" + ("" if count == 1 else "s")
        line = f"{name:<{width}}  {ops:>7}  {_first_line(job.description)}"
        click.echo(line.rstrip())


@job_group.command(name="execute")
@_location_options
@click.option(
    "-j", "--job", "job_name", metavar="JOB", help="The job to run; optional if only one."
)
@click.option(
    "-c",
    "--config",
    "config_files",
    multiple=True,
    type=click.Path(),
    help="A YAML run config file; several are deep-merged in order, later ones win.",
)
@click.option(
    "--tag",
    "tags",
    multiple=True,
    metavar="KEY=VALUE",
    callback=lambda ctx, param, values: parse_tags(values, ctx, param),
    help="A run tag; repeat for more.",
)
@click.option("--partition", metavar="KEY", help="The partition to run, for a partitioned job.")
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
    verbose: bool,
) -> None:
    """Run a job in this process, printing each step as it finishes."""
    job = _select_job(_load(file, module, verbose), job_name)
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
        raise _UsageProblem(describe_config_error(job, exc)) from exc
    except OpgridError as exc:  # the job cannot run as defined (definition, plan, partition)
        raise _UsageProblem(f"cannot run job {job.name!r}: {exc}") from exc
    print_summary(result, time.monotonic() - started)
    if not result.success:
        ctx.exit(EXIT_RUN_FAILED)


# Helpers -------------------------------------------------------------------------------


def count_ops(graph_def: GraphDefinition) -> int:
    """The ops of a graph, counted through its nested graphs."""
    return sum(
        count_ops(node.definition) if isinstance(node.definition, GraphDefinition) else 1
        for node in graph_def.node_dict.values()
    )


def parse_tags(
    values: tuple[str, ...], ctx: click.Context | None = None, param: click.Parameter | None = None
) -> dict[str, str]:
    """``("team=data", "env=dev")`` -> ``{"team": "data", "env": "dev"}``."""
    tags: dict[str, str] = {}
    for value in values:
        key, sep, tag_value = value.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{value!r} is not KEY=VALUE", ctx=ctx, param=param)
        tags[key.strip()] = tag_value
    return tags


def read_run_config(paths: tuple[str, ...]) -> dict[str, Any] | None:
    """The YAML files deep-merged in order; ``None`` (the job's default config) without any."""
    if not paths:
        return None
    merged: dict[str, Any] = {}
    for path in paths:
        merged = deep_merge(merged, _read_yaml_mapping(path))
    return merged


def describe_config_error(job: JobDefinition, exc: ConfigError) -> str:
    """Every bad field of a run config, one dotted path per line."""
    count = len(exc.errors)
    lines = [f"invalid run config for job {job.name!r} ({count} error{'s' if count != 1 else ''}):"]
    lines += [f"  {path or '<root>'}: {message}" for path, message in exc.errors]
    return "\n".join(lines)


def _read_yaml_mapping(path: str) -> Mapping[str, Any]:
    try:
        loaded = load_yaml_from_path(path)
    except yaml.YAMLError as exc:
        raise _UsageProblem(
            f"config file {path!r} is not valid YAML: {_yaml_problem(exc)}"
        ) from exc
    except FileNotFoundError as exc:
        raise _UsageProblem(f"config file {path!r} does not exist") from exc
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise _UsageProblem(f"cannot read config file {path!r}: {reason}") from exc
    if loaded is None:  # an empty file
        return {}
    if not isinstance(loaded, Mapping):
        raise _UsageProblem(
            f"config file {path!r} must hold a mapping (ops:, resources:, ...), "
            f"not a {type(loaded).__name__}"
        )
    return loaded


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """One line: what is wrong and where (PyYAML's own text spans several lines)."""
    if isinstance(exc, yaml.MarkedYAMLError):
        problem = exc.problem or exc.context or "syntax error"
        mark = exc.problem_mark or exc.context_mark
        if mark is not None:
            return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
        return str(problem)
    return " ".join(str(exc).split())


def _load(file: str | None, module: str | None, verbose: bool = False) -> CodeLocation:
    if (file is None) == (module is None):
        raise click.UsageError("give exactly one of -f/--file or -m/--module")
    label = file if file is not None else module
    try:
        return load_code_location(file=file, module=module)
    except OpgridError as exc:  # no jobs there, or a definition error raised at import
        raise _UsageProblem(str(exc)) from exc
    except Exception as exc:  # user code failed to import: say what and where, no traceback
        message = f"cannot load code location {label!r}: {type(exc).__name__}: {exc}"
        if verbose:
            message += "\n" + traceback.format_exc().rstrip("\n")
        raise _UsageProblem(message) from exc


def _select_job(location: CodeLocation, name: str | None) -> JobDefinition:
    if name is not None:
        try:
            return location.get_job(name)
        except OpgridError as exc:
            raise _UsageProblem(str(exc)) from exc
    if len(location.jobs) == 1:
        return next(iter(location.jobs.values()))
    names = ", ".join(sorted(location.jobs))
    raise _UsageProblem(
        f"code location {location.name!r} has {len(location.jobs)} jobs ({names}); "
        "choose one with -j/--job"
    )


def _first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0].strip() if lines else ""
