"""Shared fixtures for the Dagster-semantics suite.

Every semantic test executes jobs through the ``execute`` fixture, which runs
them once in process and once on a real cluster (redis-server, Celery worker,
coordinator); both must give Dagster's results.
"""

from __future__ import annotations

import pytest


@pytest.fixture(params=["in_process", pytest.param("cluster", marks=pytest.mark.integration)])
def execute(request):
    if request.param == "in_process":

        def _execute(job, **kwargs):
            return job.execute_in_process(**kwargs)

        return _execute
    return request.getfixturevalue("session_cluster").execute


@pytest.fixture
def events_for():
    """events_for(result, step_key) -> list of event_type_value strings for that step."""

    def _events_for(result, step_key):
        return [e.event_type_value for e in result.all_events if e.step_key == step_key]

    return _events_for
