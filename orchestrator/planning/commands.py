"""What the run state machine tells an executor to do: dispatch, skip, abandon, finish.

``RunState`` returns these; the in-process executor and the coordinator carry them out.
"""

from __future__ import annotations

from dataclasses import dataclass

from opgrid.orchestrator.protocol.status import RunStatus


@dataclass(frozen=True, slots=True)
class DispatchStep:
    """Run ``attempt`` of a step, not before ``delay_s`` after the event that caused it."""

    step_key: str
    attempt: int
    delay_s: float = 0.0
    #: with a delay: when it is due, on the clock of that event's timestamp (so whoever
    #: replays the run's log finds the same time); None: at once
    due_at: float | None = None


@dataclass(frozen=True, slots=True)
class SkipStep:
    """A step will not run because an input was never produced."""

    step_key: str
    reason: str


@dataclass(frozen=True, slots=True)
class AbandonStep:
    """A step will never run because an upstream step failed."""

    step_key: str
    reason: str


@dataclass(frozen=True, slots=True)
class FinishRun:
    """Every step is final."""

    status: RunStatus


Command = DispatchStep | SkipStep | AbandonStep | FinishRun


def command_key(command: Command) -> str:
    """What a command is about: later commands about the same thing replace earlier ones."""
    if isinstance(command, FinishRun):
        return "finish"
    return command.step_key
