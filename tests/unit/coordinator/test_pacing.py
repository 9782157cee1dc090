"""How long the coordinator lets reports gather before a read (``coordinator.pacing``)."""

from __future__ import annotations

import pytest

from opgrid.orchestrator.coordinator import pacing
from opgrid.orchestrator.coordinator.pacing import Pacer, cap_s


def test_the_cap_is_none_for_a_chain_and_grows_with_the_steps_in_flight() -> None:
    assert cap_s(1) == 0.0
    assert cap_s(pacing.BATCH_IN_FLIGHT - 1) == 0.0
    assert cap_s(pacing.BATCH_IN_FLIGHT) == pacing.BATCH_WINDOW_S
    caps = [cap_s(n) for n in range(pacing.BATCH_IN_FLIGHT, 1000)]
    assert caps == sorted(caps)
    assert cap_s(pacing.BATCH_WINDOW_FULL) == pacing.BATCH_WINDOW_MAX_S
    assert cap_s(100_000) == pacing.BATCH_WINDOW_MAX_S


def test_a_chain_never_waits_whatever_the_rate() -> None:
    pacer = Pacer()
    pacer.read(0, 1.0)
    pacer.read(1, 1.001)
    assert pacer.window_s(1) == 0.0


def test_the_wait_is_the_cap_until_a_rate_is_known_then_what_finds_the_target() -> None:
    pacer = Pacer()
    assert pacer.window_s(10_000) == pacing.BATCH_WINDOW_MAX_S
    pacer.read(0, 10.0)
    pacer.read(6_400, 11.0)  # 6,400 events a second: the target arrives in 10 ms
    assert pacer.window_s(10_000) == pytest.approx(pacing.TARGET_EVENTS / 6_400)
    assert pacer.window_s(pacing.BATCH_IN_FLIGHT) == pacing.BATCH_WINDOW_S  # capped


def test_half_the_events_make_for_twice_the_wait_so_each_wake_finds_as_many() -> None:
    """A second coordinator halves each one's share of events: each then wakes half as
    often (within the cap), and handles as many events per wake."""
    one, two = Pacer(), Pacer()
    for i in range(50):
        one.read(0 if i == 0 else 40, 1.0 + i * 0.01)  # 4,000 events a second
        two.read(0 if i == 0 else 20, 1.0 + i * 0.01)  # 2,000
    assert one.rate == pytest.approx(4_000)
    assert two.rate == pytest.approx(2_000)
    assert two.window_s(10_000) == pytest.approx(2 * one.window_s(10_000))


def test_a_slower_rate_is_followed_smoothly() -> None:
    pacer = Pacer()
    pacer.read(0, 0.0)
    pacer.read(1_000, 1.0)
    pacer.read(0, 2.0)  # a quiet second
    assert 0 < pacer.rate < 1_000


def test_a_read_that_blocked_and_woke_on_few_reports_is_topped_up() -> None:
    pacer = Pacer()
    window = pacer.window_s(10_000)
    assert pacer.top_up(window, waited_s=0.3, found=1)
    assert not pacer.top_up(window, waited_s=0.3, found=pacing.TARGET_EVENTS)  # enough
    assert not pacer.top_up(window, waited_s=0.0005, found=1)  # did not block: all there
    assert not pacer.top_up(pacer.window_s(1), waited_s=0.3, found=1)  # a chain: never
