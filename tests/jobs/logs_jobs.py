"""Jobs for the structured-log tests: ops that log through Python's ``logging``.

``tests/integration/test_logs.py`` starts ``opgrid worker -f`` this file; the lines
its ops log must name the run and the step they were logged in.
"""

from __future__ import annotations

import logging

from opgrid import job, op

logger = logging.getLogger("tests.jobs.logs_jobs")


@op
def load() -> int:
    logger.info("loading the number")
    return 2


@op
def double(value: int) -> int:
    logger.warning("doubling %d", value)
    return value * 2


@job
def logged() -> None:
    """Two ops, each logging one line."""
    double(load())
