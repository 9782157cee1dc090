"""A job the failover tests run while Redis' primary is killed under it.

``square`` steps sleep a little so the run is mid-flight when the primary dies; each
appends ``square done <pid>`` to the file ``MARKS`` names, so a test can count how often
a step really ran.
"""

from __future__ import annotations

import os
import time

from opgrid import DynamicOut, DynamicOutput, job, op

#: Steps of the fan-out.
WIDTH = 8


def _mark(event: str) -> None:
    path = os.environ.get("MARKS")
    if path:
        with open(path, "a") as marks:
            marks.write(f"square {event} {os.getpid()}\n")


@op(out=DynamicOut())
def numbers():
    for i in range(WIDTH):
        yield DynamicOutput(i, mapping_key=str(i))


@op
def square(value: int) -> int:
    time.sleep(float(os.environ.get("SQUARE_S", "0.4")))
    _mark("done")
    return value * value


@op
def total(values: list[int]) -> int:
    return sum(values)


@job
def squares():
    """numbers -> square (mapped, WIDTH wide) -> total: sum of i*i below WIDTH."""
    total(numbers().map(square).collect())
