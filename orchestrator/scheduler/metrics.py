"""The scheduler's metrics, for Prometheus, served with its coordinator's on ``/metrics``.

``SchedulerMetrics`` is the scheduler's ``hooks.SchedulerHooks``: it learns only from the
hooks' arguments (the ticks that ended, the runs they created, the backfills in progress
after a turn, whether it leads) and registers into the registry it is given (the
coordinator's, ``coordinator.metrics.PrometheusMetrics.registry``). Only the leader ticks,
so the counters move on one coordinator at a time: sum them over coordinators.

================================================== ======= ================================
``opgrid_scheduler_ticks_total{instigator,kind,     counter ticks that ended, by schedule or
status}``                                                   sensor name, ``schedule``/
                                                            ``sensor`` and ``success``/
                                                            ``skipped``/``failure``
``opgrid_scheduler_runs_launched_total{instigator,  counter runs ticks created, by schedule or
job}``                                                      sensor name and job
``opgrid_scheduler_leading``                        gauge   1 while this process's scheduler
                                                            holds the lease, else 0
``opgrid_backfill_partitions{job,state}``           gauge   partitions of the backfills in
                                                            progress, by job: ``requested``,
                                                            ``launched``, ``completed``
                                                            (the leader's view; 0 elsewhere)
================================================== ======= ================================

Labels are bounded by the schedules, sensors and jobs that exist: never a tick, run or
backfill id.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from opgrid.orchestrator.protocol.messages import RunRecord
from opgrid.orchestrator.store.tick_records import BackfillProgressRecord, TickRecord

from .hooks import SchedulerHooks

#: The states a backfill's partitions are counted in.
BACKFILL_STATES = ("requested", "launched", "completed")
#: The statuses a tick ends with (``scheduling.TickStatus`` values).
TICK_STATUSES = ("success", "skipped", "failure")


class SchedulerMetrics(SchedulerHooks, Collector):
    """A scheduler's metrics, registered into ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._lock = threading.Lock()
        self._leading = False
        #: job -> state -> partitions, of the backfills in progress at the last turn
        self._backfills: dict[str, dict[str, int]] = {}
        #: the jobs backfilled since start (their gauges stay, at 0 once done)
        self._backfill_jobs: set[str] = set()
        self._seen: set[tuple[str, str]] = set()
        self._ticks = Counter(
            "opgrid_scheduler_ticks",
            "Ticks that ended, by schedule or sensor, kind and status.",
            ["instigator", "kind", "status"],
            registry=registry,
        )
        self._launched = Counter(
            "opgrid_scheduler_runs_launched",
            "Runs that ticks of schedules and sensors created, by instigator and job.",
            ["instigator", "job"],
            registry=registry,
        )
        registry.register(self)

    # Hooks (the scheduler's thread) -----------------------------------------------------
    def after_tick(self, tick: TickRecord, launched: Sequence[RunRecord]) -> None:
        kind = tick.kind.value
        if (tick.name, kind) not in self._seen:  # every status from 0, so increase() sees it
            self._seen.add((tick.name, kind))
            for status in TICK_STATUSES:
                self._ticks.labels(instigator=tick.name, kind=kind, status=status)
        self._ticks.labels(instigator=tick.name, kind=kind, status=tick.status).inc()
        for record in launched:
            self._launched.labels(instigator=tick.name, job=record.job_name).inc()

    def after_backfills(self, in_progress: Sequence[BackfillProgressRecord]) -> None:
        totals: dict[str, dict[str, int]] = {}
        for progress in in_progress:
            backfill = progress.record.backfill
            counts = totals.setdefault(backfill.job_name, dict.fromkeys(BACKFILL_STATES, 0))
            counts["requested"] += len(backfill.partition_keys)
            counts["launched"] += len(progress.launched)
            counts["completed"] += len(progress.finished)
        with self._lock:
            self._backfills = totals
            self._backfill_jobs.update(totals)

    def after_turn(self, leading: bool) -> None:
        with self._lock:
            self._leading = leading
            if not leading:  # the leader's view only: another process reports them
                self._backfills = {}

    # Scrapes (the HTTP server's threads) ------------------------------------------------
    def describe(self) -> Iterable[Metric]:
        return [
            GaugeMetricFamily("opgrid_scheduler_leading", ""),
            GaugeMetricFamily("opgrid_backfill_partitions", "", labels=["job", "state"]),
        ]

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            leading, backfills, jobs = self._leading, self._backfills, sorted(self._backfill_jobs)
        yield GaugeMetricFamily(
            "opgrid_scheduler_leading",
            "1 while this process's scheduler leads (ticks schedules and sensors), else 0.",
            int(leading),
        )
        family = GaugeMetricFamily(
            "opgrid_backfill_partitions",
            "Partitions of the backfills in progress, by job and state.",
            labels=["job", "state"],
        )
        for job in jobs:
            counts = backfills.get(job, {})
            for state in BACKFILL_STATES:
                family.add_metric([job, state], counts.get(state, 0))
        yield family
