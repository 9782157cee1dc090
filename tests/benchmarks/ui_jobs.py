"""Jobs of the UI benchmark: a small one, a 1,000-step fan-out/fan-in, and one that logs
for a while (live pages have something to follow)."""

from __future__ import annotations

import time

from opgrid import Config, OpExecutionContext, job, op

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


class TickConfig(Config):
    seconds: float = 30.0
    every_s: float = 0.25


@op
def tick(context: OpExecutionContext, config: TickConfig) -> int:
    """Logs a line every ``every_s`` for ``seconds``."""
    count = 0
    deadline = time.monotonic() + config.seconds
    while time.monotonic() < deadline:
        count += 1
        context.log.info(f"tick {count}")
        time.sleep(config.every_s)
    return count


@job
def ticking():
    tick()
