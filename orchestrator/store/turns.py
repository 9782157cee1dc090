"""A coordinator turn's storage work in bulk: adopting many runs at once, and the writes
of one turn across every run it advanced.

A turn of the coordinator handles the submissions and events of many runs. Storing
what it decides run by run costs a round trip per run and per kind of write (the
statuses and input refs of dispatched steps, a started record, a final record and
summary, a lease given back); on a small machine that round trip is most of a
coordinator's CPU. So a turn collects its writes as values (``ProgressWrite``,
``FinishWrite``) and hands them over at once (``Progress.write_turn``), before the
steps they ready are sent, and claims a batch of submitted runs at once
(``Progress.claim_runs``).

The values, and the way to apply them one run at a time that any store can do
(``claim_runs_one_by_one``, ``write_turn_one_by_one``: the in-memory store, and a Redis
Cluster, whose transactions stay within one run's slot), are here; ``redis_turns``
does it in a few round trips on one Redis.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from opgrid.errors import RunNotFound
from opgrid.orchestrator.planning.plan import ExecutionPlan
from opgrid.orchestrator.protocol.events import RunEvent
from opgrid.orchestrator.protocol.messages import RunRecord, RunSummary, StepInputs
from opgrid.orchestrator.protocol.status import FINAL_RUN_STATUSES

if TYPE_CHECKING:  # base imports this module's values
    from .base import RunStore


@dataclass(frozen=True, slots=True)
class Adopted:
    """A run a coordinator has just claimed: what it needs to take the run over."""

    record: RunRecord
    plan: ExecutionPlan
    #: (stream id, event) of every event so far
    log: list[tuple[str, RunEvent]]


@dataclass(frozen=True, slots=True)
class ProgressWrite:
    """What a turn decided for one run that goes on: ``save_progress`` and, when the
    run's record changed (it started), the record."""

    run_id: str
    statuses: Mapping[str, str] = field(default_factory=dict)
    inputs: Mapping[str, StepInputs] = field(default_factory=dict)
    events: Sequence[RunEvent] = ()
    record: RunRecord | None = None


@dataclass(frozen=True, slots=True)
class FinishWrite:
    """A run that ended in the turn: ``finish_run``, then its lease given back by
    ``owner``."""

    record: RunRecord
    events: Sequence[RunEvent]
    statuses: Mapping[str, str]
    summary: RunSummary | None
    owner: str

    @property
    def run_id(self) -> str:
        return self.record.run_id


TurnWrite = ProgressWrite | FinishWrite


def claim_runs_one_by_one(
    store: RunStore, run_ids: Sequence[str], owner: str, lease_s: float
) -> dict[str, Adopted]:
    """Claim each run's lease; the claimed runs that exist and have not ended, with their
    record, plan and log (a claimed run that has ended, or is gone, is let go again)."""
    adopted: dict[str, Adopted] = {}
    for run_id in run_ids:
        if not store.claim(run_id, owner, lease_s):
            continue
        try:
            record = store.get_run(run_id)
            if record.status in FINAL_RUN_STATUSES:
                store.release(run_id, owner)
                continue
            plan = store.get_plan(run_id)
        except RunNotFound:
            store.release(run_id, owner)
            continue
        adopted[run_id] = Adopted(record, plan, store.read_events(run_id))
    return adopted


def runs_beats_one_by_one(
    store: RunStore, steps: Mapping[str, Sequence[str]]
) -> dict[str, tuple[float, list[float | None]]]:
    """``step_beats`` run by run."""
    return {run_id: store.step_beats(run_id, keys) for run_id, keys in steps.items()}


def write_turn_one_by_one(
    store: RunStore, writes: Sequence[TurnWrite], pushes: Sequence[tuple[str, bytes]] = ()
) -> None:
    """Apply a turn's writes in order, one run at a time (``pushes``: none; a store that
    applies writes one by one holds no broker queues)."""
    if pushes:
        raise ValueError("this store holds no broker queues to push step messages onto")
    for write in writes:
        if isinstance(write, ProgressWrite):
            if write.record is not None:
                store.save_run(write.record)
            if write.statuses or write.inputs or write.events:
                store.save_progress(write.run_id, write.statuses, write.inputs, write.events)
        else:
            store.finish_run(write.record, write.events, write.statuses, write.summary)
            store.release(write.run_id, write.owner)
