"""What a coordinator tells its observers as it works: ``Hooks``, whose hooks do nothing.

An observer (``metrics.PrometheusMetrics``) subclasses ``Hooks`` and overrides the hooks
it needs, like dramatiq's ``Middleware``. It learns only from the hooks' arguments and
never reads the coordinator: every hook runs in the coordinator's thread, with values
that stay as they are (``Counts`` is the coordinator's own count, handed over), so an
observer serving them from another thread keeps what it was given, under its own lock.
Hooks must be quick: the coordinator's loop waits for them.

=================================== =====================================================
``after_event(record, event)``       a run's state accepted an event
``before_dispatch(deliveries)``      these step attempts are about to be sent
``after_finish(record)``             a run ended; ``record`` is its final record
``after_count(counts)``              the owned runs and their steps, counted again: after a
                                     run is adopted or given up, and at most every
                                     ``owned.COUNT_EVERY_S`` while their steps change
``after_turn()``                     a turn of the loop ended
=================================== =====================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opgrid.orchestrator.protocol.events import RunEvent
from opgrid.orchestrator.protocol.messages import RunRecord, RunSummary
from opgrid.orchestrator.protocol.status import RunStatus, StepStatus

if TYPE_CHECKING:  # not at run time: dispatch imports Celery, and supervision imports this
    from .dispatch import Delivery


@dataclass(frozen=True, slots=True)
class Counts:
    """The runs a coordinator owns by status, and their steps by status (no zeros)."""

    runs: Mapping[RunStatus, int]
    steps: Mapping[StepStatus, int]


class Hooks:
    """The hooks a coordinator calls as it works; each one here does nothing."""

    def after_event(self, record: RunRecord, event: RunEvent) -> None:
        """The state of ``record``'s run accepted ``event``."""

    def before_dispatch(self, deliveries: Sequence[Delivery]) -> None:
        """These step attempts are about to be sent."""

    def after_finish(self, record: RunRecord, summary: RunSummary | None = None) -> None:
        """A run ended; ``record`` is its final record, ``summary`` what it ended with."""

    def after_count(self, counts: Counts) -> None:
        """The owned runs and their steps were counted again."""

    def after_turn(self) -> None:
        """A turn of the coordinator's loop ended."""
