"""Turning schedules and sensors on and off, and canceling backfills: what ``opgrid
schedule|sensor start|stop``, ``opgrid backfill cancel`` and the web UI's buttons do,
written once on the store's public methods.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from opgrid.errors import BackfillNotFound, DagsterInvariantViolationError, InstigatorNotFound
from opgrid.event_type import DagsterEventType
from opgrid.orchestrator.protocol.events import RunEvent
from opgrid.orchestrator.scheduling.definitions import InstigatorDef
from opgrid.orchestrator.scheduling.evaluation import InstigatorType
from opgrid.orchestrator.scheduling.tick_task import origin_of
from opgrid.orchestrator.store.base import RunStore
from opgrid.orchestrator.store.tick_records import InstigatorState, switch_rule


def set_running(
    store: RunStore,
    kind: InstigatorType,
    name: str,
    running: bool,
    known: Iterable[InstigatorDef],
    now: float | None = None,
) -> InstigatorState:
    """Record a schedule or sensor on or off (it ticks from now on); its new state.

    Args:
        store: the cluster's storage.
        kind: schedule or sensor.
        name: its name.
        running: on (True) or off.
        known: the definitions that may be switched (published by workers, or loaded).
        now: the current time (``time.time()``).

    Raises:
        InstigatorNotFound: no definition of ``known`` is a ``kind`` named ``name``.
    """
    if not any(d.kind is kind and d.name == name for d in known):
        raise InstigatorNotFound(
            f"no {kind.value} {name!r} is known: no worker published one (start a worker "
            "serving its code location) and no loaded code location defines one"
        )
    moment = time.time() if now is None else now
    new = store.update_instigator_state(
        origin_of(kind, name), lambda state: switch_rule(state, kind, running, moment)
    )
    assert new is not None  # switch_rule always writes
    return new


def cancel_backfill(store: RunStore, backfill_id: str, now: float | None = None) -> list[str]:
    """Launch no more partitions of a backfill and ask its runs in flight to stop; the ids
    of those runs.

    Raises:
        BackfillNotFound: no backfill ``backfill_id``.
        DagsterInvariantViolationError: the backfill is completed or canceled already.
    """
    progress = store.get_backfill(backfill_id)
    if progress is None:
        raise BackfillNotFound(f"no backfill {backfill_id!r} (see `opgrid backfill list`)")
    if progress.record.status != "requested":
        raise DagsterInvariantViolationError(
            f"backfill {backfill_id} is {progress.record.status} already"
        )
    store.save_backfill(progress.record.model_copy(update={"status": "canceled"}))
    in_flight = [r for k, r in progress.launched.items() if k not in progress.finished]
    moment = time.time() if now is None else now
    for run_id in in_flight:
        event = RunEvent(
            run_id=run_id,
            kind=DagsterEventType.RUN_CANCELING,
            timestamp=moment,
            message="backfill canceled",
        )
        store.append_events(run_id, [event])
    return in_flight
