"""Watching the workers, as pure decisions: no Redis, Celery, clock or logging.

Every ``step_heartbeat_s`` the loop asks ``to_watch`` which steps of an owned run need
their heartbeats read: the running ones, (with ``queue_timeout_s``) the ones sent
longer ago than that which no worker started, and (with ``no_consumer_timeout_s``) the
ones waiting on a queue that has had no live consumer for that long, by the worker
registry (``unconsumed_since`` keeps since when; a busy queue, with live consumers,
is a backlog and waits). It reads those beats, with Redis' clock, and ``decide``
answers what to do about each step, in order:

- a running step whose beat is fresh: nothing;
- a running step whose beat is missing or older than ``step_lost_after_s``: when it
  started longer ago than its time limit (``opgrid/timeout_s``), ``FailStep`` with
  ``StepTimeLimitExceeded`` (its process was killed); else, while redeliveries are
  left (``max_redeliveries``), ``Redeliver`` the same attempt; else ``FailStep`` with
  ``StepLost``;
- a step no worker took within the queue timeout and without a beat: ``FailStep``
  with ``StepLost``, revoking the attempt (with a beat, a worker just started it);
- a step without a beat whose queue has had no live consumer for the no-consumer
  timeout: ``FailStep`` with ``StepLost`` naming the queue and how long, revoking it.
  Live workers that hold another ``OPGRID_SECRET`` (their fingerprint in the registry
  differs) refuse every request, so they do not count as consumers, and the error
  says so.

The loop performs the decisions: it writes their events only if the step is still in a
status ``expect`` names (the step may have ended meanwhile), then sends or revokes.
A redelivered step waits for a worker like a queued one (in ``sent_at`` until a worker
starts it), so it is watched by the queue timeout, not as a running step.

A retry with a delay (``RetryPolicy(delay=...)``) is held by the coordinator, not by a
broker message with a countdown (which a worker would hold in its memory and lose with
it): ``retries_due`` answers which held retries are due at a time, and ``next_retry_at``
when the loop must wake for the next one. The due time comes from the failed attempt's
event in the run's log, so a coordinator that adopts the run holds it until the same
time. A retry counts as sent (for the queue timeout) from when it is dispatched.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from opgrid.errors import OpgridError, StepLost, StepTimeLimitExceeded
from opgrid.orchestrator.planning.state import DispatchStep
from opgrid.orchestrator.protocol.status import IN_FLIGHT, StepStatus
from opgrid.orchestrator.protocol.tags import TIMEOUT_TAG
from opgrid.orchestrator.settings import Settings

from .owned import OwnedRun

#: Statuses in which a step failed for having gone silent may be failed.
_RUNNING = ("running",)
#: Statuses in which a step no worker took may be failed.
_NOT_TAKEN = ("queued", "up_for_retry", "running")


@dataclass(frozen=True, slots=True)
class Watch:
    """The steps of one run whose heartbeats to read, running ones first."""

    running: tuple[str, ...] = ()
    #: sent longer than ``queue_timeout_s`` ago, and no worker started them
    waiting: tuple[str, ...] = ()
    #: waiting on a queue without a live consumer for ``no_consumer_timeout_s``
    unconsumed: tuple[str, ...] = ()
    #: queues whose live workers all hold another secret
    mismatched: frozenset[str] = frozenset()

    @property
    def step_keys(self) -> list[str]:
        return [*self.running, *self.waiting, *self.unconsumed]


@dataclass(frozen=True, slots=True)
class Redeliver:
    """Take the attempt from its silent worker and send it again."""

    step_key: str
    attempt: int
    #: the engine event's message (and the warning logged)
    message: str


@dataclass(frozen=True, slots=True)
class FailStep:
    """End the attempt as failed, on the coordinator's own authority."""

    step_key: str
    attempt: int
    error_cls: type[OpgridError]
    reason: str
    #: only from these step statuses (else it ended meanwhile and is left alone)
    expect: tuple[str, ...]
    #: whether to revoke the attempt once failed (it may still sit in a queue)
    revoke: bool = False


Decision = Redeliver | FailStep


def unconsumed_since(
    previous: Mapping[str, float],
    queues: Iterable[str],
    consumed: Collection[str],
    monotonic_now: float,
) -> dict[str, float]:
    """Since when each of ``queues`` (those steps wait on) has had no live consumer: as
    ``previous`` said, else from ``monotonic_now``; a queue with a consumer drops out."""
    return {q: previous.get(q, monotonic_now) for q in set(queues) if q not in consumed}


def waiting_queues(owned: OwnedRun, default_queue: str) -> set[str]:
    """The queues of the steps of ``owned`` that were sent and that no worker started."""
    statuses = owned.state.statuses()
    return {
        owned.queue(key, default_queue) for key in owned.sent_at if statuses.get(key) in IN_FLIGHT
    }


def to_watch(
    owned: OwnedRun,
    monotonic_now: float,
    settings: Settings,
    unconsumed: Mapping[str, float] | None = None,
    mismatched: Collection[str] = (),
) -> Watch:
    """The steps of ``owned`` whose heartbeats ``decide`` needs, at ``monotonic_now``;
    ``unconsumed``: since when queues have had no live consumer (``unconsumed_since``);
    ``mismatched``: those of them whose live workers hold another secret."""
    statuses = owned.state.statuses()
    running = tuple(
        key
        for key, status in statuses.items()
        if status is StepStatus.RUNNING and key not in owned.sent_at
    )
    sent = [(key, at) for key, at in owned.sent_at.items() if statuses.get(key) in IN_FLIGHT]
    waiting: tuple[str, ...] = ()
    if settings.queue_timeout_s:
        due = monotonic_now - settings.queue_timeout_s
        waiting = tuple(key for key, at in sent if at < due)
    idle: tuple[str, ...] = ()
    if settings.no_consumer_timeout_s and unconsumed:
        due = monotonic_now - settings.no_consumer_timeout_s
        idle = tuple(
            key
            for key, at in sent
            if key not in waiting
            and _unconsumed_before(unconsumed, owned.queue(key, settings.default_queue), at, due)
        )
    return Watch(running, waiting, idle, frozenset(mismatched))


def _unconsumed_before(
    unconsumed: Mapping[str, float], queue: str, sent_at: float, due: float
) -> bool:
    """Whether the step sent at ``sent_at`` has waited since ``due`` on ``queue`` while it
    had no live consumer (both the step and the queue's idleness at least that old)."""
    since = unconsumed.get(queue)
    return since is not None and max(sent_at, since) <= due


def decide(
    owned: OwnedRun,
    watch: Watch,
    redis_now: float,
    beats: Sequence[float | None],
    settings: Settings,
) -> list[Decision]:
    """What to do about the watched steps, given their last beats (``None``: none) in the
    order of ``watch.step_keys`` and Redis' clock ``redis_now``."""
    if len(beats) != len(watch.step_keys):
        raise ValueError(f"{len(beats)} beat(s) for {len(watch.step_keys)} step(s)")
    decisions: list[Decision] = []
    ran, waited = len(watch.running), len(watch.running) + len(watch.waiting)
    for key, beat in zip(watch.running, beats[:ran], strict=True):
        if beat is None or beat < redis_now - settings.step_lost_after_s:
            silent_s = redis_now - beat if beat is not None else None
            decisions.append(_lost(owned, key, silent_s, redis_now, settings))
    for key, beat in zip(watch.waiting, beats[ran:waited], strict=True):
        if beat is None:  # else a worker started it a moment ago
            decisions.append(_not_taken(owned, key, settings))
    for key, beat in zip(watch.unconsumed, beats[waited:], strict=True):
        if beat is None:
            decisions.append(_unconsumed(owned, key, settings, watch.mismatched))
    return decisions


def _lost(
    owned: OwnedRun, key: str, silent_s: float | None, redis_now: float, settings: Settings
) -> Decision:
    """A running step's worker went silent: deliver the attempt again, or fail it."""
    attempt = owned.state.current_attempt(key)
    silence = f"no heartbeat for {silent_s:.0f} s" if silent_s is not None else "no heartbeat"
    limit = owned.time_limit_s(key)
    started = owned.started_at.get(key)  # the worker's clock; ``redis_now`` is Redis's
    if limit is not None and started is not None and redis_now - started >= limit:
        reason = (
            f"op {owned.state.step_plan(key).key!r} (step {key!r}) ran longer than its time "
            f"limit of {limit:g} s (tag {TIMEOUT_TAG}); its process was killed"
        )
        return FailStep(key, attempt, StepTimeLimitExceeded, reason, _RUNNING)
    done = owned.redelivered.get(key, 0)
    if done >= settings.max_redeliveries:
        reason = (
            f"step {key!r} attempt {attempt}: its worker was lost ({silence}) and "
            f"{done} redelivery(ies) did not finish it"
        )
        return FailStep(key, attempt, StepLost, reason, _RUNNING)
    message = (
        f"step {key!r} attempt {attempt}: its worker was lost ({silence}); "
        f"delivering it again ({done + 1} of {settings.max_redeliveries})"
    )
    return Redeliver(key, attempt, message)


def _not_taken(owned: OwnedRun, key: str, settings: Settings) -> FailStep:
    """No worker started a queued step within ``queue_timeout_s``: it fails."""
    attempt = owned.state.current_attempt(key)
    queue = owned.queue(key, settings.default_queue)
    reason = (
        f"step {key!r} was not started within {settings.queue_timeout_s:g} s of "
        f"being queued on {queue!r}: no worker took it (does a worker consume {queue!r}?)"
    )
    return FailStep(key, attempt, StepLost, reason, _NOT_TAKEN, revoke=True)


def retries_due(owned: OwnedRun, now: float) -> tuple[list[DispatchStep], list[str]]:
    """The held retries of ``owned`` to send at ``now`` (the clock of event timestamps),
    and the keys of all held retries to forget: those and the ones whose step moved on
    (canceled, or already at another attempt) meanwhile."""
    due: list[DispatchStep] = []
    forget: list[str] = []
    for key, (attempt, due_at) in owned.retry_due.items():
        moved_on = (
            owned.state.status_of(key) is not StepStatus.UP_FOR_RETRY
            or owned.state.current_attempt(key) != attempt
        )
        if moved_on or due_at <= now:
            forget.append(key)
        if not moved_on and due_at <= now:
            due.append(DispatchStep(key, attempt))
    return due, forget


def next_retry_at(runs: Iterable[OwnedRun]) -> float | None:
    """When the earliest retry held for ``runs`` is due; None when none is held."""
    return min((due for run in runs for _, due in run.retry_due.values()), default=None)


def _unconsumed(
    owned: OwnedRun, key: str, settings: Settings, mismatched: Collection[str]
) -> FailStep:
    """A queued step's queue had no live consumer for ``no_consumer_timeout_s``: it fails."""
    attempt = owned.state.current_attempt(key)
    queue = owned.queue(key, settings.default_queue)
    if queue in mismatched:
        reason = (
            f"step {key!r} waited {settings.no_consumer_timeout_s:g} s on queue {queue!r}, "
            "whose live workers hold another OPGRID_SECRET than this coordinator and refuse "
            "its requests (their secret fingerprints differ: see opgrid job submit's "
            "warning or the cluster page): give every process of the cluster the same secret"
        )
        return FailStep(key, attempt, StepLost, reason, _NOT_TAKEN, revoke=True)
    reason = (
        f"step {key!r} waited on queue {queue!r}, which had no live consumer for "
        f"{settings.no_consumer_timeout_s:g} s (OPGRID_NO_CONSUMER_TIMEOUT_S): start a worker "
        f"that consumes it (opgrid worker -Q {queue}) or send the op to another queue"
    )
    return FailStep(key, attempt, StepLost, reason, _NOT_TAKEN, revoke=True)
