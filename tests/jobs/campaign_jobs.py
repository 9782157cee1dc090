"""The fault campaign's job: fan-out, a branch not taken, a retry and a dynamic map.

Every op appends ``<run_id> <step_key> <attempt> <pid> <event> <time>`` to the file
``MARKS`` names (one O_APPEND write per line), so the campaign can tell which
process ran which attempt and count attempts that ran more than once.
"""

from __future__ import annotations

import os
import time

from opgrid import DynamicOut, DynamicOutput, In, Out, Output, RetryPolicy, job, op

#: Items of the dynamic map (and pieces of the fan-out).
WIDTH = 4
#: How long each working op sleeps, so faults land while steps run.
WORK_S = float(os.environ.get("CAMPAIGN_WORK_S", "0.3"))


def _mark(context, event: str) -> None:
    path = os.environ.get("MARKS")
    if path:
        line = (
            f"{context.run_id} {context.step_key} {context.retry_number} {os.getpid()} "
            f"{event} {time.time():.3f}\n"
        )
        with open(path, "a") as marks:
            marks.write(line)


def _work(context) -> None:
    _mark(context, "start")
    deadline = time.monotonic() + WORK_S
    while time.monotonic() < deadline:
        time.sleep(0.02)
    _mark(context, "done")


@op
def seed(context) -> int:
    _work(context)
    return 3


@op(out={"big": Out(is_required=False), "small": Out(is_required=False)})
def branch(context, value: int):
    _work(context)
    if value > 2:
        yield Output(value, "big")
    else:
        yield Output(value, "small")


@op
def on_big(context, value: int) -> int:
    _work(context)
    return value * 10


@op
def on_small(context, value: int) -> int:  # never runs: skipped every time
    _work(context)
    return -1


@op(retry_policy=RetryPolicy(max_retries=2, delay=0.2))
def flaky(context, value: int) -> int:
    _work(context)
    if context.retry_number == 0:
        raise RuntimeError("fails its first attempt")
    return value + 1


@op(out=DynamicOut())
def items(context, value: int):
    _work(context)
    for i in range(WIDTH):
        yield DynamicOutput(value + i, mapping_key=f"k{i}")


@op
def double(context, value: int) -> int:
    _work(context)
    return value * 2


@op(ins={"big": In(), "retried": In(), "doubled": In()})
def combine(context, big: int, retried: int, doubled: list[int]) -> int:
    _work(context)
    return big + retried + sum(doubled)


#: What ``combine`` returns in every run: 30 + 4 + 2 * (3 + 4 + 5 + 6).
EXPECTED = 30 + 4 + 2 * sum(3 + i for i in range(WIDTH))


@job
def campaign():
    value = seed()
    big, small = branch(value)
    on_small(small)
    combine(on_big(big), flaky(value), items(value).map(double).collect())
