"""Benchmark: in-process execution overhead per op.

Run from the repository root (either form works)::

    python -m tests.benchmarks.bench_in_process [--quick] [--reps N]
    python tests/benchmarks/bench_in_process.py [--quick] [--reps N]

Two jobs whose ops do trivial work (``x + 1``):

* ``chain``: a linear chain of 100 ops (``start -> inc -> inc -> ...``);
* ``fan``: 1 root -> 200 parallel ops -> 1 fan-in op with a ``list[int]`` input
  (202 ops), measured twice: with the fan-in list in declaration order
  (``[inc_0, inc_1, ...]``) and in the order the plan runs the parallel ops. A
  fan-in once re-walked that list after each upstream step (O(width**2) in the
  second order); both orders are kept so that such a regression shows.

Overhead per op = wall time of ``job.execute_in_process()`` / number of ops
(compiling the plan is part of that call, and is also shown on its own). Each
figure is the best and the median of several repetitions after a warm-up. The
same Python functions called directly in a loop give the baseline, so the ratio
is visible. Figures are printed next to the goal; nothing is asserted on time.
"""

from __future__ import annotations

import argparse
import gc
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from opgrid import job, op
from opgrid.orchestrator.planning.compiler import compile_plan

#: The issue's goal: at most this much wall time per op.
GOAL_MS_PER_OP = 0.5

CHAIN_LENGTH = 100
FAN_WIDTH = 200
#: Bigger sizes, printed for information only (does the per-op cost stay flat?).
CHAIN_SCALE_SIZES = (1000, 2000)
#: Wide fan-ins: the per-op cost should stay flat (see the module docstring).
FAN_SCALE_SIZES = (500, 1000)
#: In the scaling table, a job whose warm-up run takes longer than this is timed once.
SLOW_RUN_S = 0.5


# ---------------------------------------------------------------- the ops


@op
def start() -> int:
    return 0


@op
def inc(x: int) -> int:
    return x + 1


@op
def total(xs: list[int]) -> int:
    return sum(xs)


# ---------------------------------------------------------------- the jobs


def chain_job(length: int) -> Any:
    """``start`` followed by ``length - 1`` aliased ``inc`` ops: ``length`` ops in all."""

    def body() -> None:
        x = start()
        for i in range(1, length):
            x = inc.alias(f"inc_{i}")(x)

    body.__name__ = f"chain_{length}"
    return job(body)


def fan_job(width: int, list_order: str = "declared") -> Any:
    """``start`` -> ``width`` parallel ``inc`` ops -> ``total`` (fan-in): ``width + 2`` ops.

    ``list_order`` is the order of the fan-in list: ``"declared"`` (``inc_0``, ``inc_1``,
    ...) or ``"plan"``, the order in which the plan (and so the in-process executor) runs
    the parallel ops. The fan-in's readiness check walks that list; which order is cheap
    depends on the executor, so both are measured.
    """
    names = [f"inc_{i}" for i in range(width)]
    if list_order == "plan":
        steps = [s.key for s in compile_plan(fan_job(width), None).steps]
        names = [key for key in steps if key.startswith("inc_")]

    def body() -> None:
        root = start()
        handles = {name: inc.alias(name)(root) for name in (f"inc_{i}" for i in range(width))}
        total([handles[name] for name in names])

    body.__name__ = f"fan_{width}_{list_order}"
    return job(body)


def direct_chain(length: int) -> Callable[[], Any]:
    """The chain's functions called directly, no framework."""
    start_fn, inc_fn = start.compute_fn, inc.compute_fn
    steps = range(length - 1)

    def run() -> Any:
        x = start_fn()
        for _ in steps:
            x = inc_fn(x)
        return x

    return run


def direct_fan(width: int) -> Callable[[], Any]:
    """The fan-out/fan-in's functions called directly, no framework."""
    start_fn, inc_fn, total_fn = start.compute_fn, inc.compute_fn, total.compute_fn
    branches = range(width)

    def run() -> Any:
        root = start_fn()
        return total_fn([inc_fn(root) for _ in branches])

    return run


# ---------------------------------------------------------------- measuring


def timed(fn: Callable[[], Any], warmup: int, reps: int) -> list[float]:
    """Wall times (seconds) of ``reps`` calls of ``fn`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    gc.collect()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def scaled_median(the_job: Any, reps: int) -> float:
    """Median wall time of ``reps`` runs after one warm-up; one run when the job is slow."""
    t0 = time.perf_counter()
    the_job.execute_in_process()
    if time.perf_counter() - t0 > SLOW_RUN_S:
        reps = 1
    return statistics.median(timed(the_job.execute_in_process, 0, reps))


def direct_per_op(fn: Callable[[], Any], n_ops: int, loops: int) -> float:
    """Best seconds per op of calling the plain functions, over 5 batches of ``loops`` runs."""
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        best = min(best, (time.perf_counter() - t0) / loops)
    return best / n_ops


def check_result(result: Any, node: str, expected: Any) -> None:
    """Sanity check (not on time): the benchmark really ran the job."""
    value = result.output_for_node(node)
    if not result.success or value != expected:
        raise SystemExit(f"benchmark job gave {value!r} for {node!r}, expected {expected!r}")


# ---------------------------------------------------------------- reporting

Row = tuple[str, str, str, str]


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms"


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.3f} µs"


def verdict(value: float, goal: float) -> str:
    return "ok" if value <= goal else "MISSED"


def print_table(title: str, rows: list[Row]) -> None:
    header: Row = ("measure", "figure", "goal", "ok?")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]

    def line(row: Row) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    print(f"\n{title}")
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))


def bench_job(
    label: str,
    the_job: Any,
    n_ops: int,
    direct: Callable[[], Any],
    check: tuple[str, Any],
    warmup: int,
    reps: int,
) -> list[Row]:
    check_result(the_job.execute_in_process(), *check)
    runs = timed(the_job.execute_in_process, warmup, reps)
    compiles = timed(lambda: compile_plan(the_job, None), warmup, reps)
    direct_op = direct_per_op(direct, n_ops, loops=2000)
    events = len(the_job.execute_in_process().all_events)
    best, median = min(runs), statistics.median(runs)
    goal = GOAL_MS_PER_OP / 1e3
    compile_median = statistics.median(compiles)
    return [
        (f"{label}: wall per run, best / median", f"{ms(best)} / {ms(median)}", "", ""),
        (
            f"{label}: overhead per op, best",
            ms(best / n_ops),
            "<= 0.5 ms",
            verdict(best / n_ops, goal),
        ),
        (
            f"{label}: overhead per op, median",
            ms(median / n_ops),
            "<= 0.5 ms",
            verdict(median / n_ops, goal),
        ),
        (
            f"{label}:   of which compile_plan per op (median)",
            f"{ms(compile_median / n_ops)} ({compile_median / median:.0%})",
            "",
            "",
        ),
        (f"{label}:   events per op", f"{events / n_ops:.2f}", "", ""),
        (f"{label}: direct Python calls per op (baseline)", us(direct_op), "", ""),
        (
            f"{label}: ratio execute_in_process / direct (median)",
            f"{median / n_ops / direct_op:,.0f}x",
            "",
            "",
        ),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    parser.add_argument("--reps", type=int, default=None, help="timed repetitions per job")
    args = parser.parse_args(argv)
    warmup = 1 if args.quick else 3
    reps = args.reps or (5 if args.quick else 25)

    print(
        f"opgrid in-process overhead - Python {platform.python_version()} on {platform.machine()}, "
        f"{warmup} warm-up + {reps} timed runs per job, gc enabled"
    )
    t0 = time.perf_counter()
    rows = bench_job(
        f"chain {CHAIN_LENGTH} ops",
        chain_job(CHAIN_LENGTH),
        CHAIN_LENGTH,
        direct_chain(CHAIN_LENGTH),
        (f"inc_{CHAIN_LENGTH - 1}", CHAIN_LENGTH - 1),
        warmup,
        reps,
    )
    for order, note in (("declared", "declared order"), ("plan", "run order")):
        rows += bench_job(
            f"fan-out/in 1->{FAN_WIDTH}->1 ({FAN_WIDTH + 2} ops), list in {note}",
            fan_job(FAN_WIDTH, order),
            FAN_WIDTH + 2,
            direct_fan(FAN_WIDTH),
            ("total", FAN_WIDTH),
            warmup,
            reps,
        )
    print_table("In-process execution (execute_in_process, trivial ops)", rows)

    # Informational: how the per-op cost moves with size (fewer repetitions, no goal).
    scale_reps = 1 if args.quick else 3
    scaling: list[Row] = []
    for length in CHAIN_SCALE_SIZES:
        per_op = scaled_median(chain_job(length), scale_reps) / length
        scaling.append((f"chain {length} ops: overhead per op, median", ms(per_op), "", ""))
    for order, note in (("declared", "declared order"), ("plan", "run order")):
        for width in FAN_SCALE_SIZES[:1] if args.quick else FAN_SCALE_SIZES:
            per_op = scaled_median(fan_job(width, order), scale_reps) / (width + 2)
            scaling.append(
                (
                    f"fan-out/in 1->{width}->1, list in {note}: overhead per op, median",
                    ms(per_op),
                    "",
                    "",
                )
            )
    print_table(
        f"Scaling (informational, no goal; median of {scale_reps} runs, 1 run if a run takes"
        f" > {SLOW_RUN_S} s)",
        scaling,
    )
    print(f"\n(total benchmark time {time.perf_counter() - t0:.1f} s)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
