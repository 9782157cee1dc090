"""The live view of a watched run in a terminal: the steps running now, with their
elapsed time and the worker running each, redrawn a few times a second (``rich``).

Finished steps still print one line each above it (``render.Progress``), so the
scrollback keeps the whole story; off a terminal nothing is drawn and the lines
are all there is.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rich.console import Console, ConsoleOptions, RenderResult
from rich.live import Live
from rich.table import Table
from rich.text import Text

from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.protocol.events import RunEvent

from .render import format_duration

#: Redraws per second of the live view.
REFRESH_PER_S = 4
#: Running steps shown at most; the rest are counted.
SHOWN_STEPS = 12

_STARTS = frozenset({E.STEP_START, E.STEP_RESTARTED})
_ENDS = frozenset({E.STEP_SUCCESS, E.STEP_FAILURE, E.STEP_UP_FOR_RETRY, E.STEP_SKIPPED})


@dataclass(slots=True)
class _Running:
    attempt: int
    started: float
    worker: str


class RunningSteps:
    """What runs now in one run, fed its events; renders as a table (``__rich_console__``)."""

    def __init__(self, job_name: str) -> None:
        self.job_name = job_name
        self._running: dict[str, _Running] = {}
        self._ended = 0
        #: the run's own clock offset is not known: elapsed uses this process's clock,
        #: anchored when the start event was seen
        self._seen_at: dict[str, float] = {}

    def __call__(self, event: RunEvent) -> None:
        key = event.step_key
        if key is None:
            return
        if event.kind in _STARTS:
            self._running[key] = _Running(event.attempt, time.monotonic(), event.worker or "")
        elif event.kind in _ENDS:
            self._running.pop(key, None)
            self._ended += event.kind is not E.STEP_UP_FOR_RETRY

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        now = time.monotonic()
        table = Table(box=None, pad_edge=False, show_header=bool(self._running))
        table.add_column("running", style="cyan", no_wrap=True)
        table.add_column("for", justify="right")
        table.add_column("attempt", justify="right")
        table.add_column("worker", style="dim", no_wrap=True)
        items = sorted(self._running.items(), key=lambda item: item[1].started)
        for key, step in items[:SHOWN_STEPS]:
            table.add_row(key, format_duration(now - step.started), str(step.attempt), step.worker)
        if len(items) > SHOWN_STEPS:
            table.add_row(f"... and {len(items) - SHOWN_STEPS} more", "", "", "")
        yield table
        yield Text(f"{self.job_name}: {len(items)} running, {self._ended} done", style="bold")


class LiveView:
    """The running steps drawn live, and the lines printed above them."""

    def __init__(self, steps: RunningSteps, live: Live) -> None:
        self.steps = steps
        self._live = live

    def echo(self, message: str = "", err: bool = False) -> None:
        """``click.echo`` for the time the view is drawn: the line goes above it."""
        del err  # one terminal: both streams are drawn by the live view's console
        self._live.console.print(Text.from_ansi(message), highlight=False, soft_wrap=True)


@contextmanager
def live_steps(job_name: str, console: Console | None = None) -> Iterator[LiveView | None]:
    """A view of the running steps, drawn live while the block runs on a terminal.

    Yields None off a terminal (print plain lines then).
    """
    console = console or Console()
    if not console.is_terminal:
        yield None
        return
    steps = RunningSteps(job_name)
    live = Live(
        steps,
        console=console,
        refresh_per_second=REFRESH_PER_S,
        transient=True,
        redirect_stdout=False,
        redirect_stderr=False,
    )
    with live:
        yield LiveView(steps, live)
