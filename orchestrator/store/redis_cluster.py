"""Redis Cluster: storage spread over a cluster's primaries, found from a few startup nodes.

One URL names the cluster::

    redis+cluster://[[user]:password@]host:port[,host:port...]/

The hosts are startup nodes (any nodes of the cluster; the client learns the others
and the slot map from them); ``rediss+cluster://`` speaks TLS. A cluster has no
databases, so the path is empty (or ``/0``). Storage only: Celery's broker cannot be a
Redis Cluster, so ``OPGRID_BROKER_URL`` names a plain Redis, a Sentinel group or
RabbitMQ.

The client follows MOVED and ASK redirections itself (a resharding) and retries,
with backoff, while the cluster reports itself down or a node is unreachable (a
failover); what still fails becomes ``StorageError`` (``connect.translated``). It
routes stream reads by their own arguments (``_Cluster``: redis-py would ask a node that
may be the one that died).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from redis.backoff import ExponentialWithJitterBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from opgrid.errors import StorageError

#: URL schemes that name a Redis Cluster (plain and TLS).
SCHEMES = ("redis+cluster", "rediss+cluster")
#: Attempts of a command while the cluster is down or a node unreachable (a failover
#: takes the cluster's node timeout, a few seconds, and then some).
RETRIES = 12
#: Backoff between them: from ``BACKOFF_BASE_S``, doubling up to ``BACKOFF_CAP_S``.
BACKOFF_BASE_S = 0.05
BACKOFF_CAP_S = 2.0


@dataclass(frozen=True)
class ClusterNodes:
    """The startup nodes of a Redis Cluster and how to log in to its nodes."""

    nodes: tuple[tuple[str, int], ...]
    username: str | None = None
    password: str | None = None
    tls: bool = False


def is_cluster_url(url: str) -> bool:
    """Whether ``url`` names a Redis Cluster (``redis+cluster://``)."""
    return url.split("://", 1)[0].lower() in SCHEMES


def parse(url: str) -> ClusterNodes:
    """The cluster ``url`` names.

    Raises:
        StorageError: not a cluster URL, no node, a bad port, a database other than 0;
            the message shows no password.
    """
    parts = urlsplit(url)
    shown = _shown(url)
    if parts.scheme.lower() not in SCHEMES:
        raise StorageError(f"not a Redis Cluster URL (expected {SCHEMES[0]}://): {shown}")
    hosts = parts.netloc.rsplit("@", 1)[-1]
    nodes = tuple(_host_port(item, shown) for item in hosts.split(",") if item)
    if not nodes:
        raise StorageError(
            f"a Redis Cluster URL names its nodes: redis+cluster://host:port[,host:port]/, "
            f"not {shown}"
        )
    if parts.path.strip("/") not in ("", "0"):
        raise StorageError(f"a Redis Cluster has only database 0, not {parts.path!r}: {shown}")
    return ClusterNodes(
        nodes=nodes,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        tls=parts.scheme.lower().startswith("rediss"),
    )


#: Commands whose keys follow ``STREAMS``: the first half of what comes after it.
_STREAM_READS = frozenset({"XREAD", "XREADGROUP"})


class _Cluster(RedisCluster):
    """redis-py's cluster client, finding the keys of a stream read itself.

    To route a command whose keys move (``XREAD``: after ``STREAMS``), redis-py asks the
    cluster's default node (``COMMAND GETKEYS``), outside its retries: when the default
    node is a primary that just died, every stream read fails until the process restarts,
    so a failover stalls coordinators, workers and waiters alike. This client reads a
    stream read's keys from its arguments (a round trip saved per read too), and for any
    other such command picks another default node when the one it has is unreachable.
    """

    def _get_command_keys(self, *args: Any) -> Any:
        keys = stream_read_keys(args)
        if keys is not None:
            return keys
        try:
            return super()._get_command_keys(*args)  # type: ignore[no-untyped-call]
        except (RedisConnectionError, RedisTimeoutError):
            self.replace_default_node()
            return super()._get_command_keys(*args)  # type: ignore[no-untyped-call]


def stream_read_keys(args: tuple[Any, ...]) -> list[Any] | None:
    """The keys of an ``XREAD``/``XREADGROUP`` command's arguments; None for others."""
    name = args[0].decode() if isinstance(args[0], bytes) else str(args[0])
    if name.upper() not in _STREAM_READS:
        return None
    words = [a.decode().upper() if isinstance(a, bytes) else str(a).upper() for a in args]
    if "STREAMS" not in words:
        return None
    after = list(args[words.index("STREAMS") + 1 :])
    return after[: len(after) // 2]


def client(cluster: ClusterNodes, **options: Any) -> RedisCluster:
    """A client of the cluster, bytes in and out, retrying through failovers."""
    retry = Retry(ExponentialWithJitterBackoff(base=BACKOFF_BASE_S, cap=BACKOFF_CAP_S), RETRIES)
    return _Cluster(
        startup_nodes=[
            ClusterNode(host, port)  # type: ignore[no-untyped-call]
            for host, port in cluster.nodes
        ],
        username=cluster.username,
        password=cluster.password,
        ssl=cluster.tls,
        retry=retry,
        decode_responses=False,
        **options,
    )


def _host_port(item: str, shown: str) -> tuple[str, int]:
    host, _, port = item.strip().rpartition(":")
    if not host or not port.isdigit():
        raise StorageError(f"a cluster node is host:port, not {item!r}, in {shown}")
    return host.strip("[]"), int(port)


def _shown(url: str) -> str:
    """The URL without its password."""
    scheme, _, rest = url.partition("://")
    if "@" in rest.split("/", 1)[0]:
        auth, hosts = rest.split("/", 1)[0].rsplit("@", 1)
        tail = rest[len(auth) + 1 + len(hosts) :]
        user = auth.split(":", 1)[0]
        rest = (f"{user}:***@" if ":" in auth else f"{auth}@") + hosts + tail
    return f"{scheme}://{rest}"
