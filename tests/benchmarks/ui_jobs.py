"""Jobs of the UI benchmark: a small one and a 1,000-step fan-out/fan-in."""

from __future__ import annotations

from opgrid import job, op

#: Parallel steps of the wide job (plus its first and last: 1,000 steps).
WIDTH = 998


@op
def source() -> int:
    return 1


@op
def branch(value: int) -> int:
    return value + 1


@op
def gather(values: list[int]) -> int:
    return sum(values)


@job
def small():
    branch(source())


@job
def wide():
    start = source()
    gather([branch.alias(f"branch_{i}")(start) for i in range(WIDTH)])
