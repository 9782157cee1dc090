"""What ``opgrid job execute`` prints while a run goes and when it ends.

``Progress`` is the executor's ``on_event`` callback: one line per step event,
as it happens. ``context.log`` lines are not repeated here, because the
in-process executor already writes them to stderr (Dagster's console logger).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping

import click

from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.client.result import ExecuteInProcessResult
from opgrid.orchestrator.protocol.events import ErrorInfo, RunEvent
from opgrid.orchestrator.protocol.status import StepStatus
from opgrid.orchestrator.protocol.step_keys import mapping_suffix

#: Prints one line: ``click.echo``'s signature (``err=True`` for stderr).
Echo = Callable[..., None]
#: Width of the status column of a step line.
_LABEL_WIDTH = 8


class Progress:
    """Prints each step of a run as its events arrive.

    Args:
        job_name: the job being run, for the opening line.
        verbose: also print the stack of every error, and each output produced.
    """

    def __init__(self, job_name: str, verbose: bool = False, echo: Echo = click.echo) -> None:
        self.job_name = job_name
        self.verbose = verbose
        self.echo = echo
        self._started: dict[str, float] = {}
        self._printers: dict[E, Callable[[RunEvent], None]] = {
            E.RUN_START: self._run_start,
            E.RUN_FAILURE: self._run_failure,
            E.STEP_START: self._step_start,
            E.STEP_RESTARTED: self._step_start,
            E.STEP_SUCCESS: self._step_success,
            E.STEP_SKIPPED: self._step_skipped,
            E.STEP_FAILURE: self._step_failure,
            E.STEP_UP_FOR_RETRY: self._step_retry,
            E.STEP_OUTPUT: self._step_output,
            E.HOOK_ERRORED: self._hook_errored,
        }

    def __call__(self, event: RunEvent) -> None:
        printer = self._printers.get(event.kind)
        if printer is not None:
            printer(event)

    # Events ------------------------------------------------------------------------
    def _run_start(self, event: RunEvent) -> None:
        self.echo(f"run {event.run_id} of job {self.job_name!r}")

    def _run_failure(self, event: RunEvent) -> None:
        if event.error is not None:  # the run itself failed, not one of its steps
            self.echo(click.style(f"run failed: {event.error.line()}", fg="red"))
            self._stack(event.error)

    def _step_start(self, event: RunEvent) -> None:
        assert event.step_key is not None
        self._started[event.step_key] = event.timestamp
        if event.kind is E.STEP_RESTARTED:
            self._line("restart", event, f"retry {event.attempt}")
        else:
            self._line("start", event)

    def _step_success(self, event: RunEvent) -> None:
        assert event.step_key is not None
        started = self._started.get(event.step_key, event.timestamp)
        self._line("success", event, format_duration(event.timestamp - started), "green")

    def _step_skipped(self, event: RunEvent) -> None:
        self._line("skipped", event, event.message, "yellow")

    def _step_failure(self, event: RunEvent) -> None:
        assert event.error is not None
        self._line("failure", event, event.error.line(), "red")
        self._stack(event.error)

    def _step_retry(self, event: RunEvent) -> None:
        assert event.error is not None
        delay = f"{event.retry_delay_s or 0.0:g}s"
        detail = f"{event.error.line()} (retry {event.attempt + 1} in {delay})"
        self._line("retry", event, detail, "yellow")
        self._stack(event.error)

    def _step_output(self, event: RunEvent) -> None:
        if self.verbose:
            mapping = mapping_suffix(event.mapping_key)
            self._line("output", event, f"{event.output_name}{mapping}")

    def _hook_errored(self, event: RunEvent) -> None:
        assert event.error is not None
        self._line("hook", event, f"{event.message} raised {event.error.line()}", "yellow")
        self._stack(event.error)

    def _line(
        self, label: str, event: RunEvent, detail: str = "", color: str | None = None
    ) -> None:
        self.echo(_step_text(label, event, detail, color))

    def _stack(self, error: ErrorInfo) -> None:
        if self.verbose and error.stack:
            self.echo(_indent(error.stack.rstrip("\n"), " " * 4))


def print_summary(result: ExecuteInProcessResult, wall_time_s: float) -> None:
    """The closing block of a run that produced ``result``."""
    print_run_summary(
        result.run_id, result.job_name, result.success, result.step_statuses(), wall_time_s
    )


def print_run_summary(
    run_id: str,
    job_name: str,
    success: bool,
    step_statuses: Mapping[str, StepStatus],
    wall_time_s: float,
) -> None:
    """The closing block: run id, job, status, steps by status, wall time."""
    counts = Counter(step_statuses.values())
    steps = ", ".join(f"{counts[status]} {status.value}" for status in StepStatus if counts[status])
    status = "success" if success else "failure"
    click.echo("summary")
    click.echo(f"  run id  {run_id}")
    click.echo(f"  job     {job_name}")
    click.echo("  status  " + click.style(status, fg="green" if success else "red"))
    click.echo(f"  steps   {steps or 'none'}")
    click.echo(f"  time    {format_duration(wall_time_s)}")


def format_duration(seconds: float) -> str:
    """``0.4ms``, ``12ms``, ``1.25s``: short and readable."""
    if seconds < 0.01:
        return f"{seconds * 1000:.1f}ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    return f"{seconds:.2f}s"


def _step_text(label: str, event: RunEvent, detail: str = "", color: str | None = None) -> str:
    text = f"  {label:<{_LABEL_WIDTH}} {event.step_key}"
    if detail:
        text += "  " + _indent(detail, " " * (_LABEL_WIDTH + 4)).lstrip()
    return click.style(text, fg=color) if color else text


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.splitlines())


class RunWatch:
    """Prints a run's events: steps as ``job execute`` does, ``context.log`` lines on stderr."""

    def __init__(
        self,
        job_name: str,
        verbose: bool = False,
        running: Callable[[RunEvent], None] | None = None,
        echo: Echo = click.echo,
    ) -> None:
        self.job_name = job_name
        self.progress = Progress(job_name, verbose, echo)
        self.echo = echo
        #: told every event too: the live view of running steps, on a terminal
        self.running = running

    def __call__(self, event: RunEvent) -> None:
        if self.running is not None:
            self.running(event)
        if event.kind is E.LOG_MESSAGE:
            self.echo(log_line(event, self.job_name), err=True)
        elif event.kind is E.RUN_CANCELING:
            self.echo(click.style("  cancel requested", fg="yellow"))
        elif event.kind is E.RUN_CANCELED:
            self.echo(click.style("run canceled", fg="yellow"))
        elif event.kind is E.ENGINE_EVENT:
            where = f"{event.step_key}: " if event.step_key else ""
            self.echo(click.style(f"  {where}{event.message}", dim=True))
        elif event.kind is not E.RUN_START:  # the caller said which run it watches
            self.progress(event)


def log_line(event: RunEvent, job_name: str) -> str:
    """A ``context.log`` line as Dagster's console logger writes it."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(event.timestamp))
    return (
        f"{stamp} - opgrid - {event.level or 'INFO'} - {job_name} - {event.run_id} - "
        f"{event.step_key} - {event.message}"
    )


def event_line(event: RunEvent) -> str:
    seconds = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(event.timestamp))
    stamp = f"{seconds}.{int(event.timestamp % 1 * 1000):03d}"
    if event.kind is E.LOG_MESSAGE:
        label, detail = f"LOG {event.level or 'INFO'}", event.message
    else:
        label, detail = event.kind.name, event_detail(event)
    line = f"{stamp}  {label:<17} {event.step_key or '-'}  {detail}".rstrip()
    return line.replace("\n", "\\n")


def event_detail(event: RunEvent) -> str:
    parts = [f"attempt {event.attempt}"] if event.attempt else []
    if event.output_name:
        mapping = mapping_suffix(event.mapping_key)
        parts.append(f"output {event.output_name}{mapping}")
    if event.error:
        parts.append(event.error.line())
    if event.message:
        parts.append(event.message)
    return "  ".join(parts)
