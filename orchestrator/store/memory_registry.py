"""The in-memory twin of ``registry.RedisRegistry``, mixed into ``InMemoryRunStore``.

Workers' entries lapse by the monotonic clock; queue depths are not kept here (no
broker), so the in-memory store has no ``queue_depths``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from opgrid.orchestrator.protocol.presence import WorkerInfo


class InMemoryRegistry:
    """Live workers, what they say about themselves, remembered queues."""

    def __init__(self) -> None:
        self._workers: dict[str, tuple[float, list[str]]] = {}
        self._queues: set[str] = set()
        self._fingerprints: dict[str, str] = {}
        self._infos: dict[str, WorkerInfo] = {}

    def _claim(self, run_id: str, step_key: str) -> str | None:
        raise NotImplementedError

    def worker_heartbeat(
        self,
        hostname: str,
        queues: Sequence[str],
        ttl_s: float,
        fingerprint: str = "",
        info: WorkerInfo | None = None,
    ) -> None:
        self._workers[hostname] = (time.monotonic() + ttl_s, list(queues))
        if fingerprint:
            self._fingerprints[hostname] = fingerprint
        if info is not None:
            self._infos[hostname] = info

    def forget_worker(self, hostname: str) -> None:
        self._workers.pop(hostname, None)
        self._fingerprints.pop(hostname, None)
        self._infos.pop(hostname, None)

    def live_fingerprints(self) -> dict[str, str]:
        alive = self.live_workers()
        return {host: found for host, found in sorted(self._fingerprints.items()) if host in alive}

    def live_worker_info(self) -> dict[str, WorkerInfo]:
        alive = self.live_workers()
        return {host: info for host, info in sorted(self._infos.items()) if host in alive}

    def step_claims(self, steps: Sequence[tuple[str, str]]) -> list[str | None]:
        return [self._claim(run_id, step_key) for run_id, step_key in steps]

    def live_workers(self) -> dict[str, list[str]]:
        now = time.monotonic()
        return {
            host: list(queues)
            for host, (until, queues) in sorted(self._workers.items())
            if until > now
        }

    def remember_queues(self, queues: Iterable[str]) -> None:
        self._queues.update(queues)

    def known_queues(self) -> list[str]:
        return sorted(self._queues)
