"""The jobs of ``bench_load.py``: a code location the load benchmark's workers load by file.

The workers are started with ``opgrid worker -f <this file>`` and find each job by
name; the benchmark (and ``tests/integration/test_load.py``) imports the same module
to submit them. Every job is defined at module level.

``load_<n>`` has ``n`` cheap ops: ``seed`` (its value comes from the run config, so
that every run of a wave computes a result of its own) -> ``n - 2`` parallel
``part_<i>`` ops (``x + i``) -> ``combine``, a fan-in with a ``list[int]`` input that
returns ``sum((k + 1) * x_k)``. The weights make the result depend on the order of
the list too: a run that read another run's output, or one part's output twice, or
the parts in the wrong order, gives a result other than ``expected(n, seed)``.
"""

from __future__ import annotations

from typing import Any

from opgrid import Config, JobDefinition, op

try:
    from tests.jobs.job_shapes import weighted_expected, weighted_job
except ModuleNotFoundError:  # loaded by file (``-f``), the repository root not on sys.path
    from job_shapes import weighted_expected, weighted_job

#: The sizes (ops per run) a job is defined for.
SIZES = (5, 10, 20, 50)
#: The node whose output is a run's result.
RESULT_NODE = "combine"


class SeedConfig(Config):
    value: int = 0


@op
def seed(config: SeedConfig) -> int:
    return config.value


def load_job(ops: int) -> JobDefinition:
    """``ops`` ops: ``seed`` -> ``ops - 2`` parallel ``part_<i>`` -> ``combine``."""
    return weighted_job(seed, ops - 2, f"load_{ops}")


def run_config(value: int) -> dict[str, Any]:
    """The run config that seeds a run with ``value``."""
    return {"ops": {"seed": {"config": {"value": value}}}}


def expected(ops: int, value: int) -> int:
    """The result of a ``load_<ops>`` run seeded with ``value``."""
    return weighted_expected(ops - 2, value)


load_5 = load_job(5)
load_10 = load_job(10)
load_20 = load_job(20)
load_50 = load_job(50)

#: Every job of this location, by its number of ops.
JOBS: dict[int, JobDefinition] = {5: load_5, 10: load_10, 20: load_20, 50: load_50}
