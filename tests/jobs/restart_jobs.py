"""Jobs that the Redis-restart tests run on real worker processes.

Each op appends ``<op> <event> <pid>`` to the file ``MARKS`` names, so a test can
tell when an op runs and count how often it really ran.
"""

from __future__ import annotations

import os
import time

from opgrid import job, op


def mark(name: str, event: str) -> None:
    path = os.environ.get("MARKS")
    if path:
        with open(path, "a") as marks:
            marks.write(f"{name} {event} {os.getpid()}\n")


def _sleeper(name: str, seconds: float):
    @op(name=name)
    def sleeper() -> float:
        mark(name, "start")
        time.sleep(seconds)
        mark(name, "done")
        return seconds

    return sleeper


#: Parallel ops of different lengths, so their ends fall at different moments.
_SLEEPERS = [_sleeper(f"sleep{i}", 1.5 + 1.3 * i) for i in range(6)]


@job
def staggered():
    """Six independent ops sleeping 1.5 s to 8 s."""
    for sleeper in _SLEEPERS:
        sleeper()


@op
def quick() -> int:
    mark("quick", "start")
    return 7


@job
def quick_job():
    quick()
