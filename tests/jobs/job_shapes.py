"""Job shapes several job modules define at their own sizes (a helper, not a code location).

* ``fan_job``: ``start`` -> ``width`` parallel ``inc`` ops (``inc_<i>``) -> ``total``, a
  fan-in with a ``list[int]`` input: ``width + 2`` ops, result ``width``;
* ``weighted_job``: a given root op -> ``parts`` parallel ``part_<i>`` ops (``x + i``) ->
  ``combine``, which returns ``sum((k + 1) * x_k)``: weighted by position, so a run that
  read another run's output, one part's output twice, or the parts out of order gives a
  result other than ``weighted_expected(parts, value)``.

The job modules import it as ``tests.jobs.job_shapes`` where the repository root is on
``sys.path`` (pytest, the benchmarks), else as the neighbour ``job_shapes``: loading a
code location by file puts its folder on ``sys.path`` (``opgrid worker -f``).
"""

from __future__ import annotations

from typing import Any

from opgrid import JobDefinition, OpDefinition, job, op


@op
def start() -> int:
    return 0


@op
def inc(x: int) -> int:
    return x + 1


@op
def total(xs: list[int]) -> int:
    return sum(xs)


@op
def combine(xs: list[int]) -> int:
    """Weighted by position: a part read twice, or out of order, changes the result."""
    return sum((k + 1) * x for k, x in enumerate(xs))


def fan_job(width: int, name: str) -> JobDefinition:
    """``width + 2`` ops: ``start`` -> ``width`` parallel ``inc`` -> ``total``."""

    def body() -> None:
        root = start()
        total([inc.alias(f"inc_{i}")(root) for i in range(width)])

    result: JobDefinition = job(body, name=name)
    return result


def part(i: int) -> Any:
    """The op ``part_<i>``: its input plus ``i``."""

    def body(x: int) -> int:
        return x + i

    return op(body, name=f"part_{i}")


def weighted_job(root: OpDefinition, parts: int, name: str) -> JobDefinition:
    """``parts + 2`` ops: ``root`` -> ``parts`` parallel ``part_<i>`` -> ``combine``."""
    ops = [part(i) for i in range(parts)]

    def body() -> None:
        value = root()
        combine([part_op(value) for part_op in ops])

    result: JobDefinition = job(body, name=name)
    return result


def weighted_expected(parts: int, value: int) -> int:
    """``combine``'s output for a ``weighted_job`` of ``parts`` whose root gave ``value``."""
    return sum((i + 1) * (value + i) for i in range(parts))
