"""Jobs the fault tests run on real worker processes.

Every op appends ``<op> <event> <pid>`` lines to the file named by ``MARKS`` (one
write per line, O_APPEND), so a test can see which process runs which op, kill it
at the right moment, and count how often an op really ran.
"""

from __future__ import annotations

import os
import re
import time

from opgrid import (
    DynamicOut,
    DynamicOutput,
    In,
    Nothing,
    OpExecutionContext,
    Out,
    Output,
    RetryPolicy,
    job,
    op,
)

#: Seconds ``retried_later`` waits before its second attempt.
RETRY_DELAY_S = 8.0


def mark(name: str, event: str) -> None:
    path = os.environ.get("MARKS")
    if path:
        with open(path, "a") as marks:
            marks.write(f"{name} {event} {os.getpid()}\n")


def sleep_in_steps(seconds: float) -> None:
    """A sleep the cooperative interruption can reach between steps."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)


@op
def first() -> int:
    mark("first", "start")
    mark("first", "done")
    return 1


@op
def slow(value: int) -> list[int]:
    mark("slow", "start")
    sleep_in_steps(float(os.environ.get("SLOW_S", "3")))
    mark("slow", "done")
    return [value, 2]


@op
def last(values: list[int]) -> list[int]:
    mark("last", "start")
    mark("last", "done")
    return values


@job
def slow_chain():
    """first -> slow (sleeps SLOW_S) -> last."""
    last(slow(first()))


def _stage(name: str):
    @op(name=name)
    def stage(value: int) -> int:
        mark(name, "start")
        sleep_in_steps(0.6)
        mark(name, "done")
        return value + 1

    return stage


_STAGES = [_stage(f"stage{i}") for i in range(1, 6)]


@op
def zero() -> int:
    return 0


@job
def staged():
    """zero -> stage1 -> ... -> stage5, each 0.6 s: 5 at the end."""
    value = zero()
    for stage in _STAGES:
        value = stage(value)


@op(out=Out(Nothing))
def hang() -> None:
    mark("hang", "start")
    try:
        sleep_in_steps(60)
    except BaseException:
        mark("hang", "interrupted")
        raise
    mark("hang", "done")


@op(out=Out(Nothing))
def stubborn() -> None:
    """Ignores every interruption: only killing its process stops it."""
    mark("stubborn", "start")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            sleep_in_steps(60)
        except BaseException:  # noqa: PERF203 (ignoring interruptions is the point)
            mark("stubborn", "ignored")


@op(ins={"after": In(Nothing)}, out=Out(Nothing))
def after_hang() -> None:
    mark("after_hang", "start")


@job
def hangs():
    """hang, then after_hang; plus two more hangs queued behind the first."""
    after_hang(after=hang())
    hang.alias("hang2")()
    hang.alias("hang3")()


@job
def stubborn_job():
    stubborn()


@job(tags={"opgrid/timeout_s": 1})
def timed():
    hang()


@job(tags={"opgrid/timeout_s": 1})
def timed_stubborn():
    stubborn()


@op(tags={"opgrid/queue": "nobody-consumes-this"})
def unserved() -> int:
    return 1


@job
def misrouted():
    unserved()


@op
def once() -> int:
    mark("once", "start")
    sleep_in_steps(0.5)
    mark("once", "done")
    return 7


@job
def single():
    once()


def _fixed() -> bool:
    """Whether the test has "fixed the bug" the flaky ops fail on (a file exists)."""
    return os.path.exists(os.environ.get("FIXED", "/nonexistent"))


@op
def base() -> int:
    mark("base", "start")
    return 10


@op
def shaky(value: int) -> int:
    mark("shaky", "start")
    if not _fixed():
        raise RuntimeError("shaky fails until fixed")
    return value + 1


@op
def after_shaky(value: int) -> int:
    mark("after_shaky", "start")
    return value * 2


@op
def steady() -> str:
    mark("steady", "start")
    return "steady"


@op(out=DynamicOut(int))
def fan():
    mark("fan", "start")
    for i in range(3):
        yield DynamicOutput(i, mapping_key=str(i))


@op
def piece(i: int) -> int:
    mark(f"piece{i}", "start")
    if i == 2 and not _fixed():
        raise RuntimeError("piece 2 fails until fixed")
    return i * 100


@op
def gather(pieces: list[int]) -> int:
    mark("gather", "start")
    return sum(pieces)


@job
def flaky_pipeline():
    """base -> shaky -> after_shaky; steady; fan -> piece x3 -> gather."""
    after_shaky(shaky(base()))
    steady()
    gather(fan().map(piece).collect())


def _ranked(priority: int):
    @op(name=f"ranked{priority}", tags={"opgrid/priority": priority})
    def ranked() -> int:
        mark(f"ranked{priority}", "start")
        return priority

    return ranked


@job
def prioritized():
    """Three independent ops tagged ``opgrid/priority`` 1, 5 and 9."""
    for priority in (1, 5, 9):
        _ranked(priority)()


@op(retry_policy=RetryPolicy(max_retries=1, delay=RETRY_DELAY_S))
def late(context: OpExecutionContext) -> int:
    """Fails its first attempt; the retry is due ``RETRY_DELAY_S`` later."""
    mark("late", f"attempt{context.retry_number}")
    if context.retry_number == 0:
        raise RuntimeError("the first attempt fails")
    return 5


@job
def retried_later():
    late()


@op(out=Out(Nothing))
def backtrack() -> None:
    """Stuck in C code holding the GIL: a regex that backtracks for ages (2**40 paths);
    no other thread of its process runs meanwhile."""
    mark("backtrack", "start")
    re.match(r"(a+)+$", "a" * 40 + "b")
    mark("backtrack", "done")


@job
def stuck_in_c():
    backtrack()


@op(out={"taken": Out(is_required=False), "untaken": Out(is_required=False)})
def choose():
    mark("choose", "start")
    yield Output(1, "taken")


@op
def on_untaken(value: int) -> int:
    mark("on_untaken", "start")
    return value


@job
def branch_and_hang():
    """choose yields "taken" only, so on_untaken is skipped; hang keeps the run going."""
    _taken, untaken = choose()
    on_untaken(untaken)
    hang()


@op(out=Out(Nothing))
def nap() -> None:
    mark("nap", "start")
    sleep_in_steps(float(os.environ.get("NAP_S", "4")))
    mark("nap", "done")


@job
def two_naps():
    """Two naps side by side: on one single-process worker, the second waits its turn."""
    nap()
    nap.alias("nap2")()
