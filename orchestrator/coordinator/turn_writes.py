"""A coordinator turn's writes: held while the turn decides, stored with its sends when
it ends.

The loop decides run by run; what it decides to store (``store.turns``: a run's progress,
its end) is held here until the outermost ``held`` block of the turn ends, then written
in one ``RunStore.write_turn``, with the first chunk of the turn's sends when the
broker's queues are lists in storage's own Redis database (``Outbox.staged``: one round
trip, the messages after the writes), and the rest of the sends go after it
(``Outbox.gathered``). Outside a ``held`` block a write is stored at once.

When the write fails, the runs it was for are let go (``let_go``): what was decided for
them is not known to be stored, so nothing of theirs is sent, and they are adopted again
from their logs once their leases lapse; the other sends wait for the next try. A run's
end is told (``ended``) only once it is stored.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator

from opgrid.errors import StorageError
from opgrid.orchestrator.protocol.messages import RunRecord, RunSummary
from opgrid.orchestrator.store.base import RunStore
from opgrid.orchestrator.store.turns import TurnWrite

from .outbox import Outbox

logger = logging.getLogger(__name__)


class TurnWrites:
    """The writes one coordinator's turn holds (``owner`` names it in the logs)."""

    def __init__(
        self,
        store: RunStore,
        outbox: Outbox,
        owner: str,
        let_go: Callable[[set[str]], None],
        ended: Callable[[RunRecord, RunSummary], None],
    ) -> None:
        self.store = store
        self.outbox = outbox
        self.owner = owner
        self._let_go = let_go
        self._ended_hook = ended
        self._writes: list[TurnWrite] = []
        #: runs ended by those writes, told once stored
        self._ended: list[tuple[RunRecord, RunSummary]] = []
        #: how many ``held`` blocks are open
        self._holding = 0

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Hold the block's writes and sends; when the outermost block ends, store the
        writes (with the first sends), then send the rest."""
        with self.outbox.gathered():
            self._holding += 1
            try:
                yield
            finally:
                self._holding -= 1
                if not self._holding:
                    self._store(with_sends=True)

    def write(self, write: TurnWrite) -> None:
        """Store ``write`` with the turn's others (at once outside a ``held`` block)."""
        self._writes.append(write)
        if not self._holding:
            self._store(with_sends=False)

    def ended(self, record: RunRecord, summary: RunSummary) -> None:
        """The run ended: told once the turn's writes are stored (write its end first)."""
        self._ended.append((record, summary))

    def _store(self, with_sends: bool) -> None:
        writes, self._writes = self._writes, []
        ended, self._ended = self._ended, []
        pushes, staged = self.outbox.staged() if with_sends else ([], [])
        if not writes and not pushes:
            return
        try:
            self.store.write_turn(writes, pushes)
        except StorageError:
            lost = {write.run_id for write in writes}
            self.outbox.restore(staged)
            self.outbox.drop(lost)
            self._let_go(lost)
            logger.warning("coordinator %s: %d run(s) let go, not stored", self.owner, len(lost))
            raise
        for record, summary in ended:
            self._ended_hook(record, summary)
