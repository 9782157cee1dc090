"""The tick operations both stores share (``RedisTicks``, ``InMemoryTicks``), built on one
primitive each implements: ``_atomically(origin, tick id, decide)`` reads a schedule's or
sensor's state (and one stored tick), lets ``decide`` choose what to write, and writes it
as one atomic step, or nothing. The rules are in ``tick_records``.
"""

from __future__ import annotations

from collections.abc import Callable

from .tick_records import (
    InstigatorState,
    TickRecord,
    commit_rule,
    finish_rule,
    start_rule,
)

#: What an atomic update writes: the new state, tick records, run keys to add.
Writes = tuple[InstigatorState, list[TickRecord], list[str]]
#: Decides an atomic update from the stored state and tick (None: write nothing).
Decide = Callable[[InstigatorState, TickRecord | None], Writes | None]


class TickUpdates:
    """The tick operations of both stores, built on ``_atomically``."""

    def _atomically(self, origin: str, tick_id: str | None, decide: Decide) -> bool:
        raise NotImplementedError

    def start_tick(self, tick: TickRecord) -> bool:
        """Record ``tick`` as started and in flight, unless another tick is in flight or
        a tick at or after its time was recorded; whether it was."""

        def decide(state: InstigatorState, _: TickRecord | None) -> Writes | None:
            new = start_rule(state, tick)
            return None if new is None else (new, [tick], [])

        return self._atomically(tick.origin, None, decide)

    def resend_tick(self, tick: TickRecord) -> bool:
        """Update a started tick (when it was sent) while no result is in."""

        def decide(state: InstigatorState, stored: TickRecord | None) -> Writes | None:
            return None if stored is None or stored.evaluated else (state, [tick], [])

        return self._atomically(tick.origin, tick.tick_id, decide)

    def commit_tick(self, result: TickRecord) -> bool:
        """Record a tick's result, its new cursor and the run keys it launches, once:
        False (nothing written) if a result is in already or the tick is not in flight."""

        def decide(state: InstigatorState, stored: TickRecord | None) -> Writes | None:
            new = commit_rule(state, stored, result)
            return None if new is None else (new, [result], result.run_keys)

        return self._atomically(result.origin, result.tick_id, decide)

    def finish_tick(self, tick: TickRecord) -> None:
        """The tick's runs are created: record it launched; it is no longer in flight."""

        def decide(state: InstigatorState, _: TickRecord | None) -> Writes | None:
            return finish_rule(state, tick), [tick], []

        self._atomically(tick.origin, None, decide)

    def update_instigator_state(
        self, origin: str, change: Callable[[InstigatorState], InstigatorState | None]
    ) -> InstigatorState | None:
        """Change a state atomically (``change`` returns None to leave it); the new one."""
        changed: list[InstigatorState] = []

        def decide(state: InstigatorState, _: TickRecord | None) -> Writes | None:
            new = change(state)
            if new is None:
                return None
            changed.append(new)
            return new, [], []

        self._atomically(origin, None, decide)
        return changed[-1] if changed else None
