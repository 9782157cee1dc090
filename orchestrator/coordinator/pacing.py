"""How long the coordinator lets its runs' reports gather before it reads them (pure).

Every wake of the coordinator costs the same whatever it finds: a blocking read of
every owned run's stream, a write to Redis, a publish to the broker. A wake that
handles few events therefore costs most per step, and a second coordinator, which
halves each one's share of events, would double that cost if each woke as often.

When enough steps are in flight that the workers have queued work anyway
(``BATCH_IN_FLIGHT``), the coordinator waits before reading, long enough for about
``TARGET_EVENTS`` reports to arrive at the rate they have been arriving (``Pacer``
follows the rate of this coordinator's events) but never longer than the cap, which
grows with the steps in flight (``cap_s``: ``BATCH_WINDOW_S`` at ``BATCH_IN_FLIGHT``,
``BATCH_WINDOW_MAX_S`` from ``BATCH_WINDOW_FULL``). A read that had to block wakes on
the first report; when it found few, the coordinator waits the window again and reads
once more before handling them (``top_up``). A chain, with one step in flight, never
waits.
"""

from __future__ import annotations

from dataclasses import dataclass

#: With at least this many steps in flight, events are read in batches...
BATCH_IN_FLIGHT = 8
#: ...gathered for up to this long...
BATCH_WINDOW_S = 0.005
#: ...the cap growing with the steps in flight up to this, reached at BATCH_WINDOW_FULL.
BATCH_WINDOW_MAX_S = 0.05
BATCH_WINDOW_FULL = 256
#: Reports a wake aims to find.
TARGET_EVENTS = 64
#: A read that took this long had to block (one with entries waiting takes far less).
BLOCKED_S = 0.002
#: Weight of the newest wake in the smoothed rate.
SMOOTHING = 0.2


def cap_s(in_flight: int) -> float:
    """The longest wait before a read with ``in_flight`` steps sent and not ended (0: do
    not wait)."""
    if in_flight < BATCH_IN_FLIGHT:
        return 0.0
    share = min(1.0, (in_flight - BATCH_IN_FLIGHT) / (BATCH_WINDOW_FULL - BATCH_IN_FLIGHT))
    return BATCH_WINDOW_S + share * (BATCH_WINDOW_MAX_S - BATCH_WINDOW_S)


@dataclass
class Pacer:
    """This coordinator's rate of events, and the wait it makes for."""

    #: smoothed events per second (0: not known yet)
    rate: float = 0.0
    #: when (monotonic) the last read returned
    last_read: float | None = None

    def window_s(self, in_flight: int) -> float:
        """How long to wait before the next read."""
        cap = cap_s(in_flight)
        if cap == 0.0 or self.rate <= 0.0:
            return cap
        return min(cap, TARGET_EVENTS / self.rate)

    def top_up(self, window: float, waited_s: float, found: int) -> bool:
        """Whether a read that waited ``waited_s`` and found ``found`` events should be
        followed, after ``window``, by one more: when it blocked (Redis answers a read with
        entries waiting in well under ``BLOCKED_S``), woke on fewer than
        ``TARGET_EVENTS``, and there are enough steps in flight to wait for (``window``)."""
        return window > 0.0 and waited_s >= BLOCKED_S and found < TARGET_EVENTS

    def read(self, events: int, now: float) -> None:
        """A read returned ``events`` events at ``now``: follow the rate."""
        if self.last_read is not None and now > self.last_read:
            seen = events / (now - self.last_read)
            self.rate = seen if self.rate == 0.0 else self.rate + SMOOTHING * (seen - self.rate)
        self.last_read = now
