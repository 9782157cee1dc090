"""The run state machine: fed step events, it says what to run, skip or abandon next.

``RunState`` does no I/O and reads no clock; the same events always produce
the same states and commands, so a run's state can be rebuilt by replaying its
event log. It is updated in place (a run of 100,000 steps must not copy its
state per event). Both the in-process executor and the distributed coordinator
drive it, so they share one semantics:

* a step is decided once every source of every input is final;
* an upstream failure (or abandonment) abandons it: it will never run;
* an input none of whose sources yielded a value makes it skipped, except a
  fan-in or collect, which runs with the values that exist;
* a ``DynamicOut`` copies the steps mapped over it once per mapping key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from opgrid.errors import InvalidTransition
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.protocol.events import RunEvent
from opgrid.orchestrator.protocol.status import (
    FINAL_STEP_STATUSES,
    IN_FLIGHT,
    RunStatus,
    StepStatus,
)
from opgrid.orchestrator.protocol.step_keys import mapped_key

from .plan import ExecutionPlan, OutputRef, PlanInput, PlanStep

S = StepStatus

#: The transitions a step may make; anything else raises ``InvalidTransition``.
ALLOWED: Mapping[StepStatus, frozenset[StepStatus]] = {
    S.PENDING: frozenset({S.QUEUED, S.SKIPPED, S.ABANDONED, S.CANCELED}),
    S.QUEUED: frozenset({S.RUNNING, S.SUCCESS, S.FAILURE, S.UP_FOR_RETRY, S.CANCELED}),
    S.RUNNING: frozenset({S.SUCCESS, S.FAILURE, S.UP_FOR_RETRY, S.CANCELED}),
    S.UP_FOR_RETRY: frozenset({S.RUNNING, S.SUCCESS, S.FAILURE, S.UP_FOR_RETRY, S.CANCELED}),
    S.SUCCESS: frozenset(),
    S.FAILURE: frozenset(),
    S.SKIPPED: frozenset(),
    S.ABANDONED: frozenset(),
    S.CANCELED: frozenset(),
}


#: A cancel request, and (in logs from before requests had their own kind) the end.
_CANCELS = frozenset({E.RUN_CANCELING, E.RUN_CANCELED})


@dataclass(frozen=True, slots=True)
class DispatchStep:
    """Run ``attempt`` of a step, not before ``delay_s`` after the event that caused it."""

    step_key: str
    attempt: int
    delay_s: float = 0.0
    #: with a delay: when it is due, on the clock of that event's timestamp (so whoever
    #: replays the run's log finds the same time); None: at once
    due_at: float | None = None


@dataclass(frozen=True, slots=True)
class SkipStep:
    """A step will not run because an input was never produced."""

    step_key: str
    reason: str


@dataclass(frozen=True, slots=True)
class AbandonStep:
    """A step will never run because an upstream step failed."""

    step_key: str
    reason: str


@dataclass(frozen=True, slots=True)
class FinishRun:
    """Every step is final."""

    status: RunStatus


Command = DispatchStep | SkipStep | AbandonStep | FinishRun

#: step key -> output name -> the mapping keys it yielded (None for a plain output)
Reused = Mapping[str, Mapping[str, list[str | None]]]


@dataclass(frozen=True, slots=True)
class ValueRef:
    """One stored output value an input reads."""

    step_key: str
    output: str
    mapping_key: str | None = None


@dataclass(slots=True)
class _Step:
    plan: PlanStep
    key: str
    mapping_key: str | None = None
    status: StepStatus = S.PENDING
    attempt: int = 0
    dispatched: int = 0  # the highest attempt dispatched so far
    # the current attempt's outputs in order, each once however often it was reported
    pending_outputs: dict[tuple[str, str | None], None] = field(default_factory=dict)
    yielded: dict[str, list[str | None]] = field(default_factory=dict)
    #: upstream steps not final yet; -1 when the step reads mapped copies, whose
    #: number is unknown until their root succeeds (then every settle re-checks it)
    waiting: int = -1


class RunState:
    """The status of every step of one run, advanced by events."""

    def __init__(self, plan: ExecutionPlan) -> None:
        self.plan = plan
        self._templates: dict[str, PlanStep] = {}
        self._steps: dict[str, _Step] = {}
        # step -> the steps reading it, as an ordered set
        self._downstream: dict[str, dict[str, None]] = {}
        self._region: dict[tuple[str, str], list[str]] = {}
        self._instances: dict[str, list[str]] = {}
        self._unsettled = 0
        self._in_flight = 0
        #: steps in the order they succeeded (reused ones first)
        self._succeeded: list[str] = []
        self._handlers = {
            E.STEP_START: self._on_start,
            E.STEP_RESTARTED: self._on_start,
            E.STEP_OUTPUT: self._on_output,
            E.STEP_SUCCESS: self._on_success,
            E.STEP_FAILURE: self._on_failure,
            E.STEP_UP_FOR_RETRY: self._on_retry,
            E.STEP_SKIPPED: self._on_skipped,
            E.STEP_ABANDONED: self._on_skipped,
        }
        self._finished = False
        self._canceled = False
        for step in plan.steps:
            self._downstream.setdefault(step.key, {})
            for plan_input in step.inputs:
                for source in plan_input.sources:
                    self._downstream.setdefault(source.step, {})[step.key] = None
            if step.mapped_by is None:
                self._steps[step.key] = _Step(step, step.key)
                self._unsettled += 1
            else:
                self._templates[step.key] = step
                region = (step.mapped_by.step, step.mapped_by.output)
                self._region.setdefault(region, []).append(step.key)
        for step_state in self._steps.values():
            upstream = {s.step for i in step_state.plan.inputs for s in i.sources}
            if not upstream & self._templates.keys():
                step_state.waiting = len(upstream)

    # Queries ---------------------------------------------------------------------
    @property
    def is_finished(self) -> bool:
        return self._finished

    @property
    def run_status(self) -> RunStatus | None:
        """The run's outcome once every step is final, else None."""
        if not self._finished:
            return None
        if self._canceled:
            return RunStatus.CANCELED
        failed = any(s.status in (S.FAILURE, S.ABANDONED, S.CANCELED) for s in self._steps.values())
        return RunStatus.FAILURE if failed else RunStatus.SUCCESS

    @property
    def in_flight(self) -> int:
        """Steps dispatched and not yet final (queued, running or waiting to retry)."""
        return self._in_flight

    def statuses(self) -> dict[str, StepStatus]:
        """Every concrete step's status (mapped copies included, templates not)."""
        return {key: step.status for key, step in self._steps.items()}

    def status_of(self, step_key: str) -> StepStatus:
        return self._get(step_key).status

    def attempt_of(self, step_key: str) -> int:
        return self._get(step_key).attempt

    def current_attempt(self, step_key: str) -> int:
        """The attempt sent last (a retry due counts before it starts)."""
        step = self._get(step_key)
        return max(step.attempt, step.dispatched)

    def step_plan(self, step_key: str) -> PlanStep:
        return self._get(step_key).plan

    def mapping_key_of(self, step_key: str) -> str | None:
        return self._get(step_key).mapping_key

    def instances_of(self, template_key: str) -> list[str]:
        """The mapped copies made of a template so far, in mapping-key order."""
        return list(self._instances.get(template_key, ()))

    def yielded(self, step_key: str) -> dict[str, list[str | None]]:
        """The outputs a successful step produced, with their mapping keys."""
        return self._get(step_key).yielded

    def succeeded(self) -> list[str]:
        """The steps that succeeded, in the order they did (reused ones first)."""
        return list(self._succeeded)

    def input_values(self, step_key: str) -> dict[str, list[ValueRef]]:
        """For each data input fed by steps: the stored values to read, in order."""
        step = self._get(step_key)
        refs: dict[str, list[ValueRef]] = {}
        for plan_input in step.plan.inputs:
            if plan_input.sources:
                refs[plan_input.name] = [
                    ref
                    for source in plan_input.sources
                    for ref in self._refs(step, plan_input, source)
                    if self._produced(ref)
                ]
        return refs

    # Events ----------------------------------------------------------------------
    def start(self, reused: Reused | None = None) -> list[Command]:
        """The commands that begin the run (steps with no upstream).

        Args:
            reused: for a re-execution, the steps whose outputs an earlier run made,
                in the order they succeeded there, with the outputs each yielded; each
                counts as succeeded here the moment it would be dispatched.
        """
        commands: list[Command] = []
        for step in list(self._steps.values()):
            if step.waiting <= 0:
                self._decide(step, commands)
        for key, yielded in (reused or {}).items():
            earlier = self._steps.get(key)
            if earlier is None or earlier.status is not S.QUEUED:
                continue  # decided otherwise this time: it runs (or not) as decided
            for output, mapping_keys in yielded.items():
                for mapping_key in mapping_keys:
                    earlier.pending_outputs[(output, mapping_key)] = None
            self._succeed(earlier, 0, commands)
        self._check_finished(commands)
        if not reused:
            return commands
        return [
            c
            for c in commands
            if not isinstance(c, DispatchStep) or self._steps[c.step_key].status is S.QUEUED
        ]

    def apply(self, event: RunEvent) -> list[Command]:
        """Advance by one event; returns what the executor must do now."""
        if event.kind in _CANCELS:
            return self._cancel()
        handler = self._handlers.get(event.kind)
        if event.step_key is None or handler is None:
            return []
        step = self._get(event.step_key)
        if self._is_stale(step, event):
            return []
        commands: list[Command] = []
        handler(step, event, commands)
        self._check_finished(commands)
        return commands

    def replay(self, events: Iterable[RunEvent], reused: Reused | None = None) -> list[Command]:
        """Rebuild from a run's event log; returns the commands still outstanding (a skip
        the log records already is done: its event is written once)."""
        outstanding: dict[str, Command] = {}
        for command in self.start(reused):
            outstanding[_command_key(command)] = command
        recorded: set[str] = set()
        for event in events:
            if event.kind is E.STEP_SKIPPED and event.step_key is not None:
                recorded.add(event.step_key)
            for command in self.apply(event):
                outstanding[_command_key(command)] = command
        return [
            c
            for c in outstanding.values()
            if not (isinstance(c, SkipStep) and c.step_key in recorded)
            and (
                not isinstance(c, DispatchStep)
                or self._steps[c.step_key].status in (S.QUEUED, S.UP_FOR_RETRY)
            )
        ]

    # Transitions -------------------------------------------------------------------
    def _get(self, step_key: str) -> _Step:
        step = self._steps.get(step_key)
        if step is None:
            raise InvalidTransition(f"run has no step {step_key!r}")
        return step

    def _is_stale(self, step: _Step, event: RunEvent) -> bool:
        """Events of an earlier attempt, or repeats of a settled one, change nothing."""
        if event.attempt < step.attempt:
            return True
        if event.attempt > step.attempt:
            if event.attempt <= step.dispatched:
                # the retry due: new, unless the run was canceled while it was in flight
                return step.status in FINAL_STEP_STATUSES
            raise InvalidTransition(
                f"step {step.key!r}: attempt {event.attempt} was never dispatched "
                f"(current attempt {step.attempt}, status {step.status.value})"
            )
        if step.status is S.UP_FOR_RETRY:
            return True  # the failed attempt reporting again
        return step.status in FINAL_STEP_STATUSES

    def _move(self, step: _Step, target: StepStatus) -> None:
        if target not in ALLOWED[step.status]:
            raise InvalidTransition(
                f"step {step.key!r} cannot go from {step.status.value} to {target.value}"
            )
        self._in_flight += (target in IN_FLIGHT) - (step.status in IN_FLIGHT)
        step.status = target
        if target in FINAL_STEP_STATUSES:
            self._unsettled -= 1

    def _on_start(self, step: _Step, event: RunEvent, commands: list[Command]) -> None:
        if step.status is S.RUNNING:
            return  # a redelivered attempt starting again
        if step.status is S.PENDING:
            raise InvalidTransition(f"step {step.key!r} started before it was dispatched")
        step.attempt = event.attempt
        step.pending_outputs.clear()
        self._move(step, S.RUNNING)

    def _on_output(self, step: _Step, event: RunEvent, commands: list[Command]) -> None:
        if step.status not in (S.RUNNING, S.QUEUED, S.UP_FOR_RETRY):
            raise InvalidTransition(
                f"step {step.key!r} produced an output while {step.status.value}"
            )
        output = "result" if event.output_name is None else event.output_name
        declared = next((o for o in step.plan.outputs if o.name == output), None)
        if declared is None:
            raise InvalidTransition(f"step {step.key!r} has no output {output!r}")
        if declared.is_dynamic != (event.mapping_key is not None):
            raise InvalidTransition(
                f"step {step.key!r}: output {output!r} "
                + ("is dynamic and needs" if declared.is_dynamic else "takes no")
                + " mapping key"
            )
        step.pending_outputs[(output, event.mapping_key)] = None

    def _on_success(self, step: _Step, event: RunEvent, commands: list[Command]) -> None:
        self._succeed(step, event.attempt, commands)

    def _succeed(self, step: _Step, attempt: int, commands: list[Command]) -> None:
        step.attempt = attempt
        self._move(step, S.SUCCESS)
        self._succeeded.append(step.key)
        for output, mapping_key in step.pending_outputs:
            step.yielded.setdefault(output, []).append(mapping_key)
        step.pending_outputs = {}
        for out in step.plan.outputs:
            if out.is_dynamic:
                self._expand(step, out.name, commands)
        self._settled(step, commands)

    def _on_failure(self, step: _Step, event: RunEvent, commands: list[Command]) -> None:
        step.attempt = event.attempt
        step.pending_outputs = {}
        self._move(step, S.FAILURE)
        self._settled(step, commands)

    def _on_retry(self, step: _Step, event: RunEvent, commands: list[Command]) -> None:
        step.attempt = event.attempt
        step.pending_outputs = {}
        self._move(step, S.UP_FOR_RETRY)
        step.dispatched = event.attempt + 1
        delay = event.retry_delay_s or 0.0
        due = event.timestamp + delay if delay > 0 else None
        commands.append(DispatchStep(step.key, step.dispatched, delay, due))

    def _on_skipped(self, step: _Step, event: RunEvent, commands: list[Command]) -> None:
        """Skips are decided here; a recorded one may only confirm it."""
        raise InvalidTransition(f"step {step.key!r} was reported skipped while {step.status.value}")

    def _cancel(self) -> list[Command]:
        if self._finished:
            return []  # a run that already ended keeps its outcome
        self._canceled = True
        for step in self._steps.values():
            if step.status not in FINAL_STEP_STATUSES:
                self._move(step, S.CANCELED)
        for template_key in self._templates:
            self._instances.setdefault(template_key, [])  # no copies will be made now
        commands: list[Command] = []
        self._check_finished(commands)
        return commands

    # Deciding ------------------------------------------------------------------------
    def _settled(self, step: _Step, commands: list[Command]) -> None:
        """A step became final: decide what waited on it."""
        template = step.plan.key
        if step.mapping_key is not None:
            # a mapped copy: its siblings downstream in the same region, and collectors
            for child in self._downstream.get(template, ()):
                sibling = self._steps.get(mapped_key(child, step.mapping_key))
                if sibling is not None:
                    self._decide(sibling, commands)
                elif child not in self._templates:
                    self._decide(self._steps[child], commands)
            return
        for child in self._downstream.get(template, ()):
            if child in self._templates:
                for key in self._instances.get(child, ()):
                    self._decide(self._steps[key], commands)
                if step.status is not S.SUCCESS and self._is_region_root(step, child):
                    self._settle_empty_region(step, commands)
            else:
                self._upstream_settled(self._steps[child], commands)

    def _upstream_settled(self, step: _Step, commands: list[Command]) -> None:
        """One of a step's upstream steps became final: decide it once all are (O(1) each,
        so a fan-in of n sources costs O(n), not O(n^2))."""
        if step.waiting > 0:
            step.waiting -= 1
            if step.waiting > 0:
                return
        self._decide(step, commands)

    def _is_region_root(self, step: _Step, template_key: str) -> bool:
        mapped_by = self._templates[template_key].mapped_by
        return mapped_by is not None and mapped_by.step == step.key

    def _expand(self, step: _Step, output: str, commands: list[Command]) -> None:
        """Copy the steps mapped over ``step.output`` once per mapping key."""
        keys = [k for k in step.yielded.get(output, []) if k is not None]
        templates = self._region.get((step.key, output), [])
        for template_key in templates:
            self._instances[template_key] = []
        for mapping_key in keys:
            for template_key in templates:
                copy_key = mapped_key(template_key, mapping_key)
                self._steps[copy_key] = _Step(self._templates[template_key], copy_key, mapping_key)
                self._instances[template_key].append(copy_key)
                self._unsettled += 1
        for template_key in templates:
            for copy_key in self._instances[template_key]:
                self._decide(self._steps[copy_key], commands)
        if not keys:
            self._settle_empty_region(step, commands, output)

    def _settle_empty_region(
        self, step: _Step, commands: list[Command], output: str | None = None
    ) -> None:
        """No copies will ever exist: decide what collects from the region."""
        for (root, out), templates in self._region.items():
            if root != step.key or (output is not None and out != output):
                continue
            for template_key in templates:
                self._instances.setdefault(template_key, [])
                for child in self._downstream.get(template_key, ()):
                    if child not in self._templates:
                        self._decide(self._steps[child], commands)

    def _decide(self, step: _Step, commands: list[Command]) -> None:
        if step.status is not S.PENDING:
            return
        missing: str | None = None
        for plan_input in step.plan.inputs:
            verdict = self._input_verdict(step, plan_input)
            if verdict == "wait":
                return
            if verdict.startswith("fail:"):
                self._move(step, S.ABANDONED)
                commands.append(
                    AbandonStep(step.key, f"upstream step {verdict[5:]} did not succeed")
                )
                self._settled(step, commands)
                return
            if verdict == "missing" and missing is None:
                missing = plan_input.name
        if missing is not None:
            self._move(step, S.SKIPPED)
            commands.append(SkipStep(step.key, f"input {missing!r} was not produced upstream"))
            self._settled(step, commands)
            return
        self._move(step, S.QUEUED)
        commands.append(DispatchStep(step.key, step.attempt))

    def _input_verdict(self, step: _Step, plan_input: PlanInput) -> str:
        """ "wait", "fail:<step>", "missing" or "ok" for one input."""
        if not plan_input.sources:
            return "ok"
        produced = 0
        for source in plan_input.sources:
            units = self._units(step, plan_input, source)
            if units is None:
                return "wait"
            for unit in units:
                status = self._steps[unit].status
                if status not in FINAL_STEP_STATUSES:
                    return "wait"
                if status in (S.FAILURE, S.ABANDONED, S.CANCELED):
                    return f"fail:{unit}"
            produced += sum(
                1 for ref in self._refs(step, plan_input, source) if self._produced(ref)
            )
        if produced == 0 and not plan_input.run_inputs:
            if plan_input.kind == "collect" and self._mapped_nothing(plan_input.sources[0]):
                return "ok"  # a collect runs with an empty list when nothing was mapped
            return "missing"
        return "ok"

    def _mapped_nothing(self, source: OutputRef) -> bool:
        """Whether the dynamic root of a collected source succeeded without mapping keys."""
        template = self._templates.get(source.step)
        if template is not None and template.mapped_by is not None:
            root = self._steps[template.mapped_by.step]
            return root.status is S.SUCCESS and not self._instances.get(source.step)
        root = self._steps[source.step]
        return root.status is S.SUCCESS and not root.yielded.get(source.output)

    def _units(self, step: _Step, plan_input: PlanInput, source: OutputRef) -> list[str] | None:
        """The concrete steps a source stands for; None while they are not known yet."""
        if source.step not in self._templates:
            return [source.step]
        if step.mapping_key is not None and plan_input.kind != "collect":
            return [mapped_key(source.step, step.mapping_key)]
        if source.step not in self._instances:
            return None
        mapped_by = self._templates[source.step].mapped_by
        assert mapped_by is not None
        # the region's root decides failure when there are no copies
        return [*self._instances[source.step], mapped_by.step]

    def _refs(self, step: _Step, plan_input: PlanInput, source: OutputRef) -> list[ValueRef]:
        """The stored values a source stands for (produced or not)."""
        mapped_by = step.plan.mapped_by
        if source.step in self._templates:
            if step.mapping_key is not None and plan_input.kind != "collect":
                return [ValueRef(mapped_key(source.step, step.mapping_key), source.output)]
            return [ValueRef(key, source.output) for key in self._instances.get(source.step, ())]
        upstream = self._steps[source.step]
        is_dynamic = any(o.name == source.output and o.is_dynamic for o in upstream.plan.outputs)
        if not is_dynamic:
            return [ValueRef(source.step, source.output)]
        if plan_input.kind == "collect" or mapped_by is None:
            keys = upstream.yielded.get(source.output, [])
            return [ValueRef(source.step, source.output, k) for k in keys]
        return [ValueRef(source.step, source.output, step.mapping_key)]

    def _produced(self, ref: ValueRef) -> bool:
        step = self._steps.get(ref.step_key)
        if step is None or step.status is not S.SUCCESS:
            return False
        keys = step.yielded.get(ref.output)
        return keys is not None and (ref.mapping_key is None or ref.mapping_key in keys)

    def _check_finished(self, commands: list[Command]) -> None:
        if self._finished or self._unsettled > 0:
            return
        if any(template not in self._instances for template in self._templates):
            return
        self._finished = True
        status = self.run_status
        assert status is not None
        commands.append(FinishRun(status))


def _command_key(command: Command) -> str:
    if isinstance(command, FinishRun):
        return "finish"
    return command.step_key
