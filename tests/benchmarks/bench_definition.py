"""Benchmark: defining and compiling big jobs (``@job`` tracing + ``compile_plan``).

Run from the repository root (either form works)::

    python tests/benchmarks/bench_definition.py [--quick] [--gc-off] [--tracemalloc]
    python -m tests.benchmarks.bench_definition [--quick] [--gc-off] [--tracemalloc]

The job is layered: layers of ``WIDTH`` ops; layer 0 are sources, and in every
later layer op ``j`` takes op ``j`` of the previous layer, plus op ``j + 1``
(wrapping) when ``j`` is even -- a real DAG with ~1.5 edges per op. It is
defined in two ways:

* ``@job`` composition: a function calling aliased ops in loops (the headline);
* ``GraphDefinition`` + ``DependencyDefinition`` + ``NodeInvocation``, then ``to_job()``.

"define" = building the ``JobDefinition``; "compile" =
``opgrid.orchestrator.planning.compiler.compile_plan(job, None)``. Every size is measured in
a fresh child interpreter (this same script with ``--child``), so that one
size's garbage and heap growth do not leak into the next and the child's
``ru_maxrss`` is that size's peak memory. Figures are printed next to the
goals; nothing is asserted on time.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from opgrid import DependencyDefinition, GraphDefinition, NodeInvocation, job, op
from opgrid.orchestrator.planning.compiler import compile_plan
from opgrid.orchestrator.planning.plan import ExecutionPlan

#: Ops per layer of the layered job.
WIDTH = 100
#: Goals from the issue (seconds).
GOAL_5K_S = 0.25
GOAL_100K_S = 5.0
HEADLINE_OPS = 5_000
SERIES = (1_000, 5_000, 10_000, 20_000, 50_000, 100_000)
QUICK_SERIES = (1_000, 5_000, 10_000)


# ---------------------------------------------------------------- the ops (module level)


@op
def src() -> int:
    return 1


@op
def one(x: int) -> int:
    return x + 1


@op
def two(a: int, b: int) -> int:
    return a + b


# ---------------------------------------------------------------- the two ways of defining the job


def layered_composition(n_ops: int, width: int = WIDTH) -> Any:
    """The layered job of ``n_ops`` ops, from a ``@job`` composition function."""
    layers = n_ops // width

    def body() -> None:
        prev = [src.alias(f"n0_{j}")() for j in range(width)]
        for i in range(1, layers):
            cur = []
            for j in range(width):
                if j % 2 == 0:
                    cur.append(two.alias(f"n{i}_{j}")(prev[j], prev[(j + 1) % width]))
                else:
                    cur.append(one.alias(f"n{i}_{j}")(prev[j]))
            prev = cur

    body.__name__ = f"layered_{n_ops}"
    return job(body)


def layered_graph_definition(n_ops: int, width: int = WIDTH) -> Any:
    """The same layered job, from ``GraphDefinition`` and ``DependencyDefinition``."""
    layers = n_ops // width
    deps: dict[NodeInvocation, dict[str, DependencyDefinition]] = {}
    for j in range(width):
        deps[NodeInvocation("src", alias=f"n0_{j}")] = {}
    for i in range(1, layers):
        for j in range(width):
            name = f"n{i}_{j}"
            if j % 2 == 0:
                deps[NodeInvocation("two", alias=name)] = {
                    "a": DependencyDefinition(f"n{i - 1}_{j}"),
                    "b": DependencyDefinition(f"n{i - 1}_{(j + 1) % width}"),
                }
            else:
                deps[NodeInvocation("one", alias=name)] = {
                    "x": DependencyDefinition(f"n{i - 1}_{j}")
                }
    graph_def = GraphDefinition(
        name=f"layered_gd_{n_ops}", node_defs=[src, one, two], dependencies=deps
    )
    return graph_def.to_job()


FORMS: dict[str, Callable[[int], Any]] = {
    "composition": layered_composition,
    "graphdef": layered_graph_definition,
}


# ---------------------------------------------------------------- the child: measures one size


def maxrss_bytes() -> int:
    """This process's peak resident set size (``ru_maxrss`` is KiB on Linux, bytes on macOS)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024


def child(
    n_ops: int, form: str, repeat: int, with_json: bool, trace_memory: bool
) -> dict[str, Any]:
    """Define + compile ``n_ops`` ops ``repeat`` times; the figures as a dict."""
    define = FORMS[form]
    compile_plan(define(2 * WIDTH), None)  # warm-up: imports, caches, pydantic validators
    gc.collect()
    rss_before = maxrss_bytes()
    runs: list[tuple[float, float]] = []
    plan: ExecutionPlan | None = None
    for _ in range(repeat):
        plan = None
        gc.collect()
        t0 = time.perf_counter()
        the_job = define(n_ops)
        t1 = time.perf_counter()
        plan = compile_plan(the_job, None)
        t2 = time.perf_counter()
        runs.append((t1 - t0, t2 - t1))
        del the_job
    assert plan is not None
    if len(plan.steps) != n_ops:  # sanity, not timing
        raise SystemExit(f"plan has {len(plan.steps)} steps, expected {n_ops}")
    result: dict[str, Any] = {
        "n_ops": n_ops,
        "form": form,
        "runs": runs,
        "rss_before": rss_before,
        "rss_peak": maxrss_bytes(),
    }
    if with_json:
        dumps, loads = [], []
        text = ""
        for _ in range(max(3, repeat)):
            t0 = time.perf_counter()
            text = plan.model_dump_json()
            t1 = time.perf_counter()
            back = ExecutionPlan.model_validate_json(text)
            t2 = time.perf_counter()
            dumps.append(t1 - t0)
            loads.append(t2 - t1)
        if back != plan:  # sanity, not timing
            raise SystemExit("the plan did not survive its JSON round trip")
        result.update(json_bytes=len(text.encode()), dump_s=min(dumps), load_s=min(loads))
    if trace_memory:  # a separate, untimed run: tracemalloc slows allocation down a lot
        import tracemalloc

        plan = None
        gc.collect()
        tracemalloc.start()
        the_job = define(n_ops)
        plan = compile_plan(the_job, None)
        result["traced_peak"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return result


def run_child(
    n_ops: int,
    form: str,
    repeat: int,
    gc_off: bool,
    with_json: bool = False,
    trace_memory: bool = False,
) -> dict[str, Any]:
    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "--child",
        str(n_ops),
        "--form",
        form,
        "--repeat",
        str(repeat),
    ]
    cmd += ["--gc-off"] * gc_off + ["--json"] * with_json + ["--tracemalloc"] * trace_memory
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"child {' '.join(cmd[2:])} failed:\n{done.stdout}{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- reporting

Row = tuple[str, ...]


def print_table(title: str, header: Row, rows: list[Row]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(row: Row) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    print(f"\n{title}")
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))
    sys.stdout.flush()


def mib(n_bytes: float) -> str:
    return f"{n_bytes / 2**20:,.1f} MiB"


def verdict(value: float, goal: float) -> str:
    return "ok" if value <= goal else "MISSED"


def totals(result: dict[str, Any]) -> list[float]:
    return [d + c for d, c in result["runs"]]


def best_run(result: dict[str, Any]) -> tuple[float, float]:
    return min(result["runs"], key=sum)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="sizes up to 10k only, fewer repeats")
    parser.add_argument("--gc-off", action="store_true", help="disable the cyclic GC (comparison)")
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="also measure the traced Python heap peak of the largest size (slow, untimed)",
    )
    # internal: one measurement in a fresh interpreter
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--form", default="composition", help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.gc_off:
        gc.disable()
    if args.child:
        result = child(args.child, args.form, args.repeat, args.json, args.tracemalloc)
        print(json.dumps(result))
        return

    started = time.perf_counter()
    series = QUICK_SERIES if args.quick else SERIES
    headline_repeat = 3 if args.quick else 7
    print(
        f"opgrid define + compile - Python {platform.python_version()} on {platform.machine()}, "
        f"layers of {WIDTH} ops, cyclic GC {'OFF' if args.gc_off else 'on'}, "
        "one fresh interpreter per measurement"
    )

    # Headline: 5k ops, both forms, best and median of several runs, plus the JSON round trip.
    head = run_child(HEADLINE_OPS, "composition", headline_repeat, args.gc_off, with_json=True)
    head_gd = run_child(HEADLINE_OPS, "graphdef", headline_repeat, args.gc_off)

    # The series (composition form): a few repeats for small sizes, one run for big ones.
    results: dict[int, dict[str, Any]] = {}
    for n_ops in series:
        repeat = 1 if n_ops >= 20_000 or args.quick else 3
        trace = args.tracemalloc and n_ops == series[-1]
        results[n_ops] = run_child(n_ops, "composition", repeat, args.gc_off, trace_memory=trace)
        # show progress on long runs
        print(f"  measured {n_ops:>7,} ops ({time.perf_counter() - started:.1f} s)", flush=True)

    # ---- goals table
    rows: list[Row] = []
    for label, res in (("@job composition", head), ("GraphDefinition", head_gd)):
        total = totals(res)
        d, c = best_run(res)
        rows.append(
            (
                f"5k layered, {label}: define + compile, best",
                f"{min(total):.3f} s",
                f"<= {GOAL_5K_S} s",
                verdict(min(total), GOAL_5K_S),
            )
        )
        rows.append(
            (
                f"5k layered, {label}: define + compile, median",
                f"{statistics.median(total):.3f} s",
                f"<= {GOAL_5K_S} s",
                verdict(statistics.median(total), GOAL_5K_S),
            )
        )
        rows.append(
            (f"5k layered, {label}:   define / compile (best)", f"{d:.3f} s / {c:.3f} s", "", "")
        )
    rows.append(("5k plan: model_dump_json() size", f"{head['json_bytes'] / 1e6:.2f} MB", "", ""))
    rows.append(
        ("5k plan: model_dump_json() time (best)", f"{head['dump_s'] * 1e3:.1f} ms", "", "")
    )
    rows.append(
        (
            "5k plan: ExecutionPlan.model_validate_json() (best)",
            f"{head['load_s'] * 1e3:.1f} ms",
            "",
            "",
        )
    )
    rows.append(
        ("5k plan: JSON round trip", f"{(head['dump_s'] + head['load_s']) * 1e3:.1f} ms", "", "")
    )
    largest = results[series[-1]]
    big_total = min(totals(largest))
    goal_big = GOAL_100K_S if series[-1] == 100_000 else GOAL_100K_S * series[-1] / 100_000
    rows.append(
        (
            f"{series[-1] // 1000}k layered, @job composition: define + compile",
            f"{big_total:.2f} s",
            f"<= {goal_big:g} s" + ("" if series[-1] == 100_000 else " (pro rata)"),
            verdict(big_total, goal_big),
        )
    )
    rows.append(
        (
            f"{series[-1] // 1000}k: peak RSS of the process (ru_maxrss)",
            mib(largest["rss_peak"]),
            "",
            "",
        )
    )
    rows.append(
        (
            f"{series[-1] // 1000}k:   growth of peak RSS over the warmed-up interpreter",
            f"{mib(largest['rss_peak'] - largest['rss_before'])} "
            f"({(largest['rss_peak'] - largest['rss_before']) / series[-1] / 1024:.1f} KiB/op)",
            "",
            "",
        )
    )
    if "traced_peak" in largest:
        rows.append(
            (
                f"{series[-1] // 1000}k: tracemalloc peak of define + compile",
                mib(largest["traced_peak"]),
                "",
                "",
            )
        )
    print_table("Define + compile goals", ("measure", "figure", "goal", "ok?"), rows)

    # ---- series table
    series_rows: list[Row] = []
    for n_ops, res in results.items():
        d, c = best_run(res)
        total = d + c
        goal = GOAL_100K_S * n_ops / 100_000
        series_rows.append(
            (
                f"{n_ops:,}",
                f"{d:.3f}",
                f"{c:.3f}",
                f"{total:.3f}",
                f"{d / n_ops * 1e6:.1f}",
                f"{c / n_ops * 1e6:.1f}",
                f"{total / n_ops * 1e6:.1f}",
                mib(res["rss_peak"] - res["rss_before"]),
                f"<= {goal:g} s",
                verdict(total, goal),
            )
        )
    print_table(
        "Series (@job composition; best of 3 below 20k, else one run; goal = 50 µs/op pro rata)",
        (
            "ops",
            "define s",
            "compile s",
            "total s",
            "define µs/op",
            "compile µs/op",
            "total µs/op",
            "peak RSS growth",
            "goal",
            "ok?",
        ),
        series_rows,
    )
    print(f"\n(total benchmark time {time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
