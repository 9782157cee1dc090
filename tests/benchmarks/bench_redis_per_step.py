"""Benchmark: Redis work and CPU per step of a wide fan-out, opgrid vs raw Celery.

Run from the repository root::

    python -m tests.benchmarks.bench_redis_per_step [--width 2000] [--reps 1] [-c 2]

On one throwaway redis-server (broker, storage, and raw Celery's result backend):

* opgrid: one ``opgrid worker --pool prefork -c 2`` process serving
  ``tests/jobs/fan_jobs.py`` and one ``opgrid coordinator`` process; this process
  submits ``fan_<width>`` (``start`` -> ``width`` parallel ``inc`` -> ``total``) and
  waits for its result;
* raw Celery: one ``celery worker --pool prefork -c 2`` process serving
  ``tests/benchmarks/raw_celery_app.py`` with opgrid's worker settings (late acks,
  prefetch 1, task events on); this process sends ``width`` independent ``add`` tasks,
  then gets every result from the Redis result backend.

Each side's processes run only while that side is measured (after a warm-up run), so
neither pays for the other's idle polling. Printed per step: the command mix (``INFO
commandstats`` deltas: calls by command, their total, usec inside Redis), bytes in and
out (``INFO stats``), and CPU (utime + stime from ``/proc``) of every process of the
side: the worker's main process, its pool, the coordinator, redis-server and this
process (submit / send, wait / get). Goals: opgrid at or below raw Celery on commands
and on CPU per step.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a file: make ``tests.benchmarks`` importable
    sys.path.insert(0, str(ROOT))

from opgrid.orchestrator.cli.embedded_redis import RedisServer  # noqa: E402
from tests.benchmarks.fan_cluster import (  # noqa: E402
    FanCluster,
    PerStep,
    RedisMeter,
    cpu_s,
    per_step,
    run_fan,
    settings_for,
)
from tests.benchmarks.raw_celery_app import make_app  # noqa: E402
from tests.harness.processes import pool_children, wait_for  # noqa: E402

#: How long one measured run may take.
RUN_TIMEOUT_S = 600.0
#: Width of the warm-up runs (pool processes import, plans and jobs cached).
WARM_UP = 20


@contextlib.contextmanager
def _side(cluster: FanCluster) -> Iterator[FanCluster]:
    try:
        yield cluster
    finally:
        cluster.stop_all()


def _opgrid(
    url: str, logdir: Path, width: int, concurrency: int
) -> tuple[PerStep, dict[str, float]]:
    settings = settings_for(url)
    with _side(FanCluster(settings, logdir / "opgrid", (WARM_UP, width))) as cluster:
        worker = cluster.start_fan_workers(concurrency)
        coordinator = cluster.start_coordinator()
        for _ in range(2):
            run_fan(settings, WARM_UP, RUN_TIMEOUT_S)
        parts = {
            "worker: main process": lambda: [worker.pid],
            "worker: pool processes": lambda: pool_children(worker.pid),
            "coordinator": lambda: [coordinator.pid],
        }
        return _measure(url, parts, width + 2, lambda: run_fan(settings, width, RUN_TIMEOUT_S))


def _raw(url: str, logdir: Path, width: int, concurrency: int) -> tuple[PerStep, dict[str, float]]:
    queue = f"bench-raw-{uuid.uuid4().hex[:8]}"
    app = make_app(url, queue)
    add = app.tasks["bench_raw.add"]
    cluster = FanCluster(settings_for(url), logdir / "raw", ())
    cluster.env.update(BENCH_RAW_REDIS_URL=url, BENCH_RAW_QUEUE=queue, BENCH_RAW_DEFAULTS="0")
    cluster.env["PYTHONPATH"] = str(ROOT)
    argv = [sys.executable, "-m", "celery", "-A", "tests.benchmarks.raw_celery_app", "worker"]
    argv += ["--pool", "prefork", "-c", str(concurrency), "-Q", queue, "--loglevel", "INFO"]
    argv += ["--without-gossip", "--without-mingle", "-n", f"raw-{queue}@%h"]

    def fan(n: int) -> None:
        results = [add.delay(i, 1) for i in range(n)]
        values = [r.get(timeout=RUN_TIMEOUT_S) for r in results]
        if values != [i + 1 for i in range(n)]:
            raise SystemExit(f"raw Celery's {n} add tasks gave wrong results")

    try:
        with _side(cluster):
            worker = cluster._start("raw", argv)
            wait_for(lambda: "ready." in worker.text() or not worker.alive(), 60, worker.text)
            for _ in range(2):
                fan(WARM_UP)
            parts = {
                "worker: main process": lambda: [worker.pid],
                "worker: pool processes": lambda: pool_children(worker.pid),
            }
            return _measure(url, parts, width, lambda: fan(width))
    finally:
        app.close()


def _measure(
    url: str, parts: dict[str, Callable[[], list[int]]], steps: int, work: Callable[[], object]
) -> tuple[PerStep, dict[str, float]]:
    """Redis work and CPU ms per step of the processes of ``parts`` (with redis-server and
    this process) while ``work()`` runs."""
    meter = RedisMeter(url)
    redis_pid = int(meter.client.info("server")["process_id"])
    parts = {
        **parts,
        "redis-server": lambda: [redis_pid],
        "this process (submit, wait)": lambda: [os.getpid()],
    }
    try:
        pids = {name: find() for name, find in parts.items()}
        cpu0 = {name: cpu_s(p) for name, p in pids.items()}
        before = meter.snapshot()
        t0 = time.perf_counter()
        work()
        wall = time.perf_counter() - t0
        after = meter.snapshot()
        cpu = {name: (cpu_s(p) - cpu0[name]) / steps * 1e3 for name, p in pids.items()}
    finally:
        meter.close()
    cpu["(wall ms per step)"] = wall / steps * 1e3
    return per_step(before, after, steps), cpu


def _table(title: str, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}")
    for row in [header, *rows]:
        print("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))


def _report(
    raw: tuple[PerStep, dict[str, float]], opgrid: tuple[PerStep, dict[str, float]]
) -> None:
    (rs, rc), (os_, oc) = raw, opgrid
    commands = sorted(
        set(rs.calls) | set(os_.calls), key=lambda c: -max(rs.calls.get(c, 0), os_.calls.get(c, 0))
    )
    rows = [(c, f"{rs.calls.get(c, 0):.2f}", f"{os_.calls.get(c, 0):.2f}") for c in commands]
    rows += [
        ("= commands per step", f"{rs.total:.2f}", f"{os_.total:.2f}"),
        ("usec per step inside Redis", f"{rs.usec:.0f}", f"{os_.usec:.0f}"),
        ("bytes in per step", f"{rs.bytes_in:.0f}", f"{os_.bytes_in:.0f}"),
        ("bytes out per step", f"{rs.bytes_out:.0f}", f"{os_.bytes_out:.0f}"),
    ]
    _table(
        "Redis work per step (INFO commandstats / INFO stats deltas)",
        ("", "raw Celery", "opgrid"),
        rows,
    )
    names = list(dict.fromkeys([*rc, *oc]))
    rows = [
        (n, f"{rc[n]:.3f}" if n in rc else "", f"{oc[n]:.3f}" if n in oc else "") for n in names
    ]
    rall = sum(v for k, v in rc.items() if not k.startswith("("))
    oall = sum(v for k, v in oc.items() if not k.startswith("("))
    rows.append(("= CPU ms per step, all processes", f"{rall:.3f}", f"{oall:.3f}"))
    _table("CPU per step (utime + stime, /proc)", ("", "raw Celery", "opgrid"), rows)
    print(
        f"\ngoals: commands per step {os_.total:.1f} vs raw {rs.total:.1f} "
        f"({'met' if os_.total <= rs.total else 'MISSED'}); CPU per step {oall:.2f} vs raw "
        f"{rall:.2f} ms ({'met' if oall <= rall else 'MISSED'}, {oall / rall:.2f}x)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--width", type=int, default=2000, help="steps of the fan-out")
    parser.add_argument("--reps", type=int, default=1, help="measured runs per side")
    parser.add_argument("-c", "--concurrency", type=int, default=2, help="pool processes")
    args = parser.parse_args(argv)
    logdir = Path(tempfile.mkdtemp(prefix="bench-per-step-"))
    print(f"fan-out of {args.width}, {args.concurrency} pool processes, logs in {logdir}")
    with RedisServer() as server:
        for rep in range(args.reps):
            raw = _raw(server.url, logdir / str(rep), args.width, args.concurrency)
            opgrid = _opgrid(server.url, logdir / str(rep), args.width, args.concurrency)
            print(f"\n--- run {rep + 1} of {args.reps}")
            _report(raw, opgrid)


if __name__ == "__main__":
    main()
