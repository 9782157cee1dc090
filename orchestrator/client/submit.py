"""Submitting a job to the cluster: ``opgrid.submit(job, ...) -> RunHandle``.

The run config is validated and the plan compiled in the caller, so a bad config
fails here, before anything is queued. The handle waits on the run's event
stream (no polling) and returns a result with the same accessors as an
in-process result.
"""

from __future__ import annotations

import time
import uuid
import warnings
from collections.abc import Mapping
from typing import Any, Literal

from opgrid.context import DagsterRun
from opgrid.errors import (
    DagsterInvariantViolationError,
    NoCoordinatorWarning,
    RunTimeout,
    SecretMismatchWarning,
    StepExecutionError,
    UnconsumedQueueError,
    UnconsumedQueueWarning,
)
from opgrid.event_type import DagsterEventType as E
from opgrid.job import JobDefinition
from opgrid.orchestrator.planning.compiler import compile_plan
from opgrid.orchestrator.planning.plan import ExecutionPlan
from opgrid.orchestrator.planning.state import RunState, ValueRef
from opgrid.orchestrator.planning.summary import SummaryOutcomes
from opgrid.orchestrator.protocol.events import RunEvent
from opgrid.orchestrator.protocol.messages import ERROR_OUTPUT, RUN_INPUTS_STEP, RunRecord
from opgrid.orchestrator.protocol.status import RunStatus
from opgrid.orchestrator.protocol.tags import step_queue
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.envelopes import IOManager, io_manager_from_settings
from opgrid.orchestrator.store.redis import RedisOutputStore, RedisRunStore
from opgrid.orchestrator.store.registry import secret_fingerprint

from .result import ExecuteInProcessResult
from .runs import resolve_run_id


def submit(
    job: JobDefinition,
    run_config: Any = None,
    tags: Mapping[str, Any] | None = None,
    partition_key: str | None = None,
    location: str | None = None,
    *,
    settings: Settings | None = None,
    input_values: Mapping[str, Any] | None = None,
    unconsumed: Literal["ignore", "warn", "refuse"] = "ignore",
) -> RunHandle:
    """Queue a run of ``job`` on the cluster.

    Args:
        job: the job; workers find it by name in their code locations.
        run_config: validated here, before anything is queued.
        tags: added to the job's tags.
        partition_key: the partition to run, for a partitioned job.
        location: the code location workers should take the job from.
        settings: the cluster's settings; from ``OPGRID_*`` variables by default.
        input_values: values for the job's top-level inputs (stored signed, like outputs).
        unconsumed: what to do when a step's queue has no live consumer in the worker
            registry: nothing, warn (``UnconsumedQueueWarning``), or refuse the run.

    Raises:
        ConfigError: the run config is invalid (nothing was queued).
        UnconsumedQueueError: with ``unconsumed="refuse"``, a step's queue has no live worker.
    """
    settings = settings or Settings()
    values = {**job.input_values, **(input_values or {})}
    plan = compile_plan(
        job, run_config, partition_key=partition_key, tags=tags, input_names=frozenset(values)
    )
    record = RunRecord(
        run_id=str(uuid.uuid4()),
        job_name=job.name,
        location=location,
        tags=dict(plan.tags),
        partition_key=partition_key,
        created_at=time.time(),
    )
    store = RedisRunStore.from_settings(settings)
    problem = None
    if unconsumed != "ignore":
        problem = _unconsumed(plan, settings.default_queue, store.live_workers())
    if problem is not None:
        if unconsumed == "refuse":
            store.client.close()
            raise UnconsumedQueueError(f"nothing was queued: {problem}")
        warnings.warn(f"run of job {job.name!r} queued, but {problem}", UnconsumedQueueWarning, 2)
    io = io_manager_from_settings(settings)
    if values:
        store.commit_step(
            record.run_id,
            [
                (ValueRef(RUN_INPUTS_STEP, name), io.dumps(value, where=f"input value {name!r}"))
                for name, value in values.items()
            ],
            [],
        )
    store.create_run(record, plan)
    _warn_of_trouble(store, settings, record.run_id)
    return RunHandle(job, record.run_id, store, io)


def _warn_of_trouble(store: RedisRunStore, settings: Settings, run_id: str) -> None:
    """Warn when no coordinator is alive, or live workers hold another OPGRID_SECRET
    (they refuse this run's steps); the warnings point at ``submit``'s caller."""
    mine = secret_fingerprint(settings.secret.get_secret_value().encode())
    others = {host: fp for host, fp in store.live_fingerprints().items() if fp != mine}
    if others:
        listed = ", ".join(f"{host} ({fp})" for host, fp in sorted(others.items())[:5])
        warnings.warn(
            f"run {run_id}: {len(others)} live worker(s) hold another OPGRID_SECRET than "
            f"this submitter (fingerprint {mine}): {listed}; they refuse the steps "
            "they take, which then stay queued. Give every process the same secret",
            SecretMismatchWarning,
            stacklevel=3,
        )
    if not store.live_coordinators():
        warnings.warn(
            f"run {run_id} is queued but no coordinator is alive to run it; start one "
            "with `opgrid coordinator` (or submit with `--coordinate`)",
            NoCoordinatorWarning,
            stacklevel=3,
        )


def _unconsumed(
    plan: ExecutionPlan, default_queue: str, workers: Mapping[str, list[str]]
) -> str | None:
    """What is wrong when some step's queue has no live consumer; None when all have one."""
    queues = {step_queue(step.tags, plan.tags, default_queue) for step in plan.steps}
    consumed = {queue for consuming in workers.values() for queue in consuming}
    missing = sorted(queues - consumed)
    if not missing:
        return None
    names = ", ".join(repr(queue) for queue in missing)
    live = (
        f"live workers consume {', '.join(map(repr, sorted(consumed)))}"
        if consumed
        else ("no worker is alive")
    )
    return (
        f"no live worker consumes queue(s) {names} ({live}); its steps wait until one does "
        f"(`opgrid worker -Q {','.join(missing)} ...`)"
    )


class RunHandle:
    """A submitted run: its status, its events, its result.

    ``RunHandle.attach(run_id)`` (or ``opgrid.get_run``) follows a run submitted
    anywhere; give it the job to read outputs by node from its result.
    """

    def __init__(self, job: JobDefinition | None, run_id: str, store: RedisRunStore, io: IOManager):
        self.job = job
        self.run_id = run_id
        self._store = store
        self._io = io

    @classmethod
    def attach(
        cls, run_id: str, job: JobDefinition | None = None, settings: Settings | None = None
    ) -> RunHandle:
        """A handle on a run already submitted; a unique prefix of its id will do.

        Raises:
            RunNotFound: no run has that id (``AmbiguousRunId``: several start with it).
        """
        settings = settings or Settings()
        store = RedisRunStore.from_settings(settings)
        try:
            full_id = resolve_run_id(store, run_id)
            record = store.get_run(full_id)
        except BaseException:
            store.client.close()
            raise
        if job is not None and job.name != record.job_name:
            store.client.close()
            raise DagsterInvariantViolationError(
                f"run {full_id} is of job {record.job_name!r}, not {job.name!r}"
            )
        return cls(job, full_id, store, io_manager_from_settings(settings))

    @property
    def status(self) -> RunStatus:
        return self._store.get_run(self.run_id).status

    def events(self) -> list[RunEvent]:
        """The run's events so far."""
        return [event for _, event in self._store.read_events(self.run_id)]

    def cancel(self) -> None:
        """Ask the run's coordinator to stop the run."""
        event = RunEvent(
            run_id=self.run_id, kind=E.RUN_CANCELING, timestamp=time.time(), message="requested"
        )
        self._store.append_events(self.run_id, [event])

    def wait(
        self, timeout: float | None = None, raise_on_error: bool = False
    ) -> ExecuteInProcessResult:
        """Block until the run ends; return its result.

        Args:
            timeout: seconds to wait at most; forever by default.
            raise_on_error: re-raise the exception of the first step that failed, as
                ``execute_in_process`` does.

        Raises:
            RunTimeout: ``timeout`` seconds passed first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        cursor = "0-0"
        while True:
            remaining = 5.0 if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                raise RunTimeout(f"run {self.run_id} did not finish within {timeout} s")
            cursor, ended = self._store.wait_run_end(self.run_id, cursor, min(remaining, 5.0))
            if ended:
                result = self.result()
                if raise_on_error and not result.success:
                    self._raise_first_failure(result)
                return result

    def _raise_first_failure(self, result: ExecuteInProcessResult) -> None:
        failure = next((e for e in result.all_events if e.kind is E.STEP_FAILURE), None)
        if failure is None or failure.step_key is None:
            return
        ref = ValueRef(failure.step_key, ERROR_OUTPUT)
        (data,) = self._store.load_outputs(self.run_id, [ref])
        if data is not None:
            raise self._io.loads(data, where=f"the exception of step {failure.step_key!r}")
        message = failure.error.message if failure.error else "step failed"
        raise StepExecutionError(message, run_id=self.run_id, step_key=failure.step_key)

    def result(self) -> ExecuteInProcessResult:
        """The run's result as it stands (complete once the run has ended)."""
        if self.job is None:
            raise DagsterInvariantViolationError(
                f"run {self.run_id}: attach with job= to read its result (outputs by node)"
            )
        plan = self._store.get_plan(self.run_id)
        run = DagsterRun(self.run_id, self.job.name, dict(plan.tags), plan.run_config)
        outputs = RedisOutputStore(self._store, self._io)
        summary = self._store.get_summary(self.run_id)
        if summary is not None:  # finished: its summary, and the events read if asked for
            outcomes = SummaryOutcomes(summary)
            return ExecuteInProcessResult(self.job, plan, run, outcomes, outputs, self.events)
        reused = self._store.get_run(self.run_id).reused
        events = self.events()
        state = RunState(plan)
        state.replay(events, reused)
        return ExecuteInProcessResult(self.job, plan, run, state, outputs, events)

    def close(self) -> None:
        self._store.client.close()
