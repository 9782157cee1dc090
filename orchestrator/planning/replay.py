"""Rebuilding a run's state from its event log, and what is still left to do.

The coordinator replays a run it takes over, and a client a run it reads back; both
go through ``RunState.replay``, which uses only the state machine's public calls.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.protocol.events import RunEvent
from opgrid.orchestrator.protocol.status import StepStatus

from .commands import Command, DispatchStep, SkipStep, command_key

if TYPE_CHECKING:
    from .state import Reused, RunState

#: A dispatch still outstanding after replay: its step has not started (or is to retry).
_AWAITING = (StepStatus.QUEUED, StepStatus.UP_FOR_RETRY)


def replay(state: RunState, events: Iterable[RunEvent], reused: Reused | None) -> list[Command]:
    """Feed ``state`` the run's start and its events; returns the commands still outstanding
    (a skip the log records already is done: its event is written once)."""
    outstanding: dict[str, Command] = {}
    for command in state.start(reused):
        outstanding[command_key(command)] = command
    recorded: set[str] = set()
    for event in events:
        if event.kind is E.STEP_SKIPPED and event.step_key is not None:
            recorded.add(event.step_key)
        for command in state.apply(event):
            outstanding[command_key(command)] = command
    return [
        c
        for c in outstanding.values()
        if not (isinstance(c, SkipStep) and c.step_key in recorded)
        and (not isinstance(c, DispatchStep) or state.status_of(c.step_key) in _AWAITING)
    ]
