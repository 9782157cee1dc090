"""The storage interfaces: ``OutputStore`` (with its in-memory form) and ``RunStore``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from opgrid.errors import OutputNotFound
from opgrid.orchestrator.planning.plan import ExecutionPlan
from opgrid.orchestrator.planning.state import ValueRef
from opgrid.orchestrator.protocol.attempts import Begun
from opgrid.orchestrator.protocol.events import RunEvent
from opgrid.orchestrator.protocol.messages import RunRecord, StepInputs


class OutputStore(Protocol):
    """Stores the values steps produce, by run and output reference."""

    def put(self, run_id: str, ref: ValueRef, value: Any) -> None:
        """Store one output value (overwriting a value from an earlier attempt)."""

    def get(self, run_id: str, ref: ValueRef) -> Any:
        """The stored value; raises ``OutputNotFound`` when there is none."""

    def has(self, run_id: str, ref: ValueRef) -> bool:
        """Whether a value is stored."""


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
            where = f"{ref.step_key}.{ref.output}" + (
                f"[{ref.mapping_key}]" if ref.mapping_key else ""
            )
            raise OutputNotFound(f"run {run_id}: no stored value for output {where}") from None

    def has(self, run_id: str, ref: ValueRef) -> bool:
        return (run_id, ref) in self._values


class RunStore(Protocol):
    """Runs as the coordinator, workers and submitters share them.

    ``RedisRunStore`` is the cluster's; ``InMemoryRunStore`` is its in-process twin
    for tests. Stream ids are strings that order like Redis stream ids.
    """

    def create_run(self, record: RunRecord, plan: ExecutionPlan) -> None: ...
    def get_run(self, run_id: str) -> RunRecord: ...
    def save_run(self, record: RunRecord) -> None: ...
    def get_plan(self, run_id: str) -> ExecutionPlan: ...
    def list_runs(self, limit: int = 50) -> list[RunRecord]: ...
    def active_runs(self) -> list[str]: ...
    def append_events(self, run_id: str, events: Sequence[RunEvent]) -> None: ...
    def read_events(self, run_id: str, after: str = "0-0") -> list[tuple[str, RunEvent]]: ...
    def wait(
        self, submissions_after: str, cursors: Mapping[str, str], block_s: float, count: int = 1000
    ) -> tuple[list[tuple[str, str]], dict[str, list[tuple[str, RunEvent]]]]: ...
    def wait_run(self, run_id: str, after: str, block_s: float) -> list[tuple[str, RunEvent]]: ...
    def wait_run_end(self, run_id: str, after: str, block_s: float) -> tuple[str, bool]: ...
    def save_progress(
        self,
        run_id: str,
        statuses: Mapping[str, str],
        inputs: Mapping[str, StepInputs],
        events: Sequence[RunEvent],
    ) -> None: ...
    def step_statuses(self, run_id: str) -> dict[str, str]: ...
    def begin_attempt(
        self,
        run_id: str,
        step_key: str,
        attempt: int,
        token: str,
        events: tuple[RunEvent, RunEvent],
        lost_after_s: float,
        refs: Sequence[ValueRef] | None = None,
        take_over: str = "",
    ) -> Begun: ...
    def beat(self, run_id: str, step_key: str, claim: str) -> str | None: ...
    def commit_attempt(
        self,
        run_id: str,
        claim: tuple[str, str],
        outputs: Sequence[tuple[ValueRef, bytes]],
        events: Sequence[RunEvent],
        status: str,
    ) -> bool: ...
    def step_beats(
        self, run_id: str, step_keys: Sequence[str]
    ) -> tuple[float, list[float | None]]: ...
    def declare_lost(
        self,
        run_id: str,
        step_key: str,
        attempt: int,
        events: Sequence[RunEvent],
        status: str | None = None,
        expect: Sequence[str] = ("running",),
    ) -> bool: ...
    def load_outputs(self, run_id: str, refs: Sequence[ValueRef]) -> list[bytes | None]: ...
    def copy_outputs(
        self, from_run: str, to_run: str, refs: Sequence[ValueRef]
    ) -> list[ValueRef]: ...
    def commit_step(
        self,
        run_id: str,
        outputs: Iterable[tuple[ValueRef, bytes]],
        events: Sequence[RunEvent],
        status: tuple[str, str] | None = None,
    ) -> None: ...
    def finish_run(
        self, record: RunRecord, events: Sequence[RunEvent], statuses: Mapping[str, str]
    ) -> None: ...
    def claim(self, run_id: str, owner: str, lease_s: float) -> bool: ...
    def renew(self, run_id: str, owner: str, lease_s: float) -> bool: ...
    def release(self, run_id: str, owner: str) -> None: ...
    def heartbeat(self, coordinator_id: str, ttl_s: float) -> None: ...
    def forget_coordinator(self, coordinator_id: str) -> None: ...
    def live_coordinators(self) -> list[str]: ...
