"""The in-memory twin of ``leases.RedisLeases``, mixed into ``InMemoryRunStore``: run
leases and coordinator heartbeats, lapsing by the monotonic clock."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence


class InMemoryLeases:
    """Who owns which run, and which coordinators are alive."""

    _changed: threading.Condition

    def __init__(self) -> None:
        #: run id -> (owner, when (monotonic) the lease lapses)
        self._leases: dict[str, tuple[str, float]] = {}
        #: coordinator id -> until when (monotonic) it counts as alive
        self._coordinators: dict[str, float] = {}

    def claim(self, run_id: str, owner: str, lease_s: float) -> bool:
        with self._changed:
            held = self._leases.get(run_id)
            if held is not None and held[1] > time.monotonic():
                return False
            self._leases[run_id] = (owner, time.monotonic() + lease_s)
            return True

    def renew(self, run_id: str, owner: str, lease_s: float) -> bool:
        with self._changed:
            held = self._leases.get(run_id)
            if held is None or held[0] != owner or held[1] <= time.monotonic():
                return False
            self._leases[run_id] = (owner, time.monotonic() + lease_s)
            return True

    def unleased(self, run_ids: Sequence[str]) -> list[str]:
        with self._changed:
            now = time.monotonic()
            return [r for r in run_ids if (held := self._leases.get(r)) is None or held[1] <= now]

    def renew_all(self, run_ids: Sequence[str], owner: str, lease_s: float) -> list[str]:
        return [run_id for run_id in run_ids if not self.renew(run_id, owner, lease_s)]

    def release(self, run_id: str, owner: str) -> None:
        with self._changed:
            held = self._leases.get(run_id)
            if held is not None and held[0] == owner:
                del self._leases[run_id]

    def heartbeat(self, coordinator_id: str, ttl_s: float) -> None:
        self._coordinators[coordinator_id] = time.monotonic() + ttl_s

    def forget_coordinator(self, coordinator_id: str) -> None:
        self._coordinators.pop(coordinator_id, None)

    def live_coordinators(self) -> list[str]:
        now = time.monotonic()
        return sorted(c for c, until in self._coordinators.items() if until > now)
