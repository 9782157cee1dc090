"""The coordinator process's garbage-collector settings (``coordinator.collector``)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from opgrid.orchestrator.coordinator import collector


@pytest.fixture
def restored() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.set_threshold(*thresholds)
    gc.unfreeze()


def test_settle_freezes_what_start_up_made_and_collects_the_young_less_often(
    restored: None,
) -> None:
    collector.settle()
    assert gc.get_threshold() == (collector.YOUNG_THRESHOLD, *collector.OLDER_THRESHOLDS)
    assert gc.get_freeze_count() > 0
    assert gc.isenabled()  # cyclic garbage is still collected
