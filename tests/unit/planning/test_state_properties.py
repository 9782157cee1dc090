"""Properties of the run state machine over random DAGs, random outcomes and random delivery.

A scenario is a random layered plan (1-30 steps; single-source, fan-in and Nothing inputs;
required and optional outputs; sometimes one dynamic root with mapped templates and a collector)
and the outcome every concrete step will have (mapped copies included). A driver takes the
dispatched attempts in random order, interleaves their events, delivers some twice and
redelivers old ones. ``expected_statuses`` is an oracle computed from the outcomes alone, in
plan order, from the rules Dagster documents; it never looks at ``RunState``.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass
from typing import TypeVar

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.planning.plan import (
    ExecutionPlan,
    OutputRef,
    PlanInput,
    PlanOutput,
    PlanStep,
)
from opgrid.orchestrator.planning.state import (
    AbandonStep,
    Command,
    DispatchStep,
    FinishRun,
    RunState,
    SkipStep,
    ValueRef,
)
from opgrid.orchestrator.protocol.events import RunEvent
from opgrid.orchestrator.protocol.status import FINAL_STEP_STATUSES, RunStatus
from opgrid.orchestrator.protocol.status import StepStatus as S

#: The mapping keys a dynamic root may yield.
MAPPING_KEYS = ("a", "b", "c")
#: The dynamic output's name.
DYN = "dyn"
#: Statuses that abandon everything downstream.
FAILED = frozenset({S.FAILURE, S.ABANDONED, S.CANCELED})

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    database=None,
    phases=[Phase.generate, Phase.shrink],  # no explain phase: it traces every rerun
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

Emit = tuple[str, str | None]  # (output name, mapping key)
T = TypeVar("T")


@dataclass(frozen=True)
class Outcome:
    """What every attempt of one concrete step does."""

    retried: tuple[tuple[Emit, ...], ...]  # outputs of each attempt that asks for a retry
    succeeded: bool  # how the last attempt ends
    final: tuple[Emit, ...]  # outputs of the last attempt (discarded when it fails)


@dataclass(frozen=True)
class Scenario:
    plan: ExecutionPlan
    root: str | None  # the dynamic root, when there is one
    outcomes: dict[str, Outcome]  # by concrete step key, for every copy that may exist

    @property
    def templates(self) -> frozenset[str]:
        return frozenset(s.key for s in self.plan.steps if s.mapped_by is not None)


# Scenarios -----------------------------------------------------------------------------------


def _ref(key: str, output: str) -> OutputRef:
    return OutputRef(step=key, output=output)


def _pick(draw: st.DrawFn, items: list[T]) -> T:
    return items[draw(st.integers(0, len(items) - 1))]


def _subset(draw: st.DrawFn, items: list[T]) -> list[T]:
    mask = draw(st.integers(0, 2 ** len(items) - 1))
    return [item for bit, item in enumerate(items) if mask >> bit & 1]


def _outputs(draw: st.DrawFn) -> list[PlanOutput]:
    """Output "result", maybe "o1", each required or optional."""
    code = draw(st.integers(0, 7))
    outputs = [PlanOutput(name="result", is_required=not code & 2)]
    if code & 1:
        outputs.append(PlanOutput(name="o1", is_required=not code & 4))
    return outputs


def _plain_inputs(draw: st.DrawFn, plain: list[OutputRef], most: int) -> list[PlanInput]:
    """Inputs reading unmapped outputs: single-source or fan-in, data or Nothing."""
    if not plain:
        return []
    inputs = []
    for index in range(draw(st.integers(0, most))):
        code = draw(st.integers(0, 7))
        count = draw(st.integers(1, 3)) if code & 1 else 1
        sources = list(dict.fromkeys(_pick(draw, plain) for _ in range(count)))
        inputs.append(
            PlanInput(
                name=f"in{index}",
                kind="fan_in" if code & 1 else "from_step",
                sources=tuple(sources),
                is_nothing=code & 6 == 6,
            )
        )
    return inputs


def _roles(draw: st.DrawFn, n: int) -> list[str]:
    roles = ["plain"] * n
    if n >= 3 and draw(st.integers(0, 2)) == 0:
        root = draw(st.integers(0, n - 3))
        mapped = draw(st.integers(1, min(3, n - root - 2)))
        roles[root] = "root"
        roles[root + 1 : root + 1 + mapped] = ["template"] * mapped
        roles[root + 1 + mapped] = "collector"
    return roles


@st.composite
def plans(draw: st.DrawFn) -> tuple[ExecutionPlan, str | None]:
    """A random layered plan: a step reads only outputs of steps in earlier layers."""
    n = draw(st.integers(1, 30))
    roles = _roles(draw, n)
    steps: list[PlanStep] = []
    layers: list[int] = []
    root: str | None = None
    region: list[OutputRef] = []  # the root's dynamic output and the templates' outputs
    layer = 0
    for index, role in enumerate(roles):
        if index and (role in ("template", "collector") or draw(st.booleans())):
            layer += 1
        plain = [
            _ref(s.key, o.name)
            for s, s_layer in zip(steps, layers, strict=True)
            if s_layer < layer and s.mapped_by is None
            for o in s.outputs
            if not o.is_dynamic
        ]
        key = f"m{index}" if role == "template" else f"s{index}"
        outputs = _outputs(draw)
        mapped_by = None
        if role == "root":
            root = key
            dynamic = PlanOutput(name=DYN, is_dynamic=True, is_required=draw(st.booleans()))
            outputs = [dynamic] + (outputs if draw(st.booleans()) else [])
            inputs = _plain_inputs(draw, plain, 2)
        elif role == "template":
            assert root is not None
            mapped_by = _ref(root, DYN)
            source = _pick(draw, region)
            inputs = [PlanInput(name="x", kind="from_step", sources=(source,))]
            inputs += _plain_inputs(draw, plain, 1)
        elif role == "collector":
            source = _pick(draw, region)
            inputs = [PlanInput(name="xs", kind="collect", sources=(source,))]
            inputs += _plain_inputs(draw, plain, 1)
        else:
            inputs = _plain_inputs(draw, plain, 3)
        step = PlanStep(
            key=key, op=key, inputs=tuple(inputs), outputs=tuple(outputs), mapped_by=mapped_by
        )
        steps.append(step)
        layers.append(layer)
        if role == "root":
            region.append(_ref(key, DYN))
        elif role == "template":
            region.extend(_ref(key, o.name) for o in step.outputs)
    return ExecutionPlan(job_name="random", steps=tuple(steps)), root


@st.composite
def outcomes(draw: st.DrawFn, step: PlanStep) -> Outcome:
    possible: list[Emit] = [(o.name, None) for o in step.outputs if not o.is_dynamic]
    if any(o.is_dynamic for o in step.outputs):
        possible += [(DYN, key) for key in MAPPING_KEYS]
    required = [(o.name, None) for o in step.outputs if o.is_required and not o.is_dynamic]
    code = draw(st.integers(0, 39))
    retried = tuple(tuple(_subset(draw, possible)) for _ in range((0, 0, 0, 1, 2)[code % 5]))
    succeeded = code // 5 < 7  # one step in eight fails
    final = _subset(draw, possible)
    if succeeded:
        final += [emit for emit in required if emit not in final]
    return Outcome(retried, succeeded, tuple(final))


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    plan, root = draw(plans())
    by_key: dict[str, Outcome] = {}
    for step in plan.steps:
        if step.mapped_by is None:
            by_key[step.key] = draw(outcomes(step))
        else:
            for mapping_key in MAPPING_KEYS:
                by_key[f"{step.key}[{mapping_key}]"] = draw(outcomes(step))
    return Scenario(plan, root, by_key)


# The oracle ----------------------------------------------------------------------------------


def sources_of(
    scenario: Scenario,
    mapping_key: str | None,
    plan_input: PlanInput,
    source: OutputRef,
    root_keys: list[str],
) -> tuple[list[str], list[ValueRef]]:
    """The concrete steps a source stands for, and the values it may hold."""
    if source.step in scenario.templates:
        assert scenario.root is not None
        if mapping_key is not None and plan_input.kind != "collect":
            sibling = f"{source.step}[{mapping_key}]"
            return [sibling], [ValueRef(sibling, source.output)]
        copies = [f"{source.step}[{key}]" for key in root_keys]
        return [*copies, scenario.root], [ValueRef(c, source.output) for c in copies]
    if source.output == DYN:
        if plan_input.kind == "collect":
            return [source.step], [ValueRef(source.step, DYN, key) for key in root_keys]
        return [source.step], [ValueRef(source.step, DYN, mapping_key)]
    return [source.step], [ValueRef(source.step, source.output)]


def _verdict(
    scenario: Scenario,
    key: str,
    step: PlanStep,
    mapping_key: str | None,
    status: dict[str, S],
    produced: set[ValueRef],
    root_keys: list[str],
) -> S:
    failed = missing = False
    for plan_input in step.inputs:
        if not plan_input.sources:
            continue
        found = 0
        for source in plan_input.sources:
            units, refs = sources_of(scenario, mapping_key, plan_input, source, root_keys)
            failed = failed or any(status[unit] in FAILED for unit in units)
            found += sum(ref in produced for ref in refs)
        if found == 0 and not (
            # a collect runs with no values when the root succeeded but mapped nothing
            plan_input.kind == "collect"
            and status[scenario.root or ""] is S.SUCCESS
            and not root_keys
        ):
            missing = True
    if failed:
        return S.ABANDONED
    if missing:
        return S.SKIPPED
    return S.SUCCESS if scenario.outcomes[key].succeeded else S.FAILURE


def expected_statuses(scenario: Scenario) -> dict[str, S]:
    """Every concrete step's final status, from the outcomes alone."""
    status: dict[str, S] = {}
    produced: set[ValueRef] = set()
    root_keys: list[str] = []
    for step in scenario.plan.steps:
        if step.mapped_by is None:
            concrete: list[tuple[str, str | None]] = [(step.key, None)]
        else:
            concrete = [(f"{step.key}[{k}]", k) for k in root_keys]
        for key, mapping_key in concrete:
            status[key] = _verdict(scenario, key, step, mapping_key, status, produced, root_keys)
            if status[key] is S.SUCCESS:
                final = scenario.outcomes[key].final
                produced.update(ValueRef(key, name, mk) for name, mk in final)
                if key == scenario.root:
                    root_keys = [mk for name, mk in final if name == DYN and mk is not None]
    return status


# The driver ----------------------------------------------------------------------------------


def ev(kind: E, step_key: str | None = None, attempt: int = 0, **fields: object) -> RunEvent:
    return RunEvent(
        run_id="run", kind=kind, timestamp=0.0, step_key=step_key, attempt=attempt, **fields
    )


class Driver:
    """Plays a scenario against a ``RunState``, checking every command as it comes."""

    def __init__(self, scenario: Scenario, rng: random.Random) -> None:
        self.scenario = scenario
        self.rng = rng
        self.state = RunState(scenario.plan)
        self.log: list[RunEvent] = []
        self.commands: list[Command] = []
        self.in_flight: list[deque[RunEvent]] = []
        self.attempts: dict[str, int] = {}  # the latest attempt dispatched, per step
        self.settled: dict[str, S] = {}  # the driver's own view of which steps are final
        self.produced: set[ValueRef] = set()
        self.root_keys: list[str] = []
        self.canceled_at: dict[str, S] | None = None

    def run(self, cancel_at: int | None = None, replay_at: int | None = None) -> None:
        self.handle(self.state.start())
        delivered = 0
        while self.in_flight:
            if delivered == cancel_at:
                self.cancel()
            if delivered == replay_at:
                self.check_replay()
            index = self.rng.randrange(len(self.in_flight))
            queue = self.in_flight[index]
            event = queue.popleft()
            if not queue:
                del self.in_flight[index]
            self.deliver(event)
            delivered += 1
            roll = self.rng.random()
            if roll < 0.1:
                self.deliver(event)  # delivered twice
            elif roll < 0.15:
                self.deliver(self.rng.choice(self.log))  # an old event, redelivered

    def deliver(self, event: RunEvent) -> None:
        self.log.append(event)
        commands = self.state.apply(event)
        if self.canceled_at is not None:
            assert commands == [], f"{event.describe()} after the cancel gave {commands}"
            return
        self._note(event)
        self.handle(commands)

    def cancel(self) -> None:
        self.canceled_at = self.state.statuses()
        event = ev(E.RUN_CANCELED)
        self.log.append(event)
        self.handle(self.state.apply(event))

    def _note(self, event: RunEvent) -> None:
        key = event.step_key
        if key is None or event.kind not in (E.STEP_SUCCESS, E.STEP_FAILURE):
            return
        outcome = self.scenario.outcomes[key]
        if event.attempt < len(outcome.retried) or key in self.settled:
            return
        if event.kind is E.STEP_FAILURE:
            self.settled[key] = S.FAILURE
            return
        self.settled[key] = S.SUCCESS
        self.produced.update(ValueRef(key, name, mk) for name, mk in outcome.final)
        if key == self.scenario.root:
            self.root_keys = [mk for name, mk in outcome.final if name == DYN and mk is not None]

    def handle(self, commands: list[Command]) -> None:
        for command in commands:
            assert not any(isinstance(c, FinishRun) for c in self.commands), "command after finish"
            self.commands.append(command)
            if isinstance(command, DispatchStep):
                assert self.canceled_at is None, "dispatch after the cancel"
                self.check_dispatch(command)
                self.in_flight.append(deque(self.events_for(command.step_key, command.attempt)))
            elif isinstance(command, SkipStep | AbandonStep):
                assert command.step_key not in self.settled, f"{command} decided twice"
                skipped = isinstance(command, SkipStep)
                self.settled[command.step_key] = S.SKIPPED if skipped else S.ABANDONED

    def check_dispatch(self, command: DispatchStep) -> None:
        key = command.step_key
        assert key not in self.settled, f"{key} dispatched after it settled"
        assert command.attempt == self.attempts.get(key, -1) + 1, f"{key}: attempt out of order"
        self.attempts[key] = command.attempt
        if command.attempt:
            return  # a retry: its sources were final for the first attempt
        step = self.state.step_plan(key)
        mapping_key = self.state.mapping_key_of(key)
        values = self.state.input_values(key)
        for plan_input in step.inputs:
            expected: list[ValueRef] = []
            for source in plan_input.sources:
                units, refs = sources_of(
                    self.scenario, mapping_key, plan_input, source, self.root_keys
                )
                waiting = [unit for unit in units if unit not in self.settled]
                assert not waiting, f"{key} dispatched while {waiting} are not final"
                expected += [ref for ref in refs if ref in self.produced]
            if plan_input.sources:
                assert values[plan_input.name] == expected, f"{key}.{plan_input.name}"

    def events_for(self, key: str, attempt: int) -> list[RunEvent]:
        outcome = self.scenario.outcomes[key]
        events = []
        if self.rng.random() > 0.15:  # a worker may report its outputs without a start event
            events.append(ev(E.STEP_RESTARTED if attempt else E.STEP_START, key, attempt))
        if attempt < len(outcome.retried):
            emits = outcome.retried[attempt]
            delay = self.rng.choice([None, 0.0, 1.5])
            terminal = ev(E.STEP_UP_FOR_RETRY, key, attempt, retry_delay_s=delay)
        else:
            emits = outcome.final
            terminal = ev(E.STEP_SUCCESS if outcome.succeeded else E.STEP_FAILURE, key, attempt)
        for name, mapping_key in emits:
            events.append(
                ev(E.STEP_OUTPUT, key, attempt, output_name=name, mapping_key=mapping_key)
            )
        events.append(terminal)
        return events

    def check_replay(self) -> None:
        """A fresh state fed the log so far agrees with the live one, and owes what it owes."""
        fresh = RunState(self.scenario.plan)
        commands = fresh.replay(list(self.log))
        live = self.state.statuses()
        assert fresh.statuses() == live
        in_flight = sum(s in (S.QUEUED, S.RUNNING, S.UP_FOR_RETRY) for s in live.values())
        assert self.state.in_flight == fresh.in_flight == in_flight
        outstanding = {(c.step_key, c.attempt) for c in commands if isinstance(c, DispatchStep)}
        due = {(k, self.attempts[k]) for k, s in live.items() if s in (S.QUEUED, S.UP_FOR_RETRY)}
        assert outstanding == due

    def finishes(self) -> list[FinishRun]:
        return [c for c in self.commands if isinstance(c, FinishRun)]


def _replayed(driver: Driver) -> tuple[RunState, list[Command]]:
    fresh = RunState(driver.scenario.plan)
    return fresh, fresh.replay(list(driver.log))


# Properties ----------------------------------------------------------------------------------


@SETTINGS
@given(scenario=scenarios(), seed=st.integers(0, 2**32 - 1), replay_at=st.integers(0, 60))
def test_random_run_settles_every_step_as_the_oracle_says_and_finishes_once(
    scenario: Scenario, seed: int, replay_at: int
) -> None:
    driver = Driver(scenario, random.Random(seed))
    driver.run(replay_at=replay_at)
    statuses = driver.state.statuses()
    expected = expected_statuses(scenario)

    assert statuses == expected
    assert all(status in FINAL_STEP_STATUSES for status in statuses.values())
    assert driver.settled == expected  # each step settled exactly once, as the commands said
    assert driver.finishes() == [driver.commands[-1]]
    failed = any(status in (S.FAILURE, S.ABANDONED) for status in statuses.values())
    run_status = RunStatus.FAILURE if failed else RunStatus.SUCCESS
    assert driver.finishes() == [FinishRun(run_status)]
    assert driver.state.run_status is run_status
    ran = {key for key, status in expected.items() if status in (S.SUCCESS, S.FAILURE)}
    assert set(driver.attempts) == ran
    assert all(driver.attempts[k] == len(scenario.outcomes[k].retried) for k in ran)


@SETTINGS
@given(scenario=scenarios(), seed=st.integers(0, 2**32 - 1))
def test_replaying_the_event_log_rebuilds_the_final_statuses(scenario: Scenario, seed: int) -> None:
    driver = Driver(scenario, random.Random(seed))
    driver.run()
    fresh, commands = _replayed(driver)
    assert fresh.statuses() == driver.state.statuses()
    assert fresh.run_status is driver.state.run_status
    assert not any(isinstance(c, DispatchStep) for c in commands)
    assert driver.finishes()[0] in commands
    for template in scenario.templates:
        assert fresh.instances_of(template) == driver.state.instances_of(template)


@SETTINGS
@given(scenario=scenarios(), seed=st.integers(0, 2**32 - 1), cancel_at=st.integers(0, 40))
def test_cancel_at_any_point_cancels_what_is_unsettled_and_ignores_late_reports(
    scenario: Scenario, seed: int, cancel_at: int
) -> None:
    driver = Driver(scenario, random.Random(seed))
    driver.run(cancel_at=cancel_at)
    statuses = driver.state.statuses()
    expected = expected_statuses(scenario)
    assert driver.finishes() == [driver.commands[-1]]
    if driver.canceled_at is None:  # the run ended before the cancel point
        assert statuses == expected
        return
    assert driver.finishes() == [FinishRun(RunStatus.CANCELED)]
    assert statuses.keys() == driver.canceled_at.keys()  # no copies are made after the cancel
    for key, before in driver.canceled_at.items():
        if before in FINAL_STEP_STATUSES:
            assert statuses[key] is before is expected[key]
        else:
            assert statuses[key] is S.CANCELED
    fresh, _ = _replayed(driver)
    assert fresh.statuses() == statuses
    assert fresh.run_status is RunStatus.CANCELED
