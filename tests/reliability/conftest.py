"""Fixtures of the fault tests: a ``procs`` that stops every process it started."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from opgrid.orchestrator.settings import Settings
from tests.harness.processes import Processes


@pytest.fixture
def procs(settings: Settings, tmp_path: Path) -> Iterator[Processes]:
    processes = Processes(settings, tmp_path)
    try:
        yield processes
    finally:
        processes.stop_all()
