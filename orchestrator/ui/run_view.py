"""What a run page shows, worked out from a run's stored facts.

A ``RunView`` is read in a few round trips (record, plan, step statuses, claims,
events) and derives every step attempt's timeline from the events: when the attempt
became due (its upstream steps' successes, the run's start, or the end of its retry
delay), when a worker started it, when it ended and how, and the redeliveries the
coordinator announced. Which worker ran each attempt (host and pid) comes from its
start event; for logs written before start events named their worker, the current
attempt's worker comes from the run's claims hash (``Keys.claims``).

A run's plan is written once and its event stream is only appended to, so this process
keeps the plans and parsed events of the runs it showed last (``_Seen``): a page read
again parses only the events added since.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from .cluster import (
    ClusterHandle,
    DagsterEventType,
    ErrorInfo,
    ExecutionPlan,
    RunEvent,
    RunRecord,
    redis_errors,
)

E = DagsterEventType

#: Event kinds that end a step attempt, and the outcome each means.
_ENDS = {
    E.STEP_SUCCESS: "success",
    E.STEP_FAILURE: "failure",
    E.STEP_UP_FOR_RETRY: "up_for_retry",
    E.STEP_CANCELED: "canceled",
}
_STARTS = (E.STEP_START, E.STEP_RESTARTED)


@dataclass(slots=True)
class Attempt:
    """One attempt of one step, as the Gantt chart draws it."""

    step_key: str
    number: int
    due_at: float | None = None
    started_at: float | None = None
    ended_at: float | None = None
    outcome: str = "running"
    host: str = ""
    pid: str = ""
    redeliveries: list[str] = field(default_factory=list)
    error: ErrorInfo | None = None

    @property
    def queue_wait_s(self) -> float | None:
        if self.due_at is None or self.started_at is None:
            return None
        return max(0.0, self.started_at - self.due_at)


@dataclass(frozen=True, slots=True)
class RunView:
    """A run's record, plan, step statuses, attempts and events at one moment."""

    record: RunRecord
    plan: ExecutionPlan
    statuses: dict[str, str]
    attempts: list[Attempt]
    events: list[tuple[str, RunEvent]]

    @property
    def cursor(self) -> str:
        return self.events[-1][0] if self.events else "0-0"

    def node_statuses(self) -> dict[str, str]:
        """Node handle (mapped copies folded into their template) -> the status shown."""
        folded: dict[str, str] = {}
        for key, status in self.statuses.items():
            node = key.split("[", 1)[0]
            current = folded.get(node)
            if current is None or _RANK.get(status, 0) > _RANK.get(current, 0):
                folded[node] = status
        return folded


#: When mapped copies disagree, the status their template node shows.
_RANK = {
    "failure": 9,
    "running": 8,
    "up_for_retry": 7,
    "queued": 6,
    "canceled": 5,
    "pending": 4,
    "abandoned": 3,
    "skipped": 2,
    "success": 1,
}


def load_run(cluster: ClusterHandle, run_id: str) -> RunView:
    """Everything a run page shows.

    Raises:
        RunNotFound: there is no such run.
    """
    store = cluster.store
    record = store.get_run(run_id)
    key = (cluster.keys.namespace, run_id)
    seen = _seen.get(key)
    plan = seen[0] if seen is not None else store.get_plan(run_id)
    statuses = store.step_statuses(run_id)
    with redis_errors(f"reading the claims of run {run_id}"):
        claims = cluster.redis.hgetall(cluster.keys.claims(run_id))
    known = seen[1] if seen is not None else []
    added = store.read_events(run_id, after=known[-1][0] if known else "0-0")
    events = known + added
    _seen.put(key, plan, events)
    attempts = build_attempts(plan, record, [e for _, e in events], _claims(claims))
    return RunView(record, plan, statuses, attempts, events)


#: Runs whose plan and parsed events this process keeps (the most recently shown).
SEEN_RUNS = 32


class _Seen:
    """Plans and parsed events of the runs shown last, least recently used out."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._runs: OrderedDict[tuple[str, str], tuple[ExecutionPlan, list[Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> tuple[ExecutionPlan, list[Any]] | None:
        with self._lock:
            found = self._runs.get(key)
            if found is not None:
                self._runs.move_to_end(key)
            return found

    def put(self, key: tuple[str, str], plan: ExecutionPlan, events: list[Any]) -> None:
        with self._lock:
            current = self._runs.get(key)
            if current is None or len(current[1]) <= len(events):
                self._runs[key] = (plan, events)
                self._runs.move_to_end(key)
            while len(self._runs) > self.size:
                self._runs.popitem(last=False)


_seen = _Seen(SEEN_RUNS)


def _claims(raw: dict[bytes, bytes]) -> dict[str, tuple[int, str, str]]:
    """Step key -> (attempt, host, pid) of the worker that claimed its current attempt."""
    found: dict[str, tuple[int, str, str]] = {}
    for key, value in raw.items():
        attempt, _, token = value.decode().partition(":")
        host, _, rest = token.partition("/")
        if attempt.isdigit():
            found[key.decode()] = (int(attempt), host, rest.partition("/")[0])
    return found


def build_attempts(
    plan: ExecutionPlan,
    record: RunRecord,
    events: list[RunEvent],
    claims: dict[str, tuple[int, str, str]],
) -> list[Attempt]:
    """Every step attempt the events tell of, in the order they started."""
    sources = {step.key: [s.step for i in step.inputs for s in i.sources] for step in plan.steps}
    run_start = next((e.timestamp for e in events if e.kind is E.RUN_START), record.created_at)
    succeeded: dict[str, float] = {}
    retry_due: dict[str, float] = {}
    attempts: dict[tuple[str, int], Attempt] = {}
    for event in events:
        key = event.step_key
        if key is None:
            continue
        slot = (key, event.attempt)
        if event.kind in _STARTS:
            due = retry_due.get(key) if event.attempt else _due(key, sources, succeeded, run_start)
            attempt = attempts.setdefault(slot, Attempt(key, event.attempt))
            attempt.due_at = attempt.due_at if attempt.due_at is not None else due
            attempt.started_at = attempt.started_at or event.timestamp
            if event.worker:  # start events name their worker (host/pid): every attempt's
                attempt.host, _, attempt.pid = event.worker.partition("/")
        elif event.kind in _ENDS and slot in attempts:
            _end(attempts[slot], event, succeeded, retry_due)
        elif event.kind is E.STEP_FAILURE:  # failed before a worker started it (lost, timeout)
            attempt = attempts.setdefault(slot, Attempt(key, event.attempt))
            _end(attempt, event, succeeded, retry_due)
        elif event.kind is E.ENGINE_EVENT and event.message:
            attempts.setdefault(slot, Attempt(key, event.attempt)).redeliveries.append(
                event.message
            )
    for (key, number), attempt in attempts.items():
        claim = claims.get(key)
        if claim is not None and claim[0] == number and not attempt.host:  # older logs
            attempt.host, attempt.pid = claim[1], claim[2]
    return sorted(attempts.values(), key=lambda a: a.started_at or a.ended_at or 0.0)


def _due(
    key: str, sources: dict[str, list[str]], succeeded: dict[str, float], run_start: float
) -> float:
    template = key.split("[", 1)[0] if "[" in key else key
    upstream = sources.get(key) or sources.get(template) or []
    times = [succeeded[s] for s in upstream if s in succeeded]
    return max([run_start, *times])


def _end(
    attempt: Attempt, event: RunEvent, succeeded: dict[str, float], retry_due: dict[str, float]
) -> None:
    attempt.ended_at = event.timestamp
    attempt.outcome = _ENDS.get(event.kind, "failure")
    attempt.error = event.error or attempt.error
    if event.kind is E.STEP_SUCCESS and event.step_key is not None:
        succeeded[event.step_key] = event.timestamp
        succeeded[event.step_key.split("[", 1)[0]] = event.timestamp
    if event.kind is E.STEP_UP_FOR_RETRY and event.step_key is not None:
        retry_due[event.step_key] = event.timestamp + (event.retry_delay_s or 0.0)


def event_filter(
    events: list[tuple[str, RunEvent]], step: str = "", kind: str = "", level: str = ""
) -> list[tuple[str, RunEvent]]:
    """The events of one step (its mapped copies too), kind and log level, when given."""
    found = []
    for entry in events:
        event = entry[1]
        if step and not (event.step_key or "").startswith(step):
            continue
        if kind and event.kind.value != kind and event.kind.name != kind:
            continue
        if level and (event.level or "").upper() != level.upper():
            continue
        found.append(entry)
    return found


def summary(view: RunView) -> dict[str, Any]:
    """Counts of steps by status."""
    counts: dict[str, int] = {}
    for status in view.statuses.values():
        counts[status] = counts.get(status, 0) + 1
    return counts
