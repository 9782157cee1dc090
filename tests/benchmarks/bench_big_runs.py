"""Benchmark: big fan-outs on a real cluster: time per step, coordinator memory, and what
a finished run leaves in Redis.

Run from the repository root::

    python -m tests.benchmarks.bench_big_runs [--sizes 1000,10000,100000] [-c 2]

One throwaway redis-server, one ``opgrid worker --pool prefork -c 2`` process serving
``tests/jobs/fan_jobs.py`` and one ``opgrid coordinator`` process. For each size ``n``
(ascending), this process submits ``fan_<n>`` (``start`` -> ``n`` parallel ``inc`` ->
``total``, ``n + 2`` steps), waits for the result and checks it, then prints:

* time per step (submit to result) and steps/s: linear in steps if time per step
  stays flat;
* the coordinator's peak resident memory so far (``VmHWM``; sizes ascend, so the
  figure of a size is its own peak). Goal: < 500 MB at 100,000 steps;
* bytes per step left in Redis once the run has ended: ``MEMORY USAGE`` of every key of
  the run (by kind: events, plan, steps, outputs...) and the ``used_memory`` delta from
  before the submit. Goal: <= 500 B per step.

``--sizes 1000`` is a quick run (seconds); 100,000 steps take minutes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a file: make ``tests.benchmarks`` importable
    sys.path.insert(0, str(ROOT))

from opgrid.orchestrator.cli.embedded_redis import RedisServer  # noqa: E402
from opgrid.orchestrator.settings import Settings  # noqa: E402
from opgrid.orchestrator.store.keys import Keys  # noqa: E402
from tests.benchmarks.fan_cluster import FanCluster, run_fan, settings_for  # noqa: E402
from tests.benchmarks.load_cluster import MIB, memory  # noqa: E402
from tests.harness.processes import Proc, wait_for  # noqa: E402

#: Goals.
GOAL_RSS_MB = 500
GOAL_BYTES_PER_STEP = 500
#: The longest one run may take.
RUN_TIMEOUT_S = 3600.0


def kind_of(key: bytes, run_id: str, keys: Keys) -> str:
    """``events``, ``plan``, ``out`` ...: what a key of the run is, from its name."""
    prefix = keys.run_pattern(run_id)[:-1].replace("\\", "")
    return key.decode().removeprefix(prefix).split(":", 1)[0]


def left_in_redis(client: redis.Redis, keys: Keys, run_id: str) -> Counter[str]:
    """Bytes (``MEMORY USAGE``, every element counted) of the run's keys, by kind."""
    sizes: Counter[str] = Counter()
    for key in client.scan_iter(match=keys.run_pattern(run_id), count=1000):
        sizes[kind_of(key, run_id, keys)] += int(client.memory_usage(key, samples=0) or 0)
    return sizes


def _released(settings: Settings, client: redis.Redis, run_id: str) -> None:
    """Until the coordinator has let go of the run (it is no longer active)."""
    active = Keys(settings.namespace).active()
    wait_for(lambda: not client.sismember(active, run_id), 60, lambda: f"{run_id} still active")


def one_size(settings: Settings, client: redis.Redis, coordinator: Proc, steps: int) -> None:
    used0 = int(client.info("memory")["used_memory"])
    wall, run_id = run_fan(settings, steps, RUN_TIMEOUT_S)
    _released(settings, client, run_id)
    time.sleep(0.5)  # the coordinator's last writes of the run
    used = int(client.info("memory")["used_memory"]) - used0
    n = steps + 2
    sizes = left_in_redis(client, Keys(settings.namespace), run_id)
    peak = memory(coordinator.pid).peak / MIB
    total = sum(sizes.values()) / n
    mix = ", ".join(f"{k} {v / n:.0f}" for k, v in sizes.most_common())
    print(
        f"{n:>8} steps  {wall:8.1f} s  {wall / n * 1e3:6.2f} ms/step  {n / wall:6.0f} steps/s  "
        f"coordinator peak {peak:6.0f} MB ({'ok' if peak < GOAL_RSS_MB else 'MISSED'} < "
        f"{GOAL_RSS_MB})  left in Redis {total:5.0f} B/step "
        f"({'ok' if total <= GOAL_BYTES_PER_STEP else 'MISSED'} <= {GOAL_BYTES_PER_STEP}; "
        f"used_memory delta {used / n:.0f})\n{'':10}by key: {mix}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="steps per fan-out")
    parser.add_argument("-c", "--concurrency", type=int, default=2, help="pool processes")
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    logdir = Path(tempfile.mkdtemp(prefix="bench-big-runs-"))
    print(f"fan-outs of {sizes}, {args.concurrency} pool processes, logs in {logdir}")
    with RedisServer() as server:
        settings = settings_for(server.url)
        cluster = FanCluster(settings, logdir, sizes)
        client = redis.Redis.from_url(server.url)
        try:
            cluster.start_fan_workers(args.concurrency)
            coordinator = cluster.start_coordinator()
            for steps in sizes:
                one_size(settings, client, coordinator, steps)
        finally:
            client.close()
            cluster.stop_all()


if __name__ == "__main__":
    main()
