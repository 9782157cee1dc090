"""Jobs for the Flower and multi-host tests: a code location worker processes load by file.

``test_flower.py`` runs ``pipeline`` twice (the second time ``transform`` fails on
purpose); ``test_multi_host.py`` runs ``spread_out``, whose mapped steps report
where they ran: the host name, the worker's node name (``OPGRID_TEST_NODE``, set
by the test) and the local address this process uses to reach Redis.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from typing import List
from urllib.parse import urlsplit

from opgrid import Config, DynamicOut, DynamicOutput, OpExecutionContext, RetryPolicy, job, op

#: Environment variable naming the worker a process belongs to (set by the tests).
NODE_ENV = "OPGRID_TEST_NODE"
#: How long each mapped step of ``spread_out`` works, in seconds.
PAUSE_S = 0.05


# pipeline: three steps, one of which fails when told to ----------------------------------------
class TransformConfig(Config):
    fail: bool = False


@op
def extract() -> List[int]:
    return [1, 2, 3]


@op
def transform(config: TransformConfig, numbers: List[int]) -> List[int]:
    if config.fail:
        raise ValueError("transform failed on purpose")
    return [number * 10 for number in numbers]


@op
def load(numbers: List[int]) -> int:
    return sum(numbers)


@job
def pipeline() -> None:
    """Extract, transform, load; ``ops.transform.config.fail`` makes the middle step fail."""
    load(transform(extract()))


# spread_out: a wide fan-out whose steps report where they ran ---------------------------------
class SpreadConfig(Config):
    width: int = 40


@op(out=DynamicOut())
def fan_out(config: SpreadConfig) -> Iterator[DynamicOutput]:
    for index in range(config.width):
        yield DynamicOutput(index, mapping_key=f"s{index}")


@op
def where(index: int) -> dict[str, str]:
    """Works ``PAUSE_S``, then says which host, worker and address it ran on."""
    time.sleep(PAUSE_S)
    return {
        "index": str(index),
        "host": socket.gethostname(),
        "node": os.environ.get(NODE_ENV, ""),
        "address": _address_towards_redis(),
    }


@op
def places(reports: List[dict[str, str]]) -> List[dict[str, str]]:
    return sorted(reports, key=lambda report: int(report["index"]))


@job
def spread_out() -> None:
    """``width`` mapped steps of 50 ms each, then one step that gathers their reports."""
    places(fan_out().map(where).collect())


def _address_towards_redis() -> str:
    """The local address this process's traffic to Redis leaves from.

    A UDP socket's ``connect`` only picks the route and source address; it sends nothing.
    """
    url = urlsplit(os.environ.get("OPGRID_REDIS_URL", "redis://127.0.0.1:6379/0"))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((url.hostname or "127.0.0.1", url.port or 6379))
        address: str = probe.getsockname()[0]
        return address


# wobbly: fails its first attempt, then succeeds; dawdling: runs until canceled ------------------
@op(retry_policy=RetryPolicy(max_retries=1))
def wobbly(context: OpExecutionContext) -> int:
    if context.retry_number == 0:
        raise ValueError("the first attempt fails")
    return 1


@job
def wobbly_job() -> None:
    wobbly()


@op
def dawdle() -> None:
    for _ in range(600):  # a minute at most, in short sleeps a cancel can interrupt
        time.sleep(0.1)


@job
def dawdling() -> None:
    dawdle()
