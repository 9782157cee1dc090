"""Leases in Redis: a coordinator's lease on each run it owns, and its own heartbeat.

``RedisLeases`` is mixed into ``RedisRunStore`` (``base.Progress``). A lease is one key
of the run (its slot), taken with ``SET NX PX`` and renewed or released only by its
holder (the ``RENEW`` and ``RELEASE`` scripts).
"""

from __future__ import annotations

import time
from typing import Any

from .connect import translated
from .keys import Keys


class RedisLeases:
    """Run leases and coordinator heartbeats (mixed into ``RedisRunStore``)."""

    _r: Any
    keys: Keys
    _renew: Any
    _release: Any

    # Leases ---------------------------------------------------------------------------------
    @translated
    def claim(self, run_id: str, owner: str, lease_s: float) -> bool:
        return bool(self._r.set(self.keys.lease(run_id), owner, nx=True, px=int(lease_s * 1000)))

    @translated
    def renew(self, run_id: str, owner: str, lease_s: float) -> bool:
        return bool(self._renew(keys=[self.keys.lease(run_id)], args=[owner, int(lease_s * 1000)]))

    @translated
    def release(self, run_id: str, owner: str) -> None:
        self._release(keys=[self.keys.lease(run_id)], args=[owner])

    @translated
    def heartbeat(self, coordinator_id: str, ttl_s: float) -> None:
        """Alive until ``ttl_s`` from now (scored by expiry time)."""
        self._r.zadd(self.keys.coordinators(), {coordinator_id: time.time() + ttl_s})

    @translated
    def forget_coordinator(self, coordinator_id: str) -> None:
        self._r.zrem(self.keys.coordinators(), coordinator_id)

    @translated
    def live_coordinators(self) -> list[str]:
        now = time.time()
        with self._r.pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(self.keys.coordinators(), "-inf", now)
            pipe.zrangebyscore(self.keys.coordinators(), now, "+inf")
            _, alive = pipe.execute()
        return sorted(member.decode() for member in alive)
