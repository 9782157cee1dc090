"""A finished run's outcome, summarised from its state and read back without replay.

``summarize(state)`` is what the coordinator stores when a run ends;
``SummaryOutcomes`` answers a result's questions (statuses, copies, outputs
yielded) from that summary the way ``RunState`` answers them from events, so a
waiter reads one value instead of the whole event log. Both satisfy ``Outcomes``.
"""

from __future__ import annotations

from typing import Protocol

from opgrid.orchestrator.protocol.messages import RunSummary
from opgrid.orchestrator.protocol.status import RunStatus, StepStatus
from opgrid.orchestrator.protocol.step_keys import is_copy_of

from .state import RunState


class Outcomes(Protocol):
    """What a result reads of a run's steps."""

    @property
    def run_status(self) -> RunStatus | None:
        """The run's outcome once every step is final, else None."""

    def statuses(self) -> dict[str, StepStatus]:
        """Every step's status, mapped copies included."""

    def instances_of(self, template_key: str) -> list[str]:
        """The mapped copies of a template, in the order they were made."""

    def mapping_key_of(self, step_key: str) -> str | None:
        """The mapping key of a mapped copy; None for a plain step."""

    def yielded(self, step_key: str) -> dict[str, list[str | None]]:
        """The outputs a step produced, with their mapping keys."""


def summarize(state: RunState) -> RunSummary:
    """The summary of a finished run's state.

    Raises:
        ValueError: the run has not finished.
    """
    status = state.run_status
    if status is None:
        raise ValueError("a run that has not finished has no summary")
    statuses = state.statuses()
    return RunSummary(
        status=status,
        steps=statuses,
        yielded={key: dict(got) for key in statuses if (got := state.yielded(key))},
        succeeded=state.succeeded(),
    )


class SummaryOutcomes:
    """``Outcomes`` of a finished run, read from its stored summary."""

    def __init__(self, summary: RunSummary) -> None:
        self.summary = summary

    @property
    def run_status(self) -> RunStatus | None:
        return self.summary.status

    def statuses(self) -> dict[str, StepStatus]:
        return dict(self.summary.steps)

    def instances_of(self, template_key: str) -> list[str]:
        return [key for key in self.summary.steps if is_copy_of(key, template_key)]

    def mapping_key_of(self, step_key: str) -> str | None:
        _, bracket, rest = step_key.partition("[")
        return rest[:-1] if bracket else None

    def yielded(self, step_key: str) -> dict[str, list[str | None]]:
        return self.summary.yielded.get(step_key, {})
