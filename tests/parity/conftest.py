"""The parity suite: one set of jobs, run on opgrid or on Dagster (``PARITY_TARGET``).

Nothing here imports opgrid unless opgrid is the target, so the suite runs in a
venv that has only Dagster and pytest.
"""

from __future__ import annotations

import warnings

import pytest

from .shim import TARGET


def pytest_report_header() -> str:
    return f"parity target: {TARGET}"


@pytest.fixture(autouse=True)
def _quiet_library_warnings():
    # Dagster marks parts of its API beta/preview with warnings; they say nothing about
    # behaviour, which is what these tests compare. opgrid's warnings stay errors.
    if TARGET != "dagster":
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
