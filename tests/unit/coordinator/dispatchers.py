"""A dispatcher for the coordinator's unit tests: records what it is given to send."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from opgrid.orchestrator.coordinator.dispatch import Delivery


class Recorder:
    """Sends nothing; ``sent`` lists every delivery in order (nothing staged: the broker
    is not the store's database)."""

    def __init__(self) -> None:
        self.sent: list[Delivery] = []

    def stage(self, deliveries: Sequence[Delivery]) -> list[tuple[str, bytes]] | None:
        return None  # sent by dispatch

    def dispatch(self, deliveries: Sequence[Delivery]) -> None:
        self.sent.extend(deliveries)

    def revoke(self, task_ids: Sequence[str]) -> None:
        return None

    def withdraw(self, queued: Mapping[str, Sequence[str]]) -> int:
        return 0

    def close(self) -> None:
        return None
