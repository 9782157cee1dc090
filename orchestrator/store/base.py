"""The storage protocols, sized by who uses them.

Each process sees only the part of run storage it needs:

============== ================================================ =========================
protocol       what                                             used by
============== ================================================ =========================
``RunLog``     run records, plans, event logs, step statuses,   submitters, the CLI,
               final summaries; blocking reads of one run        re-execution, the UI
``Outputs``    stored output values (bytes, signed by the IO    workers, results,
               manager), copied between runs                     re-execution
``Progress``   new submissions and owned runs' events in one    the coordinator
               blocking read; statuses, input refs and events
               it decides; leases and coordinator heartbeats;
               taking an attempt from a lost worker; the end
``Attempts``   claiming, beating and committing step attempts   workers
``StepLogs``   a running attempt's ``context.log`` lines, what   workers; the CLI, the UI
               an attempt printed (stdout, stderr)
``Registry``   live workers and their queues, queue depths      workers, metrics, CLI
``Pruning``    deleting finished runs                            the CLI
``StepStore``  ``Attempts``, ``StepLogs`` and ``Outputs``, and   a worker running a step
               the run's plan
``Ticks``      schedules' and sensors' states, ticks, cursors,   the scheduler, workers
               run keys; backfills; the scheduler's leader       evaluating ticks, the CLI
============== ================================================ =========================

``RunStore`` is all of them at once: ``RedisRunStore`` (the cluster's) and
``InMemoryRunStore`` (its in-process twin for tests) implement it, and one contract
suite per protocol runs against both (``tests/storage/``). Stream ids are strings
that order like Redis stream ids. ``OutputStore`` is the value-level view a result
reads through (``InMemoryOutputStore`` in process, ``RedisOutputStore`` on the cluster).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from opgrid.orchestrator.planning.plan import ExecutionPlan
from opgrid.orchestrator.planning.state import ValueRef
from opgrid.orchestrator.protocol.attempts import Begun
from opgrid.orchestrator.protocol.captured import CapturedOutput
from opgrid.orchestrator.protocol.events import RunEvent
from opgrid.orchestrator.protocol.messages import RunRecord, RunSummary, StepInputs
from opgrid.orchestrator.protocol.presence import WorkerInfo
from opgrid.orchestrator.scheduling.definitions import InstigatorDef

from .tick_records import (
    BackfillProgressRecord,
    BackfillRecord,
    InstigatorState,
    TickRecord,
)
from .turns import Adopted, TurnWrite


class OutputStore(Protocol):
    """Stores the values steps produce, by run and output reference."""

    def put(self, run_id: str, ref: ValueRef, value: Any) -> None:
        """Store one output value (overwriting a value from an earlier attempt)."""

    def get(self, run_id: str, ref: ValueRef) -> Any:
        """The stored value; raises ``OutputNotFound`` when there is none."""

    def has(self, run_id: str, ref: ValueRef) -> bool:
        """Whether a value is stored."""


class RunLog(Protocol):
    """A run as everyone reads it: record, plan, events, step statuses, summary."""

    def create_run(self, record: RunRecord, plan: ExecutionPlan) -> None:
        """Store a new run and announce it to coordinators."""

    def get_run(self, run_id: str) -> RunRecord:
        """The run's record; raises ``RunNotFound``."""

    def save_run(self, record: RunRecord) -> None:
        """Replace the run's record."""

    def get_plan(self, run_id: str) -> ExecutionPlan:
        """The run's plan; raises ``RunNotFound``."""

    def get_summary(self, run_id: str) -> RunSummary | None:
        """What the run ended with, written when it finished; None before that."""

    def list_runs(self, limit: int = 50, offset: int = 0) -> list[RunRecord]:
        """The newest runs first, skipping the ``offset`` newest."""

    def find_run_ids(self, prefix: str, limit: int = 10) -> list[str]:
        """Ids of stored runs that start with ``prefix`` (at most ``limit``), sorted."""

    def append_events(self, run_id: str, events: Sequence[RunEvent]) -> None:
        """Add events to the run's log (a cancel request, a note)."""

    def read_events(self, run_id: str, after: str = "0-0") -> list[tuple[str, RunEvent]]:
        """Every event of the run after stream id ``after``."""

    def wait_run(self, run_id: str, after: str, block_s: float) -> list[tuple[str, RunEvent]]:
        """Block up to ``block_s`` for events of one run after ``after``."""

    def wait_run_end(self, run_id: str, after: str, block_s: float) -> tuple[str, bool]:
        """Block up to ``block_s`` for the run's final event: (new cursor, whether it came)."""

    def step_statuses(self, run_id: str) -> dict[str, str]:
        """Step key -> stored status value."""

    def live_coordinators(self) -> list[str]:
        """The coordinators whose heartbeat has not lapsed."""


class Outputs(Protocol):
    """Stored output values as bytes, as the IO manager wrote them."""

    def has_output(self, run_id: str, ref: ValueRef) -> bool:
        """Whether a value is stored (without fetching it)."""

    def load_outputs(self, run_id: str, refs: Sequence[ValueRef]) -> list[bytes | None]:
        """The stored bytes of each ref, None where there is none."""

    def copy_outputs(self, from_run: str, to_run: str, refs: Sequence[ValueRef]) -> list[ValueRef]:
        """Copy values of one run to another; the refs that were not there to copy."""

    def commit_step(
        self,
        run_id: str,
        outputs: Iterable[tuple[ValueRef, bytes]],
        events: Sequence[RunEvent],
        status: tuple[str, str] | None = None,
    ) -> None:
        """Outputs, events and (step key, status) at once, with no claim (run inputs,
        in-process steps)."""


class Progress(Protocol):
    """What the coordinator reads and decides, and the leases that keep runs its own."""

    def wait(
        self, submissions_after: str, cursors: Mapping[str, str], block_s: float, count: int = 1000
    ) -> tuple[list[tuple[str, str]], dict[str, list[tuple[str, RunEvent]]]]:
        """Block for new submissions and new events of the given runs (``block_s`` 0:
        what is there now, without blocking)."""

    def active_runs(self) -> list[str]:
        """Runs submitted and not finished."""

    def save_progress(
        self,
        run_id: str,
        statuses: Mapping[str, str],
        inputs: Mapping[str, StepInputs],
        events: Sequence[RunEvent],
    ) -> None:
        """Step statuses, input refs of dispatched steps and coordinator events, at once."""

    def step_beats(self, run_id: str, step_keys: Sequence[str]) -> tuple[float, list[float | None]]:
        """The store's clock now, and each step's last heartbeat."""

    def runs_beats(
        self, steps: Mapping[str, Sequence[str]]
    ) -> dict[str, tuple[float, list[float | None]]]:
        """``step_beats`` of many runs (run id -> step keys) at once (``turns``)."""

    def declare_lost(
        self,
        run_id: str,
        step_key: str,
        attempt: int,
        events: Sequence[RunEvent],
        status: str | None = None,
        expect: Sequence[str] = ("running",),
    ) -> bool:
        """Take an attempt from its worker while its status is one of ``expect``."""

    def finish_run(
        self,
        record: RunRecord,
        events: Sequence[RunEvent],
        statuses: Mapping[str, str],
        summary: RunSummary | None = None,
    ) -> None:
        """Final record, events, statuses and summary; the run's keys start to expire."""

    def claim(self, run_id: str, owner: str, lease_s: float) -> bool:
        """Take the run's lease if nobody holds it."""

    def claim_runs(self, run_ids: Sequence[str], owner: str, lease_s: float) -> dict[str, Adopted]:
        """``claim`` each run; the claimed ones that exist and have not ended, with their
        record, plan and log (the others are released again). In bulk (``turns``)."""

    def write_turn(
        self, writes: Sequence[TurnWrite], pushes: Sequence[tuple[str, bytes]] = ()
    ) -> None:
        """A coordinator turn's ``save_progress``, ``save_run``, ``finish_run`` and
        ``release`` calls, given as values, applied in order; then ``pushes``, values
        pushed onto lists (step messages, when the broker's queues are lists of this same
        Redis database: ``Dispatcher.stage``). In bulk (``turns``)."""

    def renew(self, run_id: str, owner: str, lease_s: float) -> bool:
        """Extend the lease ``owner`` holds; False if it lapsed or another holds it."""

    def unleased(self, run_ids: Sequence[str]) -> list[str]:
        """Those of these runs whose lease nobody holds now (one round trip): the ones a
        coordinator may try to ``claim``."""

    def renew_all(self, run_ids: Sequence[str], owner: str, lease_s: float) -> list[str]:
        """``renew`` each of these leases at once (one round trip); the runs whose lease
        ``owner`` no longer holds."""

    def release(self, run_id: str, owner: str) -> None:
        """Give the lease back (if ``owner`` holds it)."""

    def heartbeat(self, coordinator_id: str, ttl_s: float) -> None:
        """The coordinator is alive for ``ttl_s`` more seconds."""

    def forget_coordinator(self, coordinator_id: str) -> None:
        """The coordinator stopped."""


class Attempts(Protocol):
    """Claims on step attempts: begin, beat, commit (``protocol.attempts`` has the rule)."""

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
        """Claim an attempt, record its ``start`` (after ``attempts.lost_note`` of it when
        a lost holder is taken over) and read what it needs, at once."""

    def beat(self, run_id: str, step_key: str, claim: str) -> str | None:
        """Keep a claim alive; the step's status, or None if the claim was lost."""

    def commit_attempt(
        self,
        run_id: str,
        claim: tuple[str, str],
        outputs: Sequence[tuple[ValueRef, bytes]],
        events: Sequence[RunEvent],
        status: str,
    ) -> bool:
        """An attempt's outputs, events and status while its claim holds."""

    def record_death(
        self, run_id: str, step_key: str, attempt: int, how: str, event: RunEvent
    ) -> int:
        """Count a death of the process running ``attempt`` and log ``event``; the deaths
        so far, or 0 when the step has ended or moved on to a later attempt."""

    def statuses_of(self, steps: Sequence[tuple[str, str]]) -> list[str | None]:
        """The status of each (run id, step key), None where none is recorded: one trip."""


class StepLogs(Protocol):
    """What step attempts log and print, written while their claim holds."""

    def append_step_logs(
        self, run_id: str, claim: tuple[str, str], events: Sequence[RunEvent]
    ) -> bool:
        """Add a running attempt's log events to the run's log while ``claim`` (step key,
        claim) holds, the step's status notwithstanding (a canceled step keeps what it
        logged); False, and nothing written, once another attempt holds the step."""

    def save_captured(self, run_id: str, claim: tuple[str, str], output: CapturedOutput) -> bool:
        """Store what an attempt printed (replacing what it stored before) while ``claim``
        holds; kept as long as the run's other keys."""

    def captured_attempts(self, run_id: str) -> list[tuple[str, int]]:
        """(step key, attempt) of every attempt whose printed output is stored, sorted."""

    def get_captured(
        self, run_id: str, step_key: str, attempt: int | None = None
    ) -> CapturedOutput | None:
        """What one attempt printed (the latest stored when ``attempt`` is None); None if
        nothing is stored for it."""


class Registry(Protocol):
    """The workers alive, the queues they consume, how deep the queues are."""

    def worker_heartbeat(
        self,
        hostname: str,
        queues: Sequence[str],
        ttl_s: float,
        fingerprint: str = "",
        info: WorkerInfo | None = None,
    ) -> None:
        """A worker consuming ``queues`` is alive for ``ttl_s`` more seconds, holding the
        secret of ``fingerprint`` (``registry.secret_fingerprint``) and described by
        ``info`` (process, pool size, running steps) when given."""

    def live_worker_info(self) -> dict[str, WorkerInfo]:
        """Hostname -> the last ``info`` of each live worker that published one."""

    def step_claims(self, steps: Sequence[tuple[str, str]]) -> list[str | None]:
        """The stored claim of each (run id, step key), None where there is none."""

    def live_fingerprints(self) -> dict[str, str]:
        """Hostname -> secret fingerprint of each live worker that published one."""

    def forget_worker(self, hostname: str) -> None:
        """The worker stopped."""

    def live_workers(self) -> dict[str, list[str]]:
        """Hostname -> queues of each live worker."""

    def remember_queues(self, queues: Iterable[str]) -> None:
        """Queues steps were sent to, kept for whoever reports queue depths later."""

    def known_queues(self) -> list[str]:
        """Every queue steps were sent to, sorted."""


class Pruning(Protocol):
    """Deleting finished runs."""

    def prune_runs(self, finished_before: float, dry_run: bool = False) -> list[str]:
        """Delete the runs that ended before ``finished_before``; their ids."""


class StepStore(Attempts, StepLogs, Outputs, Protocol):
    """What a worker needs to run a step: its attempt's claim, the values, the plan."""

    def get_plan(self, run_id: str) -> ExecutionPlan:
        """The run's plan; raises ``RunNotFound``."""


class Ticks(Protocol):
    """Schedules, sensors and backfills (``tick_records`` has the rules of each update)."""

    def lead(self, owner: str, lease_s: float) -> bool:
        """Take the scheduler's lease if free, or renew it if ``owner`` holds it."""

    def resign(self, owner: str) -> None:
        """Give the scheduler's lease back (if ``owner`` holds it)."""

    def scheduler_leader(self) -> str | None:
        """Who holds the scheduler's lease."""

    def publish_instigators(
        self, defs: Sequence[InstigatorDef], locations: Sequence[str] = ()
    ) -> None:
        """Tell the scheduler what schedules and sensors code locations define; those
        published before for one of ``locations`` and not in ``defs`` are forgotten."""

    def instigator_defs(self) -> dict[str, InstigatorDef]:
        """Origin -> definition of every schedule and sensor published."""

    def get_instigator_state(self, origin: str) -> InstigatorState:
        """What is recorded of a schedule or sensor (an empty state if nothing)."""

    def update_instigator_state(
        self, origin: str, change: Callable[[InstigatorState], InstigatorState | None]
    ) -> InstigatorState | None:
        """Change a state atomically (``change`` returns None to leave it); the new one."""

    def start_tick(self, tick: TickRecord) -> bool:
        """Record a tick started and in flight, if no tick is and it is the latest."""

    def resend_tick(self, tick: TickRecord) -> bool:
        """Update a started tick while no result is in."""

    def commit_tick(self, result: TickRecord) -> bool:
        """A tick's result, new cursor and run keys, once; False if it was in already."""

    def finish_tick(self, tick: TickRecord) -> None:
        """The tick's runs are created; it is no longer in flight."""

    def get_tick(self, origin: str, tick_id: str) -> TickRecord | None:
        """One tick."""

    def list_ticks(self, origin: str, limit: int = 20) -> list[TickRecord]:
        """The newest ticks first."""

    def launched_run_keys(self, origin: str) -> set[str]:
        """The run keys a sensor launched."""

    def create_run_once(self, record: RunRecord, plan: ExecutionPlan) -> bool:
        """Create and announce a run unless its id exists; whether it did."""

    def runs_created_after(self, after_ts: float) -> list[tuple[str, float]]:
        """(run id, creation time) of the runs created after ``after_ts``, oldest first."""

    def create_backfill(self, record: BackfillRecord, plans: Mapping[str, ExecutionPlan]) -> None:
        """Store a new backfill and the plan of each of its partitions."""

    def save_backfill(self, record: BackfillRecord) -> None:
        """Replace a backfill's record (its status); once it is over, its plans are dropped."""

    def list_backfills(self, limit: int = 50) -> list[BackfillRecord]:
        """The newest backfills first."""

    def get_backfill(self, backfill_id: str) -> BackfillProgressRecord | None:
        """A backfill and what its partitions did, or None."""

    def backfill_plan(self, backfill_id: str, partition_key: str) -> ExecutionPlan | None:
        """The plan of one partition's run."""

    def backfill_launched(self, backfill_id: str, partition_key: str, run_id: str) -> None:
        """A partition's run was created."""

    def backfill_finished(self, backfill_id: str, statuses: Mapping[str, str]) -> None:
        """Partition -> final status of runs that finished."""


class RunStore(RunLog, Outputs, Progress, Attempts, StepLogs, Registry, Pruning, Ticks, Protocol):
    """Every storage protocol at once: what a store backend implements."""
