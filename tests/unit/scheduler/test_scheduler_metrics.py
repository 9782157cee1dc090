"""The scheduler's metrics on the in-memory store: learned from its hooks as ticks end,
runs launch and backfills advance, with bounded labels."""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from tests.unit.scheduler.test_scheduler import SETTINGS, Sent, _setup, partitioned

from opgrid.orchestrator.planning.compiler import compile_plan
from opgrid.orchestrator.scheduler.loop import Scheduler
from opgrid.orchestrator.scheduler.metrics import SchedulerMetrics
from opgrid.orchestrator.scheduling.backfill import Backfill
from opgrid.orchestrator.store.memory import InMemoryRunStore
from opgrid.orchestrator.store.tick_records import BackfillRecord


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in registry.collect()
        for s in family.samples
    }


def test_ticks_and_the_runs_they_launch_are_counted_by_instigator_job_and_status() -> None:
    store, sent, evaluator = _setup()
    registry = CollectorRegistry()
    hooks = SchedulerMetrics(registry)
    Scheduler(store, sent, SETTINGS, "s1", clock=lambda: 100.0, hooks=hooks).turn()
    evaluator.evaluate(sent.tasks[0])
    Scheduler(store, sent, SETTINGS, "s1", clock=lambda: 101.0, hooks=hooks).turn()
    samples = _samples(registry)
    tick = ("instigator", "keys"), ("kind", "sensor")
    assert samples[("opgrid_scheduler_ticks_total", (*tick, ("status", "success")))] == 1
    assert samples[("opgrid_scheduler_ticks_total", (*tick, ("status", "skipped")))] == 0
    launched = ("opgrid_scheduler_runs_launched_total", (("instigator", "keys"), ("job", "target")))
    assert samples[launched] == 2  # run keys a and b; the repeated a is dropped
    assert samples[("opgrid_scheduler_leading", ())] == 1
    later = Scheduler(store, sent, SETTINGS, "s1", clock=lambda: 200.0, hooks=hooks)
    later.turn()
    evaluator.evaluate(sent.tasks[-1])
    later.turn()
    samples = _samples(registry)
    assert samples[("opgrid_scheduler_ticks_total", (*tick, ("status", "skipped")))] == 1
    assert samples[launched] == 2


def test_backfill_gauges_show_the_backfills_in_progress_by_job_and_only_on_the_leader() -> None:
    store = InMemoryRunStore()
    backfill = Backfill(
        backfill_id="bf",
        job_name="partitioned",
        partition_keys=["x", "y", "z"],
        created_ts=1.0,
        max_concurrent=2,
    )
    plans = {key: compile_plan(partitioned, None, partition_key=key) for key in "xyz"}
    store.create_backfill(BackfillRecord(backfill=backfill), plans)
    registry, follower_registry = CollectorRegistry(), CollectorRegistry()
    leader = Scheduler(store, Sent(), SETTINGS, "s1", hooks=SchedulerMetrics(registry))
    follower = Scheduler(store, Sent(), SETTINGS, "s2", hooks=SchedulerMetrics(follower_registry))
    assert leader.turn() and not follower.turn()
    samples = _samples(registry)
    job = ("job", "partitioned")
    assert samples[("opgrid_backfill_partitions", (job, ("state", "requested")))] == 3
    assert samples[("opgrid_backfill_partitions", (job, ("state", "launched")))] == 2
    assert samples[("opgrid_backfill_partitions", (job, ("state", "completed")))] == 0
    follower_samples = _samples(follower_registry)
    assert follower_samples[("opgrid_scheduler_leading", ())] == 0
    assert not [k for k in follower_samples if k[0] == "opgrid_backfill_partitions"]
    assert not [k for k in samples if "bf" in str(k)]  # no backfill id as a label
