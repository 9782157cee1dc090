"""What every command shares: options, settings, exit codes, problems, following a run."""

from __future__ import annotations

import contextlib
import logging
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import click
import pydantic
import yaml

from opgrid import CodeLocation, JobDefinition, load_code_location
from opgrid.errors import (
    ConfigError,
    OpgridError,
    StorageError,
)
from opgrid.orchestrator.logs import LOG_FORMATS, switch_format
from opgrid.orchestrator.planning.run_config import deep_merge
from opgrid.orchestrator.protocol.events import FINAL_RUN_KINDS
from opgrid.orchestrator.protocol.messages import RunRecord
from opgrid.orchestrator.protocol.status import FINAL_RUN_STATUSES
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.connect import safe_url
from opgrid.orchestrator.store.redis import RedisRunStore
from opgrid.utils.yaml_utils import load_yaml_from_path

from .live import live_steps
from .render import RunWatch

#: Exit code of a run that failed.
EXIT_RUN_FAILED = 1
#: Exit code of a usage, config or definition error (click's usage errors use it too).
EXIT_USAGE = 2
#: Exit code after Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130
#: Levels ``--log-level`` accepts.
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
#: Format of the log records of opgrid's own loggers (not of ``context.log`` lines).
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: Longest a watcher blocks on a run's stream before it checks on its helpers.
WATCH_BLOCK_S = 1.0

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


def op_selection_option(command: _Command) -> _Command:
    """``--op-selection "*op,other+"``: run only these nodes (Dagster's selection syntax)."""
    return click.option(
        "--op-selection",
        "op_selection",
        metavar="SELECTION",
        callback=lambda _ctx, _param, value: (
            None if value is None else [item.strip() for item in value.split(",") if item.strip()]
        ),
        help="Run only these ops, comma-separated: op, *op (and what it reads from), op+ "
        "(and what reads it), outer.inner for a node in a graph.",
    )(command)


def select_ops(job: JobDefinition, selection: list[str] | None) -> JobDefinition:
    """``job`` cut down to ``selection``; a selection naming no node is a usage problem."""
    if not selection:
        return job
    try:
        return job.get_subset(op_selection=selection)
    except OpgridError as exc:
        raise UsageProblem(f"cannot select ops of job {job.name!r}: {exc}") from exc


def json_option(command: _Command) -> _Command:
    """``--json``: print stable JSON instead of text, for scripts."""
    return click.option(
        "--json", "as_json", is_flag=True, help="Print JSON (stable field names) instead."
    )(command)


def wait_options(command: _Command) -> _Command:
    """``--wait`` and ``--timeout S``: follow the run to its end, or for S seconds."""
    command = click.option(
        "--timeout",
        "timeout_s",
        type=click.FloatRange(min=0, min_open=True),
        metavar="S",
        help="Stop waiting after S seconds, exit 1; the run goes on (--wait).",
    )(command)
    return click.option(
        "--wait", is_flag=True, help="Show each step as it ends; exit 0/1 on the outcome."
    )(command)


def follow_run(
    run_id: str,
    job_name: str,
    settings: Settings,
    verbose: bool = False,
    timeout_s: float | None = None,
    check: Callable[[], None] | None = None,
) -> RunRecord:
    """Print a run's events as they arrive until it ends; its final record.

    ``check`` is called about every second and raises if the run can no longer end;
    after ``timeout_s`` it raises ``RunProblem`` (exit 1) and the run goes on.
    """
    try:
        return _follow(run_id, job_name, settings, verbose, timeout_s, check)
    except StorageError as exc:
        cause = exc.__cause__ or exc
        raise RunProblem(
            f"lost the cluster's Redis while watching run {run_id} ({cause}); the run goes on "
            f"without this watcher: follow it again with `opgrid run logs --follow {run_id}`"
        ) from exc


def _follow(
    run_id: str,
    job_name: str,
    settings: Settings,
    verbose: bool,
    timeout_s: float | None,
    check: Callable[[], None] | None,
) -> RunRecord:
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    cursor = "0-0"
    with open_store(settings) as store, live_steps(job_name) as view:
        if view is None:
            watch = RunWatch(job_name, verbose)
        else:
            watch = RunWatch(job_name, verbose, view.steps, view.echo)
        while True:
            if check is not None:
                check()
            remaining = WATCH_BLOCK_S if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                raise RunProblem(
                    f"run {run_id} did not finish within {timeout_s:g}s; it goes on "
                    f"(opgrid run show {run_id})"
                )
            entries = store.wait_run(run_id, cursor, min(remaining, WATCH_BLOCK_S))
            for cursor, event in entries:  # noqa: B007 (the cursor is kept for the next read)
                watch(event)
            if any(event.kind in FINAL_RUN_KINDS for _, event in entries):
                record = store.get_run(run_id)
                if record.status in FINAL_RUN_STATUSES:
                    return record


@contextlib.contextmanager
def open_store(settings: Settings) -> Iterator[RedisRunStore]:
    """The cluster's run store; its connections are closed on exit."""
    store = RedisRunStore.from_settings(settings)
    try:
        yield store
    finally:
        store.client.close()
