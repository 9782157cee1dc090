"""The jobs of ``bench_redis_per_step.py`` and ``bench_big_runs.py``: wide fan-outs.

``fan_<w>``: ``start`` -> ``w`` parallel ``inc`` ops (aliased ``inc_<i>``) -> ``total``
(a fan-in with a ``list[int]`` input): ``w + 2`` steps, result ``w``.

The widths are read from ``FAN_WIDTHS`` (comma-separated; ``WIDTHS`` by default) when
the module is loaded, so that a worker defines only the jobs the benchmark runs (a
100,000-op job takes seconds to define). The benchmark sets the same value for itself
and for the workers it starts.
"""

from __future__ import annotations

import os
from typing import Any

try:
    from tests.jobs.job_shapes import fan_job as _fan_job
except ModuleNotFoundError:  # loaded by file (``-f``), the repository root not on sys.path
    from job_shapes import fan_job as _fan_job

#: The widths defined when ``FAN_WIDTHS`` is not set.
WIDTHS = (20, 2000)
#: The node whose output is a run's result.
RESULT_NODE = "total"


def fan_job(width: int) -> Any:
    """``width + 2`` ops: ``start`` -> ``width`` parallel ``inc`` -> ``total``."""
    return _fan_job(width, f"fan_{width}")


def widths() -> tuple[int, ...]:
    """The widths this process defines (``FAN_WIDTHS``)."""
    given = os.environ.get("FAN_WIDTHS")
    return tuple(int(w) for w in given.split(",")) if given else WIDTHS


#: Every job of this location, by width.
JOBS: dict[int, Any] = {width: fan_job(width) for width in widths()}
for _width, _job in JOBS.items():
    globals()[f"fan_{_width}"] = _job
del _width, _job
