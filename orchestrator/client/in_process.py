"""In-process execution: every step of a run, one after another, in the calling process.

It drives the same ``RunState`` as the distributed coordinator, and runs each
op through core's step runner, so both executors share one semantics.
"""

from __future__ import annotations

import heapq
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from opgrid.context import DagsterRun
from opgrid.errors import ResourceError
from opgrid.event_type import DagsterEventType as E
from opgrid.handle import ResolvedOp, resolve_op
from opgrid.job import JobDefinition
from opgrid.orchestrator.planning.around_step import assemble_inputs, outcome_events, raised_for
from opgrid.orchestrator.planning.compiler import compile_plan
from opgrid.orchestrator.planning.plan import ExecutionPlan, PlanStep
from opgrid.orchestrator.planning.state import (
    AbandonStep,
    Command,
    DispatchStep,
    FinishRun,
    RunState,
    SkipStep,
    ValueRef,
)
from opgrid.orchestrator.protocol.events import ErrorInfo, RunEvent
from opgrid.orchestrator.store.base import OutputStore
from opgrid.orchestrator.store.memory import InMemoryOutputStore
from opgrid.resource import Resources, build_resources
from opgrid.step_runner import StepOutcome, StepSpec, run_step

from .result import ExecuteInProcessResult

#: Called with every event as it happens (the CLI prints them).
EventCallback = Callable[[RunEvent], None]


def execute_in_process(
    job: JobDefinition,
    run_config: Any = None,
    raise_on_error: bool = True,
    tags: Mapping[str, Any] | None = None,
    partition_key: str | None = None,
    input_values: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    on_event: EventCallback | None = None,
) -> ExecuteInProcessResult:
    """Validate, plan and run ``job`` in this process.

    Raises:
        ConfigError: before any op runs, when the run config is invalid.
        Exception: with ``raise_on_error``, the exception of the first step that failed.
    """
    values = {**job.input_values, **(input_values or {})}
    plan = compile_plan(
        job, run_config, partition_key=partition_key, tags=tags, input_names=frozenset(values)
    )
    run = _InProcessRun(job, plan, run_id or str(uuid.uuid4()), values, on_event)
    run.execute()
    result = ExecuteInProcessResult(job, plan, run.run, run.state, run.store, run.events)
    if raise_on_error and run.first_error is not None:
        raise run.first_error
    return result


class _InProcessRun:
    """One run: the state machine, the stored outputs and the event log."""

    def __init__(
        self,
        job: JobDefinition,
        plan: ExecutionPlan,
        run_id: str,
        input_values: dict[str, Any],
        on_event: EventCallback | None,
    ) -> None:
        self.job = job
        self.plan = plan
        self.run = DagsterRun(run_id, job.name, dict(plan.tags), plan.run_config)
        self.state = RunState(plan)
        self.store: OutputStore = InMemoryOutputStore()
        self.events: list[RunEvent] = []
        self.input_values = input_values
        self.on_event = on_event
        self.first_error: BaseException | None = None
        self._ready: list[tuple[float, int, DispatchStep]] = []
        self._sequence = 0
        self._ops: dict[str, ResolvedOp] = {}
        #: the run's final event, emitted once the resources are torn down
        self._final: E | None = None

    def execute(self) -> None:
        self._emit(E.RUN_START)
        try:
            with build_resources(
                self.job.resource_defs,
                frozenset(self.plan.resource_keys),
                self.plan.resource_config,
                self.run.run_id,
                self._teardown_failed,
            ) as resources:
                self._handle(self.state.start())
                self._loop(resources)
        except ResourceError as exc:
            self.first_error = self.first_error or exc
            self._emit(E.RUN_FAILURE, message=str(exc), error=ErrorInfo.from_exception(exc))
        else:
            if self._final is not None:  # after teardown, as Dagster orders it
                self._emit(self._final)

    def _teardown_failed(self, key: str, error: BaseException) -> None:
        self._emit(
            E.ENGINE_EVENT,
            message=f"Teardown of resource {key!r} failed",
            error=ErrorInfo.from_exception(error),
        )

    def _loop(self, resources: Resources) -> None:
        while self._ready:
            due, _, dispatch = heapq.heappop(self._ready)
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self._run_step(dispatch, resources)

    def _handle(self, commands: list[Command]) -> None:
        for command in commands:
            if isinstance(command, DispatchStep):
                self._sequence += 1
                due = time.monotonic() + command.delay_s
                heapq.heappush(self._ready, (due, self._sequence, command))
            elif isinstance(command, SkipStep):
                self._emit(E.STEP_SKIPPED, step_key=command.step_key, message=command.reason)
            elif isinstance(command, AbandonStep):
                continue  # Dagster records nothing for a step that never ran
            elif isinstance(command, FinishRun):
                self._final = E.RUN_SUCCESS if command.status.value == "success" else E.RUN_FAILURE

    def _emit(self, kind: E, **fields: Any) -> None:
        self._record(RunEvent(run_id=self.run.run_id, kind=kind, timestamp=time.time(), **fields))

    def _record(self, event: RunEvent) -> None:
        self.events.append(event)
        if self.on_event is not None:
            self.on_event(event)
        if event.step_key is not None and event.kind is not E.LOG_MESSAGE:
            self._handle(self.state.apply(event))

    def _console(self, level: str, step_key: str, message: str) -> None:
        """Dagster's default console logger: ``context.log`` lines on stderr."""
        stamp = time.strftime("%Y-%m-%d %H:%M:%S %z")
        sys.stderr.write(
            f"{stamp} - opgrid - {level} - {self.run.job_name} - {self.run.run_id} - "
            f"{step_key} - {message}\n"
        )

    def _resolved(self, plan_step: PlanStep) -> ResolvedOp:
        resolved = self._ops.get(plan_step.key)
        if resolved is None:
            resolved = self._ops[plan_step.key] = resolve_op(self.job, plan_step.key)
        return resolved

    def _run_step(self, dispatch: DispatchStep, resources: Resources) -> None:
        key, attempt = dispatch.step_key, dispatch.attempt
        plan_step = self.state.step_plan(key)
        resolved = self._resolved(plan_step)
        spec = StepSpec(
            step_key=key,
            handle=plan_step.key,
            op_def=resolved.op_def,
            op_config=plan_step.config,
            hook_defs=resolved.hook_defs,
            retry_policy=resolved.retry_policy,
            mapping_key=self.state.mapping_key_of(key),
            tags=resolved.tags,
            job_def=self.job,
        )
        self._emit(E.STEP_RESTARTED if attempt else E.STEP_START, step_key=key, attempt=attempt)
        inputs = self._inputs(key, plan_step, resolved)

        def sink(level: str, message: str) -> None:
            self._console(level, key, message)
            self._emit(E.LOG_MESSAGE, step_key=key, attempt=attempt, level=level, message=message)

        outcome = run_step(spec, self.run, inputs, resources, attempt, sink)
        self._report(key, attempt, outcome)

    def _inputs(self, key: str, plan_step: PlanStep, resolved: ResolvedOp) -> dict[str, Any]:
        loaded = {
            name: [self.store.get(self.run.run_id, ref) for ref in refs]
            for name, refs in self.state.input_values(key).items()
        }
        return assemble_inputs(plan_step, resolved.op_def, loaded, self.input_values)

    def _report(self, key: str, attempt: int, outcome: StepOutcome) -> None:
        if outcome.status == "success":
            for output in outcome.outputs:
                ref = ValueRef(key, output.name, output.mapping_key)
                self.store.put(self.run.run_id, ref, output.value)
        elif outcome.status == "failure" and self.first_error is None:
            self.first_error = raised_for(key, attempt, outcome)
        for event in outcome_events(self.run.run_id, key, attempt, outcome, time.time()):
            self._record(event)
