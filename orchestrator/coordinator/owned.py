"""What the coordinator keeps about each run it owns, and its running counts of them.

``OwnedRun`` is one run's bookkeeping: its record, plan and state, how far its event
stream was read, and the facts supervision needs (when each step was sent and
started, how often it was delivered again). ``Tally`` counts the owned runs by status
and their steps by status as runs come, change and go, so that handing the hooks a
``Counts`` costs a copy of two small dicts, not a pass over every step.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.planning.plan import ExecutionPlan, PlanStep
from opgrid.orchestrator.planning.state import RunState
from opgrid.orchestrator.protocol.events import RunEvent
from opgrid.orchestrator.protocol.messages import RunRecord, StepInputs, StepRequest
from opgrid.orchestrator.protocol.status import IN_FLIGHT, RunStatus, StepStatus
from opgrid.orchestrator.protocol.tags import PRIORITY_TAG, TIMEOUT_TAG, step_queue

from .hooks import Counts

#: While their steps change, the owned runs are counted again at most this often.
COUNT_EVERY_S = 0.5
#: Events after which a worker runs the step (its attempt left the queue).
_STARTS = frozenset({E.STEP_START, E.STEP_RESTARTED})


@dataclass
class OwnedRun:
    """One run this coordinator owns."""

    record: RunRecord
    plan: ExecutionPlan
    state: RunState
    #: the id of the last entry of the run's event stream read
    cursor: str
    steps: dict[str, PlanStep] = field(default_factory=dict)
    #: step key -> when (monotonic) its attempt was sent, while no worker started it
    sent_at: dict[str, float] = field(default_factory=dict)
    #: step key -> when (event time) its current attempt started
    started_at: dict[str, float] = field(default_factory=dict)
    #: step key -> how often its attempt was delivered again after its worker was lost
    redelivered: dict[str, int] = field(default_factory=dict)
    #: step key -> (attempt, when due) of a retry held until its delay has passed (the
    #: time is the failed attempt's event time plus the delay, as the run's log says)
    retry_due: dict[str, tuple[int, float]] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        return self.record.run_id

    def track(self, event: RunEvent) -> None:
        """Note when steps start, for the queue timeout and time limits."""
        if event.step_key is not None and event.kind in _STARTS:
            self.sent_at.pop(event.step_key, None)
            self.started_at[event.step_key] = event.timestamp

    def in_flight(self) -> list[tuple[str, int]]:
        """(step key, current attempt) of every step sent and not ended."""
        return [
            (key, self.state.current_attempt(key))
            for key, status in self.state.statuses().items()
            if status in IN_FLIGHT
        ]

    def step_inputs(self, step_key: str) -> StepInputs:
        """Where the step's input values are stored, for a worker that cannot tell."""
        refs = self.state.input_values(step_key)
        return StepInputs(
            refs={
                name: [(r.step_key, r.output, r.mapping_key) for r in values]
                for name, values in refs.items()
            }
        )

    def request(self, step_key: str, attempt: int) -> StepRequest:
        """What a worker is sent to run ``attempt`` of ``step_key``."""
        return StepRequest(
            run_id=self.record.run_id,
            step_key=step_key,
            attempt=attempt,
            job_name=self.record.job_name,
            location=self.record.location,
        )

    def queue(self, step_key: str, default_queue: str) -> str:
        """The step's ``opgrid/queue`` (op tag, else run tag, else ``default_queue``)."""
        step = self.state.step_plan(step_key)
        return step_queue(step.tags, self.record.tags, default_queue)

    def priority(self, step_key: str) -> int | None:
        """The step's ``opgrid/priority`` (op tag, else run tag), if any."""
        step = self.state.step_plan(step_key)
        priority = step.tags.get(PRIORITY_TAG, self.record.tags.get(PRIORITY_TAG))
        return int(priority) if priority is not None else None

    def time_limit_s(self, step_key: str) -> float | None:
        """The step's ``opgrid/timeout_s`` (op tag, else run tag; checked at submit)."""
        step = self.state.step_plan(step_key)
        limit = step.tags.get(TIMEOUT_TAG, self.record.tags.get(TIMEOUT_TAG))
        return float(limit) if limit is not None else None


class Tally:
    """The owned runs by status and their steps by status, as last counted.

    A run is counted when adopted and counted out when given up; one whose steps
    changed is counted again by ``recount``, at most every ``COUNT_EVERY_S``.
    """

    def __init__(self) -> None:
        self._runs: Counter[RunStatus] = Counter()
        self._steps: Counter[StepStatus] = Counter()
        #: run id -> (its status, its steps by status) as counted in the totals
        self._of: dict[str, tuple[RunStatus, Counter[StepStatus]]] = {}
        #: owned runs whose steps changed since they were last counted
        self._changed: set[str] = set()
        self._next_recount = 0.0

    def changed(self, run_id: str) -> None:
        """The run's steps changed (or may have): count it again when due."""
        self._changed.add(run_id)

    def recount(self, runs: Mapping[str, OwnedRun], monotonic_now: float) -> bool:
        """Count the changed runs again if due; whether the totals were refreshed."""
        if not self._changed or monotonic_now < self._next_recount:
            return False
        changed, self._changed = self._changed, set()
        for run_id in changed:
            self.count(runs[run_id])
        self._next_recount = monotonic_now + COUNT_EVERY_S
        return True

    def count(self, owned: OwnedRun) -> None:
        """Count one run again (a pass over its steps)."""
        self._uncount(owned.run_id)
        steps = Counter(owned.state.statuses().values())
        self._of[owned.run_id] = (owned.record.status, steps)
        self._runs[owned.record.status] += 1
        self._steps.update(steps)

    def drop(self, run_id: str) -> None:
        """Stop counting a run (no longer owned)."""
        self._changed.discard(run_id)
        self._uncount(run_id)

    def _uncount(self, run_id: str) -> None:
        counted = self._of.pop(run_id, None)
        if counted is not None:
            self._runs[counted[0]] -= 1
            self._steps.subtract(counted[1])

    def counts(self) -> Counts:
        """The totals now, as a value of their own."""
        return Counts(
            runs={status: n for status, n in self._runs.items() if n},
            steps={status: n for status, n in self._steps.items() if n},
        )
