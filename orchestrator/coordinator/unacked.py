"""Settling step messages left in a Redis broker's unacknowledged set.

kombu's Redis transport keeps every delivered message in the broker's ``unacked``
hash until its worker acknowledges it, and hands one back to a queue only when it has
been there ``visibility_timeout`` (an hour by default). A worker killed outright, or a
broker connection that broke while Redis restarted, leaves its messages there; the
coordinator has long since delivered those attempts again and they have ended, so the
copies would only come back an hour later to be dropped; and a message a worker had
received but not started when its connection broke leaves its step queued for that
hour. ``UnackedSweeper`` settles them within seconds instead: every housekeeping turn
it reads the oldest entries and

- removes those whose step attempt has ended for good (``attempt_ended``: final,
  superseded, or ended ``up_for_retry``), exactly as an acknowledgement would;
- hands back to their queue those older than ``step_lost_after_s`` whose attempt never
  began (``attempt_unstarted``), exactly as kombu's restore would (with prefetch 1 and
  late acks a worker holds no message it does not run; were one alive after all, its
  claim drops whichever copy comes second).

Entries of attempts running now, of runs this namespace does not know, and other
tasks' are left alone (several clusters may share the broker's database). RabbitMQ needs none
of this: a closed connection hands its unacknowledged messages back at once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import redis

from opgrid.orchestrator.protocol.attempts import attempt_ended, attempt_unstarted
from opgrid.orchestrator.protocol.messages import EXECUTE_STEP, parse_task_id
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.base import RunStore
from opgrid.orchestrator.store.connect import connect
from opgrid.orchestrator.store.keys import UNACKED, UNACKED_INDEX, queue_list_for

logger = logging.getLogger(__name__)

#: Entries looked at per turn, oldest first.
BATCH = 200
#: Broker URL schemes whose unacknowledged messages wait in Redis.
_REDIS_SCHEMES = ("redis", "rediss", "redis+sentinel", "rediss+sentinel")


class UnackedSweeper:
    """Removes the broker's unacknowledged copies of step attempts that have ended."""

    def __init__(
        self,
        store: RunStore,
        broker: redis.Redis | None,
        min_age_s: float,
        restore_after_s: float,
    ) -> None:
        self.store = store
        #: entries younger than this are left to their worker's own acknowledgement
        self.min_age_s = min_age_s
        #: an entry of an attempt that never began is handed back after this long
        self.restore_after_s = restore_after_s
        self._broker: Any = broker  # replies are bytes (``connect``)

    @classmethod
    def for_settings(cls, store: RunStore, settings: Settings) -> UnackedSweeper:
        """A sweeper of the settings' broker (one that does nothing unless it is Redis)."""
        broker = None
        if urlsplit(settings.broker_url).scheme in _REDIS_SCHEMES:
            broker = connect(settings.broker_url)
        min_age_s = max(5.0, 2 * settings.step_heartbeat_s)
        return cls(store, broker, min_age_s, max(min_age_s, settings.step_lost_after_s))

    def sweep(self, now: float) -> int:
        """Settle the oldest entries that ended or never began; how many were settled."""
        if self._broker is None:
            return 0
        try:
            return self._sweep(now)
        except redis.RedisError as exc:  # the broker is away: next turn
            logger.debug("unacknowledged messages not swept: %s", exc)
            return 0

    def _sweep(self, now: float) -> int:
        found: list[tuple[bytes, float]] = self._broker.zrangebyscore(
            UNACKED_INDEX, "-inf", now - self.min_age_s, start=0, num=BATCH, withscores=True
        )
        if not found:
            return 0
        tags = [tag for tag, _ in found]
        raws = self._broker.hmget(UNACKED, tags)
        known = [
            _Entry(tag, at, raw, attempt)
            for (tag, at), raw in zip(found, raws, strict=True)
            if raw is not None and (attempt := _attempt_of(raw)) is not None
        ]
        if not known:
            return 0
        steps = [(entry.run_id, entry.step_key) for entry in known]
        statuses = self.store.statuses_of(steps)
        claims = self.store.step_claims(steps)
        ended, unstarted = [], []
        for entry, status, claim in zip(known, statuses, claims, strict=True):
            if attempt_ended(status, claim, entry.attempt):
                ended.append(entry)
            elif attempt_unstarted(status, claim, entry.attempt):
                if entry.at <= now - self.restore_after_s:
                    unstarted.append(entry)
        if ended or unstarted:
            self._settle(ended, unstarted)
            logger.info(
                "unacknowledged step messages: %d of ended attempts settled, %d never "
                "begun handed back to their queues",
                len(ended),
                len(unstarted),
            )
        return len(ended) + len(unstarted)

    def _settle(self, ended: Sequence[_Entry], unstarted: Sequence[_Entry]) -> None:
        """What kombu's acknowledgement does (off the index and the hash), and for the
        unstarted, what its restore does first (back onto their queue's list)."""
        with self._broker.pipeline(transaction=False) as pipe:
            for entry in unstarted:
                queue, message = entry.restored()
                pipe.rpush(queue, message)  # the end workers pop next, as kombu restores
            tags = [entry.tag for entry in [*ended, *unstarted]]
            pipe.zrem(UNACKED_INDEX, *tags)
            pipe.hdel(UNACKED, *tags)
            pipe.execute()

    def close(self) -> None:
        if self._broker is not None:
            self._broker.close()


@dataclass(frozen=True)
class _Entry:
    """One ``opgrid.step`` message in the unacknowledged set."""

    tag: bytes
    at: float  # when it was delivered
    raw: bytes  # ``[message, exchange, routing key]`` JSON
    found: tuple[str, str, int]  # run id, step key, attempt

    @property
    def run_id(self) -> str:
        return self.found[0]

    @property
    def step_key(self) -> str:
        return self.found[1]

    @property
    def attempt(self) -> int:
        return self.found[2]

    def restored(self) -> tuple[str, str]:
        """(the queue list to put it back on, the message marked redelivered)."""
        message, _exchange, routing_key = json.loads(self.raw)
        message.setdefault("headers", {})["redelivered"] = True
        priority = int(message.get("properties", {}).get("priority") or 0)
        return queue_list_for(str(routing_key), priority), json.dumps(message)


def _attempt_of(raw: bytes) -> tuple[str, str, int] | None:
    """(run id, step key, attempt) of an ``opgrid.step`` entry; None for anything else."""
    try:
        message, _exchange, _routing_key = json.loads(raw)
        headers = message["headers"]
        if headers.get("task") != EXECUTE_STEP:
            return None
        return parse_task_id(str(headers["id"]))
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return None
