"""What ``bench_redis_per_step.py`` and ``bench_big_runs.py`` share: a throwaway cluster
running wide fan-outs, and the meters they read.

* ``FanCluster``: ``LoadCluster`` (``load_cluster.py``: the tests' process harness with the
  timings of the given settings) whose workers serve ``tests/jobs/fan_jobs.py``, with
  the fan widths a benchmark runs (``FAN_WIDTHS``, set for this process and the workers);
* ``run_fan``: submit ``fan_<w>``, wait, check the result;
* ``cpu_s``: the CPU seconds (utime + stime, ``/proc``) of processes and their pool
  children so far;
* ``RedisMeter``: ``INFO commandstats`` and ``INFO stats`` snapshots, and their
  difference per step.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import redis

from opgrid import submit
from opgrid.orchestrator.settings import Settings
from tests.benchmarks.load_cluster import LoadCluster
from tests.harness.processes import Proc, pool_children
from tests.jobs import fan_jobs

#: The code location the workers serve, relative to the repository root.
FAN_LOCATION = "tests/jobs/fan_jobs.py"
#: Clock ticks per second of ``/proc/<pid>/stat`` times.
_TICK = os.sysconf("SC_CLK_TCK")


def settings_for(url: str, tag: str | None = None, **changes: object) -> Settings:
    """Settings of a benchmark cluster on ``url``, in a namespace of its own."""
    tag = tag or uuid.uuid4().hex[:8]
    values: dict[str, object] = {
        "redis_url": url,
        "broker_url": url,
        "namespace": f"bench-{tag}",
        "default_queue": f"bench-opgrid-{tag}",
        "secret": f"bench-secret-{tag}",
    }
    return Settings(**{**values, **changes})  # type: ignore[arg-type]


class FanCluster(LoadCluster):
    """``opgrid worker`` processes serving ``fan_jobs.py`` (the given widths) and a coordinator."""

    def __init__(self, settings: Settings, logdir: Path, widths: Iterable[int]) -> None:
        logdir.mkdir(parents=True, exist_ok=True)
        super().__init__(settings, logdir)
        value = ",".join(str(w) for w in widths)
        if value:
            self.env["FAN_WIDTHS"] = value
            os.environ["FAN_WIDTHS"] = value  # fan_jobs reads it when it is (re)loaded

    def start_fan_workers(self, concurrency: int) -> Proc:
        """One ``opgrid worker --pool prefork -c concurrency`` process, ready."""
        return self.worker("w1", concurrency=concurrency, location=FAN_LOCATION)

    def pids(self) -> list[int]:
        """Every process of the cluster now: workers, their pools, coordinators."""
        mine = [proc.pid for proc in self.started if proc.alive()]
        return [pid for parent in mine for pid in (parent, *pool_children(parent))]


def fan_job(width: int) -> object:
    """The ``fan_<width>`` job (defined when ``FAN_WIDTHS`` names ``width``)."""
    jobs = fan_jobs.JOBS
    if width not in jobs:
        import importlib

        jobs = importlib.reload(fan_jobs).JOBS
    return jobs[width]


def run_fan(settings: Settings, width: int, timeout_s: float) -> tuple[float, str]:
    """Submit ``fan_<width>`` and wait: (seconds from submit to the result, run id).

    Raises SystemExit when the run did not succeed with the expected result."""
    job = fan_job(width)
    t0 = time.perf_counter()
    handle = submit(job, settings=settings)  # type: ignore[arg-type]
    try:
        result = handle.wait(timeout=timeout_s)
        wall = time.perf_counter() - t0
        value = result.output_for_node(fan_jobs.RESULT_NODE) if result.success else None
    finally:
        handle.close()
    if value != width:
        raise SystemExit(f"run {handle.run_id} of fan_{width}: total={value!r}, expected {width}")
    return wall, handle.run_id


def cpu_s(pids: Iterable[int]) -> float:
    """CPU seconds (user + system) the processes ``pids`` used so far; 0 for one gone."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / _TICK
    return total


@dataclass(frozen=True, slots=True)
class RedisSnapshot:
    """Redis's counters at one moment."""

    #: command -> (calls, usec inside Redis)
    commands: dict[str, tuple[int, int]]
    net_in: int
    net_out: int


class RedisMeter:
    """Snapshots of one redis-server's counters (``INFO commandstats``, ``INFO stats``)."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url)

    def snapshot(self) -> RedisSnapshot:
        stats = self.client.info("commandstats")
        commands = {
            name.removeprefix("cmdstat_"): (int(v["calls"]), int(v["usec"]))
            for name, v in stats.items()
        }
        net = self.client.info("stats")
        return RedisSnapshot(
            commands, int(net["total_net_input_bytes"]), int(net["total_net_output_bytes"])
        )

    def close(self) -> None:
        self.client.close()


@dataclass(frozen=True, slots=True)
class PerStep:
    """Redis work between two snapshots, divided by the steps done in between."""

    #: command -> calls per step
    calls: dict[str, float]
    usec: float
    bytes_in: float
    bytes_out: float

    @property
    def total(self) -> float:
        return sum(self.calls.values())


def per_step(before: RedisSnapshot, after: RedisSnapshot, steps: int) -> PerStep:
    """What Redis did from ``before`` to ``after``, per step (our own INFO calls left out)."""
    calls: dict[str, float] = {}
    usec = 0
    for name, (n, us) in after.commands.items():
        n0, us0 = before.commands.get(name, (0, 0))
        if name == "info" or n == n0:
            continue
        calls[name] = (n - n0) / steps
        usec += us - us0
    return PerStep(
        calls,
        usec / steps,
        (after.net_in - before.net_in) / steps,
        (after.net_out - before.net_out) / steps,
    )
