"""The opgrid.tick task: signed like step requests, refused when forged or malformed; the
run ids a tick or a backfill partition fixes."""

from __future__ import annotations

from opgrid.orchestrator.scheduling.evaluation import InstigatorType, TickRequest
from opgrid.orchestrator.scheduling.tick_task import (
    TickTask,
    admit_tick,
    backfill_run_id,
    sign_tick,
    tick_run_id,
)

SECRET = b"cluster-secret"


def _task() -> TickTask:
    request = TickRequest(instigator_type=InstigatorType.SENSOR, name="watch", cursor="c1")
    return TickTask(tick_id="1000", location="jobs.py", request=request)


def test_a_signed_tick_is_admitted_as_sent() -> None:
    signed = sign_tick(SECRET, _task())
    admitted = admit_tick(SECRET, signed.model_dump(mode="json"))
    assert admitted == signed
    assert isinstance(admitted, TickTask) and admitted.origin == "sensor:watch"


def test_an_unsigned_a_forged_or_an_altered_tick_is_refused() -> None:
    fields = _task().model_dump(mode="json")
    assert "missing signature" in str(admit_tick(SECRET, fields))
    forged = sign_tick(b"another secret", _task()).model_dump(mode="json")
    assert "bad or missing signature" in str(admit_tick(SECRET, forged))
    altered = sign_tick(SECRET, _task()).model_dump(mode="json")
    altered["request"]["cursor"] = "c2"
    assert "bad or missing signature" in str(admit_tick(SECRET, altered))
    assert "not a valid tick task" in str(admit_tick(SECRET, {"tick_id": "1"}))
    bad_hex = {**sign_tick(SECRET, _task()).model_dump(mode="json"), "signature": "zz"}
    assert "not hex" in str(admit_tick(SECRET, bad_hex))


def test_run_ids_are_fixed_by_the_tick_or_the_partition() -> None:
    assert tick_run_id("ns", "sensor:watch", "1000", 0) == tick_run_id(
        "ns", "sensor:watch", "1000", 0
    )
    ids = {tick_run_id("ns", "sensor:watch", "1000", i) for i in range(3)}
    ids |= {tick_run_id("other", "sensor:watch", "1000", 0), backfill_run_id("ns", "b1", "a")}
    assert len(ids) == 5
    assert backfill_run_id("ns", "b1", "a") == backfill_run_id("ns", "b1", "a")
