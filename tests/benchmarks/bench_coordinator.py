"""Benchmark: the coordinator's CPU per step, with one and with two coordinators.

Run from the repository root (either form works)::

    python -m tests.benchmarks.bench_coordinator [--quick] [--profile DIR]
    python tests/benchmarks/bench_coordinator.py [--quick] [--profile DIR]

The goal: **coordinator CPU per step <= 150 us**, i.e. a ceiling of more than 6,000
steps/s per coordinator, with one wide run and with many small runs in flight, and no
growth when a second coordinator shares the runs.

A throwaway redis-server, ``--workers`` ``opgrid worker -c 1 --pool prefork``
processes serving ``tests/jobs/bench_coordinator_jobs.py``, and real ``opgrid
coordinator`` processes (default settings). The figure is the coordinators' process
CPU (utime + stime of ``/proc/<pid>/stat``, every thread of the process, its
scheduler thread included) from just before the first submit until the last run
has finished, divided by the steps run. Scenarios, first with one coordinator, then
with a second one started beside it:

* ``wide``: one ``wide_2000`` run (``start`` -> 2,000 parallel ops -> a fan-in);
* ``small``: 500 ``small_5`` runs (5 ops each) submitted at once.

Each is preceded by a warm-up (a ``wide_200`` and a few small runs). Every run's
result is checked (a wrong one stops the script); nothing is asserted on time.
``--quick``: ``wide_200`` and 100 small runs. ``--profile DIR`` also samples every
coordinator with ``py-spy record`` during each scenario (raw stacks written to DIR)
and prints where its samples went. CPU times have the kernel's tick resolution
(10 ms).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a file: make ``tests.benchmarks`` importable
    sys.path.insert(0, str(ROOT))

import celery  # noqa: E402

from opgrid import submit  # noqa: E402
from opgrid.orchestrator.cli.embedded_redis import RedisServer  # noqa: E402
from opgrid.orchestrator.settings import Settings  # noqa: E402
from tests.benchmarks.bench_cluster import table  # noqa: E402
from tests.benchmarks.load_cluster import LoadCluster  # noqa: E402
from tests.harness.processes import Proc  # noqa: E402
from tests.jobs import bench_coordinator_jobs as jobs  # noqa: E402

#: The goal: coordinator CPU per step, in microseconds.
GOAL_US = 150.0
#: How long one scenario may take.
TIMEOUT_S = 600.0
#: Functions shown per profile.
PROFILE_TOP = 14
_TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """utime + stime of process ``pid`` (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * _TICK_S  # fields 14 and 15 of stat


@dataclass(frozen=True, slots=True)
class Figure:
    """One scenario's measurement."""

    scenario: str
    coordinators: int
    steps: int
    wall_s: float
    #: CPU seconds of each coordinator process during the scenario
    cpu_s: tuple[float, ...]

    @property
    def us_per_step(self) -> float:
        return sum(self.cpu_s) / self.steps * 1e6


# Scenarios ---------------------------------------------------------------------------------
def run_wide(settings: Settings, width: int) -> int:
    """One ``wide_<width>`` run; its number of steps."""
    handle = submit(jobs.WIDE[width], settings=settings)
    try:
        result = handle.wait(timeout=TIMEOUT_S)
        if not result.success or result.output_for_node("total") != width:
            raise SystemExit(f"wide_{width}: wrong result (success={result.success})")
    finally:
        handle.close()
    return width + 2


def run_small(settings: Settings, runs: int, first_seed: int = 0) -> int:
    """``runs`` ``small_5`` runs submitted at once; their number of steps."""
    handles = []
    try:
        for i in range(runs):
            config = jobs.small_config(first_seed + i)
            handle = submit(jobs.small_5, run_config=config, settings=settings)
            handles.append((first_seed + i, handle))
        deadline = time.monotonic() + TIMEOUT_S
        for value, handle in handles:
            result = handle.wait(timeout=max(0.1, deadline - time.monotonic()))
            if not result.success or result.output_for_node("total") != jobs.small_expected(value):
                raise SystemExit(f"small_5 seeded {value}: wrong result ({result.success=})")
    finally:
        for _, handle in handles:
            handle.close()
    return runs * 5


def measure(
    name: str, coordinators: list[Proc], scenario: Callable[[], int], profile: Path | None
) -> Figure:
    """Run ``scenario`` and take the coordinators' CPU around it."""
    with sampling(coordinators, profile, f"{name}-{len(coordinators)}"):
        before = [cpu_s(proc.pid) for proc in coordinators]
        started = time.perf_counter()
        steps = scenario()
        wall = time.perf_counter() - started
        after = [cpu_s(proc.pid) for proc in coordinators]
    spent = tuple(b - a for a, b in zip(before, after, strict=True))
    figure = Figure(name, len(coordinators), steps, wall, spent)
    print(
        f"{name} with {len(coordinators)} coordinator(s): {steps} steps in {wall:.2f} s, "
        f"{figure.us_per_step:.0f} us/step",
        flush=True,
    )
    return figure


# Profiles ----------------------------------------------------------------------------------
@contextlib.contextmanager
def sampling(coordinators: list[Proc], profile: Path | None, label: str) -> Iterator[None]:
    """``py-spy record`` on every coordinator while the block runs (when ``profile``)."""
    if profile is None:
        yield
        return
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    samplers = []
    for proc in coordinators:
        out = profile / f"{label}-{proc.name}.txt"
        argv = [spy, "record", "-p", str(proc.pid), "-r", "250", "--format", "raw"]
        argv += ["--nonblocking", "--gil", "-o", str(out)]  # --gil: threads running Python
        samplers.append((out, subprocess.Popen(argv, stdout=subprocess.DEVNULL)))
    time.sleep(1.0)  # py-spy attaches
    try:
        yield
    finally:
        for out, sampler in samplers:
            sampler.send_signal(signal.SIGINT)
            sampler.wait(timeout=30)
            print_profile(out)


def print_profile(raw: Path) -> None:
    """Where the samples of a py-spy raw file went: by function, inclusive (functions on
    nearly every stack, the loop's callers, left out) and exclusive (the stack's top)."""
    if not raw.exists():
        print(f"(no profile written to {raw})")
        return
    inclusive: Counter[str] = Counter()
    exclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [_function(frame) for frame in stack.split(";")]
        total += int(count)
        exclusive[frames[-1]] += int(count)
        for frame in set(frames):
            inclusive[frame] += int(count)
    shown = [(f, n) for f, n in inclusive.most_common() if n < 0.9 * total][:PROFILE_TOP]
    table(
        f"py-spy {raw.name}: {total} samples (250/s, threads holding the GIL)",
        ("inclusive", "function", "exclusive", "function"),
        [
            (f"{n / total:.1%}", frame, f"{m / total:.1%}", top)
            for (frame, n), (top, m) in zip(shown, exclusive.most_common(PROFILE_TOP), strict=False)
        ],
    )


def _function(frame: str) -> str:
    """``name (path:line)`` -> ``name (file)``."""
    name, _, where = frame.partition(" (")
    return f"{name} ({Path(where.rsplit(':', 1)[0]).name})"


# The report --------------------------------------------------------------------------------
def report(figures: list[Figure]) -> None:
    rows = []
    for f in figures:
        rows.append(
            (
                f.scenario,
                str(f.coordinators),
                f"{f.steps:,}",
                f"{f.wall_s:.2f} s",
                f"{f.steps / f.wall_s:,.0f}",
                " + ".join(f"{c:.2f}" for c in f.cpu_s) + " s",
                f"{f.us_per_step:.0f} us",
                f"<= {GOAL_US:.0f} us",
                f"{1e6 / f.us_per_step:,.0f}",
                "ok" if f.us_per_step <= GOAL_US else "MISSED",
            )
        )
    header = ("scenario", "coord.", "steps", "wall", "steps/s", "coordinator CPU")
    header += ("CPU/step", "goal", "ceiling steps/s per coordinator", "ok?")
    table("Coordinator CPU per step (process utime + stime / steps)", header, rows)
    by = {(f.scenario, f.coordinators): f for f in figures}
    growth = []
    for scenario in dict.fromkeys(f.scenario for f in figures):
        one, two = by.get((scenario, 1)), by.get((scenario, 2))
        if one and two:
            ratio = two.us_per_step / one.us_per_step
            growth.append((scenario, f"{ratio:.2f}x", "<= 1.0x (+ noise)"))
    if growth:
        table("CPU per step with 2 coordinators vs 1", ("scenario", "ratio", "goal"), growth)


def scenarios(settings: Settings, args: argparse.Namespace) -> dict[str, Callable[[], int]]:
    width = 200 if args.quick else 2000
    runs = 100 if args.quick else args.runs
    seeds = iter(range(0, 10**9, runs))
    return {
        "wide": lambda: run_wide(settings, width),
        "small": lambda: run_small(settings, runs, next(seeds)),
    }


def bench(cluster: LoadCluster, settings: Settings, args: argparse.Namespace) -> list[Figure]:
    figures = []
    coordinators = [cluster.start_coordinator("c1")]
    plan = {name: run for name, run in scenarios(settings, args).items() if name in args.only}
    for count in args.coordinators:
        while len(coordinators) < count:
            coordinators.append(cluster.start_coordinator(f"c{len(coordinators) + 1}"))
        run_wide(settings, 200)  # warm-up: every pool process and coordinator
        run_small(settings, 20, first_seed=-100)
        for name, scenario in plan.items():
            figures.append(measure(name, coordinators, scenario, args.profile))
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="wide_200 and 100 small runs")
    parser.add_argument("--runs", type=int, default=500, help="small runs at once (500)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (2)")
    parser.add_argument("--profile", type=Path, default=None, help="py-spy the coordinators")
    parser.add_argument("--only", default="wide,small", help="scenarios (wide,small)")
    parser.add_argument("--coordinators", default="1,2", help="coordinator counts (1,2)")
    args = parser.parse_args(argv)
    args.only = args.only.split(",")
    args.coordinators = sorted(int(n) for n in args.coordinators.split(","))
    for sig in (signal.SIGTERM, signal.SIGHUP):  # unwind, so every process is stopped
        signal.signal(sig, lambda signum, _frame: sys.exit(128 + signum))
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    logdir = Path(tempfile.mkdtemp(prefix=f"bench-coordinator-{tag}-"))
    print(
        f"opgrid coordinator benchmark: Python {platform.python_version()}, Celery "
        f"{celery.__version__}, {os.cpu_count()} CPUs; process logs in {logdir}",
        flush=True,
    )
    with RedisServer() as server, contextlib.ExitStack() as stack:
        settings = Settings(
            redis_url=server.url,
            namespace=f"bench-coord-{tag}",
            secret=f"bench-secret-{tag}",
            default_queue=f"bench-coord-{tag}",
        )
        cluster = LoadCluster(settings, logdir, str(Path(jobs.__file__).resolve()))
        stack.callback(cluster.stop_all)
        cluster.start_workers(args.workers)
        figures = bench(cluster, settings, args)
    report(figures)


if __name__ == "__main__":
    main()
