"""The cluster's registry in Redis: live workers, the queues they consume, queue depths.

``RedisRegistry`` is mixed into ``RedisRunStore`` (``base.Registry``). Workers
announce themselves with a TTL; the coordinator's metrics, ``submit`` and the CLI
read who is alive and how deep each Celery queue is.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

import redis

from opgrid.orchestrator.protocol.presence import WorkerInfo
from opgrid.orchestrator.protocol.signing import sign

from .connect import translated
from .keys import Keys, queue_lists

#: What a secret's fingerprint is the HMAC of.
_FINGERPRINT_TEXT = b"opgrid-fingerprint"


def secret_fingerprint(secret: bytes) -> str:
    """8 hex characters that tell two ``OPGRID_SECRET`` values apart without revealing
    either: the start of HMAC-SHA256(secret, "opgrid-fingerprint")."""
    return sign(secret, _FINGERPRINT_TEXT).hex()[:8]


class RedisRegistry:
    """Live workers and queue depths (mixed into ``RedisRunStore``)."""

    _r: Any
    keys: Keys

    # Workers and queues (read by the coordinator's metrics) ----------------------------------
    @translated
    def worker_heartbeat(
        self,
        hostname: str,
        queues: Sequence[str],
        ttl_s: float,
        fingerprint: str = "",
        info: WorkerInfo | None = None,
    ) -> None:
        """A Celery worker, consuming ``queues``, is alive until ``ttl_s`` from now; it
        holds the secret of ``fingerprint`` (``secret_fingerprint``) and describes itself
        with ``info``, when given."""
        with self._r.pipeline(transaction=False) as pipe:
            pipe.zadd(self.keys.workers(), {hostname: time.time() + ttl_s})
            pipe.hset(self.keys.worker_queues(), hostname, ",".join(queues))
            if fingerprint:
                pipe.hset(self.keys.worker_secrets(), hostname, fingerprint)
            if info is not None:
                pipe.hset(self.keys.worker_info(), hostname, info.model_dump_json())
            pipe.execute()

    @translated
    def forget_worker(self, hostname: str) -> None:
        with self._r.pipeline(transaction=False) as pipe:
            pipe.zrem(self.keys.workers(), hostname)
            pipe.hdel(self.keys.worker_queues(), hostname)
            pipe.hdel(self.keys.worker_secrets(), hostname)
            pipe.hdel(self.keys.worker_info(), hostname)
            pipe.execute()

    @translated
    def live_worker_info(self) -> dict[str, WorkerInfo]:
        """Hostname -> what each live worker that published it says about itself."""
        now = time.time()
        with self._r.pipeline(transaction=False) as pipe:
            pipe.zrangebyscore(self.keys.workers(), now, "+inf")
            pipe.hgetall(self.keys.worker_info())
            alive, infos = pipe.execute()
        return {
            member.decode(): WorkerInfo.model_validate_json(infos[member])
            for member in sorted(alive)
            if member in infos
        }

    @translated
    def step_claims(self, steps: Sequence[tuple[str, str]]) -> list[str | None]:
        """The stored claim (``"<attempt>:<worker token>"``) of each (run id, step key)."""
        with self._r.pipeline(transaction=False) as pipe:
            for run_id, step_key in steps:
                pipe.hget(self.keys.claims(run_id), step_key)
            found = pipe.execute()
        return [raw.decode() if raw is not None else None for raw in found]

    @translated
    def live_fingerprints(self) -> dict[str, str]:
        """Hostname -> secret fingerprint of each live worker that published one."""
        now = time.time()
        with self._r.pipeline(transaction=False) as pipe:
            pipe.zrangebyscore(self.keys.workers(), now, "+inf")
            pipe.hgetall(self.keys.worker_secrets())
            alive, fingerprints = pipe.execute()
        return {
            member.decode(): fingerprints[member].decode()
            for member in sorted(alive)
            if member in fingerprints
        }

    @translated
    def live_workers(self) -> dict[str, list[str]]:
        """Hostname -> queues of each worker whose announcement has not lapsed.

        Lapsed entries are dropped on the way (the queues of a worker that announced
        itself again in that very moment are missing until its next announcement).
        """
        now = time.time()
        with self._r.pipeline(transaction=False) as pipe:
            pipe.zrangebyscore(self.keys.workers(), "-inf", now)
            pipe.zremrangebyscore(self.keys.workers(), "-inf", now)
            pipe.zrangebyscore(self.keys.workers(), now, "+inf")
            pipe.hgetall(self.keys.worker_queues())
            lapsed, _, alive, queues = pipe.execute()
        if lapsed:
            with self._r.pipeline(transaction=False) as pipe:
                pipe.hdel(self.keys.worker_queues(), *lapsed)
                pipe.hdel(self.keys.worker_secrets(), *lapsed)
                pipe.hdel(self.keys.worker_info(), *lapsed)
                pipe.execute()
        return {
            member.decode(): [q for q in queues.get(member, b"").decode().split(",") if q]
            for member in sorted(alive)
        }

    @translated
    def queue_depths(
        self, queues: Iterable[str], broker: redis.Redis | None = None
    ) -> dict[str, int]:
        """Messages waiting in each Celery queue, read from the broker's lists (``LLEN``).

        Args:
            queues: queue names.
            broker: a client of the broker when it is not this store's Redis.
        """
        lists = {name: queue_lists(name) for name in sorted(set(queues))}
        client: Any = broker if broker is not None else self._r
        with client.pipeline(transaction=False) as pipe:
            for keys in lists.values():
                for key in keys:
                    pipe.llen(key)
            lengths = iter(pipe.execute())
        return {name: sum(next(lengths) for _ in keys) for name, keys in lists.items()}

    @translated
    def remember_queues(self, queues: Iterable[str]) -> None:
        """Queues steps were sent to, kept for whoever reports queue depths later."""
        names = sorted(set(queues))
        if names:
            self._r.sadd(self.keys.queues(), *names)

    @translated
    def known_queues(self) -> list[str]:
        """Every queue steps were sent to (``remember_queues``), sorted."""
        return sorted(member.decode() for member in self._r.smembers(self.keys.queues()))
