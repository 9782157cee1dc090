"""What a scheduler tells its observers as it leads: ``SchedulerHooks``, whose hooks do
nothing.

An observer (``metrics.SchedulerMetrics``) subclasses it and overrides what it needs,
like the coordinator's ``coordinator.hooks.Hooks``; it learns only from the arguments
(records that stay as they are) and never reads the scheduler. Every hook runs in the
scheduler's thread and must be quick.

======================================== ===============================================
``after_tick(tick, launched)``            a tick ended: ``tick`` is its record (status
                                          SUCCESS/SKIPPED/FAILURE), ``launched`` the runs
                                          it created (not those that existed already)
``after_backfills(in_progress)``          the backfills still in progress, with what their
                                          partitions did, after the leader's turn on them
``after_turn(leading)``                   a turn ended; whether this scheduler leads
======================================== ===============================================
"""

from __future__ import annotations

from collections.abc import Sequence

from opgrid.orchestrator.protocol.messages import RunRecord
from opgrid.orchestrator.store.tick_records import BackfillProgressRecord, TickRecord


class SchedulerHooks:
    """The hooks a scheduler calls; each one here does nothing."""

    def after_tick(self, tick: TickRecord, launched: Sequence[RunRecord]) -> None:
        """A tick ended; ``launched`` are the runs it created."""

    def after_backfills(self, in_progress: Sequence[BackfillProgressRecord]) -> None:
        """The backfills in progress after the leader's turn on them."""

    def after_turn(self, leading: bool) -> None:
        """A turn of the scheduler ended."""
