"""The jobs of ``bench_coordinator.py``: a code location its worker processes load by file.

* ``wide_2000``: ``start`` -> 2,000 parallel ``inc`` ops -> ``total`` (2,002 ops,
  result 2,000): one wide run;
* ``wide_200``: the same with 200 (the warm-up, and ``--quick``'s wide run);
* ``small_5``: ``seed`` (from the run config) -> 3 parallel ``inc`` ops -> ``total``
  (5 ops, result ``3 * (seed + 1)``): many of them run at once.
"""

from __future__ import annotations

from typing import Any

from opgrid import Config, JobDefinition, job, op

try:
    from tests.jobs.job_shapes import fan_job, inc, total
except ModuleNotFoundError:  # loaded by file (``-f``), the repository root not on sys.path
    from job_shapes import fan_job, inc, total

#: The widths a wide job is defined for.
WIDTHS = (200, 2000)


class SeedConfig(Config):
    value: int = 0


@op
def seed(config: SeedConfig) -> int:
    return config.value


def wide_job(width: int) -> JobDefinition:
    """``width + 2`` ops: ``start`` -> ``width`` parallel ``inc`` -> ``total``."""
    return fan_job(width, f"wide_{width}")


def _small() -> None:
    root = seed()
    total([inc.alias(f"inc_{i}")(root) for i in range(3)])


small_5: JobDefinition = job(_small, name="small_5")
wide_200 = wide_job(200)
wide_2000 = wide_job(2000)

#: The wide jobs, by width.
WIDE: dict[int, JobDefinition] = {200: wide_200, 2000: wide_2000}


def small_config(value: int) -> dict[str, Any]:
    """The run config that seeds a ``small_5`` run with ``value``."""
    return {"ops": {"seed": {"config": {"value": value}}}}


def small_expected(value: int) -> int:
    """The result of a ``small_5`` run seeded with ``value``."""
    return 3 * (value + 1)
