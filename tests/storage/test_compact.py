"""What a run keeps in Redis is compact: events without their defaults and run id, the
plan compressed; runs stored in the full forms before still read the same."""

from __future__ import annotations

import zlib

from opgrid import job, op
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.planning.compiler import compile_plan
from opgrid.orchestrator.protocol.events import ErrorInfo, RunEvent
from opgrid.orchestrator.store.compact import dump_event, dump_plan, load_event, load_plan
from opgrid.orchestrator.store.keys import EVENT_FIELD
from opgrid.orchestrator.store.redis import RedisRunStore

from .runs import PLAN, record


@op
def leaf(x: int) -> int:
    return x


@op
def root() -> int:
    return 1


@job
def wide():
    value = root()
    for i in range(200):
        leaf.alias(f"leaf_{i}")(value)


def test_an_event_is_kept_without_its_defaults_and_run_id() -> None:
    event = RunEvent(run_id="r-1", kind=E.STEP_SUCCESS, timestamp=12.5, step_key="a.b[k]")
    stored = dump_event(event, "r-1")
    assert stored == '{"kind":"STEP_SUCCESS","timestamp":12.5,"step_key":"a.b[k]"}'
    assert load_event(stored.encode(), "r-1") == event


def test_every_field_of_an_event_survives_the_compact_form() -> None:
    event = RunEvent(
        run_id="r-1",
        kind=E.STEP_FAILURE,
        timestamp=1764590000.123456,
        step_key="s",
        attempt=2,
        output_name="o",
        mapping_key="m",
        error=ErrorInfo(cls_name="ValueError", message='bad "x"', stack="line 1"),
        retry_delay_s=0.5,
        message="{not json}",
        level="ERROR",
        worker="h/1",
        metadata={"rows": 3, "nested": {"a": [1, None]}},
    )
    assert load_event(dump_event(event, "r-1").encode(), "r-1") == event
    other = event.model_copy(update={"run_id": "r-2"})  # in another run's stream
    assert load_event(dump_event(other, "r-1").encode(), "r-1") == other


def test_events_and_plans_stored_in_full_json_still_load() -> None:
    event = RunEvent(run_id="old", kind=E.RUN_START, timestamp=1.0)
    assert load_event(event.model_dump_json().encode(), "old") == event
    assert load_plan(PLAN.model_dump_json().encode()) == PLAN


def test_a_plan_is_kept_compressed() -> None:
    plan = compile_plan(wide)
    stored = dump_plan(plan)
    assert load_plan(stored) == plan
    assert len(stored) * 10 < len(plan.model_dump_json())
    assert zlib.decompress(stored) == plan.model_dump_json().encode()


def test_the_redis_store_writes_the_compact_forms(redis_store: RedisRunStore) -> None:
    redis_store.create_run(record(), PLAN)
    start = RunEvent(run_id="r1", kind=E.RUN_START, timestamp=2.0)
    redis_store.append_events("r1", [start])
    raw_plan = redis_store.client.get(redis_store.keys.plan("r1"))
    assert raw_plan == dump_plan(PLAN)
    ((_, fields),) = redis_store.client.xrange(redis_store.keys.events("r1"))
    assert fields[EVENT_FIELD] == f'{{"kind":"{E.RUN_START.value}","timestamp":2.0}}'.encode()
    assert [e for _, e in redis_store.read_events("r1")] == [start]
    assert redis_store.get_plan("r1") == PLAN
