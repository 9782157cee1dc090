"""Hypothesis throws malformed input at every validator that guards a trust boundary.

- run configs at ``compile_plan`` and ``opgrid.submit``: always ``ConfigError`` naming
  the path at fault, never another exception; a refused submission writes no key;
- run events, as JSON bytes and as dicts: always ``ValidationError`` or a valid event;
- wrong events fed to ``RunState.apply`` (unknown steps, attempts never dispatched,
  outputs that do not exist, skips it did not decide, anything after the run ended):
  refused with ``InvalidTransition`` or ignored, and the state ends exactly as the
  valid events alone leave it;
- step requests at the worker's door (``admit_step``): refused with one line, unless
  signed with the cluster's secret; a signed request changed afterwards is refused.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import opgrid
from opgrid.errors import ConfigError, InvalidTransition
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.planning.compiler import compile_plan
from opgrid.orchestrator.planning.state import RunState
from opgrid.orchestrator.protocol.events import RunEvent
from opgrid.orchestrator.protocol.messages import StepRequest
from opgrid.orchestrator.protocol.signing import admit_step, sign_step
from opgrid.orchestrator.settings import Settings
from tests.jobs import fuzz_jobs

SECRET = b"fuzz-secret-5b1c0e"

# Run configs -------------------------------------------------------------------------------


def _paths(tree: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every key path of a nested dict (the dicts themselves included)."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))


CONFIG_PATHS = list(_paths(fuzz_jobs.VALID_CONFIG))
NAMES = sorted({part for path in CONFIG_PATHS for part in path})
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=12)
)
keys = st.sampled_from(NAMES) | st.text(max_size=8) | st.integers(-3, 3)
json_like = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
    max_leaves=16,
)


@st.composite
def mutated_configs(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    """The valid config with one change at one path: (config, the dotted path changed)."""
    config = copy.deepcopy(fuzz_jobs.VALID_CONFIG)
    path = draw(st.sampled_from(CONFIG_PATHS))
    parent = config
    for part in path[:-1]:
        parent = parent[part]
    action = draw(st.sampled_from(["replace", "delete", "add"]))
    if action == "replace":
        parent[path[-1]] = draw(json_like)
    elif action == "delete":
        del parent[path[-1]]
    elif isinstance(parent[path[-1]], dict):
        parent[path[-1]][draw(st.text(min_size=1, max_size=8))] = draw(json_like)
    else:
        parent[path[-1]] = {draw(st.text(max_size=8)): draw(json_like)}
    return config, ".".join(path)


def _related(error_path: str, changed: str) -> bool:
    """Whether an error's path is the changed path, inside it, or an ancestor of it."""
    return (
        error_path == changed
        or error_path.startswith(changed + ".")
        or changed.startswith(error_path + ".")
        or error_path == ""
    )


def _assert_names_paths(exc: ConfigError) -> None:
    assert exc.errors
    for path, message in exc.errors:
        assert isinstance(path, str) and message
        assert f"  {path or '<root>'}: " in str(exc)


@settings(max_examples=60, deadline=None)
@given(json_like)
def test_any_run_config_compiles_or_raises_a_config_error_naming_each_path(value: Any) -> None:
    try:
        compile_plan(fuzz_jobs.config_job, value)
    except ConfigError as exc:
        _assert_names_paths(exc)
    else:  # random values never carry the required fields
        pytest.fail(f"accepted {value!r}")


@settings(max_examples=150, deadline=None)
@given(mutated_configs())
def test_a_config_changed_at_one_path_is_refused_at_that_path_or_accepted(
    case: tuple[dict[str, Any], str],
) -> None:
    config, changed = case
    try:
        plan = compile_plan(fuzz_jobs.config_job, config)
    except ConfigError as exc:
        _assert_names_paths(exc)
        assert any(_related(path, changed) for path, _ in exc.errors), (changed, exc.errors)
    else:
        assert plan.model_validate_json(plan.model_dump_json()).job_name == "config_job"


@pytest.mark.integration
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=mutated_configs())
def test_a_refused_submission_writes_no_key(
    case: tuple[dict[str, Any], str], settings: Settings
) -> None:
    config, _ = case
    try:
        compile_plan(fuzz_jobs.config_job, config)
    except ConfigError:
        pass
    else:
        assume(False)  # a valid config would be queued; only refusals are of interest here
    with pytest.raises(ConfigError):
        opgrid.submit(fuzz_jobs.config_job, config, settings=settings)
    client = redis.Redis.from_url(settings.redis_url)
    try:
        assert list(client.scan_iter(match=f"{settings.namespace}:*")) == []
    finally:
        client.close()


# Run events --------------------------------------------------------------------------------

EVENT_FIELDS = sorted(RunEvent.model_fields)
event_dicts = st.dictionaries(
    st.sampled_from(EVENT_FIELDS) | st.text(max_size=8),
    json_like | st.sampled_from([kind.value for kind in E]),
    max_size=8,
)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300) | event_dicts.map(lambda d: json.dumps(d).encode()))
def test_event_json_is_a_valid_event_or_a_validation_error(data: bytes) -> None:
    try:
        event = RunEvent.model_validate_json(data)
    except ValidationError:
        return
    assert RunEvent.model_validate_json(event.model_dump_json()) == event


EVENT_PLAN = compile_plan(fuzz_jobs.event_job)
VALID_EVENTS = list(fuzz_jobs.event_job.execute_in_process(raise_on_error=False).all_events)
RUN_ID = VALID_EVENTS[0].run_id


def _replayed(events: list[RunEvent]) -> RunState:
    state = RunState(EVENT_PLAN)
    state.replay(events)
    return state


EXPECTED = _replayed(VALID_EVENTS)
STEP_KEYS = sorted(EXPECTED.statuses())
OUTPUTS = {out.name for step in EVENT_PLAN.steps for out in step.outputs}
STEP_KINDS = [
    E.STEP_START,
    E.STEP_RESTARTED,
    E.STEP_OUTPUT,
    E.STEP_SUCCESS,
    E.STEP_FAILURE,
    E.STEP_UP_FOR_RETRY,
    E.STEP_SKIPPED,
    E.STEP_ABANDONED,
]


def _event(kind: E, step_key: str | None, attempt: int = 0, output: str | None = None) -> RunEvent:
    return RunEvent(
        run_id=RUN_ID,
        kind=kind,
        timestamp=0.0,
        step_key=step_key,
        attempt=attempt,
        output_name=output,
    )


#: Events that are wrong at any point of the run.
wrong_anytime = st.one_of(
    st.builds(  # a step the run does not have
        _event,
        st.sampled_from(STEP_KINDS),
        st.text(max_size=12).filter(lambda key: key not in STEP_KEYS),
        st.integers(0, 3),
    ),
    st.builds(  # an attempt that was never dispatched
        _event, st.sampled_from(STEP_KINDS), st.sampled_from(STEP_KEYS), st.integers(50, 10**9)
    ),
    st.builds(  # an output the step does not have
        _event,
        st.just(E.STEP_OUTPUT),
        st.sampled_from(STEP_KEYS),
        st.just(0),
        st.text(max_size=8).filter(lambda name: name not in OUTPUTS),
    ),
    st.builds(  # a skip or abandon reported to it: only the state machine decides those
        _event, st.sampled_from([E.STEP_SKIPPED, E.STEP_ABANDONED]), st.sampled_from(STEP_KEYS)
    ),
    st.builds(  # run-level outcomes that only the coordinator decides
        _event, st.sampled_from([E.RUN_SUCCESS, E.RUN_FAILURE, E.RUN_START]), st.none()
    ),
)
#: Events that are wrong once the run has ended (a late cancel included).
wrong_after_end = wrong_anytime | st.builds(
    _event,
    st.sampled_from([*STEP_KINDS, *(kind for kind in E if "CANCEL" in kind.name)]),
    st.sampled_from(STEP_KEYS) | st.none(),
    st.integers(0, 2),
    st.sampled_from(sorted(OUTPUTS)) | st.none(),
)


def _apply_wrong(state: RunState, event: RunEvent) -> list[Any] | None:
    """The commands of a wrong event, or None when the state refused it."""
    try:
        return state.apply(event)
    except InvalidTransition:
        return None


def _summary(state: RunState) -> tuple[Any, ...]:
    yielded = {key: state.yielded(key) for key in STEP_KEYS}
    return state.statuses(), state.run_status, state.is_finished, state.in_flight, yielded


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, len(VALID_EVENTS)), wrong_anytime), max_size=12),
    st.lists(wrong_after_end, max_size=6),
)
def test_wrong_events_are_refused_or_ignored_and_leave_the_state_as_the_valid_ones_do(
    interleaved: list[tuple[int, RunEvent]], late: list[RunEvent]
) -> None:
    junk_at: dict[int, list[RunEvent]] = {}
    for position, event in interleaved:
        junk_at.setdefault(position, []).append(event)
    state = RunState(EVENT_PLAN)
    state.start()
    for index in range(len(VALID_EVENTS) + 1):
        for junk in junk_at.get(index, []):
            _apply_wrong(state, junk)
        if index < len(VALID_EVENTS):
            state.apply(VALID_EVENTS[index])
    assert state.is_finished
    for junk in late:
        assert _apply_wrong(state, junk) in ([], None)  # a finished run has nothing to do

    assert _summary(state) == _summary(EXPECTED)


# Step requests -----------------------------------------------------------------------------

REQUEST_FIELDS = sorted(StepRequest.model_fields)
request_dicts = st.dictionaries(
    st.sampled_from(REQUEST_FIELDS) | st.text(max_size=8), json_like, max_size=8
)
identifiers = st.text(min_size=1, max_size=40)
requests = st.builds(
    StepRequest,
    run_id=identifiers,
    step_key=identifiers,
    attempt=st.integers(0, 1000),
    job_name=identifiers,
    location=st.none() | identifiers,
)


def _assert_refusal_line(refusal: StepRequest | str) -> None:
    assert isinstance(refusal, str)
    assert "\n" not in refusal and len(refusal) < 2000
    assert SECRET.decode() not in refusal


@settings(max_examples=100, deadline=None)
@given(request_dicts)
def test_any_unsigned_step_message_is_refused_with_one_line(fields: dict[str, Any]) -> None:
    _assert_refusal_line(admit_step(SECRET, fields))


@settings(max_examples=200, deadline=None)
@given(requests, st.sampled_from(["run_id", "step_key", "attempt", "job_name", "location"]))
def test_a_signed_request_is_admitted_and_any_change_to_it_is_refused(
    request: StepRequest, field: str
) -> None:
    signed = sign_step(SECRET, request).model_dump(mode="json")
    assert admit_step(SECRET, signed) == sign_step(SECRET, request)
    _assert_refusal_line(admit_step(b"another secret", signed))

    changed = {**signed, field: signed[field] + 1 if field == "attempt" else f"{signed[field]}x"}
    refusal = admit_step(SECRET, changed)
    _assert_refusal_line(refusal)
    assert str(refusal).startswith("bad signature")
