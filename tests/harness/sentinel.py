"""A Redis Sentinel group on loopback: a primary, a replica and three sentinels.

Every server is a real ``redis-server`` (a sentinel is one started with
``--sentinel``) on a free port, started by ``processes.start`` so a test's failure
cannot leave one behind. ``kill_primary`` SIGKILLs the primary; ``wait_for_failover``
returns once the sentinels name another one and it takes writes.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import redis

from opgrid.orchestrator.cli.embedded_redis import HOST, find_redis_server, free_port

from .processes import start, stop_all, wait_for

#: The name the sentinels monitor the primary under.
SERVICE = "opgrid-primary"
#: How long a sentinel waits before it calls an unanswering primary down.
DOWN_AFTER_MS = 1000


class SentinelGroup:
    """Start with ``with``; ``url`` is the group's ``redis+sentinel://`` URL."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.data_ports = [free_port(), free_port()]
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.servers: dict[int, subprocess.Popen[bytes]] = {}

    @property
    def url(self) -> str:
        hosts = ",".join(f"{HOST}:{port}" for port in self.sentinel_ports)
        return f"redis+sentinel://{hosts}/{SERVICE}/0"

    def __enter__(self) -> SentinelGroup:
        primary, replica = self.data_ports
        self._data_server(primary)
        self._data_server(replica, "--replicaof", HOST, str(primary))
        wait_for(self._replica_synced, 20, lambda: self._log(replica))
        for port in self.sentinel_ports:
            self._sentinel(port, primary)
        wait_for(self._sentinels_see_replica, 30, lambda: self._log(self.sentinel_ports[0]))
        return self

    def __exit__(self, *_: object) -> None:
        stop_all(self.servers.values())

    # Faults ------------------------------------------------------------------------------------
    def primary_port(self) -> int:
        """The port of the primary the sentinels name now."""
        for port in self.sentinel_ports:
            found = self._named_primary(port)
            if found is not None:
                return found
        raise AssertionError("no sentinel names a primary")

    def _named_primary(self, port: int) -> int | None:
        try:
            _, found = self._client(port).sentinel_get_master_addr_by_name(SERVICE)
            return int(found)
        except (redis.RedisError, TypeError):
            return None

    def kill_primary(self) -> int:
        """SIGKILL the primary now; its port."""
        port = self.primary_port()
        process = self.servers[port]
        process.kill()
        process.wait()
        return port

    def wait_for_failover(self, old_port: int, timeout_s: float = 30.0) -> int:
        """The new primary's port, once the sentinels name it and it takes writes."""

        def promoted() -> bool:
            try:
                port = self.primary_port()
                return port != old_port and bool(self._client(port).set("opgrid-probe", 1))
            except (AssertionError, redis.RedisError):
                return False

        wait_for(promoted, timeout_s, lambda: self._log(self.sentinel_ports[0]))
        return self.primary_port()

    # Servers -----------------------------------------------------------------------------------
    def _data_server(self, port: int, *extra: str) -> None:
        argv = [find_redis_server(), "--port", str(port), "--bind", HOST, "--save", ""]
        argv += ["--appendonly", "no", "--dir", str(self.dir), *extra]
        self._start(port, argv)

    def _sentinel(self, port: int, primary: int) -> None:
        config = self.dir / f"sentinel-{port}.conf"
        config.write_text(
            f"port {port}\nbind {HOST}\ndir {self.dir}\n"
            f"sentinel monitor {SERVICE} {HOST} {primary} 2\n"
            f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {SERVICE} 5000\n"
            f"sentinel parallel-syncs {SERVICE} 1\n"
        )
        self._start(port, [find_redis_server(), str(config), "--sentinel"])

    def _start(self, port: int, argv: list[str]) -> None:
        self.servers[port] = start(argv, {}, self.dir / f"redis-{port}.log")
        wait_for(lambda: self._pings(port), 10, lambda: self._log(port))

    def _pings(self, port: int) -> bool:
        try:
            return bool(self._client(port).ping())
        except redis.RedisError:
            return False

    def _replica_synced(self) -> bool:
        info = self._client(self.data_ports[1]).info("replication")
        return info.get("master_link_status") == "up"

    def _sentinels_see_replica(self) -> bool:
        """Every sentinel knows the replica and the two other sentinels."""
        try:
            return all(
                self._client(port).sentinel_slaves(SERVICE)
                and len(self._client(port).sentinel_sentinels(SERVICE)) >= 2
                for port in self.sentinel_ports
            )
        except redis.RedisError:
            return False

    @staticmethod
    def _client(port: int) -> redis.Redis:
        return redis.Redis(HOST, port, socket_timeout=2, socket_connect_timeout=2)

    def _log(self, port: int) -> str:
        path = self.dir / f"redis-{port}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-20:])
