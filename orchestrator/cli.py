"""The ``opgrid`` command line.

    opgrid job list    -f FILE | -m MODULE
    opgrid job execute -f FILE | -m MODULE [-j JOB] [-c config.yaml ...] [--tag k=v ...]
                       [--partition KEY] [--verbose]
    opgrid job submit  -f FILE | -m MODULE [-j JOB] ... [--wait] [--coordinate]  (cli_cluster)
    opgrid worker | coordinator | run list|show|logs|cancel|prune                (cli_cluster)
    opgrid dev -f FILE [-j JOB] [--workers N]                                     (cli_dev)

Cluster commands read their settings from ``OPGRID_*`` variables; ``--redis-url``
and ``--namespace``, given to ``opgrid`` or to the command, override them.

Exit codes: 0 the run succeeded, 1 the run failed, 2 a usage, config or
definition error, or a cluster that cannot be reached (also click's own usage
errors). Those errors are one line on stderr (a config error lists every bad
field), never a Python traceback.
"""

from __future__ import annotations

import contextlib
import logging
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import click
import pydantic
import yaml

from opgrid import CodeLocation, GraphDefinition, JobDefinition, load_code_location
from opgrid.errors import ConfigError, OpgridError, StorageError
from opgrid.utils.yaml_utils import load_yaml_from_path

from .cli_progress import Progress, print_summary
from .executor import execute_in_process
from .logs import LOG_FORMATS, stream_handler, switch_format
from .redis_store import safe_url as safe_url  # the cluster commands import it from here
from .run_config import deep_merge
from .settings import Settings
from .submit import RunHandle, submit

#: Exit code of a run that failed.
EXIT_RUN_FAILED = 1
#: Exit code of a usage, config or definition error (click's usage errors use it too).
EXIT_USAGE = 2
#: Levels ``--log-level`` accepts.
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
#: Format of the log records of opgrid's own loggers (not of ``context.log`` lines).
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_Command = TypeVar("_Command", bound=Callable[..., Any])


class UsageProblem(click.ClickException):
    """Something the user asked for cannot be done: printed as ``Error: ...``, exit code 2."""

    exit_code = EXIT_USAGE


class RunProblem(click.ClickException):
    """A run could not be brought to an end (timeout, workers gone): ``Error: ...``, exit 1."""

    exit_code = EXIT_RUN_FAILED


@dataclass(frozen=True, slots=True)
class ClusterOptions:
    """What ``opgrid --redis-url ... --namespace ...`` said, for every cluster command."""

    redis_url: str | None = None
    namespace: str | None = None
    #: whether ``--log-level`` was given (services log at INFO unless told otherwise)
    log_level_given: bool = False


@click.group(name="opgrid", context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="opgrid")
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    default=None,
    help="Level of opgrid's own log records on stderr.  [default: WARNING; INFO for `coordinator`]",
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


@main.group(name="job")
def job_group() -> None:
    """List and run the jobs of a code location."""


def location_options(command: _Command) -> _Command:
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


def run_options(command: _Command) -> _Command:
    """``-c/--config FILE`` (repeatable) and ``--tag KEY=VALUE`` (repeatable)."""
    command = click.option(
        "--tag",
        "tags",
        multiple=True,
        metavar="KEY=VALUE",
        callback=lambda ctx, param, values: parse_tags(values, ctx, param),
        help="A run tag; repeat for more.",
    )(command)
    command = click.option(
        "-c",
        "--config",
        "config_files",
        multiple=True,
        type=click.Path(),
        help="A YAML run config file; several are deep-merged in order, later ones win.",
    )(command)
    return command


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
    job = select_job(load_location(file, module, verbose), job_name)
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


# Helpers -------------------------------------------------------------------------------


def cluster_options(command: _Command) -> _Command:
    """``--redis-url`` and ``--namespace`` on a cluster command; they win over the group's."""
    command = click.option(
        "--namespace",
        metavar="NAME",
        help="The cluster's key prefix.  [default: $OPGRID_NAMESPACE]",
    )(command)
    command = click.option(
        "--redis-url", metavar="URL", help="The cluster's Redis.  [default: $OPGRID_REDIS_URL]"
    )(command)
    return command


def log_format_option(command: _Command) -> _Command:
    """``--log-format text|json`` on a service command (``OPGRID_LOG_FORMAT``)."""
    return click.option(
        "--log-format",
        type=click.Choice(LOG_FORMATS),
        help="Log lines as text or as one JSON object each; both name the run and step.  "
        "[default: $OPGRID_LOG_FORMAT or text]",
    )(command)


def cluster_settings(
    ctx: click.Context, redis_url: str | None, namespace: str | None, **overrides: Any
) -> Settings:
    """``Settings`` from ``OPGRID_*``, overridden by the group's then the command's options."""
    group = ctx.find_root().obj
    if not isinstance(group, ClusterOptions):
        group = ClusterOptions()
    given = {
        "redis_url": redis_url or group.redis_url,
        "namespace": namespace or group.namespace,
        **overrides,
    }
    try:
        return Settings(**{key: value for key, value in given.items() if value is not None})
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'settings'}: {error['msg']}"
            for error in exc.errors()
        )
        raise UsageProblem(f"invalid cluster settings (OPGRID_* or options): {problems}") from exc


@contextlib.contextmanager
def cluster_errors(settings: Settings) -> Iterator[None]:
    """A Redis the cluster commands cannot use: one line on stderr, exit code 2."""
    try:
        yield
    except StorageError as exc:
        cause = exc.__cause__ or exc
        raise UsageProblem(
            f"cannot use the cluster's Redis at {safe_url(settings.redis_url)}: {cause}"
        ) from exc


def service_logging(ctx: click.Context, log_format: str = "text") -> None:
    """Long-running commands log their lifecycle at INFO unless ``--log-level`` said otherwise,
    as ``log_format`` lines (``text`` or ``json``) that name the run and step they concern."""
    group = ctx.find_root().obj
    if not (isinstance(group, ClusterOptions) and group.log_level_given):
        logging.getLogger("opgrid").setLevel(logging.INFO)
    switch_format(logging.getLogger(), log_format, LOG_FORMAT)


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


def submit_run(
    job: JobDefinition,
    run_config: Any,
    tags: dict[str, str],
    partition: str | None,
    location: str,
    settings: Settings,
) -> RunHandle:
    """``submit`` with its errors and warnings as the CLI shows them."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            handle = submit(job, run_config, tags, partition, location, settings=settings)
        except ConfigError as exc:
            raise UsageProblem(describe_config_error(job, exc)) from exc
        except StorageError:
            raise
        except OpgridError as exc:
            raise UsageProblem(f"cannot run job {job.name!r}: {exc}") from exc
    for warning in caught:
        click.echo(f"warning: {warning.message}", err=True)
    return handle


def _read_yaml_mapping(path: str) -> Mapping[str, Any]:
    try:
        loaded = load_yaml_from_path(path)
    except yaml.YAMLError as exc:
        raise UsageProblem(f"config file {path!r} is not valid YAML: {_yaml_problem(exc)}") from exc
    except FileNotFoundError as exc:
        raise UsageProblem(f"config file {path!r} does not exist") from exc
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageProblem(f"cannot read config file {path!r}: {reason}") from exc
    if loaded is None:  # an empty file
        return {}
    if not isinstance(loaded, Mapping):
        raise UsageProblem(
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


def load_location(file: str | None, module: str | None, verbose: bool = False) -> CodeLocation:
    """The code location of ``-f``/``-m``; any problem is a ``UsageProblem``."""
    if (file is None) == (module is None):
        raise click.UsageError("give exactly one of -f/--file or -m/--module")
    label = file if file is not None else module
    try:
        return load_code_location(file=file, module=module)
    except OpgridError as exc:  # no jobs there, or a definition error raised at import
        raise UsageProblem(str(exc)) from exc
    except Exception as exc:  # user code failed to import: say what and where, no traceback
        message = f"cannot load code location {label!r}: {type(exc).__name__}: {exc}"
        if verbose:
            message += "\n" + traceback.format_exc().rstrip("\n")
        raise UsageProblem(message) from exc


def select_job(location: CodeLocation, name: str | None) -> JobDefinition:
    """The job ``-j`` names, or the location's only job."""
    if name is not None:
        try:
            return location.get_job(name)
        except OpgridError as exc:
            raise UsageProblem(str(exc)) from exc
    if len(location.jobs) == 1:
        return next(iter(location.jobs.values()))
    names = ", ".join(sorted(location.jobs))
    raise UsageProblem(
        f"code location {location.name!r} has {len(location.jobs)} jobs ({names}); "
        "choose one with -j/--job"
    )


def _first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0].strip() if lines else ""


# The cluster commands register themselves on ``main`` and ``job_group`` when imported.
from . import cli_cluster, cli_dev  # noqa: E402, F401
from .ui.command import ui_command  # noqa: E402

main.add_command(ui_command)
