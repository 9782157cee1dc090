"""Dagster's run-key rule: a sensor never launches two runs with the same run key.

A request without a run key always launches. A request whose key the sensor already
launched is dropped, and so is a second request with the same key in one tick.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from .evaluation import RequestedRun


@dataclass(frozen=True, slots=True)
class RunKeyDecision:
    """A tick's run requests, split by the run-key rule.

    Attributes:
        to_launch: the requests to launch, in the order the tick made them.
        already_launched: the requests dropped because their key was launched before
            (or earlier in the same tick).
    """

    to_launch: list[RequestedRun]
    already_launched: list[RequestedRun]

    @property
    def new_run_keys(self) -> list[str]:
        """The keys the launched requests add to the sensor's set."""
        return [run.run_key for run in self.to_launch if run.run_key is not None]


def new_run_requests(
    requests: Sequence[RequestedRun], launched_run_keys: Collection[str]
) -> RunKeyDecision:
    """Which of a tick's requests are new, given the run keys the sensor already launched."""
    seen = set(launched_run_keys)
    to_launch: list[RequestedRun] = []
    dropped: list[RequestedRun] = []
    for run in requests:
        if run.run_key is None:
            to_launch.append(run)
        elif run.run_key in seen:
            dropped.append(run)
        else:
            seen.add(run.run_key)
            to_launch.append(run)
    return RunKeyDecision(to_launch=to_launch, already_launched=dropped)


def last_run_key(decision: RunKeyDecision, previous: str | None) -> str | None:
    """The sensor's ``last_run_key`` after launching a decision's runs."""
    keys = decision.new_run_keys
    return keys[-1] if keys else previous
