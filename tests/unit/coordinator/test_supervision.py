"""Supervision alone: which steps are watched, and what is decided about them.

No store, no clock: each case builds an owned run of the job ``pair`` (``solo`` ->
``after``) with ``solo`` in some status, gives it the bookkeeping of the case
(``sent_at``, ``started_at``, ``redelivered``, tags) and the beats Redis would answer,
and compares the decisions, messages included, with what the coordinator must do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from opgrid import StepLost, StepTimeLimitExceeded, job, op
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.coordinator.owned import OwnedRun
from opgrid.orchestrator.coordinator.supervision import (
    Decision,
    FailStep,
    Redeliver,
    Watch,
    decide,
    to_watch,
    unconsumed_since,
    waiting_queues,
)
from opgrid.orchestrator.planning.compiler import compile_plan
from opgrid.orchestrator.planning.state import RunState
from opgrid.orchestrator.protocol.events import RunEvent
from opgrid.orchestrator.protocol.messages import RunRecord
from opgrid.orchestrator.protocol.status import StepStatus
from opgrid.orchestrator.settings import Settings

#: Redis' clock (``redis_now``) and the monotonic clock (``monotonic_now``) of every case.
REDIS_NOW = 10_000.0
MONOTONIC_NOW = 500.0
#: Lost after 10 s of silence, 2 redeliveries, a queue timeout of 30 s.
SETTINGS = Settings(
    step_heartbeat_s=1.0,
    step_lost_after_s=10.0,
    max_redeliveries=2,
    queue_timeout_s=30.0,
    default_queue="default",
)
NO_QUEUE_TIMEOUT = SETTINGS.model_copy(update={"queue_timeout_s": 0.0})
RUNNING = ("running",)
NOT_TAKEN = ("queued", "up_for_retry", "running")


@op
def solo() -> int:
    return 1


@op
def after(x: int) -> int:
    return x


@job
def pair():
    after(solo())


@dataclass(frozen=True)
class Case:
    """``solo`` in ``status``, with this bookkeeping (times relative to the clocks)."""

    status: StepStatus = StepStatus.RUNNING
    #: seconds before ``MONOTONIC_NOW`` the attempt was sent (None: a worker started it)
    sent_ago: float | None = None
    #: seconds before ``REDIS_NOW`` the attempt started (None: not known)
    started_ago: float | None = None
    redelivered: int = 0
    tags: dict[str, Any] = field(default_factory=dict)


def _owned(case: Case) -> OwnedRun:
    plan = compile_plan(pair)
    state = RunState(plan)
    state.start()  # solo is queued
    kinds = {
        StepStatus.QUEUED: (),
        StepStatus.RUNNING: (E.STEP_START,),
        StepStatus.SUCCESS: (E.STEP_START, E.STEP_OUTPUT, E.STEP_SUCCESS),
    }[case.status]
    for kind in kinds:
        output = "result" if kind is E.STEP_OUTPUT else None
        state.apply(
            RunEvent(run_id="r", kind=kind, timestamp=0.0, step_key="solo", output_name=output)
        )
    assert state.status_of("solo") is case.status
    record = RunRecord(run_id="r", job_name="pair", tags=case.tags, created_at=0.0)
    owned = OwnedRun(record, plan, state, "0-0", plan.step_named())
    if case.sent_ago is not None:
        owned.sent_at["solo"] = MONOTONIC_NOW - case.sent_ago
    if case.started_ago is not None:
        owned.started_at["solo"] = REDIS_NOW - case.started_ago
    if case.redelivered:
        owned.redelivered["solo"] = case.redelivered
    return owned


def _beats(*ago: float | None) -> list[float | None]:
    return [REDIS_NOW - seconds if seconds is not None else None for seconds in ago]


# Which steps are watched -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("case", "settings", "expected"),
    [
        pytest.param(Case(), SETTINGS, Watch(running=("solo",)), id="running"),
        pytest.param(
            Case(sent_ago=5.0), SETTINGS, Watch(), id="redelivered-waits-like-a-queued-one"
        ),
        pytest.param(
            Case(sent_ago=31.0),
            SETTINGS,
            Watch(waiting=("solo",)),
            id="redelivered-past-the-queue-timeout",
        ),
        pytest.param(
            Case(StepStatus.QUEUED, sent_ago=31.0),
            SETTINGS,
            Watch(waiting=("solo",)),
            id="queued-past-the-queue-timeout",
        ),
        pytest.param(
            Case(StepStatus.QUEUED, sent_ago=30.0), SETTINGS, Watch(), id="queued-just-in-time"
        ),
        pytest.param(
            Case(StepStatus.QUEUED, sent_ago=3600.0),
            NO_QUEUE_TIMEOUT,
            Watch(),
            id="queue-timeout-off",
        ),
        pytest.param(Case(StepStatus.QUEUED), SETTINGS, Watch(), id="queued-not-sent-yet"),
        pytest.param(Case(StepStatus.SUCCESS, sent_ago=3600.0), SETTINGS, Watch(), id="ended-step"),
    ],
)
def test_to_watch_picks_running_steps_and_steps_waiting_past_the_queue_timeout(
    case: Case, settings: Settings, expected: Watch
) -> None:
    assert to_watch(_owned(case), MONOTONIC_NOW, settings) == expected


# What is decided ---------------------------------------------------------------------------
LOST_15S = "step 'solo' attempt 0: its worker was lost (no heartbeat for 15 s)"
TIMED_OUT = (
    "op 'solo' (step 'solo') ran longer than its time limit of 60 s (tag opgrid/timeout_s); "
    "its process was killed"
)
LIMIT = {"opgrid/timeout_s": 60}


def _not_taken(queue: str) -> FailStep:
    reason = (
        f"step 'solo' was not started within 30 s of being queued on {queue!r}: no worker "
        f"took it (does a worker consume {queue!r}?)"
    )
    return FailStep("solo", 0, StepLost, reason, NOT_TAKEN, revoke=True)


@pytest.mark.parametrize(
    ("case", "watch", "beats", "expected"),
    [
        pytest.param(Case(), Watch(running=("solo",)), _beats(5.0), [], id="fresh-beat"),
        pytest.param(
            Case(), Watch(running=("solo",)), _beats(10.0), [], id="beat-just-fresh-enough"
        ),
        pytest.param(
            Case(),
            Watch(running=("solo",)),
            _beats(15.0),
            [Redeliver("solo", 0, f"{LOST_15S}; delivering it again (1 of 2)")],
            id="stale-beat-redelivers",
        ),
        pytest.param(
            Case(),
            Watch(running=("solo",)),
            _beats(None),
            [
                Redeliver(
                    "solo",
                    0,
                    "step 'solo' attempt 0: its worker was lost (no heartbeat); "
                    "delivering it again (1 of 2)",
                )
            ],
            id="no-beat-redelivers",
        ),
        pytest.param(
            Case(redelivered=1),
            Watch(running=("solo",)),
            _beats(15.0),
            [Redeliver("solo", 0, f"{LOST_15S}; delivering it again (2 of 2)")],
            id="last-redelivery",
        ),
        pytest.param(
            Case(redelivered=2),
            Watch(running=("solo",)),
            _beats(15.0),
            [
                FailStep(
                    "solo",
                    0,
                    StepLost,
                    f"{LOST_15S} and 2 redelivery(ies) did not finish it",
                    RUNNING,
                )
            ],
            id="redeliveries-used-up-step-lost",
        ),
        pytest.param(
            Case(started_ago=100.0, tags=LIMIT),
            Watch(running=("solo",)),
            _beats(15.0),
            [FailStep("solo", 0, StepTimeLimitExceeded, TIMED_OUT, RUNNING)],
            id="time-limit-passed",
        ),
        pytest.param(
            Case(started_ago=100.0, redelivered=2, tags=LIMIT),
            Watch(running=("solo",)),
            _beats(None),
            [FailStep("solo", 0, StepTimeLimitExceeded, TIMED_OUT, RUNNING)],
            id="time-limit-passed-before-redeliveries-count",
        ),
        pytest.param(
            Case(started_ago=20.0, tags=LIMIT),
            Watch(running=("solo",)),
            _beats(15.0),
            [Redeliver("solo", 0, f"{LOST_15S}; delivering it again (1 of 2)")],
            id="time-limit-not-passed",
        ),
        pytest.param(
            Case(tags=LIMIT),
            Watch(running=("solo",)),
            _beats(15.0),
            [Redeliver("solo", 0, f"{LOST_15S}; delivering it again (1 of 2)")],
            id="time-limit-without-a-known-start",
        ),
        pytest.param(
            Case(started_ago=100.0, tags=LIMIT),
            Watch(running=("solo",)),
            _beats(1.0),
            [],
            id="time-limit-passed-but-beating",
        ),
        pytest.param(
            Case(StepStatus.QUEUED, sent_ago=31.0),
            Watch(waiting=("solo",)),
            _beats(None),
            [_not_taken("default")],
            id="queue-timeout-without-a-beat",
        ),
        pytest.param(
            Case(StepStatus.QUEUED, sent_ago=31.0, tags={"opgrid/queue": "gpu"}),
            Watch(waiting=("solo",)),
            _beats(None),
            [_not_taken("gpu")],
            id="queue-timeout-names-the-runs-queue",
        ),
        pytest.param(
            Case(StepStatus.QUEUED, sent_ago=31.0),
            Watch(waiting=("solo",)),
            _beats(0.5),
            [],
            id="queue-timeout-with-a-beat",
        ),
        pytest.param(
            Case(sent_ago=31.0),
            Watch(waiting=("solo",)),
            _beats(None),
            [_not_taken("default")],
            id="redelivered-and-not-taken",
        ),
    ],
)
def test_decide(
    case: Case, watch: Watch, beats: Sequence[float | None], expected: list[Decision]
) -> None:
    assert decide(_owned(case), watch, REDIS_NOW, beats, SETTINGS) == expected


def test_the_whole_round_of_one_run_with_the_queue_timeout_off() -> None:
    owned = _owned(Case(StepStatus.QUEUED, sent_ago=3600.0))
    watch = to_watch(owned, MONOTONIC_NOW, NO_QUEUE_TIMEOUT)
    assert watch.step_keys == []
    assert decide(owned, watch, REDIS_NOW, [], NO_QUEUE_TIMEOUT) == []


def test_running_steps_are_decided_before_waiting_ones_each_with_its_own_beat() -> None:
    owned = _owned(Case())
    watch = Watch(running=("solo",), waiting=("solo",))
    stale_then_none = decide(owned, watch, REDIS_NOW, _beats(15.0, None), SETTINGS)
    assert [type(decision) for decision in stale_then_none] == [Redeliver, FailStep]
    assert decide(owned, watch, REDIS_NOW, _beats(1.0, 1.0), SETTINGS) == []


def test_beats_must_match_the_watched_steps() -> None:
    with pytest.raises(ValueError, match="1 beat"):
        decide(_owned(Case()), Watch(), REDIS_NOW, [None], SETTINGS)


def test_decisions_are_values_and_the_error_classes_keep_their_stored_names() -> None:
    decision = FailStep("solo", 0, StepLost, "reason", RUNNING)
    with pytest.raises(AttributeError):
        decision.reason = "other"  # type: ignore[misc]
    assert (StepLost.__name__, StepTimeLimitExceeded.__name__) == (
        "StepLost",
        "StepTimeLimitExceeded",
    )


# Queues without a live consumer -------------------------------------------------------------
#: Steps fail after 60 s on a queue without a live consumer; no queue timeout.
NO_CONSUMER = NO_QUEUE_TIMEOUT.model_copy(update={"no_consumer_timeout_s": 60.0})


@pytest.mark.parametrize(
    ("previous", "queues", "consumed", "expected"),
    [
        pytest.param({}, {"gpu"}, set(), {"gpu": MONOTONIC_NOW}, id="first-seen-unconsumed"),
        pytest.param({"gpu": 10.0}, {"gpu"}, set(), {"gpu": 10.0}, id="still-unconsumed"),
        pytest.param({"gpu": 10.0}, {"gpu"}, {"gpu"}, {}, id="a-consumer-came"),
        pytest.param({"gpu": 10.0}, set(), set(), {}, id="nothing-waits-on-it-now"),
        pytest.param(
            {}, {"gpu", "default"}, {"default"}, {"gpu": MONOTONIC_NOW}, id="only-the-idle-one"
        ),
    ],
)
def test_unconsumed_since_remembers_when_a_queue_lost_its_consumers(
    previous: dict[str, float], queues: set[str], consumed: set[str], expected: dict[str, float]
) -> None:
    assert unconsumed_since(previous, queues, consumed, MONOTONIC_NOW) == expected


GPU = {"opgrid/queue": "gpu"}


@pytest.mark.parametrize(
    ("case", "unconsumed", "settings", "expected"),
    [
        pytest.param(
            Case(StepStatus.QUEUED, sent_ago=61.0, tags=GPU),
            {"gpu": MONOTONIC_NOW - 61.0},
            NO_CONSUMER,
            Watch(unconsumed=("solo",)),
            id="queued-on-a-queue-idle-past-the-timeout",
        ),
        pytest.param(
            Case(StepStatus.QUEUED, sent_ago=3600.0, tags=GPU),
            {},
            NO_CONSUMER,
            Watch(),
            id="backlog-a-live-consumer-is-busy",
        ),
        pytest.param(
            Case(StepStatus.QUEUED, sent_ago=3600.0, tags=GPU),
            {"gpu": MONOTONIC_NOW - 30.0},
            NO_CONSUMER,
            Watch(),
            id="queue-idle-for-less-than-the-timeout",
        ),
        pytest.param(
            Case(StepStatus.QUEUED, sent_ago=30.0, tags=GPU),
            {"gpu": MONOTONIC_NOW - 3600.0},
            NO_CONSUMER,
            Watch(),
            id="step-sent-less-than-the-timeout-ago",
        ),
        pytest.param(
            Case(StepStatus.QUEUED, sent_ago=61.0),
            {"gpu": MONOTONIC_NOW - 61.0},
            NO_CONSUMER,
            Watch(),
            id="another-queue-is-idle",
        ),
        pytest.param(
            Case(StepStatus.QUEUED, sent_ago=3600.0, tags=GPU),
            {"gpu": MONOTONIC_NOW - 3600.0},
            NO_CONSUMER.model_copy(update={"no_consumer_timeout_s": 0.0}),
            Watch(),
            id="no-consumer-timeout-off",
        ),
        pytest.param(
            Case(StepStatus.QUEUED, sent_ago=61.0, tags=GPU),
            {"gpu": MONOTONIC_NOW - 61.0},
            SETTINGS.model_copy(update={"no_consumer_timeout_s": 60.0}),
            Watch(waiting=("solo",)),
            id="the-queue-timeout-decides-first",
        ),
        pytest.param(
            Case(StepStatus.SUCCESS, sent_ago=3600.0, tags=GPU),
            {"gpu": MONOTONIC_NOW - 3600.0},
            NO_CONSUMER,
            Watch(),
            id="ended-step",
        ),
    ],
)
def test_to_watch_picks_steps_on_queues_without_a_consumer_past_the_timeout(
    case: Case, unconsumed: dict[str, float], settings: Settings, expected: Watch
) -> None:
    assert to_watch(_owned(case), MONOTONIC_NOW, settings, unconsumed) == expected


UNCONSUMED_GPU = (
    "step 'solo' waited on queue 'gpu', which had no live consumer for 60 s "
    "(OPGRID_NO_CONSUMER_TIMEOUT_S): start a worker that consumes it (opgrid worker -Q gpu) "
    "or send the op to another queue"
)


@pytest.mark.parametrize(
    ("beats", "expected"),
    [
        pytest.param(
            _beats(None),
            [FailStep("solo", 0, StepLost, UNCONSUMED_GPU, NOT_TAKEN, revoke=True)],
            id="fails-naming-the-queue-and-how-long",
        ),
        pytest.param(_beats(0.5), [], id="a-worker-just-started-it"),
    ],
)
def test_decide_fails_a_step_whose_queue_has_no_consumer(
    beats: list[float | None], expected: list[Decision]
) -> None:
    owned = _owned(Case(StepStatus.QUEUED, sent_ago=61.0, tags=GPU))
    watch = Watch(unconsumed=("solo",))
    assert decide(owned, watch, REDIS_NOW, beats, NO_CONSUMER) == expected


def test_waiting_queues_are_those_of_sent_steps_no_worker_started() -> None:
    assert waiting_queues(_owned(Case(StepStatus.QUEUED, sent_ago=1.0, tags=GPU)), "d") == {"gpu"}
    assert waiting_queues(_owned(Case(StepStatus.QUEUED, tags=GPU)), "d") == set()
    assert waiting_queues(_owned(Case(StepStatus.SUCCESS, sent_ago=1.0)), "d") == set()
