"""Stores in this process's memory: the in-memory twins of ``RedisRunStore`` and of
``RedisOutputStore``.

Same methods, same meaning (one contract suite per protocol runs over both), for
unit tests, for in-process runs and for driving a coordinator or a worker without
Redis. Event ids count up like a stream's (``"<n>-0"``); blocking reads wait on a
condition variable; leases and heartbeats expire by the monotonic clock. Nothing
expires after a run ends.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opgrid.errors import OutputNotFound, RunNotFound
from opgrid.orchestrator.planning.plan import ExecutionPlan
from opgrid.orchestrator.planning.state import ValueRef
from opgrid.orchestrator.protocol.attempts import (
    FINAL_VALUES,
    LOST,
    Begun,
    Verdict,
    claim_of,
    deaths_field,
    deaths_of,
    decide,
    lost_note,
    parse_claim,
)
from opgrid.orchestrator.protocol.captured import CapturedOutput
from opgrid.orchestrator.protocol.events import RunEvent
from opgrid.orchestrator.protocol.messages import RunRecord, RunSummary, StepInputs
from opgrid.orchestrator.protocol.status import FINAL_RUN_STATUSES, FINAL_STEP_VALUES, StepStatus
from opgrid.orchestrator.protocol.step_keys import output_label

from .memory_leases import InMemoryLeases
from .memory_logs import InMemoryStepLogs
from .memory_registry import InMemoryRegistry
from .memory_ticks import InMemoryTicks
from .turns import (
    Adopted,
    TurnWrite,
    claim_runs_one_by_one,
    runs_beats_one_by_one,
    write_turn_one_by_one,
)


@dataclass
class _Run:
    record: RunRecord | None = None
    plan: ExecutionPlan | None = None
    summary: RunSummary | None = None
    events: list[tuple[int, RunEvent]] = field(default_factory=list)
    steps: dict[str, str] = field(default_factory=dict)
    inputs: dict[str, StepInputs] = field(default_factory=dict)
    outputs: dict[ValueRef, bytes] = field(default_factory=dict)
    claims: dict[str, str] = field(default_factory=dict)
    beats: dict[str, float] = field(default_factory=dict)
    captured: dict[tuple[str, int], CapturedOutput] = field(default_factory=dict)


def _seq(stream_id: str) -> int:
    return int(stream_id.split("-", 1)[0])


class InMemoryRunStore(InMemoryLeases, InMemoryStepLogs, InMemoryTicks, InMemoryRegistry):
    """Runs kept in a dict; thread-safe."""

    def __init__(self) -> None:
        self._runs: dict[str, _Run] = {}
        self._submissions: list[tuple[int, str]] = []
        self._active: set[str] = set()
        InMemoryLeases.__init__(self)
        InMemoryRegistry.__init__(self)
        self._next = 0
        self._changed = threading.Condition()

    def _run(self, run_id: str) -> _Run:
        return self._runs.setdefault(run_id, _Run())

    def _id(self) -> int:
        self._next += 1
        return self._next

    # Runs ---------------------------------------------------------------------------------
    def create_run(self, record: RunRecord, plan: ExecutionPlan) -> None:
        with self._changed:
            run = self._run(record.run_id)
            run.record, run.plan = record, plan
            self._active.add(record.run_id)
            self._submissions.append((self._id(), record.run_id))
            self._changed.notify_all()

    def get_run(self, run_id: str) -> RunRecord:
        run = self._runs.get(run_id)
        if run is None or run.record is None:
            raise RunNotFound(f"no run {run_id!r} in memory")
        return run.record

    def save_run(self, record: RunRecord) -> None:
        with self._changed:
            self._run(record.run_id).record = record

    def get_plan(self, run_id: str) -> ExecutionPlan:
        run = self._runs.get(run_id)
        if run is None or run.plan is None:
            raise RunNotFound(f"no plan for run {run_id!r} in memory")
        return run.plan

    def get_summary(self, run_id: str) -> RunSummary | None:
        run = self._runs.get(run_id)
        return run.summary if run is not None else None

    def list_runs(self, limit: int = 50, offset: int = 0) -> list[RunRecord]:
        records = [r.record for r in self._runs.values() if r.record is not None]
        return sorted(records, key=lambda r: r.created_at, reverse=True)[offset : offset + limit]

    def find_run_ids(self, prefix: str, limit: int = 10) -> list[str]:
        found = (r.record.run_id for r in self._runs.values() if r.record is not None)
        return sorted(run_id for run_id in found if run_id.startswith(prefix))[:limit]

    def active_runs(self) -> list[str]:
        return sorted(self._active)

    # Events ----------------------------------------------------------------------------------
    def _append(self, run_id: str, events: Iterable[RunEvent]) -> None:
        run = self._run(run_id)
        run.events.extend((self._id(), event) for event in events)
        self._changed.notify_all()

    def append_events(self, run_id: str, events: Sequence[RunEvent]) -> None:
        with self._changed:
            self._append(run_id, events)

    def read_events(self, run_id: str, after: str = "0-0") -> list[tuple[str, RunEvent]]:
        last = _seq(after)
        run = self._runs.get(run_id)
        entries = run.events if run else []
        return [(f"{n}-0", event) for n, event in entries if n > last]

    def wait(
        self, submissions_after: str, cursors: Mapping[str, str], block_s: float, count: int = 1000
    ) -> tuple[list[tuple[str, str]], dict[str, list[tuple[str, RunEvent]]]]:
        """As ``RedisRunStore.wait``: new submissions, and new events of the given runs."""

        def found() -> tuple[list[tuple[str, str]], dict[str, list[tuple[str, RunEvent]]]]:
            last = _seq(submissions_after)
            submitted = [(f"{n}-0", r) for n, r in self._submissions if n > last][:count]
            events = {
                run_id: entries[:count]
                for run_id, after in cursors.items()
                if (entries := self.read_events(run_id, after))
            }
            return submitted, events

        with self._changed:
            self._changed.wait_for(lambda: any(found()), timeout=block_s)
            return found()

    def wait_run(self, run_id: str, after: str, block_s: float) -> list[tuple[str, RunEvent]]:
        with self._changed:
            self._changed.wait_for(lambda: self.read_events(run_id, after), timeout=block_s)
            return self.read_events(run_id, after)

    def wait_run_end(self, run_id: str, after: str, block_s: float) -> tuple[str, bool]:
        def ended() -> bool:
            run = self._runs.get(run_id)
            return (
                run is not None
                and run.record is not None
                and (run.record.status in FINAL_RUN_STATUSES)
            )

        with self._changed:
            return after, self._changed.wait_for(ended, timeout=block_s)

    # Steps -----------------------------------------------------------------------------------
    def save_progress(
        self,
        run_id: str,
        statuses: Mapping[str, str],
        inputs: Mapping[str, StepInputs],
        events: Sequence[RunEvent],
    ) -> None:
        with self._changed:
            run = self._run(run_id)
            run.steps.update(statuses)
            run.inputs.update(inputs)
            self._append(run_id, events)

    def step_statuses(self, run_id: str) -> dict[str, str]:
        run = self._runs.get(run_id)
        return dict(run.steps) if run else {}

    def begin_attempt(
        self,
        run_id: str,
        step_key: str,
        attempt: int,
        token: str,
        start: RunEvent,
        lost_after_s: float,
        refs: Sequence[ValueRef] | None = None,
        take_over: str = "",
    ) -> Begun:
        with self._changed:
            run = self._run(run_id)
            verdict, holder = decide(
                run.steps.get(step_key),
                run.claims.get(step_key),
                run.beats.get(step_key),
                attempt,
                token,
                time.time(),
                lost_after_s,
                take_over,
            )
            values = [run.outputs.get(ref) for ref in refs or ()]
            if not verdict.runs:
                return Begun(verdict, holder, None, values)
            run.claims[step_key] = claim_of(attempt, token)
            run.beats[step_key] = time.time()
            run.steps[step_key] = StepStatus.RUNNING.value
            taken_over = verdict is Verdict.TAKEN_OVER
            self._append(run_id, [lost_note(start, token), start] if taken_over else [start])
            inputs = run.inputs.get(step_key) if refs is None else None
            deaths, died = deaths_of(run.claims.get(deaths_field(step_key)), attempt)
            return Begun(verdict, holder, inputs, values, deaths, died)

    def record_death(
        self, run_id: str, step_key: str, attempt: int, how: str, event: RunEvent
    ) -> int:
        with self._changed:
            run = self._run(run_id)
            if run.steps.get(step_key) in FINAL_STEP_VALUES:
                return 0
            held = run.claims.get(step_key)
            if held is not None and parse_claim(held)[0] > attempt:
                return 0
            deaths = deaths_of(run.claims.get(deaths_field(step_key)), attempt)[0] + 1
            run.claims[deaths_field(step_key)] = f"{attempt}:{deaths}:{how}"
            self._append(run_id, [event])
            return deaths

    def statuses_of(self, steps: Sequence[tuple[str, str]]) -> list[str | None]:
        with self._changed:
            runs = [self._runs.get(run_id) for run_id, _ in steps]
            return [
                run.steps.get(key) if run is not None else None
                for run, (_, key) in zip(runs, steps, strict=True)
            ]

    def beat(self, run_id: str, step_key: str, claim: str) -> str | None:
        with self._changed:
            run = self._run(run_id)
            if run.claims.get(step_key) != claim:
                return None
            run.beats[step_key] = time.time()
            return run.steps.get(step_key, "")

    def commit_attempt(
        self,
        run_id: str,
        claim: tuple[str, str],
        outputs: Sequence[tuple[ValueRef, bytes]],
        events: Sequence[RunEvent],
        status: str,
    ) -> bool:
        step_key, held = claim
        with self._changed:
            run = self._run(run_id)
            if run.claims.get(step_key) != held:
                return False
            current = run.steps.get(step_key)
            if current == status:
                return True
            if current in FINAL_VALUES:
                return False
            run.steps[step_key] = status  # its last heartbeat stays until the run ends
            self._append(run_id, events)
            run.outputs.update(outputs)
            return True

    def step_beats(self, run_id: str, step_keys: Sequence[str]) -> tuple[float, list[float | None]]:
        run = self._runs.get(run_id)
        beats = run.beats if run else {}
        return time.time(), [beats.get(key) for key in step_keys]

    def declare_lost(
        self,
        run_id: str,
        step_key: str,
        attempt: int,
        events: Sequence[RunEvent],
        status: str | None = None,
        expect: Sequence[str] = ("running",),
    ) -> bool:
        with self._changed:
            run = self._run(run_id)
            if run.steps.get(step_key, "") not in expect:
                return False
            run.claims[step_key] = claim_of(attempt, LOST)
            run.beats.pop(step_key, None)
            if status is not None:
                run.steps[step_key] = status
            self._append(run_id, events)
            return True

    def has_output(self, run_id: str, ref: ValueRef) -> bool:
        run = self._runs.get(run_id)
        return run is not None and ref in run.outputs

    def load_outputs(self, run_id: str, refs: Sequence[ValueRef]) -> list[bytes | None]:
        run = self._runs.get(run_id)
        return [run.outputs.get(ref) if run else None for ref in refs]

    def copy_outputs(self, from_run: str, to_run: str, refs: Sequence[ValueRef]) -> list[ValueRef]:
        with self._changed:
            source, target = self._run(from_run), self._run(to_run)
            for ref in refs:
                if ref in source.outputs:
                    target.outputs[ref] = source.outputs[ref]
            return [ref for ref in refs if ref not in source.outputs]

    def commit_step(
        self,
        run_id: str,
        outputs: Iterable[tuple[ValueRef, bytes]],
        events: Sequence[RunEvent],
        status: tuple[str, str] | None = None,
    ) -> None:
        with self._changed:
            run = self._run(run_id)
            if status is not None:
                run.steps[status[0]] = status[1]
            run.outputs.update(outputs)
            self._append(run_id, events)

    def finish_run(
        self,
        record: RunRecord,
        events: Sequence[RunEvent],
        statuses: Mapping[str, str],
        summary: RunSummary | None = None,
    ) -> None:
        with self._changed:
            run = self._run(record.run_id)
            run.record = record
            run.summary = summary or run.summary
            run.beats.clear()
            run.steps.update(statuses)
            self._append(record.run_id, events)
            self._active.discard(record.run_id)

    # A coordinator turn's bulk forms, run by run ---------------------------------------------
    def claim_runs(self, run_ids: Sequence[str], owner: str, lease_s: float) -> dict[str, Adopted]:
        return claim_runs_one_by_one(self, run_ids, owner, lease_s)

    def runs_beats(
        self, steps: Mapping[str, Sequence[str]]
    ) -> dict[str, tuple[float, list[float | None]]]:
        return runs_beats_one_by_one(self, steps)

    def write_turn(
        self, writes: Sequence[TurnWrite], pushes: Sequence[tuple[str, bytes]] = ()
    ) -> None:
        write_turn_one_by_one(self, writes, pushes)

    def _claim(self, run_id: str, step_key: str) -> str | None:
        run = self._runs.get(run_id)
        return run.claims.get(step_key) if run is not None else None

    # Pruning ------------------------------------------------------------------------------
    def prune_runs(self, finished_before: float, dry_run: bool = False) -> list[str]:
        with self._changed:
            doomed = [
                run_id
                for run_id, run in sorted(self._runs.items(), key=lambda item: _created(item[1]))
                if run_id not in self._active and _ended_before(run.record, finished_before)
            ]
            if not dry_run:
                for run_id in doomed:
                    del self._runs[run_id]
            return doomed


def _created(run: _Run) -> float:
    return run.record.created_at if run.record is not None else 0.0


def _ended_before(record: RunRecord | None, cutoff: float) -> bool:
    if record is None:
        return True
    ended = record.finished_at if record.finished_at is not None else record.created_at
    return record.status in FINAL_RUN_STATUSES and ended < cutoff


class InMemoryOutputStore:
    """Output values kept in this process, for in-process runs and tests."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, ValueRef], Any] = {}

    def put(self, run_id: str, ref: ValueRef, value: Any) -> None:
        self._values[(run_id, ref)] = value

    def get(self, run_id: str, ref: ValueRef) -> Any:
        try:
            return self._values[(run_id, ref)]
        except KeyError:
            where = output_label(ref.step_key, ref.output, ref.mapping_key)
            raise OutputNotFound(f"run {run_id}: no stored value for output {where}") from None

    def has(self, run_id: str, ref: ValueRef) -> bool:
        return (run_id, ref) in self._values
