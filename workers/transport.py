"""kombu's Redis transport, refusing malformed items on a queue instead of dying of them.

A queue is a Redis list that anyone with write access to the broker can push to. kombu
pops an item (``BRPOP``), parses it as JSON and builds a message from the envelope; an
item that is not JSON, not an envelope (a JSON list, a string), or whose body does not
decode (not base64) makes kombu raise in the worker's event loop, which ends the worker.
Here such an item is refused with one logged line. It is already off the queue (the
pop took it) and was never delivered, so nothing is left to acknowledge: the worker goes
on with the next item. Celery itself handles the rest (bodies it cannot decode, unknown
tasks, untrusted content types), and opgrid's step task refuses bad requests.

The channels also keep one ``redis.Redis`` client per connection pool for the commands
kombu sends outside its event loop (publishing a message or a task event, recording an
unacknowledged delivery, acknowledging one). kombu's ``Channel.conn_or_acquire`` builds
a new client around the same pool for each of them, and building one costs redis-py
about 70 µs (it copies its table of reply callbacks): three or more per step in a
worker's main process. A client is only a view of its pool (it holds no connection of
its own between commands), so sharing one is what kombu means to do, for less.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
from collections.abc import Iterator
from typing import Any

from kombu.transport import TRANSPORT_ALIASES, redis

logger = logging.getLogger(__name__)

#: Characters of a refused item's reason quoted in the log line.
_MAX_SHOWN = 120


def malformed(item: Any) -> str | None:
    """What makes ``item`` (a queue item, parsed) no message kombu can deliver, or None."""
    if not isinstance(item, dict):
        return f"not a message envelope (a JSON {type(item).__name__})"
    properties = item.get("properties")
    if not isinstance(properties, dict):
        return "no properties"
    info = properties.get("delivery_info")
    if not isinstance(info, dict) or "exchange" not in info or "routing_key" not in info:
        return "no delivery info"
    if not isinstance(properties.get("delivery_tag"), str):
        return "no delivery tag"
    body = item.get("body")
    if not body:
        return None
    if not isinstance(body, str):
        return f"the body is a JSON {type(body).__name__}, not text"
    encoding = properties.get("body_encoding")
    if not encoding or str(encoding).lower() == "utf-8":
        return None
    if str(encoding).lower() != "base64":
        return f"unknown body encoding {str(encoding)[:40]!r}"
    try:
        base64.b64decode(body.encode())  # as kombu decodes it
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return "the body is not base64"
    return None


def _refuse(queue: str | None, reason: str) -> None:
    where = f"broker queue {queue[:_MAX_SHOWN]!r}" if queue else "a broker queue"
    logger.error("refused an item on %s: %s", where, reason)


class _Guarded:
    """What opgrid's Redis channels add to kombu's: refusing a queue item that is not
    JSON, still reaching Redis while closing after the connection was dropped
    (``_connparams``), and one client per pool (``conn_or_acquire``)."""

    connection: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._connparams(asynchronous=False)  # remembered while the transport knows them

    def _connparams(self, asynchronous: bool = False) -> Any:
        """kombu's, remembered: once the consumer has dropped a broken connection
        (``Connection.collect``), the transport's ``client`` is None, and a channel that
        closes only then (its first close stopped at a BRPOP broken mid-read) builds a
        pool from it to restore its unacknowledged messages: AttributeError
        ``'NoneType' object has no attribute 'hostname'``, which ends the worker."""
        known: dict[bool, dict[str, Any]] = self.__dict__.setdefault("_known_params", {})
        transport = self.connection
        if (transport is None or transport.client is None) and asynchronous in known:
            return dict(known[asynchronous])
        params = super()._connparams(asynchronous=asynchronous)  # type: ignore[misc]
        known[asynchronous] = dict(params)
        return params

    @contextlib.contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        """``client``, or the channel's client of its current pool (kombu builds a new one
        each time)."""
        yield client if client else self._pool_client()

    def _pool_client(self) -> Any:
        """One client per connection pool: built again only when kombu replaced the pool
        (a reconnect drops it)."""
        pool = self.pool  # type: ignore[attr-defined]
        cached = self.__dict__.get("_shared_client")
        if cached is None or cached.connection_pool is not pool:
            cached = self.__dict__["_shared_client"] = self._create_client()  # type: ignore[attr-defined]
        return cached

    def _brpop_read(self, **options: Any) -> Any:
        try:
            return super()._brpop_read(**options)  # type: ignore[misc]
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:  # popped: nothing to ack
            _refuse(None, f"not JSON ({str(exc)[:_MAX_SHOWN]})")
            return True


class Channel(_Guarded, redis.Channel):
    """kombu's Redis channel, guarded."""


class SentinelChannel(_Guarded, redis.SentinelChannel):
    """kombu's Redis Sentinel channel (the primary found through sentinels), guarded."""


class _Checked:
    """Envelopes checked on delivery: a malformed one is refused, not delivered."""

    def _deliver(self, message: Any, queue: str | None) -> None:
        reason = malformed(message)
        if reason is not None:
            _refuse(queue, reason)
            return
        super()._deliver(message, queue)  # type: ignore[misc]


class Transport(_Checked, redis.Transport):
    """kombu's Redis transport with ``Channel`` above and envelopes checked on delivery."""

    Channel = Channel


class SentinelTransport(_Checked, redis.SentinelTransport):
    """kombu's Redis Sentinel transport, with ``SentinelChannel`` and checked envelopes."""

    Channel = SentinelChannel


def use_for_redis_urls() -> None:
    """Make ``redis://`` and ``rediss://`` broker URLs use ``Transport`` in this process,
    and kombu's ``sentinel://`` ones ``SentinelTransport``.

    By kombu's alias table rather than Celery's ``broker_transport`` setting: with the
    setting, kombu would name the transport class instead of the scheme wherever it
    shows the broker URL (Celery's banner, "Connected to ..."). A process that already
    opened a Redis connection keeps kombu's own transport (kombu caches the lookup).
    """
    for scheme in ("redis", "rediss"):
        TRANSPORT_ALIASES[scheme] = f"{Transport.__module__}:{Transport.__qualname__}"
    TRANSPORT_ALIASES["sentinel"] = f"{__name__}:{SentinelTransport.__qualname__}"
