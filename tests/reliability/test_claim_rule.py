"""The claim rule, case by case: ``attempts.decide`` and the Lua ``BEGIN`` script agree.

Every row is one delivery of a step attempt to a worker and the stored facts it
meets (the step's status, the claim, how old the holder's last heartbeat is); the
verdict says whether the worker runs the attempt. The same rows run through the
Python rule and through the script on a real redis-server (fakeredis runs Lua
through lupa, not Redis' own Lua 5.1).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis

from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.protocol.attempts import Verdict, decide
from opgrid.orchestrator.protocol.events import RunEvent
from opgrid.orchestrator.store.keys import Keys
from opgrid.orchestrator.store.redis import RedisRunStore

#: A holder silent for longer than this is lost.
LOST_AFTER_S = 10.0
#: Beat ages in the table.
FRESH, STALE = 1.0, 60.0


@dataclass(frozen=True)
class Case:
    name: str
    status: str | None
    claim: str | None
    beat_age_s: float | None
    attempt: int
    verdict: Verdict
    holder: str
    token: str = "w2"
    take_over: str = ""


CASES = [
    Case("never dispatched", None, None, None, 0, Verdict.UNDISPATCHED, ""),
    Case("waiting for inputs", "pending", None, None, 0, Verdict.UNDISPATCHED, ""),
    *(
        Case(f"step {final}", final, "0:w1", None, 0, Verdict.SETTLED, final)
        for final in ("success", "failure", "skipped", "abandoned", "canceled")
    ),
    Case("queued, first delivery", "queued", None, None, 0, Verdict.GO, ""),
    Case("a later attempt exists", "running", "1:w1", FRESH, 0, Verdict.STALE, "w1"),
    Case(
        "attempt ended up_for_retry, delivered again",
        "up_for_retry",
        "0:w1",
        None,
        0,
        Verdict.SETTLED,
        "up_for_retry",
    ),
    Case(
        "attempt ended up_for_retry, delivered again to its own worker",
        "up_for_retry",
        "0:w2",
        None,
        0,
        Verdict.SETTLED,
        "up_for_retry",
    ),
    Case(
        "attempt ended up_for_retry, a holder that still beats",
        "up_for_retry",
        "0:w1",
        FRESH,
        0,
        Verdict.SETTLED,
        "up_for_retry",
    ),
    Case("the retry after up_for_retry", "up_for_retry", "0:w1", None, 1, Verdict.GO, "w1"),
    Case("an attempt before the retry", "up_for_retry", "1:w1", None, 0, Verdict.STALE, "w1"),
    Case("the holder itself again", "running", "0:w2", FRESH, 0, Verdict.GO, "w2"),
    Case("a duplicate while the holder beats", "running", "0:w1", FRESH, 0, Verdict.BUSY, "w1"),
    Case("the holder went silent", "running", "0:w1", STALE, 0, Verdict.TAKEN_OVER, "w1"),
    Case("the holder never beat", "running", "0:w1", None, 0, Verdict.TAKEN_OVER, "w1"),
    Case("declared lost", "running", "0:lost", FRESH, 0, Verdict.TAKEN_OVER, "lost"),
    Case(
        "a holder known dead",
        "running",
        "0:w1",
        FRESH,
        0,
        Verdict.TAKEN_OVER,
        "w1",
        take_over="w1",
    ),
    Case(
        "another dead holder named",
        "running",
        "0:w1",
        FRESH,
        0,
        Verdict.BUSY,
        "w1",
        take_over="w3",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_decide_gives_each_delivery_its_verdict(case: Case) -> None:
    now = 1_000.0
    beat = None if case.beat_age_s is None else now - case.beat_age_s
    got = decide(
        case.status,
        case.claim,
        beat,
        case.attempt,
        case.token,
        now,
        LOST_AFTER_S,
        case.take_over,
    )
    assert got == (case.verdict, case.holder)


@pytest.fixture
def store(redis_url: str, namespace: str) -> Iterator[RedisRunStore]:
    client = redis.Redis.from_url(redis_url)
    yield RedisRunStore(client, Keys(namespace), run_ttl_s=600)
    client.close()


def test_the_lua_claim_script_gives_the_same_verdicts(store: RedisRunStore) -> None:
    client = store.client
    keys = store.keys
    (seconds, micros) = client.time()
    redis_now = seconds + micros / 1e6
    runs = {case.name: f"rule-{i}" for i, case in enumerate(CASES)}
    for case in CASES:
        run_id = runs[case.name]
        if case.status is not None:
            client.hset(keys.steps(run_id), "op", case.status)
        if case.claim is not None:
            client.hset(keys.claims(run_id), "op", case.claim)
        if case.beat_age_s is not None:
            client.hset(keys.beats(run_id), "op", str(redis_now - case.beat_age_s))
    verdicts = {}
    for case in CASES:
        run_id = runs[case.name]
        begun = store.begin_attempt(
            run_id,
            "op",
            case.attempt,
            case.token,
            _event(run_id, E.STEP_START),
            LOST_AFTER_S,
            [],
            case.take_over,
        )
        verdicts[case.name] = (begun.verdict, begun.holder)
    assert verdicts == {case.name: (case.verdict, case.holder) for case in CASES}
    for case in CASES:  # a delivery that runs has the claim; one that does not left it alone
        claim = client.hget(keys.claims(runs[case.name]), "op")
        expected = f"{case.attempt}:{case.token}" if case.verdict.runs else case.claim
        assert (claim.decode() if claim else None) == expected, case.name


def _event(run_id: str, kind: E) -> RunEvent:
    return RunEvent(run_id=run_id, kind=kind, timestamp=time.time(), step_key="op")
