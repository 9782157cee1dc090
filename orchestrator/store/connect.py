"""Connections to Redis: clients, URLs safe to print, and errors translated once.

``redis.RedisError`` (and a cluster client's ``RedisClusterException``) becomes
``StorageError`` at this boundary (``translated``) and nowhere else, keeping the cause.
"""

from __future__ import annotations

import functools
import re
import ssl
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import redis
from redis.cluster import RedisCluster
from redis.exceptions import (
    AskError,
    ClusterError,
    RedisClusterException,
    SlotNotCoveredError,
    TryAgainError,
)

from opgrid.errors import StorageError

from . import redis_cluster, sentinel

P = ParamSpec("P")
R = TypeVar("R")

#: A client of storage: one Redis (plain or found through Sentinel), or a Redis Cluster.
Client = redis.Redis | RedisCluster
#: What redis-py raises: its errors, and a cluster client's own (no slot map, a command
#: no node can take), which do not derive from ``redis.RedisError``.
REDIS_ERRORS = (redis.RedisError, RedisClusterException)
#: A cluster's errors while slots move or a primary is replaced: the client followed
#: redirections and retried until its attempts ran out.
_CLUSTER_MOVING = (ClusterError, AskError, TryAgainError, SlotNotCoveredError)

#: Socket timeout of every client; every blocking read asks for far less (see BLOCK_LIMIT_S).
SOCKET_TIMEOUT_S = 30.0
#: Longest single blocking read (XREAD BLOCK), well inside the socket timeout.
BLOCK_LIMIT_S = 5.0
#: Highest step priority (the ``opgrid/priority`` tag is 0-9); RabbitMQ queues are
#: declared with it as ``x-max-priority``.
MAX_PRIORITY = 9
#: ``scheme://user:`` then the password up to the last ``@`` of the authority.
_URL_PASSWORD = re.compile(r"^(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:@/?#]*:).*@(?=[^@]*$)")
#: ``?password=...`` or ``&password=...`` in a query.
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&]password=)[^&#]*", re.IGNORECASE)


def translated(method: Callable[P, R]) -> Callable[P, R]:
    """Turn ``redis.RedisError`` into ``StorageError``, keeping the cause."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except REDIS_ERRORS as exc:
            raise StorageError(f"Redis failed during {method.__name__}: {described(exc)}") from exc

    return wrapper


def described(exc: Exception) -> str:
    """A redis-py error as a message: its class and text, and what a cluster's mean."""
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, _CLUSTER_MOVING):
        return f"{text} (the Redis Cluster is resharding or failing over; try again shortly)"
    return text


def block_ms(block_s: float) -> int:
    """A blocking read's timeout in milliseconds, at most ``BLOCK_LIMIT_S``."""
    return max(1, int(min(block_s, BLOCK_LIMIT_S) * 1000))


def connect(url: str, **options: Any) -> redis.Redis:
    """A client for a single Redis at ``url`` (``redis://``, ``rediss://``, or a
    Sentinel group's ``redis+sentinel://``: its primary), bytes in and out.

    Raises:
        StorageError: ``url`` is not a Redis URL (the message shows it without password),
            or names a Redis Cluster (storage only: ``connect_store``).
    """
    options.setdefault("socket_timeout", SOCKET_TIMEOUT_S)
    options.setdefault("socket_connect_timeout", 10.0)
    if redis_cluster.is_cluster_url(url):
        raise StorageError(
            f"{safe_url(url)} is a Redis Cluster, which only storage can use "
            f"(OPGRID_REDIS_URL); the broker is a single Redis, a Sentinel group or RabbitMQ"
        )
    if sentinel.is_sentinel_url(url):
        return sentinel.primary(sentinel.parse(url), health_check_interval=30, **options)
    try:
        return redis.Redis.from_url(
            url, decode_responses=False, health_check_interval=30, **options
        )
    except ValueError as exc:
        raise StorageError(f"invalid Redis URL {safe_url(url)}: {exc}") from exc


def connect_store(url: str, **options: Any) -> Client:
    """A client of storage at ``url``: ``connect``'s, or a Redis Cluster's for
    ``redis+cluster://`` (``redis_cluster``).

    Raises:
        StorageError: ``url`` is not a Redis URL (the message shows it without password).
    """
    if not redis_cluster.is_cluster_url(url):
        return connect(url, **options)
    options.setdefault("socket_timeout", SOCKET_TIMEOUT_S)
    options.setdefault("socket_connect_timeout", 10.0)
    try:
        return redis_cluster.client(redis_cluster.parse(url), **options)
    except REDIS_ERRORS as exc:
        raise StorageError(f"cannot reach the Redis Cluster {safe_url(url)}: {exc}") from exc


def safe_url(url: str) -> str:
    """``url`` with its password masked, for messages and logs.

    ``redis://:secret@host:6379/0`` -> ``redis://:***@host:6379/0``; the user name
    stays, and so does the rest (a ``password=`` query parameter is masked too). Works
    on URLs that do not parse, masking more rather than less.
    """
    masked = _URL_PASSWORD.sub(r"\g<head>***@", url)
    return _QUERY_PASSWORD.sub(r"\g<head>***", masked)


def broker_conf(broker_url: str) -> tuple[str, dict[str, Any]]:
    """The URL kombu takes for ``broker_url`` and the Celery settings that go with it.

    A Sentinel group's ``redis+sentinel://`` becomes kombu's
    ``sentinel://...;sentinel://...`` with its ``master_name``; ``rediss://`` gets its
    certificate checked (``broker_ssl``); on RabbitMQ (``amqp://``, ``amqps://``) queues
    are declared with ``x-max-priority`` so step priorities apply.
    """
    url, transport_options = broker_url, {}
    if sentinel.is_sentinel_url(broker_url):
        group = sentinel.parse(broker_url)
        url, transport_options = group.kombu_url(), group.transport_options()
    conf: dict[str, Any] = {
        "broker_use_ssl": broker_ssl(broker_url),
        "broker_transport_options": transport_options,
    }
    if is_amqp(broker_url):
        conf["task_queue_max_priority"] = MAX_PRIORITY
    return url, conf


def is_amqp(broker_url: str) -> bool:
    """Whether the broker is RabbitMQ (or another AMQP 0-9-1 server)."""
    return broker_url.split("://", 1)[0].lower() in ("amqp", "amqps", "pyamqp")


def broker_ssl(broker_url: str) -> dict[str, Any] | None:
    """Celery's ``broker_use_ssl`` for a broker URL: for ``rediss://``, verify the server's
    certificate (against the system's CAs unless the URL's ``ssl_ca_certs`` names a file),
    as redis-py does for storage; kombu alone would connect without checking it. The
    URL's own ``ssl_*`` query parameters win over this."""
    if not broker_url.lower().startswith(("rediss://", "rediss+sentinel://")):
        return None
    return {"ssl_cert_reqs": ssl.CERT_REQUIRED}
