"""What the coordinator sends to the workers: step attempts now, and revokes.

``Outbox`` turns a run's ``DispatchStep`` commands into ``Delivery`` values (queue,
priority and time limit from the step's tags) and hands them to the ``Dispatcher``;
what the broker does not take now stays in the outbox and goes with the next send
(``flush`` each turn). Within ``gathered()`` sends are held and go together when the
block ends, so a turn that readies the steps of many runs publishes them in one batch.
A revoke takes the attempts' messages off the broker's queues
(where the broker allows it: Redis) and tells the workers; a worker that gets a revoked
attempt anyway finds the step final and drops it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Collection, Iterator, Sequence

from opgrid.errors import BrokerError
from opgrid.orchestrator.planning.state import DispatchStep
from opgrid.orchestrator.protocol.messages import task_id

from .dispatch import Delivery, Dispatcher
from .owned import OwnedRun

logger = logging.getLogger(__name__)

#: Steps sent in one dispatch: a 100,000-wide fan-out takes longer than a lease to send,
#: so the coordinator renews its leases between chunks (``between_chunks``).
CHUNK = 1000


class Outbox:
    """Sends for one coordinator (``owner`` names it in the logs)."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        default_queue: str,
        owner: str,
        between_chunks: Callable[[], None] | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.default_queue = default_queue
        self.owner = owner
        #: called between two chunks of one send (the coordinator renews its leases there)
        self.between_chunks = between_chunks
        #: deliveries the broker did not take yet; sent again with the next send
        self.undelivered: list[Delivery] = []
        #: how many ``gathered`` blocks are open (sends wait for the outermost's end)
        self._gathering = 0

    @contextlib.contextmanager
    def gathered(self) -> Iterator[None]:
        """Hold the sends made in the block; send them all when it ends (also when it
        raises: what the block persisted as queued must go out)."""
        self._gathering += 1
        try:
            yield
        finally:
            self._gathering -= 1
            if not self._gathering:
                self.flush()

    def delivery(self, owned: OwnedRun, command: DispatchStep) -> Delivery:
        """What to send for ``command`` of ``owned``."""
        key = command.step_key
        return Delivery(
            owned.request(key, command.attempt),
            queue=owned.queue(key, self.default_queue),
            priority=owned.priority(key),
            time_limit_s=owned.time_limit_s(key),
        )

    def send(self, deliveries: Sequence[Delivery]) -> None:
        """Send steps, ``CHUNK`` at a time; what the broker does not take now is sent again
        next time."""
        self.undelivered.extend(deliveries)
        if self._gathering:
            return
        while self.undelivered:
            chunk = self.undelivered[:CHUNK]
            try:
                self.dispatcher.dispatch(chunk)
            except BrokerError:
                logger.warning(
                    "coordinator %s: %d step(s) not sent yet; retrying",
                    self.owner,
                    len(self.undelivered),
                    exc_info=True,
                )
                return
            del self.undelivered[: len(chunk)]
            if self.undelivered and self.between_chunks is not None:
                self.between_chunks()

    def flush(self) -> None:
        """Send again what the broker did not take."""
        self.send([])

    def staged(self) -> tuple[list[tuple[str, bytes]], list[Delivery]]:
        """Pushes for the first chunk of what waits to be sent, when the dispatcher has
        the coordinator send them with its writes (``Dispatcher.stage``), and the
        deliveries they are for, which leave the outbox (``restore`` puts them back)."""
        chunk = self.undelivered[:CHUNK]
        try:
            pushes = self.dispatcher.stage(chunk) if chunk else None
        except BrokerError:  # a queue could not be declared: they go with the next send
            logger.warning("coordinator %s: %d step(s) not staged", self.owner, len(chunk))
            return [], []
        if pushes is None:
            return [], []
        del self.undelivered[: len(chunk)]
        return pushes, chunk

    def restore(self, deliveries: Sequence[Delivery]) -> None:
        """Staged deliveries that were not sent after all: first in line again."""
        self.undelivered[:0] = deliveries

    def drop(self, run_ids: Collection[str]) -> None:
        """Forget what is not sent yet of these runs (their coordinator let go of them)."""
        self.undelivered = [d for d in self.undelivered if d.request.run_id not in run_ids]

    def revoke(self, owned: OwnedRun, steps: Sequence[tuple[str, int]]) -> None:
        """Take these (step key, attempt) of ``owned`` off the broker's queues where it
        allows that, and ask the workers to drop them."""
        queued: dict[str, list[str]] = {}
        for key, attempt in steps:
            queue = owned.queue(key, self.default_queue)
            queued.setdefault(queue, []).append(task_id(owned.request(key, attempt)))
        ids = [task for tasks in queued.values() for task in tasks]
        revoked = set(ids)  # what is not sent yet is simply not sent
        self.undelivered = [d for d in self.undelivered if task_id(d.request) not in revoked]
        try:
            self.dispatcher.withdraw(queued)
            self.dispatcher.revoke(ids)
        except BrokerError:
            logger.warning("run %s: could not revoke %d step(s)", owned.run_id, len(ids))
