"""Workers on several hosts share one run: a wide fan-out spreads over all of them.

Where this machine allows it (root, ``ip`` and ``unshare``), each "host" is a
network namespace of its own with an address of its own (10.77.N.2, 10.77.N.3)
on a bridge that carries 10.77.N.1, where a redis-server of this test listens;
each host's worker also gets its own host name (a UTS namespace), so its Celery
node name is ``worker@host-a`` as on a real machine. Elsewhere the hosts are two
worker process groups with their own environment (``HOME``, node name) against one
redis-server on loopback. Both ways, the run's outputs must show steps on both.
``OPGRID_TEST_NO_NETNS=1`` forces the second way.

Run with ``-s`` to see how many steps each worker ran.
"""

from __future__ import annotations

import collections
import contextlib
import os
import random
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

import opgrid
from opgrid.orchestrator.cli.embedded_redis import find_redis_server, free_port
from opgrid.orchestrator.settings import Settings
from tests.harness.processes import OPGRID, cluster_env, start, stop, wait_for_text
from tests.jobs.hosts_jobs import NODE_ENV, PAUSE_S, spread_out

pytestmark = pytest.mark.integration

#: The code location, relative to the repository root, as the workers and submitter name it.
JOBS = "tests/jobs/hosts_jobs.py"
#: The hosts' names: each is a Celery node ``worker@<name>``.
HOSTS = ("host-a", "host-b")
#: Mapped steps in the run.
WIDTH = 40
#: Longest the run may take, once both workers are ready.
RUN_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Host:
    """One worker's machine: its name, the address it reaches Redis from, how to enter it."""

    name: str
    address: str
    #: the command prefix that runs a program on this host
    enter: tuple[str, ...] = ()


@dataclass(frozen=True)
class Cluster:
    settings: Settings
    hosts: tuple[Host, ...]
    how: str


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=10)


def _netns_usable() -> bool:
    """Root, ``ip`` and ``unshare`` here, and ``ip netns add`` works."""
    if os.environ.get("OPGRID_TEST_NO_NETNS") == "1":
        return False
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("unshare"):
        return False
    probe = f"opgrid-probe-{uuid.uuid4().hex[:6]}"
    try:
        _run("ip", "netns", "add", probe)
    except (OSError, subprocess.SubprocessError):
        return False
    _run("ip", "netns", "del", probe)
    return True


def _free_subnet() -> int:
    """N such that no interface here has an address in 10.77.N.0/24."""
    used = subprocess.run(
        ["ip", "-o", "-4", "addr"], check=True, capture_output=True, text=True
    ).stdout
    free = [n for n in range(256) if f"inet 10.77.{n}." not in used]
    return random.choice(free)


@contextlib.contextmanager
def _network(tag: str) -> Iterator[tuple[str, tuple[Host, ...]]]:
    """A bridge with 10.77.N.1 and one namespace per host on it; removed on exit."""
    subnet = f"10.77.{_free_subnet()}"
    bridge = f"ogb{tag}"
    namespaces = [f"opgrid-{tag}-{name}" for name in HOSTS]
    try:
        _run("ip", "link", "add", bridge, "type", "bridge")
        _run("ip", "addr", "add", f"{subnet}.1/24", "dev", bridge)
        _run("ip", "link", "set", bridge, "up")
        hosts = []
        for index, (name, netns) in enumerate(zip(HOSTS, namespaces, strict=True)):
            outside, inside = f"og{tag}{index}h", f"og{tag}{index}n"
            address = f"{subnet}.{2 + index}"
            _run("ip", "netns", "add", netns)
            _run("ip", "link", "add", outside, "type", "veth", "peer", "name", inside)
            _run("ip", "link", "set", inside, "netns", netns)
            _run("ip", "link", "set", outside, "master", bridge, "up")
            _run("ip", "-n", netns, "addr", "add", f"{address}/24", "dev", inside)
            _run("ip", "-n", netns, "link", "set", inside, "up")
            _run("ip", "-n", netns, "link", "set", "lo", "up")
            # its own network, and its own host name (so Celery's %h and gethostname differ)
            enter = ["ip", "netns", "exec", netns, "unshare", "--uts", "--"]
            enter += ["sh", "-c", 'hostname "$0" && exec "$@"', name]
            hosts.append(Host(name, address, tuple(enter)))
        yield f"{subnet}.1", tuple(hosts)
    finally:
        for netns in namespaces:  # deleting a namespace deletes the veth pair in it
            subprocess.run(["ip", "netns", "del", netns], capture_output=True, check=False)
        subprocess.run(["ip", "link", "del", bridge], capture_output=True, check=False)


@contextlib.contextmanager
def _redis_at(address: str, tmp_path: Path) -> Iterator[str]:
    """A redis-server of this test listening on ``address`` only; yields its URL.

    Redis answers clients from other hosts only when it has a password (protected mode),
    as a real cluster's Redis would.
    """
    port, password = free_port(), uuid.uuid4().hex
    log = tmp_path / "redis.log"
    command = [find_redis_server(), "--bind", address, "--port", str(port)]
    command += ["--requirepass", password, "--save", "", "--appendonly", "no"]
    command += ["--dir", str(tmp_path)]
    process = start(command, os.environ, log)
    url = f"redis://:{password}@{address}:{port}/0"
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
        try:
            deadline = time.monotonic() + 10
            while not _pings(client):
                assert process.poll() is None, log.read_text(errors="replace")
                assert time.monotonic() < deadline, log.read_text(errors="replace")
                time.sleep(0.05)
        finally:
            client.close()
        yield url
    finally:
        stop(process)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:  # not listening yet
        return False


@pytest.fixture
def cluster(request: pytest.FixtureRequest, namespace: str, tmp_path: Path) -> Iterator[Cluster]:
    """The hosts and the settings that reach the cluster's Redis from this process."""

    def settings_for(url: str) -> Settings:
        return Settings(
            redis_url=url, namespace=namespace, secret="hosts", default_queue=namespace, block_s=0.5
        )

    if _netns_usable():
        tag = uuid.uuid4().hex[:6]
        with _network(tag) as (gateway, hosts), _redis_at(gateway, tmp_path) as url:
            yield Cluster(settings_for(url), hosts, "network namespaces")
    else:
        url = request.getfixturevalue("redis_url")
        hosts = tuple(Host(name, "127.0.0.1") for name in HOSTS)
        yield Cluster(settings_for(url), hosts, "process groups (no network namespaces here)")


@contextlib.contextmanager
def _workers(cluster: Cluster, tmp_path: Path) -> Iterator[None]:
    """One ``opgrid worker`` per host, each ready before this yields; stopped on exit."""
    settings = cluster.settings
    processes: list[tuple[subprocess.Popen[bytes], Path]] = []
    try:
        for host in cluster.hosts:
            home = tmp_path / host.name
            home.mkdir()
            env = cluster_env(settings, HOME=str(home), **{NODE_ENV: host.name})
            node = "worker@%h" if host.enter else f"worker@{host.name}"
            command = [*host.enter, OPGRID, "worker", "-f", JOBS, "--pool", "solo", "-n", node]
            command += ["--", "--without-gossip", "--without-mingle", "--without-heartbeat"]
            log = home / "worker.log"
            processes.append((start(command, env, log), log))
        for process, log in processes:  # both consume before the run starts: a fair race
            wait_for_text(log, f"worker@{log.parent.name} ready.", process)
        yield
    finally:
        for process, _ in processes:
            stop(process)


@pytest.mark.timeout(60)
def test_a_wide_fan_out_runs_on_the_workers_of_every_host(cluster: Cluster, tmp_path: Path) -> None:
    settings = cluster.settings
    with _workers(cluster, tmp_path), opgrid.local_coordinator(settings):
        started = time.monotonic()
        handle = opgrid.submit(
            spread_out,
            run_config={"ops": {"fan_out": {"config": {"width": WIDTH}}}},
            settings=settings,
            location=JOBS,
        )
        try:
            result = handle.wait(timeout=RUN_TIMEOUT_S, raise_on_error=True)
        finally:
            handle.close()
        elapsed = time.monotonic() - started

    reports = result.output_for_node("places")
    assert [report["index"] for report in reports] == [str(i) for i in range(WIDTH)]
    steps = collections.Counter(report["node"] for report in reports)
    print(f"\n{WIDTH} steps of {PAUSE_S * 1000:.0f} ms on {cluster.how} in {elapsed:.2f} s:")
    for host in cluster.hosts:
        print(f"  worker@{host.name}  {steps[host.name]} steps  (from {host.address})")
    assert set(steps) == set(HOSTS), steps
    assert all(steps[name] > 0 for name in HOSTS), steps
    expected = {host.name: host for host in cluster.hosts}
    for report in reports:  # each step ran where its worker says it is
        assert report["address"] == expected[report["node"]].address, report
        if expected[report["node"]].enter:  # a host of its own: its own host name
            assert report["host"] == report["node"], report
    assert len(result.get_step_success_events()) == WIDTH + 2
