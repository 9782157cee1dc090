"""A tiny job, its plan, and the records, events and claims the storage contracts use."""

from __future__ import annotations

import time

from opgrid import job, op
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.planning.compiler import compile_plan
from opgrid.orchestrator.protocol.events import RunEvent
from opgrid.orchestrator.protocol.messages import RunRecord
from opgrid.orchestrator.store.base import RunStore


@op
def one() -> int:
    return 1


@job
def tiny():
    one()


PLAN = compile_plan(tiny)


def record(run_id: str = "r1", at: float = 1.0) -> RunRecord:
    return RunRecord(run_id=run_id, job_name="tiny", created_at=at)


def event(kind: E, step: str | None = None) -> RunEvent:
    return RunEvent(run_id="r1", kind=kind, timestamp=time.time(), step_key=step)


# Claims: who runs a step attempt ---------------------------------------------------------------
def start_of(step: str, attempt: int = 0, worker: str | None = None) -> RunEvent:
    return event(E.STEP_START, step).model_copy(update={"attempt": attempt, "worker": worker})


def begin(store: RunStore, worker: str, attempt: int = 0, lost_after_s: float = 10.0, **kw):
    return store.begin_attempt(
        "r1", "one", attempt, worker, start_of("one", attempt, worker), lost_after_s, **kw
    )
