"""Leases in Redis: a coordinator's lease on each run it owns, and its own heartbeat.

``RedisLeases`` is mixed into ``RedisRunStore`` (``base.Progress``). A lease is one key
of the run (its slot), taken with ``SET NX PX`` and renewed or released only by its
holder (the ``RENEW`` and ``RELEASE`` scripts).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from .connect import translated
from .keys import Keys


class RedisLeases:
    """Run leases and coordinator heartbeats (mixed into ``RedisRunStore``)."""

    _r: Any
    keys: Keys
    _renew: Any
    _release: Any
    on_cluster: bool

    # Leases ---------------------------------------------------------------------------------
    @translated
    def claim(self, run_id: str, owner: str, lease_s: float) -> bool:
        return bool(self._r.set(self.keys.lease(run_id), owner, nx=True, px=int(lease_s * 1000)))

    @translated
    def renew(self, run_id: str, owner: str, lease_s: float) -> bool:
        return bool(self._renew(keys=[self.keys.lease(run_id)], args=[owner, int(lease_s * 1000)]))

    @translated
    def renew_all(self, run_ids: Sequence[str], owner: str, lease_s: float) -> list[str]:
        """Renew the leases of ``run_ids`` at once; the runs whose lease was lost."""
        lease_ms = int(lease_s * 1000)
        if self.on_cluster:  # scripts do not go in a cluster's pipelines: one call a run
            renewed = [
                self._renew(keys=[self.keys.lease(r)], args=[owner, lease_ms]) for r in run_ids
            ]
        else:
            with self._r.pipeline(transaction=False) as pipe:
                for run_id in run_ids:
                    self._renew(keys=[self.keys.lease(run_id)], args=[owner, lease_ms], client=pipe)
                renewed = pipe.execute()
        return [run_id for run_id, ok in zip(run_ids, renewed, strict=True) if not ok]

    @translated
    def unleased(self, run_ids: Sequence[str]) -> list[str]:
        """Those of ``run_ids`` whose lease has lapsed (or that never had one)."""
        with self._r.pipeline(transaction=False) as pipe:
            for run_id in run_ids:
                pipe.exists(self.keys.lease(run_id))
            held = pipe.execute()
        return [run_id for run_id, n in zip(run_ids, held, strict=True) if not n]

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
