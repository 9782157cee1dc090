"""The concrete steps of one run and what feeds what, read by the run state machine.

``StepGraph`` holds every step's mutable record (``StepState``), the templates mapped
over a ``DynamicOut`` and the copies made of them, and answers the readiness questions
``RunState`` decides by: are an input's sources final, did one fail, which stored values
(``ValueRef``) does it read and were they produced. It moves no step; ``RunState`` does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from opgrid.errors import InvalidTransition
from opgrid.orchestrator.protocol.status import FINAL_STEP_STATUSES, StepStatus
from opgrid.orchestrator.protocol.step_keys import mapped_key

from .plan import ExecutionPlan, OutputRef, PlanInput, PlanStep

S = StepStatus


@dataclass(frozen=True, slots=True)
class ValueRef:
    """One stored output value an input reads."""

    step_key: str
    output: str
    mapping_key: str | None = None


@dataclass(slots=True)
class StepState:
    """One concrete step's progress (a mapped copy has its own)."""

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


class StepGraph:
    """The steps of one run: concrete ones by key, templates, and who reads whom."""

    def __init__(self, plan: ExecutionPlan) -> None:
        #: concrete steps (mapped copies included) by key
        self.steps: dict[str, StepState] = {}
        #: steps mapped over a dynamic output, by template key; copied per mapping key
        self.templates: dict[str, PlanStep] = {}
        #: step -> the steps reading it, as an ordered set
        self.downstream: dict[str, dict[str, None]] = {}
        #: (dynamic root, output) -> the templates mapped over it
        self.region: dict[tuple[str, str], list[str]] = {}
        #: template -> its copies so far; absent until its root's mapping keys are known
        self.instances: dict[str, list[str]] = {}
        for step in plan.steps:
            self.downstream.setdefault(step.key, {})
            for plan_input in step.inputs:
                for source in plan_input.sources:
                    self.downstream.setdefault(source.step, {})[step.key] = None
            if step.mapped_by is None:
                self.steps[step.key] = StepState(step, step.key)
            else:
                self.templates[step.key] = step
                region = (step.mapped_by.step, step.mapped_by.output)
                self.region.setdefault(region, []).append(step.key)
        for step_state in self.steps.values():
            upstream = {s.step for i in step_state.plan.inputs for s in i.sources}
            if not upstream & self.templates.keys():
                step_state.waiting = len(upstream)

    def get(self, step_key: str) -> StepState:
        step = self.steps.get(step_key)
        if step is None:
            raise InvalidTransition(f"run has no step {step_key!r}")
        return step

    def input_values(self, step: StepState) -> dict[str, list[ValueRef]]:
        """For each data input fed by steps: the stored values to read, in order."""
        refs: dict[str, list[ValueRef]] = {}
        for plan_input in step.plan.inputs:
            if plan_input.sources:
                refs[plan_input.name] = [
                    ref
                    for source in plan_input.sources
                    for ref in self.refs(step, plan_input, source)
                    if self.produced(ref)
                ]
        return refs

    def input_verdict(self, step: StepState, plan_input: PlanInput) -> str:
        """ "wait", "fail:<step>", "missing" or "ok" for one input."""
        if not plan_input.sources:
            return "ok"
        produced = 0
        for source in plan_input.sources:
            units = self.units(step, plan_input, source)
            if units is None:
                return "wait"
            for unit in units:
                status = self.steps[unit].status
                if status not in FINAL_STEP_STATUSES:
                    return "wait"
                if status in (S.FAILURE, S.ABANDONED, S.CANCELED):
                    return f"fail:{unit}"
            produced += sum(1 for ref in self.refs(step, plan_input, source) if self.produced(ref))
        if produced == 0 and not plan_input.run_inputs:
            if plan_input.kind == "collect" and self.mapped_nothing(plan_input.sources[0]):
                return "ok"  # a collect runs with an empty list when nothing was mapped
            return "missing"
        return "ok"

    def mapped_nothing(self, source: OutputRef) -> bool:
        """Whether the dynamic root of a collected source succeeded without mapping keys."""
        template = self.templates.get(source.step)
        if template is not None and template.mapped_by is not None:
            root = self.steps[template.mapped_by.step]
            return root.status is S.SUCCESS and not self.instances.get(source.step)
        root = self.steps[source.step]
        return root.status is S.SUCCESS and not root.yielded.get(source.output)

    def units(self, step: StepState, plan_input: PlanInput, source: OutputRef) -> list[str] | None:
        """The concrete steps a source stands for; None while they are not known yet."""
        if source.step not in self.templates:
            return [source.step]
        if step.mapping_key is not None and plan_input.kind != "collect":
            return [mapped_key(source.step, step.mapping_key)]
        if source.step not in self.instances:
            return None
        mapped_by = self.templates[source.step].mapped_by
        assert mapped_by is not None
        # the region's root decides failure when there are no copies
        return [*self.instances[source.step], mapped_by.step]

    def refs(self, step: StepState, plan_input: PlanInput, source: OutputRef) -> list[ValueRef]:
        """The stored values a source stands for (produced or not)."""
        mapped_by = step.plan.mapped_by
        if source.step in self.templates:
            if step.mapping_key is not None and plan_input.kind != "collect":
                return [ValueRef(mapped_key(source.step, step.mapping_key), source.output)]
            return [ValueRef(key, source.output) for key in self.instances.get(source.step, ())]
        upstream = self.steps[source.step]
        is_dynamic = any(o.name == source.output and o.is_dynamic for o in upstream.plan.outputs)
        if not is_dynamic:
            return [ValueRef(source.step, source.output)]
        if plan_input.kind == "collect" or mapped_by is None:
            keys = upstream.yielded.get(source.output, [])
            return [ValueRef(source.step, source.output, k) for k in keys]
        return [ValueRef(source.step, source.output, step.mapping_key)]

    def produced(self, ref: ValueRef) -> bool:
        step = self.steps.get(ref.step_key)
        if step is None or step.status is not S.SUCCESS:
            return False
        keys = step.yielded.get(ref.output)
        return keys is not None and (ref.mapping_key is None or ref.mapping_key in keys)
