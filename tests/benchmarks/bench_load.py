"""Benchmark: many runs submitted at once to one coordinator and a few worker processes.

Run from the repository root (either form works)::

    python -m tests.benchmarks.bench_load [--runs 200] [--ops 20] [--workers 4] [--waves 2]
    python tests/benchmarks/bench_load.py [--runs 200] [--ops 20] [--workers 4] [--waves 2]

The issue's requirement: 200 runs of 20 ops each submitted at once, one coordinator,
4 worker processes: every run succeeds, no event is lost or duplicated, and the
coordinator's memory stays flat once the runs end.

A throwaway redis-server, one ``opgrid coordinator`` process and ``--workers``
separate ``opgrid worker -c 1 --pool prefork`` processes (each a Celery parent and
one pool process) serving ``tests/jobs/load_jobs.py``. After a small warm-up
wave, ``--waves`` waves of ``--runs`` runs of ``load_<ops>`` (``seed`` -> ``ops - 2``
parallel ops -> a fan-in) are each submitted at once (``opgrid.submit`` in a loop)
and waited for (``RunHandle.wait``). Printed: runs/s and steps/s of each wave (wall
time from the first submit to the last run's final event), the coordinator's RSS
after each wave and its peak (``/proc/<pid>/status``), and the worker processes'
peaks. Every run is checked (``load_cluster.check_run``) and the coordinator must own
no run after a wave; any problem is printed and the script exits with status 1.
Nothing is asserted on time.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a file: make ``tests.benchmarks`` importable
    sys.path.insert(0, str(ROOT))

import celery  # noqa: E402

from opgrid.orchestrator.cli.embedded_redis import RedisServer  # noqa: E402
from opgrid.orchestrator.settings import Settings  # noqa: E402
from tests.benchmarks.bench_cluster import table  # noqa: E402
from tests.benchmarks.load_cluster import MIB, LoadCluster, Memory, Wave, memory, run_wave  # noqa: E402
from tests.jobs import load_jobs  # noqa: E402

#: The coordinator's RSS may grow this much from the end of the first wave to the end
#: of the last and still count as flat.
FLAT_MARGIN = 5 * MIB
#: How long one wave may take before its unfinished runs count as problems.
WAVE_TIMEOUT_S = 900.0
#: How many problems are printed (all are counted).
SHOWN_PROBLEMS = 30


def mib(n_bytes: int) -> str:
    return f"{n_bytes / MIB:.1f} MiB"


def wave_row(label: str, wave: Wave, after: Memory) -> tuple[str, ...]:
    latencies = sorted(wave.latencies_s)
    return (
        label,
        f"{wave.runs} x {wave.ops}",
        f"{wave.submit_s:.2f} s",
        f"{wave.wall_s:.2f} s",
        f"{wave.runs_per_s:.1f}",
        f"{wave.steps_per_s:,.0f}",
        f"{wave.latency_median_s:.2f} / {latencies[-1]:.2f} s" if latencies else "-",
        mib(after.rss),
        mib(after.peak),
        str(len(wave.problems)),
    )


def run_waves(
    cluster: LoadCluster, settings: Settings, args: argparse.Namespace
) -> tuple[list[tuple[Wave, Memory]], Memory]:
    """The warm-up, then ``args.waves`` waves; ((wave, coordinator memory after it)...)."""
    coordinator = cluster.start_coordinator()
    warm = run_wave(settings, args.ops, 2 * args.workers, first_seed=-2 * args.workers)
    if warm.problems:
        report_problems([warm])
    idle = memory(coordinator.pid)
    print(f"warm-up: {warm.runs} runs; coordinator RSS {mib(idle.rss)}", flush=True)
    waves = []
    for n in range(args.waves):
        wave = run_wave(settings, args.ops, args.runs, n * args.runs, WAVE_TIMEOUT_S)
        after = memory(coordinator.pid)
        waves.append((wave, after))
        print(
            f"wave {n + 1}: {wave.wall_s:.2f} s, {len(wave.problems)} problems; "
            f"coordinator RSS {mib(after.rss)}",
            flush=True,
        )
    return waves, idle


def report(
    args: argparse.Namespace, waves: list[tuple[Wave, Memory]], idle: Memory, workers_peak: int
) -> None:
    table(
        f"Load: {args.runs} runs of load_{args.ops} ({args.ops} ops: seed -> {args.ops - 2} "
        f"parallel -> fan-in) submitted at once, per wave; 1 coordinator, {args.workers} "
        "worker processes (-c 1, prefork)",
        (
            "wave",
            "runs x ops",
            "submit",
            "wall",
            "runs/s",
            "steps/s",
            "run latency median / max",
            "coordinator RSS after",
            "coordinator peak",
            "problems",
        ),
        [wave_row(str(n + 1), wave, after) for n, (wave, after) in enumerate(waves)],
    )
    first, last = waves[0][1], waves[-1][1]
    growth = last.rss - first.rss
    table(
        "Memory (VmRSS / VmHWM of /proc/<pid>/status)",
        ("measure", "value", "goal", "ok?"),
        [
            ("coordinator RSS, idle after the warm-up", mib(idle.rss), "", ""),
            ("coordinator peak (VmHWM), whole benchmark", mib(last.peak), "", ""),
            ("coordinator RSS after wave 1", mib(first.rss), "", ""),
            (f"coordinator RSS after wave {len(waves)}", mib(last.rss), "", ""),
            (
                f"growth wave 1 -> wave {len(waves)} (ratio)",
                f"{growth / MIB:+.1f} MiB ({last.rss / first.rss:.3f}x)",
                f"<= +{mib(FLAT_MARGIN)}",
                ("ok" if growth <= FLAT_MARGIN else "MISSED") if len(waves) > 1 else "",
            ),
            (
                f"workers: sum of peaks ({args.workers} x parent + pool process)",
                mib(workers_peak),
                "",
                "",
            ),
        ],
    )


def report_problems(waves: list[Wave]) -> None:
    """Print the problems of every wave and exit with status 1, if there are any."""
    problems = [p for wave in waves for p in wave.problems]
    if not problems:
        return
    print(f"\nFAILED: {len(problems)} problems", file=sys.stderr)
    for problem in problems[:SHOWN_PROBLEMS]:
        print(f"  {problem}", file=sys.stderr)
    raise SystemExit(1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200, help="runs per wave (default 200)")
    parser.add_argument(
        "--ops", type=int, default=20, choices=sorted(load_jobs.JOBS), help="ops per run"
    )
    parser.add_argument("--workers", type=int, default=4, help="worker processes (default 4)")
    parser.add_argument("--waves", type=int, default=2, help="waves of runs (default 2)")
    args = parser.parse_args(argv)

    # SIGTERM / SIGHUP unwind like Ctrl-C, so that every process started is stopped
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, _frame: sys.exit(128 + signum))
    started = time.perf_counter()
    tag = uuid.uuid4().hex[:8]
    logdir = Path(tempfile.mkdtemp(prefix=f"bench-load-{tag}-"))
    print(
        f"opgrid load benchmark: Python {platform.python_version()}, Celery "
        f"{celery.__version__}, {os.cpu_count()} CPUs; process logs in {logdir}",
        flush=True,
    )
    with RedisServer() as server, contextlib.ExitStack() as stack:
        settings = Settings(
            redis_url=server.url,
            namespace=f"bench-load-{tag}",
            secret=f"bench-secret-{tag}",
            default_queue=f"bench-load-{tag}",
        )
        cluster = LoadCluster(settings, logdir)
        stack.callback(cluster.stop_all)
        cluster.start_workers(args.workers)
        waves, idle = run_waves(cluster, settings, args)
        workers_peak = cluster.workers_peak()
    report(args, waves, idle, workers_peak)
    print(f"\n(total {time.perf_counter() - started:.0f} s)")
    report_problems([wave for wave, _ in waves])


if __name__ == "__main__":
    main()
