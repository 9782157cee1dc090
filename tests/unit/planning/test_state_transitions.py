"""The run state machine, table-driven: every (from, to) pair of ``ALLOWED``, and what it ignores.

A step is driven into each status through events only (``_SETUP``), then offered the event that
would move it on. Pairs ``ALLOWED`` lists must be reachable; every other pair must be refused
with ``InvalidTransition``, ignored as a redelivery, or be one no event can ask for.
"""

from __future__ import annotations

import itertools

import pytest

from opgrid import DynamicOut, DynamicOutput, Out, Output, RetryPolicy, job, op
from opgrid.errors import InvalidTransition
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.planning.plan import (
    ExecutionPlan,
    OutputRef,
    PlanInput,
    PlanOutput,
    PlanStep,
)
from opgrid.orchestrator.planning.state import (
    ALLOWED,
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

# Plans ---------------------------------------------------------------------------------------


def ev(kind: E, step_key: str | None = None, attempt: int = 0, **fields: object) -> RunEvent:
    return RunEvent(
        run_id="run", kind=kind, timestamp=0.0, step_key=step_key, attempt=attempt, **fields
    )


def step(
    key: str,
    *inputs: PlanInput,
    outputs: tuple[PlanOutput, ...] = (PlanOutput(name="result", is_required=False),),
    mapped_by: OutputRef | None = None,
) -> PlanStep:
    return PlanStep(key=key, op=key, inputs=inputs, outputs=outputs, mapped_by=mapped_by)


def from_step(name: str, *sources: str, kind: str = "from_step") -> PlanInput:
    refs = tuple(OutputRef(step=s.split(".")[0], output=s.split(".")[1]) for s in sources)
    return PlanInput(name=name, kind=kind, sources=refs)  # type: ignore[arg-type]


def plan(*steps: PlanStep) -> ExecutionPlan:
    return ExecutionPlan(job_name="job", steps=steps)


#: a -> b; a's only output is optional, so b can be skipped.
CHAIN = plan(step("a"), step("b", from_step("x", "a.result")))

DYN = OutputRef(step="root", output="dyn")
#: root yields mapping keys; t runs once per key; c collects the copies.
DYNAMIC = plan(
    step("root", outputs=(PlanOutput(name="dyn", is_dynamic=True, is_required=False),)),
    step("t", from_step("x", "root.dyn"), mapped_by=DYN),
    step("c", from_step("xs", "t.result", kind="collect")),
)


def started(p: ExecutionPlan) -> tuple[RunState, list[Command]]:
    state = RunState(p)
    return state, state.start()


def apply_all(state: RunState, events: list[RunEvent]) -> list[Command]:
    return [command for event in events for command in state.apply(event)]


def succeed(key: str, *outputs: str, attempt: int = 0) -> list[RunEvent]:
    start = E.STEP_RESTARTED if attempt else E.STEP_START
    return [
        ev(start, key, attempt),
        *(ev(E.STEP_OUTPUT, key, attempt, output_name=name) for name in outputs),
        ev(E.STEP_SUCCESS, key, attempt),
    ]


# The table -----------------------------------------------------------------------------------

#: How CHAIN's step reaches each status, through events only: (step, events after start()).
_SETUP: dict[S, tuple[str, list[RunEvent]]] = {
    S.PENDING: ("b", []),
    S.QUEUED: ("a", []),
    S.RUNNING: ("a", [ev(E.STEP_START, "a")]),
    S.UP_FOR_RETRY: ("a", [ev(E.STEP_START, "a"), ev(E.STEP_UP_FOR_RETRY, "a")]),
    S.SUCCESS: ("a", succeed("a", "result")),
    S.FAILURE: ("a", [ev(E.STEP_START, "a"), ev(E.STEP_FAILURE, "a")]),
    S.SKIPPED: ("b", succeed("a")),
    S.ABANDONED: ("b", [ev(E.STEP_START, "a"), ev(E.STEP_FAILURE, "a")]),
    S.CANCELED: ("a", [ev(E.RUN_CANCELED)]),
}

#: The event that asks a step to move to a status; PENDING and QUEUED are never reported.
_ASKS: dict[S, E] = {
    S.RUNNING: E.STEP_START,
    S.SUCCESS: E.STEP_SUCCESS,
    S.FAILURE: E.STEP_FAILURE,
    S.UP_FOR_RETRY: E.STEP_UP_FOR_RETRY,
    S.SKIPPED: E.STEP_SKIPPED,
    S.ABANDONED: E.STEP_ABANDONED,
    S.CANCELED: E.RUN_CANCELED,
}

#: PENDING -> these statuses are decided by the machine when upstream ``a`` settles.
_DECIDED: dict[S, list[RunEvent]] = {
    S.QUEUED: succeed("a", "result"),
    S.SKIPPED: succeed("a"),
    S.ABANDONED: [ev(E.STEP_START, "a"), ev(E.STEP_FAILURE, "a")],
}

_PAIRS = list(itertools.product(S, S))
_ALLOWED_PAIRS = [(src, dst) for src, dst in _PAIRS if dst in ALLOWED[src]]
#: Forbidden pairs an event can ask for from a status that is not final: refused.
_REFUSED = [
    (src, dst)
    for src, dst in _PAIRS
    if dst not in ALLOWED[src]
    and src not in FINAL_STEP_STATUSES
    and dst in _ASKS
    and (src, dst) != (S.RUNNING, S.RUNNING)
]
#: A running step told it started again: a redelivered task, ignored.
_REDELIVERED = [(S.RUNNING, S.RUNNING)]
#: A settled step asked to move by the attempt it settled with: a duplicate, ignored.
_SETTLED = [(src, dst) for src, dst in _PAIRS if src in FINAL_STEP_STATUSES and dst in _ASKS]
#: No event reports a step pending or queued: only the machine puts it there.
_UNREPORTABLE = [
    (src, dst) for src, dst in _PAIRS if dst in (S.PENDING, S.QUEUED) and dst not in ALLOWED[src]
]


def _reach(status: S) -> tuple[RunState, str]:
    state, _ = started(CHAIN)
    key, events = _SETUP[status]
    apply_all(state, events)
    assert state.status_of(key) is status
    return state, key


def _asking(state: RunState, key: str, target: S, attempt: int) -> RunEvent:
    kind = _ASKS[target]
    if kind is E.RUN_CANCELED:
        return ev(kind)
    if kind is E.STEP_START and attempt:
        kind = E.STEP_RESTARTED
    return ev(kind, key, attempt)


def _next_attempt(state: RunState, key: str) -> int:
    """The attempt a new event for the step would carry: the retry's, when one is due."""
    attempt = state.attempt_of(key)
    return attempt + 1 if state.status_of(key) is S.UP_FOR_RETRY else attempt


def test_every_pair_of_statuses_is_classified_once() -> None:
    buckets = [_ALLOWED_PAIRS, _REFUSED, _REDELIVERED, _SETTLED, _UNREPORTABLE]
    classified = [pair for bucket in buckets for pair in bucket]
    assert sorted(classified) == sorted(_PAIRS)


def test_final_statuses_have_no_way_out_and_every_other_status_can_be_canceled() -> None:
    assert set(ALLOWED) == set(S)
    for status, targets in ALLOWED.items():
        if status in FINAL_STEP_STATUSES:
            assert targets == frozenset()
        else:
            assert S.CANCELED in targets
        assert S.PENDING not in targets


@pytest.mark.parametrize(("source", "target"), _ALLOWED_PAIRS, ids=str)
def test_allowed_transition_is_reachable_through_events(source: S, target: S) -> None:
    state, key = _reach(source)
    if source is S.PENDING and target in _DECIDED:
        apply_all(state, _DECIDED[target])
    else:
        state.apply(_asking(state, key, target, _next_attempt(state, key)))
    assert state.status_of(key) is target


@pytest.mark.parametrize(("source", "target"), _REFUSED, ids=str)
def test_forbidden_transition_asked_for_by_an_event_is_refused(source: S, target: S) -> None:
    state, key = _reach(source)
    before = state.statuses()
    with pytest.raises(InvalidTransition):
        state.apply(_asking(state, key, target, _next_attempt(state, key)))
    assert state.statuses() == before


@pytest.mark.parametrize(("source", "target"), _SETTLED, ids=str)
def test_settled_step_ignores_events_of_its_own_attempt(source: S, target: S) -> None:
    state, key = _reach(source)
    before = state.statuses()
    commands = state.apply(_asking(state, key, target, state.attempt_of(key)))
    assert state.status_of(key) is source
    if target is not S.CANCELED:  # a cancel still cancels the other steps
        assert commands == []
        assert state.statuses() == before


@pytest.mark.parametrize(("source", "target"), [p for p in _SETTLED if p[1] is not S.CANCELED])
def test_settled_step_refuses_an_attempt_that_was_never_dispatched(source: S, target: S) -> None:
    state, key = _reach(source)
    with pytest.raises(InvalidTransition, match="never dispatched"):
        state.apply(_asking(state, key, target, state.attempt_of(key) + 1))
    assert state.status_of(key) is source


_STEP_EVENT_KINDS = [*_ASKS.values(), E.STEP_RESTARTED, E.STEP_OUTPUT]


@pytest.mark.parametrize("attempt_offset", [0, 1])
@pytest.mark.parametrize("kind", _STEP_EVENT_KINDS, ids=str)
@pytest.mark.parametrize("source", list(S), ids=str)
def test_no_event_moves_a_step_along_a_pair_that_allowed_does_not_list(
    source: S, kind: E, attempt_offset: int
) -> None:
    state, key = _reach(source)
    attempt = state.attempt_of(key) + attempt_offset
    event = ev(kind) if kind is E.RUN_CANCELED else ev(kind, key, attempt, output_name="result")
    try:
        state.apply(event)
    except InvalidTransition:
        assert state.status_of(key) is source
        return
    after = state.status_of(key)
    assert after is source or after in ALLOWED[source]


# Commands ------------------------------------------------------------------------------------


def test_start_dispatches_only_steps_without_upstream() -> None:
    _, commands = started(plan(step("a"), step("b"), step("c", from_step("x", "a.result"))))
    assert commands == [DispatchStep("a", 0), DispatchStep("b", 0)]


def test_start_of_an_empty_plan_finishes_the_run_successfully() -> None:
    state, commands = started(plan())
    assert commands == [FinishRun(RunStatus.SUCCESS)]
    assert state.is_finished


def test_run_status_is_unknown_until_the_run_finishes() -> None:
    state, _ = started(CHAIN)
    assert state.run_status is None
    assert not state.is_finished


def test_upstream_success_with_the_output_dispatches_the_step() -> None:
    state, _ = started(CHAIN)
    assert apply_all(state, succeed("a", "result")) == [DispatchStep("b", 0)]


def test_upstream_success_without_the_output_skips_the_step_and_finishes() -> None:
    state, _ = started(CHAIN)
    commands = apply_all(state, succeed("a"))
    assert [type(c) for c in commands] == [SkipStep, FinishRun]
    assert commands[0].step_key == "b"  # type: ignore[union-attr]
    assert commands[1] == FinishRun(RunStatus.SUCCESS)


def test_upstream_failure_abandons_the_step_and_fails_the_run() -> None:
    state, _ = started(CHAIN)
    commands = apply_all(state, [ev(E.STEP_START, "a"), ev(E.STEP_FAILURE, "a")])
    assert [type(c) for c in commands] == [AbandonStep, FinishRun]
    assert commands[1] == FinishRun(RunStatus.FAILURE)
    assert state.statuses() == {"a": S.FAILURE, "b": S.ABANDONED}


def test_up_for_retry_dispatches_the_next_attempt_after_the_delay() -> None:
    state, _ = started(CHAIN)
    failed = ev(E.STEP_UP_FOR_RETRY, "a", 0, retry_delay_s=2.5)
    commands = state.apply(failed)
    # due on the failed attempt's clock, so a coordinator replaying the log holds it alike
    assert commands == [DispatchStep("a", 1, 2.5, due_at=failed.timestamp + 2.5)]
    commands = state.apply(ev(E.STEP_UP_FOR_RETRY, "a", 1))
    assert commands == [DispatchStep("a", 2, 0.0)]
    assert state.attempt_of("a") == 1


def test_retried_attempt_that_succeeds_settles_the_step() -> None:
    state, _ = started(CHAIN)
    state.apply(ev(E.STEP_UP_FOR_RETRY, "a", 0))
    assert apply_all(state, succeed("a", "result", attempt=1)) == [DispatchStep("b", 0)]
    assert state.status_of("a") is S.SUCCESS
    assert state.attempt_of("a") == 1


# Duplicate and stale events ------------------------------------------------------------------


def test_redelivered_start_of_a_running_step_is_ignored() -> None:
    state, _ = started(CHAIN)
    state.apply(ev(E.STEP_START, "a"))
    state.apply(ev(E.STEP_OUTPUT, "a", output_name="result"))
    assert state.apply(ev(E.STEP_START, "a")) == []
    state.apply(ev(E.STEP_SUCCESS, "a"))
    assert state.yielded("a") == {"result": [None]}  # the output survived the redelivery


def test_redelivered_output_is_recorded_once() -> None:
    state, _ = started(CHAIN)
    output = ev(E.STEP_OUTPUT, "a", output_name="result")
    apply_all(state, [ev(E.STEP_START, "a"), output, output, ev(E.STEP_SUCCESS, "a"), output])
    assert state.yielded("a") == {"result": [None]}
    assert len(state.input_values("b")["x"]) == 1


def test_redelivered_dynamic_output_makes_one_copy_and_the_run_still_finishes() -> None:
    state, _ = started(DYNAMIC)
    mapped = ev(E.STEP_OUTPUT, "root", output_name="dyn", mapping_key="k")
    commands = apply_all(state, [ev(E.STEP_START, "root"), mapped, mapped])
    commands += state.apply(ev(E.STEP_SUCCESS, "root"))
    assert commands == [DispatchStep("t[k]", 0)]
    assert state.instances_of("t") == ["t[k]"]
    apply_all(state, succeed("t[k]", "result"))
    assert apply_all(state, succeed("c", "result")) == [FinishRun(RunStatus.SUCCESS)]


def test_repeated_up_for_retry_dispatches_the_retry_once() -> None:
    state, _ = started(CHAIN)
    retry = ev(E.STEP_UP_FOR_RETRY, "a", 0)
    assert state.apply(retry) == [DispatchStep("a", 1)]
    assert state.apply(retry) == []
    assert state.apply(ev(E.STEP_START, "a", 0)) == []
    assert state.status_of("a") is S.UP_FOR_RETRY


@pytest.mark.parametrize(
    "stale",
    [
        ev(E.STEP_START, "a", 0),
        ev(E.STEP_OUTPUT, "a", 0, output_name="result"),
        ev(E.STEP_SUCCESS, "a", 0),
        ev(E.STEP_FAILURE, "a", 0),
        ev(E.STEP_UP_FOR_RETRY, "a", 0),
    ],
    ids=lambda e: e.kind.value,
)
def test_events_of_an_earlier_attempt_are_ignored(stale: RunEvent) -> None:
    state, _ = started(CHAIN)
    apply_all(state, [ev(E.STEP_START, "a"), ev(E.STEP_UP_FOR_RETRY, "a")])
    state.apply(ev(E.STEP_RESTARTED, "a", 1))
    assert state.apply(stale) == []
    assert state.status_of("a") is S.RUNNING
    assert state.attempt_of("a") == 1
    state.apply(ev(E.STEP_SUCCESS, "a", 1))
    assert state.yielded("a") == {}  # the stale output was not counted


def test_outputs_of_an_attempt_that_failed_are_discarded() -> None:
    two = (PlanOutput(name="result", is_required=False), PlanOutput(name="o1", is_required=False))
    state, _ = started(plan(step("a", outputs=two)))
    state.apply(ev(E.STEP_START, "a"))
    state.apply(ev(E.STEP_OUTPUT, "a", output_name="o1"))
    state.apply(ev(E.STEP_UP_FOR_RETRY, "a"))
    apply_all(state, succeed("a", "result", attempt=1))
    assert state.yielded("a") == {"result": [None]}


def test_events_that_do_not_change_a_step_are_ignored() -> None:
    state, _ = started(CHAIN)
    for kind in (E.LOG_MESSAGE, E.ENGINE_EVENT, E.HOOK_COMPLETED, E.STEP_CANCELED):
        assert state.apply(ev(kind, "b")) == []
    assert state.apply(ev(E.RUN_START)) == []
    assert state.statuses() == {"a": S.QUEUED, "b": S.PENDING}


# Impossible events ---------------------------------------------------------------------------


def test_event_for_a_step_the_run_does_not_have_is_refused() -> None:
    state, _ = started(CHAIN)
    with pytest.raises(InvalidTransition, match="no step 'nope'"):
        state.apply(ev(E.STEP_START, "nope"))
    with pytest.raises(InvalidTransition):
        state.status_of("nope")


def test_template_of_mapped_steps_is_not_a_step_of_the_run() -> None:
    state, _ = started(DYNAMIC)
    with pytest.raises(InvalidTransition):
        state.apply(ev(E.STEP_START, "t"))
    with pytest.raises(InvalidTransition):
        state.apply(ev(E.STEP_START, "t[k]"))  # no copy until root yields k


def test_start_before_dispatch_is_refused() -> None:
    state, _ = started(CHAIN)
    with pytest.raises(InvalidTransition, match="before it was dispatched"):
        state.apply(ev(E.STEP_START, "b"))
    assert state.status_of("b") is S.PENDING


@pytest.mark.parametrize(
    ("setup", "attempt"),
    [
        ([], 1),  # queued at attempt 0
        ([ev(E.STEP_START, "a")], 1),
        ([ev(E.STEP_UP_FOR_RETRY, "a")], 2),  # attempt 1 is due, not 2
    ],
)
def test_event_of_an_attempt_never_dispatched_is_refused(
    setup: list[RunEvent], attempt: int
) -> None:
    state, _ = started(CHAIN)
    apply_all(state, setup)
    before = (state.status_of("a"), state.attempt_of("a"))
    with pytest.raises(InvalidTransition, match="never dispatched"):
        state.apply(ev(E.STEP_SUCCESS, "a", attempt))
    assert (state.status_of("a"), state.attempt_of("a")) == before


def test_output_the_step_does_not_declare_is_refused() -> None:
    state, _ = started(CHAIN)
    state.apply(ev(E.STEP_START, "a"))
    with pytest.raises(InvalidTransition, match="no output 'other'"):
        state.apply(ev(E.STEP_OUTPUT, "a", output_name="other"))


def test_output_of_a_step_not_yet_dispatched_is_refused() -> None:
    state, _ = started(CHAIN)
    with pytest.raises(InvalidTransition):
        state.apply(ev(E.STEP_OUTPUT, "b", output_name="result"))


@pytest.mark.parametrize("kind", [E.STEP_SKIPPED, E.STEP_ABANDONED], ids=str)
def test_reported_skip_or_abandon_is_refused_the_machine_decides_them(kind: E) -> None:
    state, _ = started(CHAIN)
    with pytest.raises(InvalidTransition, match="reported skipped"):
        state.apply(ev(kind, "b"))
    assert state.status_of("b") is S.PENDING


# Cancel --------------------------------------------------------------------------------------

#: a and b have no upstream; c waits on a; d on b.
_FOUR = plan(
    step("a"),
    step("b"),
    step("e"),
    step("c", from_step("x", "a.result")),
    step("d", from_step("x", "b.result")),
)


def test_cancel_cancels_every_unsettled_step_and_finishes_the_run_once() -> None:
    state, _ = started(_FOUR)
    apply_all(state, succeed("a", "result"))  # c queued
    apply_all(state, [ev(E.STEP_START, "b"), ev(E.STEP_UP_FOR_RETRY, "b")])
    state.apply(ev(E.STEP_START, "e"))
    assert state.apply(ev(E.RUN_CANCELED)) == [FinishRun(RunStatus.CANCELED)]
    assert state.statuses() == {
        "a": S.SUCCESS,
        "b": S.CANCELED,
        "e": S.CANCELED,
        "c": S.CANCELED,
        "d": S.CANCELED,
    }
    assert state.run_status is RunStatus.CANCELED
    assert state.apply(ev(E.RUN_CANCELED)) == []


def test_cancel_before_start_cancels_every_step() -> None:
    state = RunState(CHAIN)
    assert state.apply(ev(E.RUN_CANCELED)) == [FinishRun(RunStatus.CANCELED)]
    assert set(state.statuses().values()) == {S.CANCELED}


def test_late_reports_of_canceled_steps_are_ignored() -> None:
    state, _ = started(_FOUR)
    apply_all(state, [ev(E.STEP_START, "b"), ev(E.STEP_UP_FOR_RETRY, "b")])
    state.apply(ev(E.STEP_START, "e"))
    state.apply(ev(E.RUN_CANCELED))
    late = [
        *succeed("a", "result"),  # was queued
        *succeed("e", "result"),  # was running
        *succeed("b", "result", attempt=1),  # its retry was dispatched before the cancel
    ]
    assert apply_all(state, late) == []
    assert state.statuses()["a"] is S.CANCELED
    with pytest.raises(InvalidTransition, match="never dispatched"):
        state.apply(ev(E.STEP_START, "b", 2))


def test_cancel_after_the_run_finished_keeps_its_outcome() -> None:
    state, _ = started(CHAIN)
    apply_all(state, succeed("a", "result"))
    apply_all(state, succeed("b", "result"))
    assert state.run_status is RunStatus.SUCCESS
    assert state.apply(ev(E.RUN_CANCELED)) == []
    assert state.run_status is RunStatus.SUCCESS


def test_cancel_before_a_dynamic_root_settles_still_finishes_the_run() -> None:
    state, _ = started(DYNAMIC)
    state.apply(ev(E.STEP_START, "root"))
    assert state.apply(ev(E.RUN_CANCELED)) == [FinishRun(RunStatus.CANCELED)]
    assert state.statuses() == {"root": S.CANCELED, "c": S.CANCELED}
    assert state.instances_of("t") == []
    mapped = ev(E.STEP_OUTPUT, "root", output_name="dyn", mapping_key="k")
    assert apply_all(state, [mapped, ev(E.STEP_SUCCESS, "root")]) == []
    assert state.instances_of("t") == []


# Dynamic regions -----------------------------------------------------------------------------


def test_dynamic_root_success_copies_the_template_once_per_mapping_key() -> None:
    state, _ = started(DYNAMIC)
    events = [
        ev(E.STEP_START, "root"),
        ev(E.STEP_OUTPUT, "root", output_name="dyn", mapping_key="b"),
        ev(E.STEP_OUTPUT, "root", output_name="dyn", mapping_key="a"),
    ]
    assert apply_all(state, events) == []  # nothing is copied before the root succeeds
    commands = state.apply(ev(E.STEP_SUCCESS, "root"))
    assert commands == [DispatchStep("t[b]", 0), DispatchStep("t[a]", 0)]
    assert state.mapping_key_of("t[a]") == "a"
    apply_all(state, succeed("t[b]", "result"))
    assert state.status_of("c") is S.PENDING  # waits for every copy
    assert apply_all(state, succeed("t[a]", "result")) == [DispatchStep("c", 0)]


def test_dynamic_root_with_no_mapping_keys_runs_the_collector_with_no_values() -> None:
    state, _ = started(DYNAMIC)
    assert apply_all(state, succeed("root")) == [DispatchStep("c", 0)]
    assert state.input_values("c") == {"xs": []}


@pytest.mark.parametrize(
    ("root_events", "collector"),
    [
        ([ev(E.STEP_START, "root"), ev(E.STEP_FAILURE, "root")], S.ABANDONED),
        ([ev(E.RUN_CANCELED)], S.CANCELED),
    ],
)
def test_collector_of_a_root_that_did_not_succeed_never_runs(
    root_events: list[RunEvent], collector: S
) -> None:
    state, _ = started(DYNAMIC)
    commands = apply_all(state, root_events)
    assert state.status_of("c") is collector
    assert not any(isinstance(c, DispatchStep) for c in commands)
    assert state.is_finished


# Replay --------------------------------------------------------------------------------------


def _mid_run_log() -> list[RunEvent]:
    return [
        ev(E.RUN_START),
        *succeed("a", "result"),  # c becomes queued
        ev(E.STEP_START, "b"),
        ev(E.LOG_MESSAGE, "b", message="hello"),
        ev(E.STEP_UP_FOR_RETRY, "b", retry_delay_s=3.0),
        ev(E.STEP_START, "e"),
        ev(E.STEP_START, "e"),  # redelivered
        ev(E.STEP_SUCCESS, "a"),  # duplicate of a settled step
    ]


def test_replay_rebuilds_the_statuses_of_the_live_state() -> None:
    live, _ = started(_FOUR)
    log = _mid_run_log()
    apply_all(live, log)
    replayed = RunState(_FOUR)
    replayed.replay(log)
    assert replayed.statuses() == live.statuses()
    assert {k: replayed.attempt_of(k) for k in live.statuses()} == {
        k: live.attempt_of(k) for k in live.statuses()
    }


def test_replay_returns_the_dispatches_still_outstanding() -> None:
    state = RunState(_FOUR)
    commands = state.replay(_mid_run_log())
    dispatches = sorted(
        (c for c in commands if isinstance(c, DispatchStep)), key=lambda c: c.step_key
    )
    # b's retry is due, c is queued; a settled and e is running: neither is outstanding
    # (b is due 3 s after its failed attempt's event, as the log says: at 0.0 + 3.0)
    assert dispatches == [DispatchStep("b", 1, 3.0, due_at=3.0), DispatchStep("c", 0)]
    assert not any(isinstance(c, FinishRun) for c in commands)


def test_replay_of_a_finished_run_returns_its_finish_and_no_dispatch() -> None:
    log = [*succeed("a"), ev(E.STEP_SKIPPED, "b")]  # the executor records the skip it was told
    state = RunState(CHAIN)
    commands = state.replay(log)
    assert FinishRun(RunStatus.SUCCESS) in commands
    assert not any(isinstance(c, DispatchStep) for c in commands)
    assert state.statuses() == {"a": S.SUCCESS, "b": S.SKIPPED}


def test_replay_rebuilds_mapped_copies() -> None:
    log = [
        ev(E.STEP_START, "root"),
        ev(E.STEP_OUTPUT, "root", output_name="dyn", mapping_key="a"),
        ev(E.STEP_OUTPUT, "root", output_name="dyn", mapping_key="b"),
        ev(E.STEP_SUCCESS, "root"),
        *succeed("t[a]", "result"),
    ]
    state = RunState(DYNAMIC)
    commands = state.replay(log)
    assert state.instances_of("t") == ["t[a]", "t[b]"]
    assert [c for c in commands if isinstance(c, DispatchStep)] == [DispatchStep("t[b]", 0)]
    assert state.input_values("t[b]") == {"x": [ValueRef("root", "dyn", "b")]}


def test_replay_of_an_in_process_run_log_rebuilds_its_final_statuses() -> None:
    calls = {"n": 0}

    @op(out=DynamicOut())
    def fan_out():
        for key in ("x", "y"):
            yield DynamicOutput(1, mapping_key=key)

    @op(retry_policy=RetryPolicy(max_retries=1))
    def flaky(value):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ValueError("first attempt fails")
        return value

    @op(out={"kept": Out(is_required=False), "dropped": Out(is_required=False)})
    def branch(values):
        yield Output(values, "kept")

    @op
    def after_dropped(value):
        return value

    @op
    def broken(values):
        raise RuntimeError("boom")

    @op
    def after_broken(value):
        return value

    @job
    def mixed():
        values = fan_out().map(flaky).collect()
        kept, dropped = branch(values)
        after_dropped(dropped)
        after_broken(broken(values))

    result = mixed.execute_in_process(raise_on_error=False)
    state = RunState(result.plan)
    commands = state.replay([*result.all_events, *result.log_messages])
    assert state.statuses() == result._state.statuses()
    assert state.statuses()["after_dropped"] is S.SKIPPED
    assert state.statuses()["after_broken"] is S.ABANDONED
    assert FinishRun(RunStatus.FAILURE) in commands


# Re-execution: steps reused from an earlier run -------------------------------------------------


def test_reused_steps_count_as_succeeded_and_only_the_rest_is_dispatched() -> None:
    chain3 = plan(
        step("a"), step("b", from_step("x", "a.result")), step("c", from_step("y", "b.result"))
    )
    state = RunState(chain3)
    commands = state.start(reused={"a": {"result": [None]}})
    assert commands == [DispatchStep("b", 0)]
    assert state.statuses() == {"a": S.SUCCESS, "b": S.QUEUED, "c": S.PENDING}
    assert state.input_values("b") == {"x": [ValueRef("a", "result")]}


def test_reused_dynamic_steps_expand_and_their_copies_are_reused_too() -> None:
    fan = plan(
        step("root", outputs=(PlanOutput(name="result", is_dynamic=True),)),
        step("m", from_step("x", "root.result"), mapped_by=OutputRef(step="root", output="result")),
        step("g", from_step("xs", "m.result", kind="collect")),
    )
    state = RunState(fan)
    reused = {"root": {"result": ["0", "1"]}, "m[0]": {"result": [None]}}
    assert state.start(reused=reused) == [DispatchStep("m[1]", 0)]
    assert state.apply(ev(E.STEP_START, "m[1]")) == []
    state.apply(ev(E.STEP_OUTPUT, "m[1]", output_name="result"))
    assert state.apply(ev(E.STEP_SUCCESS, "m[1]")) == [DispatchStep("g", 0)]


def test_a_reused_step_decided_otherwise_this_time_is_not_forced() -> None:
    # "b" succeeded before, but "a" yields nothing now: "b" is skipped, not reused
    state = RunState(CHAIN)
    commands = state.start(reused={"a": {}, "b": {"result": [None]}})
    assert commands == [
        SkipStep("b", "input 'x' was not produced upstream"),
        FinishRun(RunStatus.SUCCESS),
    ]


@pytest.mark.parametrize(
    ("step_key", "fields"),
    [
        ("root", {"output_name": "dyn"}),  # a dynamic output without its mapping key
        ("a", {"output_name": "result", "mapping_key": "k"}),  # a plain one with one
        ("a", {"output_name": ""}),  # no name is not the default name
    ],
)
def test_an_output_that_does_not_fit_its_declaration_is_refused(
    step_key: str, fields: dict[str, str]
) -> None:
    state = RunState(DYNAMIC if step_key == "root" else CHAIN)
    state.start()
    state.apply(ev(E.STEP_START, step_key))
    with pytest.raises(InvalidTransition):
        state.apply(ev(E.STEP_OUTPUT, step_key, **fields))
