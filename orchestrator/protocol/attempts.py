"""Who runs a step attempt: claims, heartbeats and the verdict on a delivery.

Celery delivers a step message at least once: a worker that dies mid-step gets its
message redelivered, the broker restores messages it thinks were lost, and a
coordinator that adopts a run sends its queued steps again. So several deliveries
of one attempt can reach workers. Each worker that gets one asks for the attempt's
*claim* first, in one atomic step with recording its start; the verdict says
whether it runs the attempt:

* the step already ended (or was canceled), or this attempt ended and the step waits
  for its next one (``up_for_retry`` with the claim still at this attempt): ``SETTLED``,
  drop the delivery;
* a later attempt exists: ``STALE``, drop it;
* another worker holds the claim and its heartbeat is fresh: ``BUSY``, a duplicate,
  drop it;
* no one holds it, or the holder stopped beating (or the coordinator declared it
  lost): ``GO`` (``TAKEN_OVER`` when a lost holder is replaced).

A pool process that dies running an attempt (an op calling ``os._exit``, a crash, the
OOM killer) gets its message handed back by Celery at once, and the next delivery takes
the attempt over from the dead holder; each such death is counted per attempt
(``deaths_field``), so that after ``max_redeliveries`` of them the step fails instead
of killing processes forever.

A worker commits an attempt's outputs and status only while it still holds the
claim and the step is not final, so a zombie's late report changes nothing: step
execution is at-least-once, state changes exactly-once.

``decide`` is the rule in Python (the in-memory store runs it); the Redis store runs
the same rule as a Lua script.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from enum import Enum

from opgrid.event_type import DagsterEventType

from .events import RunEvent
from .messages import StepInputs
from .status import FINAL_STEP_STATUSES, StepStatus

#: The holder a coordinator writes into a claim when it gives up on that worker.
LOST = "lost"
#: Stored status values of steps that never change again.
FINAL_VALUES = frozenset(status.value for status in FINAL_STEP_STATUSES)


class Verdict(str, Enum):
    """What a worker does with one delivery of a step attempt."""

    GO = "go"
    TAKEN_OVER = "taken_over"
    SETTLED = "settled"
    STALE = "stale"
    BUSY = "busy"
    UNDISPATCHED = "undispatched"

    @property
    def runs(self) -> bool:
        """Whether the worker runs the attempt."""
        return self in (Verdict.GO, Verdict.TAKEN_OVER)


@dataclass(frozen=True, slots=True)
class Begun:
    """The verdict on a delivery, and what the step reads when it runs."""

    verdict: Verdict
    #: the claim's previous holder (the one replaced, or the one that made it busy)
    holder: str
    #: the step's input refs, when they were asked for and exist
    inputs: StepInputs | None
    #: the stored values asked for, in order (None where absent)
    values: list[bytes | None]
    #: how often a process running this attempt died so far (see ``deaths_field``)
    deaths: int = 0
    #: how the last one ended, as its worker saw it ("exitcode 3", "signal 9 (SIGKILL)")
    died: str = ""


def claim_of(attempt: int, holder: str) -> str:
    """The stored form of a claim."""
    return f"{attempt}:{holder}"


def lost_note(start: RunEvent, token: str) -> RunEvent:
    """The event written just before ``start`` when a delivery takes an attempt over from
    a lost holder: the start event's run, step, attempt and time, as an engine event
    naming the host of the worker ``token`` that runs it again. (The claim script builds
    the same event in Lua from the start event, so that a claim carries only the start.)"""
    host = token.split("/", 1)[0]
    return start.model_copy(
        update={
            "kind": DagsterEventType.ENGINE_EVENT,
            "worker": None,
            "message": f"attempt {start.attempt} of step '{start.step_key}' was lost with its "
            f"worker; running it again on {host}",
        }
    )


def parse_claim(claim: str) -> tuple[int, str]:
    attempt, _, holder = claim.partition(":")
    return int(attempt), holder


def deaths_field(step_key: str) -> str:
    """The field of a run's claims hash that counts the process deaths of the step's
    current attempt: ``"<attempt>:<deaths>:<how the last one ended>"``. A worker's main
    process adds one each time a pool process dies running the attempt (Celery's
    ``WorkerLostError``); the claim script hands the count to the next delivery. (``#``
    is in no step key.)"""
    return f"{step_key}#deaths"


def deaths_of(record: str | None, attempt: int) -> tuple[int, str]:
    """The deaths of ``attempt`` a stored ``deaths_field`` value counts, and how the
    last one ended; none for a record of another attempt."""
    held, _, rest = (record or "").partition(":")
    count, _, how = rest.partition(":")
    if not held.isdigit() or int(held) != attempt or not count.isdigit():
        return 0, ""
    return int(count), how


def decide(
    status: str | None,
    claim: str | None,
    beat: float | None,
    attempt: int,
    token: str,
    now: float,
    lost_after_s: float,
    take_over: str = "",
) -> tuple[Verdict, str]:
    """The verdict on a delivery of ``attempt`` to the worker ``token``, and the holder.

    Args:
        status: the step's stored status.
        claim: the step's stored claim, if any.
        beat: when the holder last sent a heartbeat.
        attempt: the delivered attempt.
        token: the receiving worker's token.
        now: the current time on the clock ``beat`` was read from.
        lost_after_s: a holder silent for this long is lost.
        take_over: a holder the receiving worker knows is dead.
    """
    if status is None or status == StepStatus.PENDING.value:
        return Verdict.UNDISPATCHED, ""
    if status in FINAL_VALUES:
        return Verdict.SETTLED, status
    if claim is None:
        return Verdict.GO, ""
    held, holder = parse_claim(claim)
    if held > attempt:
        return Verdict.STALE, holder
    if held == attempt and status == StepStatus.UP_FOR_RETRY.value:
        return Verdict.SETTLED, status  # this attempt ended; the next one is due
    if held < attempt or holder == token:
        return Verdict.GO, holder
    alive = beat is not None and beat > now - lost_after_s
    if holder != LOST and holder != take_over and alive:
        return Verdict.BUSY, holder
    return Verdict.TAKEN_OVER, holder


def attempt_ended(status: str | None, claim: str | None, attempt: int) -> bool:
    """Whether ``attempt`` of a step has ended for good, whoever asks: its step is final,
    a later attempt holds the step, or this one ended ``up_for_retry``. (A delivery of it
    would be ``SETTLED`` or ``STALE`` under ``decide``, for any worker at any time.) An
    unknown step (None) is not known to have ended."""
    if status is None:
        return False
    if status in FINAL_VALUES:
        return True
    if claim is None:
        return False
    held, _ = parse_claim(claim)
    return held > attempt or (held == attempt and status == StepStatus.UP_FOR_RETRY.value)


def attempt_unstarted(status: str | None, claim: str | None, attempt: int) -> bool:
    """Whether ``attempt`` was sent and no delivery of it has begun: the step waits
    ``queued`` with no claim of this attempt or a later one."""
    if status != StepStatus.QUEUED.value:
        return False
    return claim is None or parse_claim(claim)[0] < attempt


def worker_token() -> str:
    """A name for this process's claims: ``<host>/<pid>/<random>``."""
    return f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"


def died_here(holder: str) -> bool:
    """Whether ``holder`` is a process of this host that no longer exists.

    A worker whose pool process was killed gets the message back at once; the dead
    process's heartbeat still looks fresh, but on the same host its death is certain.
    """
    host, _, rest = holder.partition("/")
    pid_text = rest.partition("/")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
