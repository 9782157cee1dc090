"""The jobs of ``bench_cluster.py``: a code location the benchmark's worker processes load.

The workers are started with ``OPGRID_LOCATIONS=<this file>`` and find each job
by name; the benchmark imports the same module to submit them. Every job is
defined at module level (a worker only runs jobs its code locations define).

* ``chain_<n>``: ``start`` then ``n - 1`` aliased ``inc`` ops, one after the other
  (``n`` ops; the result is ``n - 1``);
* ``fan_<w>``: ``start`` -> ``w`` parallel ``inc`` ops -> ``total`` (a fan-in with a
  ``list[int]`` input): ``w + 2`` ops, result ``w``;
* ``naps_<n>``: ``start`` -> ``n`` parallel ``nap`` ops that each sleep
  ``NAP_S`` seconds (``n + 1`` ops; no fan-in, so the run ends with the last nap).
"""

from __future__ import annotations

import time
from typing import Any

from opgrid import job, op

try:
    from tests.jobs.job_shapes import fan_job as _fan_job
    from tests.jobs.job_shapes import inc, start
except ModuleNotFoundError:  # loaded by file (``-f``), the repository root not on sys.path
    from job_shapes import fan_job as _fan_job
    from job_shapes import inc, start

#: How long one ``nap`` op sleeps (the horizontal-scale benchmark).
NAP_S = 0.1

CHAIN_SIZES = (20, 100)
FAN_WIDTHS = (200, 1000)
NAP_COUNTS = (16, 100, 200)


@op
def nap(x: int) -> int:
    time.sleep(NAP_S)
    return x


def chain_job(length: int) -> Any:
    """``length`` ops: ``start`` followed by ``length - 1`` aliased ``inc`` ops."""

    def body() -> None:
        x = start()
        for i in range(1, length):
            x = inc.alias(f"inc_{i}")(x)

    body.__name__ = f"chain_{length}"
    return job(body)


def fan_job(width: int) -> Any:
    """``width + 2`` ops: ``start`` -> ``width`` parallel ``inc`` -> ``total``."""
    return _fan_job(width, f"fan_{width}")


def naps_job(count: int) -> Any:
    """``count + 1`` ops: ``start`` -> ``count`` parallel ``nap`` ops."""

    def body() -> None:
        root = start()
        for i in range(count):
            nap.alias(f"nap_{i}")(root)

    body.__name__ = f"naps_{count}"
    return job(body)


chain_20 = chain_job(20)
chain_100 = chain_job(100)
fan_200 = fan_job(200)
fan_1000 = fan_job(1000)
naps_16 = naps_job(16)  # a warm-up: enough naps to reach every worker process
naps_100 = naps_job(100)
naps_200 = naps_job(200)

#: Every job of this location, by name.
JOBS: dict[str, Any] = {
    j.name: j for j in (chain_20, chain_100, fan_200, fan_1000, naps_16, naps_100, naps_200)
}


def get(name: str) -> Any:
    """A job of this location by name (``chain_100``, ``fan_1000``, ``naps_200``...)."""
    return JOBS[name]
