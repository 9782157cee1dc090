"""Shared fixtures for the Dagster-semantics suite.

Every semantic test executes jobs through the ``execute`` fixture so the same
tests can later be pointed at another executor.
"""

import pytest


@pytest.fixture
def execute():
    def _execute(job, **kwargs):
        return job.execute_in_process(**kwargs)

    return _execute


@pytest.fixture
def events_for():
    """events_for(result, step_key) -> list of event_type_value strings for that step."""

    def _events_for(result, step_key):
        return [e.event_type_value for e in result.all_events if e.step_key == step_key]

    return _events_for
