"""Redis Sentinel: a primary found through its sentinels, for storage and for the broker.

One URL names the group, for storage and broker alike::

    redis+sentinel://[[user]:password@]host:port[,host:port...]/service[/db][?sentinel_password=...]

The hosts are the sentinels; ``service`` is the name they monitor the primary under;
the password is the primary's (and its replicas'). ``rediss+sentinel://`` speaks TLS to
the primary. Storage asks the sentinels for the primary and asks again after a failover
(redis-py's ``Sentinel``); the broker gets the same group in kombu's form
(``sentinel://host:port;sentinel://...`` and ``master_name``).

Replication to the replicas is asynchronous, so a failover can drop the primary's
last writes. ``DurableWrites`` is how a worker's commit survives that: the commit is
followed by ``WAIT`` on the same connection, and the worker acknowledges the message
only once a replica has the commit (or the wait timed out, which is logged).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import redis
from redis.sentinel import Sentinel

from opgrid.errors import StorageError

logger = logging.getLogger(__name__)

#: URL schemes that name a Sentinel group (plain and TLS to the primary).
SCHEMES = ("redis+sentinel", "rediss+sentinel")


@dataclass(frozen=True)
class SentinelGroup:
    """A primary and its replicas as the sentinels know them."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_password: str | None = None
    tls: bool = False

    def kombu_url(self) -> str:
        """The broker URL kombu's Sentinel transport takes (the password is the primary's)."""
        auth = ""
        if self.password is not None:
            user = quote(self.username or "", safe="")
            auth = f"{user}:{quote(self.password, safe='')}@"
        return ";".join(
            f"sentinel://{auth}{host}:{port}/{self.db}" for host, port in self.sentinels
        )

    def transport_options(self) -> dict[str, Any]:
        """kombu's transport options for this group."""
        options: dict[str, Any] = {"master_name": self.service}
        if self.sentinel_password is not None:
            options["sentinel_kwargs"] = {"password": self.sentinel_password}
        return options


def is_sentinel_url(url: str) -> bool:
    """Whether ``url`` names a Sentinel group (``redis+sentinel://``)."""
    return url.split("://", 1)[0].lower() in SCHEMES


def parse(url: str) -> SentinelGroup:
    """The group ``url`` names.

    Raises:
        StorageError: not a Sentinel URL, no sentinel, no service name, a bad port or db;
            the message shows no password.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() not in SCHEMES:
        raise StorageError(f"not a Sentinel URL (expected {SCHEMES[0]}://): {_shown(parts)}")
    hosts = parts.netloc.rsplit("@", 1)[-1]
    sentinels = tuple(_host_port(item, _shown(parts)) for item in hosts.split(",") if item)
    path = [piece for piece in parts.path.split("/") if piece]
    if not sentinels or not path:
        raise StorageError(
            f"a Sentinel URL names sentinels and a service: "
            f"redis+sentinel://host:port[,host:port]/service[/db], not {_shown(parts)}"
        )
    if len(path) > 2 or (len(path) == 2 and not path[1].isdigit()):
        raise StorageError(f"the Sentinel URL's path is /service[/db]: {_shown(parts)}")
    query = parse_qs(parts.query)
    return SentinelGroup(
        sentinels=sentinels,
        service=unquote(path[0]),
        db=int(path[1]) if len(path) == 2 else 0,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        sentinel_password=query["sentinel_password"][0] if "sentinel_password" in query else None,
        tls=parts.scheme.lower().startswith("rediss"),
    )


def primary(group: SentinelGroup, **options: Any) -> redis.Redis:
    """A client of the group's primary, found again through the sentinels after a failover."""
    sentinel_kwargs = {key: value for key, value in options.items() if key.startswith("socket_")}
    if group.sentinel_password is not None:
        sentinel_kwargs["password"] = group.sentinel_password
    sentinels = list(group.sentinels)
    # redis-py 8 leaves these two untyped
    finder = Sentinel(sentinels, sentinel_kwargs=sentinel_kwargs, **options)  # type: ignore[no-untyped-call]
    client: redis.Redis = finder.master_for(  # type: ignore[no-untyped-call]
        group.service,
        db=group.db,
        username=group.username,
        password=group.password,
        ssl=group.tls,
    )
    return client


class DurableWrites:
    """``WAIT`` for ``replicas`` replicas (at most ``timeout_s``) after a commit.

    ``replicas == 0`` turns it off: the commit goes as one call, as without Sentinel.
    When the replicas do not confirm in time (none is up: the primary is alone after a
    failover), commits stop waiting for ``PAUSE_S`` (they would each stall for the
    timeout) and then try again; the start and the end of that are logged once.
    """

    #: How long commits go without waiting once the replicas did not confirm one.
    PAUSE_S = 10.0

    def __init__(self, replicas: int, timeout_s: float) -> None:
        self.replicas = replicas
        self.timeout_ms = max(1, int(timeout_s * 1000))
        self._paused_until = 0.0
        self._degraded = False

    def wanted(self) -> bool:
        """Whether the next commit should wait for its replicas."""
        return self.replicas > 0 and time.monotonic() >= self._paused_until

    def settle(self, confirmed: int, what: str) -> None:
        """Take note of how many replicas confirmed the write ``what``."""
        if confirmed >= self.replicas:
            if self._degraded:
                logger.warning("replicas confirm commits again (%s)", what)
            self._degraded = False
            return
        self._paused_until = time.monotonic() + self.PAUSE_S
        if not self._degraded:
            logger.warning(
                "%s: %d of %d replica(s) confirmed it within %d ms; until they do, a "
                "failover may lose the latest commits (asking again every %.0f s)",
                what,
                confirmed,
                self.replicas,
                self.timeout_ms,
                self.PAUSE_S,
            )
        self._degraded = True


def _host_port(item: str, shown: str) -> tuple[str, int]:
    host, _, port = item.rpartition(":")
    if not host or not port.isdigit():
        raise StorageError(f"a sentinel is host:port, not {item!r}, in {shown}")
    return host.strip("[]"), int(port)


def _shown(parts: Any) -> str:
    """The URL without its password."""
    netloc = parts.netloc
    if "@" in netloc:
        auth, hosts = netloc.rsplit("@", 1)
        user = auth.split(":", 1)[0]
        netloc = f"{user}:***@{hosts}" if ":" in auth else f"{auth}@{hosts}"
    query = "?..." if parts.query else ""
    return f"{parts.scheme}://{netloc}{parts.path}{query}"
