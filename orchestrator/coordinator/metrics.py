"""The coordinator's metrics, for Prometheus: runs, steps, queues and live workers.

``PrometheusMetrics`` is the coordinator's ``hooks.Hooks``: it learns only from the hooks'
arguments (the events its runs accept, the steps it sends, the runs it ends, the counts
it hands over after its turns) and never reads the coordinator itself. It counts into a
registry of its own (never the global one: one process may run several coordinators);
the gauges of owned runs and steps show the last ``Counts`` handed over, kept under a
lock for the scrapes. ``metrics_server`` serves them over HTTP (``/metrics``, ``/healthz``).

================================================ ========= =================================
``opgrid_runs{status}``                           gauge     runs this coordinator owns
``opgrid_runs_finished_total{job,status}``        counter   runs it finished
``opgrid_run_duration_seconds{job,status}``       histogram start -> end of the runs it finished
``opgrid_steps{status}``                          gauge     steps of the runs it owns
``opgrid_steps_finished_total{job,status}``       counter   steps of the runs it finished, by
                                                            final status (success, failure,
                                                            skipped, abandoned, canceled)
``opgrid_step_events_total{job,kind}``            counter   step events it applied
``opgrid_step_duration_seconds{job}``             histogram start (or restart) -> success,
                                                            failure or retry, by the events'
                                                            timestamps
``opgrid_step_queue_wait_seconds{job}``           histogram dispatch (plus any retry delay) ->
                                                            start
``opgrid_queue_depth{queue}``                     gauge     messages waiting in each Celery
                                                            queue it sent steps to, and the
                                                            default queue (broker LLEN)
``opgrid_workers_alive``                          gauge     workers whose announcement has not
                                                            lapsed
``process_*``, ``python_*``                                 the process and the interpreter
================================================ ========= =================================

Labels are bounded: job names and statuses, never run ids, so "job X failed" can be
alerted on from ``/metrics`` alone (``increase(opgrid_runs_finished_total{status=
"failure"}[5m]) > 0``; ``deploy/prometheus/`` has the rules and a Grafana dashboard).
Durations and waits compare a worker's clock with the coordinator's: on several hosts,
keep the clocks in sync (NTP).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter as Counter_
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

import redis
from prometheus_client import (
    GC_COLLECTOR,
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from opgrid.errors import StorageError
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.protocol.events import RunEvent
from opgrid.orchestrator.protocol.messages import RunRecord, RunSummary
from opgrid.orchestrator.protocol.status import (
    FINAL_RUN_STATUSES,
    FINAL_STEP_STATUSES,
    RunStatus,
    StepStatus,
)
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.connect import connect
from opgrid.orchestrator.store.redis import RedisRunStore

from .dispatch import Delivery
from .hooks import Counts, Hooks

logger = logging.getLogger(__name__)

#: Bucket bounds (seconds) of step durations: from quick ops to hour-long ones.
DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
#: Bucket bounds (seconds) of run durations: from a quick job to a day-long one.
RUN_DURATION_BUCKETS = (0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 1800, 3600, 3 * 3600, 86400)
#: Bucket bounds (seconds) of how long steps wait in their queue.
QUEUE_WAIT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
#: Runs whose dispatch and start times are kept at once (the oldest are dropped first;
#: a run another coordinator takes over never finishes here).
TRACKED_RUNS = 10_000

_STARTS = frozenset({E.STEP_START, E.STEP_RESTARTED})
_ENDS = frozenset({E.STEP_SUCCESS, E.STEP_FAILURE, E.STEP_UP_FOR_RETRY})
_STEP_KINDS = tuple(kind for kind in E if kind.name.startswith("STEP_"))


class PrometheusMetrics(Hooks, Collector):
    """A coordinator's metrics in a ``CollectorRegistry`` of its own (``.registry``).

    Args:
        store: the cluster's run store: live workers, and queue depths when the broker
            is the same Redis.
        settings: the default queue, the broker, and how long a loop may stay silent.
        broker: a client of the broker; by default the store's when ``broker_url`` is
            ``redis_url``, else one opened here (no queue depths for a broker that is
            not Redis).
    """

    def __init__(
        self, store: RedisRunStore, settings: Settings, broker: redis.Redis | None = None
    ) -> None:
        self.store = store
        self.settings = settings
        #: how long the loop may go without a turn and still count as healthy: a turn
        #: blocks for at most ``block_s``; leases lapse after ``lease_s``
        self.stale_after_s = max(3 * settings.block_s, settings.lease_s)
        self.registry = CollectorRegistry()
        self._broker, self._own_broker = _broker_client(store, settings, broker)
        self._last_turn = time.monotonic()
        #: every queue to report the depth of: the default one, those steps were sent to
        #: (by any coordinator, before a restart too), those live workers consume
        self._queues: set[str] = {settings.default_queue}
        #: the last counts handed over (the coordinator's thread writes, scrapes read)
        self._counts = Counts(runs={}, steps={})
        self._lock = threading.Lock()
        # run id -> step key -> wall-clock time (dispatched: when it may start; started)
        self._ready: dict[str, dict[str, float]] = {}
        self._started: dict[str, dict[str, float]] = {}
        #: job names seen (a label value each: bounded by the jobs that exist)
        self._jobs: set[str] = set()
        self._runs_finished = Counter(
            "opgrid_runs_finished",
            "Runs this coordinator finished, by job and final status.",
            ["job", "status"],
            registry=self.registry,
        )
        self._run_durations = Histogram(
            "opgrid_run_duration_seconds",
            "How long the runs it finished took, start to end, by job and final status.",
            ["job", "status"],
            buckets=RUN_DURATION_BUCKETS,
            registry=self.registry,
        )
        self._steps_finished = Counter(
            "opgrid_steps_finished",
            "Steps of the runs it finished, by job and final status.",
            ["job", "status"],
            registry=self.registry,
        )
        self._step_events = Counter(
            "opgrid_step_events",
            "Step events this coordinator applied to its runs, by job and kind.",
            ["job", "kind"],
            registry=self.registry,
        )
        self._durations = Histogram(
            "opgrid_step_duration_seconds",
            "How long step attempts ran: start (or restart) to success, failure or retry.",
            ["job"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self._waits = Histogram(
            "opgrid_step_queue_wait_seconds",
            "How long dispatched steps waited for a worker to start them.",
            ["job"],
            buckets=QUEUE_WAIT_BUCKETS,
            registry=self.registry,
        )
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        if GC_COLLECTOR is not None:
            GCCollector(registry=self.registry)
        self.registry.register(self)

    def close(self) -> None:
        """Close the broker client opened here, if any."""
        if self._own_broker and self._broker is not None:
            self._broker.close()

    # Hooks (the coordinator's thread) ---------------------------------------------------
    def _queues_known_elsewhere(self) -> set[str]:
        """The queues recorded in Redis and those live workers consume (a scrape's thread)."""
        try:
            consumed = {q for queues in self.store.live_workers().values() for q in queues}
            return consumed | set(self.store.known_queues())
        except StorageError:
            logger.warning("metrics: cannot read the known queues", exc_info=True)
            return set()

    def _see(self, job: str) -> None:
        """A job's first appearance: its counters start at 0 for every label value, so
        ``increase(...)`` over a window that holds its first failure sees the rise."""
        self._jobs.add(job)
        for status in FINAL_RUN_STATUSES:
            self._runs_finished.labels(job=job, status=status.value)
        for step_status in FINAL_STEP_STATUSES:
            self._steps_finished.labels(job=job, status=step_status.value)
        for kind in _STEP_KINDS:
            self._step_events.labels(job=job, kind=kind.name.lower())

    def after_event(self, record: RunRecord, event: RunEvent) -> None:
        job = record.job_name
        if job not in self._jobs:
            self._see(job)
        step_key = event.step_key
        if step_key is None or event.kind not in _STEP_KINDS:
            return
        self._step_events.labels(job=job, kind=event.kind.name.lower()).inc()
        run_id = record.run_id
        if event.kind in _STARTS:
            _tracked(self._started, run_id)[step_key] = event.timestamp
            ready = self._ready.get(run_id, {}).pop(step_key, None)
            if ready is not None:
                self._waits.labels(job=job).observe(max(0.0, event.timestamp - ready))
        elif event.kind in _ENDS:
            started = self._started.get(run_id, {}).pop(step_key, None)
            if started is not None:
                self._durations.labels(job=job).observe(max(0.0, event.timestamp - started))

    def before_dispatch(self, deliveries: Sequence[Delivery]) -> None:
        now = time.time()
        queues: set[str] = set()
        for delivery in deliveries:
            request = delivery.request
            _tracked(self._ready, request.run_id)[request.step_key] = now
            queues.add(delivery.queue)
        if not queues <= self._queues:
            try:
                self.store.remember_queues(queues - self._queues)
            except StorageError:  # the next new queue tries again; the gauge has it meanwhile
                logger.warning("metrics: cannot record the queues sent to", exc_info=True)
            with self._lock:
                self._queues |= queues

    def after_finish(self, record: RunRecord, summary: RunSummary | None = None) -> None:
        job, status = record.job_name, record.status.value
        if job not in self._jobs:
            self._see(job)
        self._runs_finished.labels(job=job, status=status).inc()
        if record.started_at is not None and record.finished_at is not None:
            took = max(0.0, record.finished_at - record.started_at)
            self._run_durations.labels(job=job, status=status).observe(took)
        for step_status, count in Counter_(summary.steps.values() if summary else ()).items():
            self._steps_finished.labels(job=job, status=step_status.value).inc(count)
        self._ready.pop(record.run_id, None)
        self._started.pop(record.run_id, None)

    def after_count(self, counts: Counts) -> None:
        with self._lock:
            self._counts = counts

    def after_turn(self) -> None:
        self._last_turn = time.monotonic()

    # Scrapes (the HTTP server's threads) ------------------------------------------------
    def healthy(self) -> bool:
        """Whether the coordinator's loop turned lately."""
        return time.monotonic() - self._last_turn <= self.stale_after_s

    def describe(self) -> Iterable[Metric]:
        return [
            GaugeMetricFamily("opgrid_runs", "", labels=["status"]),
            GaugeMetricFamily("opgrid_steps", "", labels=["status"]),
            GaugeMetricFamily("opgrid_queue_depth", "", labels=["queue"]),
            GaugeMetricFamily("opgrid_workers_alive", ""),
        ]

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            counts, ours = self._counts, set(self._queues)
        queues = sorted(ours | self._queues_known_elsewhere())
        runs = {status.value: 0 for status in RunStatus if status not in FINAL_RUN_STATUSES}
        runs.update((status.value, n) for status, n in counts.runs.items())
        steps = {status.value: 0 for status in StepStatus}
        steps.update((status.value, n) for status, n in counts.steps.items())
        yield _by_label("opgrid_runs", "Runs this coordinator owns, by status.", "status", runs)
        yield _by_label("opgrid_steps", "Steps of the runs it owns, by status.", "status", steps)
        if self._broker is not None:
            try:
                depths = self.store.queue_depths(queues, self._broker)
            except StorageError:
                logger.warning("metrics: cannot read queue depths; left out", exc_info=True)
            else:
                help_text = "Messages waiting in a Celery queue (steps not taken by a worker)."
                yield _by_label("opgrid_queue_depth", help_text, "queue", depths)
        try:
            alive = len(self.store.live_workers())
        except StorageError:
            logger.warning("metrics: cannot read the live workers; left out", exc_info=True)
        else:
            yield GaugeMetricFamily(
                "opgrid_workers_alive", "Workers whose announcement has not lapsed.", alive
            )


def _tracked(table: dict[str, dict[str, float]], run_id: str) -> dict[str, float]:
    """The entry of ``run_id`` in ``table``, made room for if new."""
    entry = table.get(run_id)
    if entry is None:
        if len(table) >= TRACKED_RUNS:
            del table[next(iter(table))]
        entry = table[run_id] = {}
    return entry


def _by_label(name: str, help_text: str, label: str, values: dict[str, int]) -> Metric:
    family = GaugeMetricFamily(name, help_text, labels=[label])
    for value, count in values.items():
        family.add_metric([value], count)
    return family


def _broker_client(
    store: RedisRunStore, settings: Settings, given: redis.Redis | None
) -> tuple[redis.Redis | None, bool]:
    """(a client of the broker or None, whether it was opened here)."""
    if given is not None:
        return given, False
    if settings.broker_url == settings.redis_url and isinstance(store.client, redis.Redis):
        return store.client, False  # (a Redis Cluster is never the broker)
    if urlsplit(settings.broker_url).scheme not in ("redis", "rediss"):
        logger.info("metrics: the broker is not Redis; no queue depths")
        return None, False
    return connect(settings.broker_url), True
