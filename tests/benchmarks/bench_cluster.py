"""Benchmark: opgrid on a Celery worker cluster vs raw Celery, same Redis, same workers.

Run from the repository root (either form works)::

    python -m tests.benchmarks.bench_cluster [--quick] [--profile] [--reps N]
    python tests/benchmarks/bench_cluster.py [--quick] [--profile] [--reps N]

One run measures, against raw Celery on the same throwaway redis-server and the
same number of worker processes (one ``celery worker`` process with a prefork
pool of ``-c N`` children, for both systems):

1. per-op latency of a 100-op chain: opgrid (``submit`` a 100-op linear job,
   ``wait``) vs raw Celery sending each ``add`` task after the previous result
   (``.get()`` on a Redis result backend). Goal: opgrid at most 1.1x raw Celery;
2. a 1,000-wide fan-out/fan-in: opgrid's throughput on a 1 -> 1000 -> 1 job vs
   raw Celery's on 1,000 independent tasks (send all, then get every result).
   Goal: at least raw Celery's (1.0x);
3. horizontal scale: 200 ops that sleep 0.1 s (``start`` -> 200 parallel naps) on
   1, 2, 4 and 8 worker processes; wall time vs the ideal 200 * 0.1 / workers.
   Goal: within 10% of ideal at each size. Raw Celery's 200 ``nap`` tasks are
   shown next to it for reference.

``--quick``: a 20-op chain, a 200-wide fan, 100 naps on 1, 2 and 4 processes.
``--profile`` adds (after goals 1 and 2, same workers): a breakdown of opgrid's
per-step latency on the chain (the run's event timestamps plus timers wrapped
around the coordinator's store, state and dispatcher calls, in this process; no
source file is changed), the coordinator's time on the fan, and for both systems
the CPU milliseconds per op by process (``/proc``) and the Redis commands per op
(``INFO commandstats``).

opgrid's side is a ``Coordinator`` in a thread of this process and worker processes
started as ``python -m celery -A opgrid.workers.app worker`` with
``OPGRID_LOCATIONS=tests/jobs/bench_cluster_jobs.py``; the raw side is
``tests/benchmarks/raw_celery_app.py``. Figures are printed next to their goals;
nothing is asserted on time (a wrong result stops the script). Worker processes
run in their own process groups and are killed at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import itertools
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a file: make ``tests.benchmarks`` importable
    sys.path.insert(0, str(ROOT))

import celery  # noqa: E402
import redis  # noqa: E402

from opgrid.event_type import DagsterEventType as E  # noqa: E402
from opgrid.orchestrator.cli.embedded_redis import RedisServer  # noqa: E402
from opgrid.orchestrator.client.submit import submit  # noqa: E402
from opgrid.orchestrator.coordinator.dispatch import CeleryDispatcher  # noqa: E402
from opgrid.orchestrator.coordinator.local import CoordinatorThread  # noqa: E402
from opgrid.orchestrator.coordinator.loop import Coordinator  # noqa: E402
from opgrid.orchestrator.settings import Settings  # noqa: E402
from opgrid.orchestrator.store import redis as redis_store  # noqa: E402
from opgrid.orchestrator.store.redis import RedisRunStore  # noqa: E402
from tests.benchmarks.raw_celery_app import make_app as make_raw_app  # noqa: E402
from tests.jobs import bench_cluster_jobs as cluster_jobs  # noqa: E402

#: Goals of the issue.
GOAL_CHAIN_RATIO = 1.1  # opgrid ms/op <= 1.1 x raw Celery ms/op
GOAL_FAN_RATIO = 1.0  # opgrid ops/s >= raw Celery ops/s
GOAL_SCALE_OVER = 0.10  # wall time <= ideal * 1.10

#: Worker processes for goals 1 and 2 (prefork children of one ``celery worker``).
POOL = 2
WORKER_FLAGS = (
    "--pool",
    "prefork",
    "--without-gossip",
    "--without-mingle",
    "--without-heartbeat",
    "--loglevel",
    "WARNING",
)
LOCATION = Path(cluster_jobs.__file__).resolve()
OPGRID_APP = "opgrid.workers.app"
RAW_APP = "tests.benchmarks.raw_celery_app"
#: The coordinator's longest block on its streams (it wakes at once on new entries).
BLOCK_S = 0.05
READY_TIMEOUT_S = 60.0
RUN_TIMEOUT_S = 300.0


# ---------------------------------------------------------------- Redis and worker processes


@contextlib.contextmanager
def redis_url(given: str | None) -> Iterator[tuple[str, int | None]]:
    """A Redis to benchmark on, and its pid if it is ours: ``given``, or a throwaway one."""
    if given:
        yield given, None
        return
    with RedisServer() as server:
        yield server.url, server.pid


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """TERM the process group of ``proc``, then KILL whatever is left of it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # pool children that outlived their parent
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


class Workers:
    """One ``celery worker`` process (prefork, ``-c concurrency``) in its own process group."""

    _live: set[Workers] = set()

    def __init__(
        self,
        label: str,
        app_module: str,
        queue: str,
        concurrency: int,
        env: dict[str, str],
        logdir: Path,
        control: celery.Celery,
    ) -> None:
        self.label = label
        self.node = f"{label}-{uuid.uuid4().hex[:6]}@{socket.gethostname()}"
        self.control = control
        self.log_path = logdir / f"{self.node.split('@')[0]}.log"
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            app_module,
            "worker",
            "--concurrency",
            str(concurrency),
            "--queues",
            queue,
            "--hostname",
            self.node,
            *WORKER_FLAGS,
        ]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        Workers._live.add(self)

    def wait_ready(self) -> None:
        """Until the worker answers a ping (its pool is up by then)."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"worker {self.node} exited:\n{self.log_tail()}")
            if self.control.control.ping(destination=[self.node], timeout=0.5):
                return
        raise SystemExit(f"worker {self.node} not ready in {READY_TIMEOUT_S} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        _kill_group(self.proc)
        Workers._live.discard(self)

    @classmethod
    def stop_all(cls) -> None:
        for workers in list(cls._live):
            workers.stop()


atexit.register(Workers.stop_all)


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    """This process's environment without ``OPGRID_*`` / ``BENCH_RAW_*``, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPGRID_", "BENCH_RAW_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env.update(extra)
    return env


@contextlib.contextmanager
def running(*workers: Workers) -> Iterator[None]:
    try:
        for w in workers:
            w.wait_ready()
        yield
    finally:
        for w in workers:
            w.stop()


# ---------------------------------------------------------------- the two systems


class Opgrid:
    """Submits the jobs of ``cluster_jobs`` to opgrid's cluster and waits for them."""

    def __init__(self, settings: Settings, logdir: Path) -> None:
        self.settings = settings
        self.logdir = logdir
        self.store = RedisRunStore.from_settings(settings)
        self.dispatcher = CeleryDispatcher(settings)
        self.coordinator = Coordinator(self.store, self.dispatcher, settings)
        self.env = clean_env(
            {
                "OPGRID_REDIS_URL": settings.redis_url,
                "OPGRID_BROKER_URL": settings.broker_url,
                "OPGRID_NAMESPACE": settings.namespace,
                "OPGRID_SECRET": settings.secret.get_secret_value(),
                "OPGRID_DEFAULT_QUEUE": settings.default_queue,
                "OPGRID_LOCATIONS": str(LOCATION),
            }
        )

    def workers(self, concurrency: int) -> Workers:
        return Workers(
            "opgrid",
            OPGRID_APP,
            self.settings.default_queue,
            concurrency,
            self.env,
            self.logdir,
            self.dispatcher.app,
        )

    def run(self, name: str, node: str, expected: Any) -> tuple[float, str]:
        """Submit job ``name``, wait; (wall seconds, run id). Checks ``node``'s output."""
        job = cluster_jobs.get(name)
        t0 = time.perf_counter()
        handle = submit(job, settings=self.settings)
        result = handle.wait(timeout=RUN_TIMEOUT_S)
        wall = time.perf_counter() - t0
        try:
            value = result.output_for_node(node) if result.success else None
            if value != expected:
                raise SystemExit(
                    f"opgrid run {handle.run_id} of {name}: success={result.success}, "
                    f"{node}={value!r}, expected {expected!r}"
                )
        finally:
            handle.close()
        return wall, handle.run_id

    def close(self) -> None:
        self.dispatcher.close()
        self.store.client.close()


class RawCelery:
    """The baseline: ``add`` / ``nap`` tasks of ``raw_celery_app`` with a Redis result backend."""

    def __init__(self, url: str, queue: str, logdir: Path, celery_defaults: bool) -> None:
        self.queue = queue
        self.logdir = logdir
        self.app = make_raw_app(url, queue, celery_defaults=celery_defaults)
        self.add = self.app.tasks["bench_raw.add"]
        self.nap = self.app.tasks["bench_raw.nap"]
        self.env = clean_env(
            {
                "BENCH_RAW_REDIS_URL": url,
                "BENCH_RAW_QUEUE": queue,
                "BENCH_RAW_DEFAULTS": "1" if celery_defaults else "0",
            }
        )

    def workers(self, concurrency: int) -> Workers:
        return Workers("raw", RAW_APP, self.queue, concurrency, self.env, self.logdir, self.app)

    def chain(self, length: int) -> float:
        """Each ``add`` sent after the previous result came back."""
        t0 = time.perf_counter()
        x = 0
        for _ in range(length):
            x = self.add.delay(x, 1).get(timeout=RUN_TIMEOUT_S)
        wall = time.perf_counter() - t0
        if x != length:
            raise SystemExit(f"raw chain gave {x}, expected {length}")
        return wall

    def fan(self, width: int, task: str = "add") -> float:
        """``width`` independent tasks: send all, then get every result."""
        t0 = time.perf_counter()
        if task == "add":
            results = [self.add.delay(i, 1) for i in range(width)]
        else:
            results = [self.nap.delay(i) for i in range(width)]
        values = [r.get(timeout=RUN_TIMEOUT_S) for r in results]
        wall = time.perf_counter() - t0
        expected = [i + 1 for i in range(width)] if task == "add" else list(range(width))
        if values != expected:
            raise SystemExit(f"raw {task} fan gave wrong results")
        return wall

    def close(self) -> None:
        self.app.close()


# ---------------------------------------------------------------- profiling opgrid's chain


class CoordinatorProbe:
    """Timers around the coordinator's store, state and dispatcher calls, in this process.

    Instance attributes shadow the methods for the duration of a ``with``; the event
    parser of ``redis_store`` is wrapped too, and its time is split by thread (the
    coordinator's thread vs ``RunHandle.wait`` in the main thread).
    """

    def __init__(self, coordinator: Coordinator) -> None:
        self.coordinator = coordinator
        #: (XREAD called, returned, [(step key, event kind)]) of wakes that brought events
        self.wakes: list[tuple[float, float, list[tuple[str | None, E]]]] = []
        self.advance: list[float] = []
        self.apply: list[float] = []
        self.save: list[float] = []
        #: step key -> (send_task called, returned), epoch seconds
        self.dispatched: dict[str, tuple[float, float]] = {}
        self.parsed: dict[str, list[float]] = defaultdict(list)
        self._undo: list[Callable[[], None]] = []

    def __enter__(self) -> CoordinatorProbe:
        c = self.coordinator
        store, dispatcher = c.store, c.dispatcher
        wait, save, dispatch = store.wait, store.save_progress, dispatcher.dispatch
        advance = c._advance
        parse = redis_store._event

        def timed_parse(fields: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return parse(fields)
            finally:
                who = "coordinator" if threading.current_thread().name == c.id else "waiter"
                self.parsed[who].append(time.perf_counter() - t0)

        def timed_wait(*args: Any, **kwargs: Any) -> Any:
            t0 = time.time()
            submitted, events = wait(*args, **kwargs)
            seen = [(e.step_key, e.kind) for entries in events.values() for _, e in entries]
            if seen:
                self.wakes.append((t0, time.time(), seen))
            return submitted, events

        def timed_save(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return save(*args, **kwargs)
            finally:
                self.save.append(time.perf_counter() - t0)

        def timed_dispatch(deliveries: Any) -> Any:
            t0 = time.time()
            try:
                return dispatch(deliveries)
            finally:
                done = time.time()
                for delivery in deliveries:
                    self.dispatched[delivery.request.step_key] = (t0, done)

        def timed_advance(owned: Any, entries: Any) -> Any:
            apply = owned.state.apply

            def timed_apply(event: Any) -> Any:
                t0 = time.perf_counter()
                try:
                    return apply(event)
                finally:
                    self.apply.append(time.perf_counter() - t0)

            owned.state.apply = timed_apply
            t0 = time.perf_counter()
            try:
                return advance(owned, entries)
            finally:
                self.advance.append(time.perf_counter() - t0)
                del owned.state.apply

        store.wait, store.save_progress = timed_wait, timed_save
        dispatcher.dispatch = timed_dispatch
        c._advance = timed_advance
        redis_store._event = timed_parse
        self._undo = [
            lambda: delattr(store, "wait"),
            lambda: delattr(store, "save_progress"),
            lambda: delattr(dispatcher, "dispatch"),
            lambda: delattr(c, "_advance"),
            lambda: setattr(redis_store, "_event", parse),
        ]
        return self

    def __exit__(self, *exc: object) -> None:
        for undo in self._undo:
            undo()

    def summary(self, n_ops: int) -> list[tuple[str, str, str]]:
        """Rows (what, total ms, per op) of the coordinator's own time."""

        def row(label: str, values: list[float]) -> tuple[str, str, str]:
            total = sum(values)
            per_call = f" ({total / len(values) * 1e3:.3f} ms x {len(values)})" if values else ""
            return (label, f"{total * 1e3:8.1f}", f"{total / n_ops * 1e3:.3f}{per_call}")

        dispatch = [t1 - t0 for t0, t1 in self.dispatched.values()]
        return [
            row("coordinator: _advance (apply + save_progress + send_task)", self.advance),
            row("  RunState.apply", self.apply),
            row("  store.save_progress (MULTI/EXEC)", self.save),
            row("  dispatcher.dispatch (Celery send_task)", dispatch),
            row("coordinator thread: parse events (RunEvent JSON)", self.parsed["coordinator"]),
            row("main thread, RunHandle.wait: parse events", self.parsed["waiter"]),
        ]


def _percentiles(values: list[float]) -> str:
    values = sorted(values)
    p90 = values[int(0.9 * (len(values) - 1))]
    return (
        f"{statistics.median(values) * 1e3:7.2f} {p90 * 1e3:7.2f} "
        f"{statistics.fmean(values) * 1e3:7.2f}"
    )


def profile_chain(opgrid: Opgrid, length: int) -> None:
    """Where the time of one chain step goes, from events and coordinator timers."""
    name = f"chain_{length}"
    with CoordinatorProbe(opgrid.coordinator) as probe:
        wall, run_id = opgrid.run(name, f"inc_{length - 1}", length - 1)
    entries = opgrid.store.read_events(run_id)
    starts: dict[str, float] = {}
    success: dict[str, float] = {}
    for _, event in entries:
        if event.kind is E.STEP_START and event.step_key:
            starts[event.step_key] = event.timestamp
        elif event.kind is E.STEP_SUCCESS and event.step_key:
            success[event.step_key] = event.timestamp
    first, last = entries[0][1].timestamp, entries[-1][1].timestamp
    woke: dict[str, float] = {}  # the wake that first brought each step's STEP_SUCCESS
    wakes_by_kinds: dict[str, int] = defaultdict(int)
    for _t0, t1, seen in probe.wakes:
        wakes_by_kinds["+".join(sorted(k.value for _, k in seen))] += 1
        for step_key, kind in seen:
            if kind is E.STEP_SUCCESS and step_key is not None and step_key not in woke:
                woke[step_key] = t1
    keys = ["start"] + [f"inc_{i}" for i in range(1, length)]
    parts: dict[str, list[float]] = defaultdict(list)
    for prev, key in itertools.pairwise(keys):
        d0, d1 = probe.dispatched[key]
        parts["a. worker commit -> coordinator's XREAD returns, parsed"].append(
            woke[prev] - success[prev]
        )
        parts["b. coordinator: apply, save_progress -> send_task called"].append(d0 - woke[prev])
        parts["c. coordinator: send_task (kombu publish)"].append(d1 - d0)
        parts["d. broker -> worker parent -> pool child -> STEP_START"].append(starts[key] - d1)
        parts["e. worker: STEP_START -> STEP_SUCCESS (inputs, op, outputs)"].append(
            success[key] - starts[key]
        )
        parts["= step period (STEP_SUCCESS -> next STEP_SUCCESS)"].append(
            success[key] - success[prev]
        )
    print(
        f"\nProfile: opgrid {name}, {wall * 1e3 / length:.2f} ms/op; per step, from the run's "
        "event timestamps and timers around the coordinator's calls (ms)"
    )
    print(f"  {'part':<62} {'median':>7} {'p90':>7} {'mean':>7}")
    for label, values in parts.items():
        print(f"  {label:<62} {_percentiles(values)}")
    print(
        f"  wall {wall * 1e3:.1f} ms = first event -> last event {(last - first) * 1e3:.1f} ms "
        f"+ submit, coordinator pickup, end of wait(), result() "
        f"{(wall - (last - first)) * 1e3:.1f} ms"
    )
    print(
        f"  {len(entries)} events ({len(entries) / length:.2f} per step); coordinator wakes with "
        f"events: {len(probe.wakes)} ({len(probe.wakes) / length:.2f} per step): "
        + ", ".join(f"{k} {v}" for k, v in sorted(wakes_by_kinds.items()))
    )
    print(f"  {'coordinator time in this run':<62} {'total ms':>8}  per op (per call x calls)")
    for label, total, per_op in probe.summary(length):
        print(f"  {label:<62} {total}  {per_op}")


def profile_fan(opgrid: Opgrid, width: int) -> None:
    """Is the coordinator or are the workers the bottleneck of a wide fan?"""
    name = f"fan_{width}"
    with CoordinatorProbe(opgrid.coordinator) as probe:
        wall, run_id = opgrid.run(name, "total", width)
    entries = opgrid.store.read_events(run_id)
    n_ops = width + 2
    starts: dict[str, float] = {}
    busy: list[float] = []
    for _, event in entries:
        if event.kind is E.STEP_START and event.step_key:
            starts[event.step_key] = event.timestamp
        elif event.kind is E.STEP_SUCCESS and event.step_key in starts:
            busy.append(event.timestamp - starts[event.step_key])
    sends = sorted(probe.dispatched.values())
    first, last = entries[0][1].timestamp, entries[-1][1].timestamp
    print(
        f"\nProfile: opgrid {name}: {n_ops} ops in {wall:.2f} s ({n_ops / wall:,.0f} ops/s), "
        f"{len(entries)} events, {len(probe.wakes)} coordinator wakes with events"
    )
    print(
        f"  wall {wall * 1e3:.0f} ms = first event -> last event {(last - first) * 1e3:.0f} ms "
        f"+ submit, coordinator pickup, end of wait(), result() "
        f"{(wall - (last - first)) * 1e3:.0f} ms"
    )
    print(f"  {'coordinator time in this run':<62} {'total ms':>8}  per op (per call x calls)")
    for label, total, per_op in probe.summary(n_ops):
        print(f"  {label:<62} {total}  {per_op}")
    print(
        f"  dispatch of the {width} parallel steps spans {(sends[-2][1] - sends[1][0]):.2f} s; "
        f"workers' STEP_START -> STEP_SUCCESS: {sum(busy):.2f} s in all "
        f"({sum(busy) / POOL:.2f} s per pool process), median {statistics.median(busy) * 1e3:.2f} "
        "ms per step"
    )


class Meter:
    """CPU seconds by process or thread (``/proc``) and Redis commands (``INFO commandstats``).

    Linux only; CPU times have the kernel's clock-tick resolution (10 ms), so only runs
    of a good fraction of a second are worth reading.
    """

    TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def __init__(self, url: str, redis_pid: int | None, coordinator_thread: str) -> None:
        self.client = redis.Redis.from_url(url)
        self.redis_pid = redis_pid
        self.coordinator_tid = next(
            (t.native_id for t in threading.enumerate() if t.name == coordinator_thread), None
        )

    @classmethod
    def _cpu(cls, stat_path: str) -> float:
        try:
            with open(stat_path) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / cls.TICK  # utime + stime

    @staticmethod
    def _children(pid: int) -> list[int]:
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                return [int(c) for c in f.read().split()]
        except OSError:
            return []

    def cpu(self, workers: Workers) -> dict[str, float]:
        """CPU seconds so far of each part of the system."""
        pid = workers.proc.pid
        me = os.getpid()
        coordinator = self._cpu(f"/proc/{me}/task/{self.coordinator_tid}/stat")
        parts = {
            "benchmark process: coordinator thread": coordinator,
            "benchmark process: other threads (submit / send, wait / get)": self._cpu(
                f"/proc/{me}/stat"
            )
            - coordinator,
            "worker: parent (consumer)": self._cpu(f"/proc/{pid}/stat"),
            "worker: pool processes": sum(
                self._cpu(f"/proc/{c}/stat") for c in self._children(pid)
            ),
        }
        if self.redis_pid is not None:
            parts["redis-server"] = self._cpu(f"/proc/{self.redis_pid}/stat")
        return parts

    def commands(self) -> dict[str, int]:
        stats = self.client.info("commandstats")
        return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()}

    def measure(
        self, workers: Workers, fn: Callable[[], Any]
    ) -> tuple[dict[str, float], dict[str, int]]:
        """(CPU seconds by part, Redis calls by command) spent while ``fn`` runs."""
        cpu0, cmd0 = self.cpu(workers), self.commands()
        fn()
        cpu1, cmd1 = self.cpu(workers), self.commands()
        cmds = {k: v - cmd0.get(k, 0) for k, v in cmd1.items() if v - cmd0.get(k, 0) > 0}
        cmds.pop("info", None)
        return {k: cpu1[k] - cpu0[k] for k in cpu1}, cmds


def profile_costs(
    meter: Meter,
    opgrid: Opgrid,
    raw: RawCelery,
    opgrid_workers: Workers,
    raw_workers: Workers,
    chain_len: int,
    fan_width: int,
) -> None:
    """CPU milliseconds and Redis commands per op, by process, for both systems."""
    chain_name, fan_name = f"chain_{chain_len}", f"fan_{fan_width}"
    cases = [
        ("raw chain", chain_len, raw_workers, lambda: raw.chain(chain_len)),
        (
            "opgrid chain",
            chain_len,
            opgrid_workers,
            lambda: opgrid.run(chain_name, f"inc_{chain_len - 1}", chain_len - 1),
        ),
        ("raw fan", fan_width, raw_workers, lambda: raw.fan(fan_width)),
        (
            "opgrid fan",
            fan_width + 2,
            opgrid_workers,
            lambda: opgrid.run(fan_name, "total", fan_width),
        ),
    ]
    results = []
    for label, n_ops, workers, fn in cases:
        cpu, cmds = meter.measure(workers, fn)
        results.append((label, n_ops, cpu, cmds))
    parts = list(results[0][2])
    rows = [(part, *(f"{cpu[part] / n * 1e3:.2f}" for _, n, cpu, _ in results)) for part in parts]
    rows.append(
        ("= CPU ms per op, all", *(f"{sum(c.values()) / n * 1e3:.2f}" for _, n, c, _ in results))
    )
    table(
        f"Profile: CPU ms per op by process ({chain_len}-op chain, {fan_width}-wide fan; "
        "clock ticks are 10 ms, so chain figures are coarse)",
        ("process", *(label for label, *_ in results)),
        rows,
    )
    commands = sorted({c for *_, cmds in results for c in cmds})
    rows = [
        (c, *(f"{cmds.get(c, 0) / n:.2f}" if cmds.get(c) else "" for _, n, _, cmds in results))
        for c in commands
    ]
    rows.append(
        ("= Redis commands per op", *(f"{sum(cmds.values()) / n:.2f}" for _, n, _, cmds in results))
    )
    table(
        "Profile: Redis commands per op (INFO commandstats; includes idle polling of every "
        "client during the run)",
        ("command", *(label for label, *_ in results)),
        rows,
    )


# ---------------------------------------------------------------- reporting


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def table(title: str, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(row: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    print(f"\n{title}")
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))
    sys.stdout.flush()


def best_median(values: list[float]) -> tuple[float, float]:
    return min(values), statistics.median(values)


# ---------------------------------------------------------------- the benchmarks


def bench_latency_and_fan(
    opgrid: Opgrid, raw: RawCelery, chain_len: int, fan_width: int, reps: int, fan_reps: int
) -> None:
    chain_name, fan_name = f"chain_{chain_len}", f"fan_{fan_width}"
    # warm-up: a fan reaches both pool processes (each loads the code location once)
    opgrid.run("fan_200", "total", 200)
    opgrid.run(chain_name, f"inc_{chain_len - 1}", chain_len - 1)
    raw.fan(200)
    raw.chain(chain_len)

    chain_o: list[float] = []
    chain_r: list[float] = []
    for _ in range(reps):  # interleaved, so that drift of the machine hits both
        chain_r.append(raw.chain(chain_len) / chain_len)
        chain_o.append(opgrid.run(chain_name, f"inc_{chain_len - 1}", chain_len - 1)[0] / chain_len)
    (ro_best, ro_med), (rr_best, rr_med) = best_median(chain_o), best_median(chain_r)
    table(
        f"1. Per-op latency, {chain_len}-op chain ({POOL} worker processes; best / median of "
        f"{reps})",
        ("measure", "best", "median", "goal", "ok?"),
        [
            (
                "raw Celery: add.delay(x, 1).get(), one after the other",
                f"{rr_best * 1e3:.2f} ms/op",
                f"{rr_med * 1e3:.2f} ms/op",
                "",
                "",
            ),
            (
                f"opgrid: submit({chain_name}).wait()",
                f"{ro_best * 1e3:.2f} ms/op",
                f"{ro_med * 1e3:.2f} ms/op",
                "",
                "",
            ),
            (
                "ratio opgrid / raw Celery",
                f"{ro_best / rr_best:.2f}x",
                f"{ro_med / rr_med:.2f}x",
                f"<= {GOAL_CHAIN_RATIO}x",
                verdict(ro_med / rr_med <= GOAL_CHAIN_RATIO),
            ),
        ],
    )

    fan_o: list[float] = []
    fan_r: list[float] = []
    opgrid.run(fan_name, "total", fan_width)  # warm-up at this width
    raw.fan(fan_width)
    for _ in range(fan_reps):
        fan_r.append(fan_width / raw.fan(fan_width))
        fan_o.append((fan_width + 2) / opgrid.run(fan_name, "total", fan_width)[0])
    fo_best, fo_med = max(fan_o), statistics.median(fan_o)
    fr_best, fr_med = max(fan_r), statistics.median(fan_r)
    table(
        f"2. Fan-out/fan-in throughput, width {fan_width} ({POOL} worker processes; best / "
        f"median of {fan_reps})",
        ("measure", "best", "median", "goal", "ok?"),
        [
            (
                f"raw Celery: {fan_width} add tasks, send all then get all",
                f"{fr_best:,.0f} ops/s",
                f"{fr_med:,.0f} ops/s",
                "",
                "",
            ),
            (
                f"opgrid: submit({fan_name}).wait(), {fan_width + 2} ops",
                f"{fo_best:,.0f} ops/s",
                f"{fo_med:,.0f} ops/s",
                "",
                "",
            ),
            (
                "ratio opgrid / raw Celery",
                f"{fo_best / fr_best:.2f}x",
                f"{fo_med / fr_med:.2f}x",
                f">= {GOAL_FAN_RATIO}x",
                verdict(fo_med / fr_med >= GOAL_FAN_RATIO),
            ),
        ],
    )


def bench_scale(opgrid: Opgrid, raw: RawCelery, sizes: tuple[int, ...], naps: int) -> None:
    rows: list[tuple[str, ...]] = []
    nap_s = cluster_jobs.NAP_S
    for n in sizes:
        ideal = naps * nap_s / n
        workers = opgrid.workers(n)
        with running(workers):
            opgrid.run("naps_16", "nap_0", 0)  # warm-up: every pool process loads the location
            o_wall, _ = opgrid.run(f"naps_{naps}", "nap_0", 0)
        workers = raw.workers(n)
        with running(workers):
            raw.fan(2 * n, task="nap")
            r_wall = raw.fan(naps, task="nap")
        rows.append(
            (
                str(n),
                f"{ideal:.2f} s",
                f"{o_wall:.2f} s",
                f"{o_wall / ideal - 1:+.0%}",
                f"<= +{GOAL_SCALE_OVER:.0%}",
                verdict(o_wall <= ideal * (1 + GOAL_SCALE_OVER)),
                f"{r_wall:.2f} s ({r_wall / ideal - 1:+.0%})",
            )
        )
    table(
        f"3. Horizontal scale: {naps} ops of time.sleep({nap_s}) (start -> {naps} parallel naps); "
        "one `celery worker` process with a prefork pool of N processes (-c N)",
        ("worker processes", "ideal", "opgrid", "vs ideal", "goal", "ok?", "raw Celery (ref.)"),
        rows,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    parser.add_argument("--reps", type=int, default=None, help="timed chain runs per system")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile opgrid: per-step breakdown, coordinator timers, CPU and Redis "
        "commands per op",
    )
    parser.add_argument("--redis-url", default=None, help="use this Redis, not a throwaway one")
    parser.add_argument(
        "--raw-celery-defaults",
        action="store_true",
        help="raw Celery with its own delivery defaults (early ack, prefetch x4) instead of "
        "opgrid's (late ack, prefetch 1)",
    )
    parser.add_argument("--skip-scale", action="store_true", help="goals 1 and 2 only")
    args = parser.parse_args(argv)
    chain_len = 20 if args.quick else 100
    fan_width = 200 if args.quick else 1000
    naps = 100 if args.quick else 200
    sizes = (1, 2, 4) if args.quick else (1, 2, 4, 8)
    reps = args.reps or (3 if args.quick else 5)
    fan_reps = 2 if args.quick else 3

    # SIGTERM / SIGHUP unwind like Ctrl-C, so that the worker process groups are killed
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, _frame: sys.exit(128 + signum))
    started = time.perf_counter()
    tag = uuid.uuid4().hex[:8]
    logdir = Path(tempfile.mkdtemp(prefix=f"bench-cluster-{tag}-"))
    print(
        f"opgrid cluster benchmark: Python {platform.python_version()}, "
        f"Celery {celery.__version__}, redis-py {redis.__version__}, {os.cpu_count()} CPUs; "
        f"worker logs in {logdir}"
    )
    raw_mode = (
        "Celery defaults (early ack, prefetch x4)"
        if args.raw_celery_defaults
        else "opgrid's worker settings "
        "(acks_late, reject_on_worker_lost, prefetch 1, task events on)"
    )
    print(
        f"Both systems: one `celery worker` process, prefork pool, -c {POOL} for goals 1-2 and "
        f"-c N for goal 3, {' '.join(WORKER_FLAGS[2:5])}; the same Redis (broker, and "
        f"raw Celery's result backend). Raw Celery: JSON, {raw_mode}."
    )
    with contextlib.ExitStack() as stack:
        url, redis_pid = stack.enter_context(redis_url(args.redis_url))
        stack.callback(Workers.stop_all)  # before Redis stops
        settings = Settings(
            redis_url=url,
            broker_url=url,
            namespace=f"bench-{tag}",
            default_queue=f"bench-opgrid-{tag}",
            secret=f"bench-secret-{tag}",
            block_s=BLOCK_S,
        )
        opgrid = Opgrid(settings, logdir)
        stack.callback(opgrid.close)
        raw = RawCelery(url, f"bench-raw-{tag}", logdir, args.raw_celery_defaults)
        stack.callback(raw.close)
        stack.enter_context(CoordinatorThread(opgrid.coordinator))

        opgrid_workers, raw_workers = opgrid.workers(POOL), raw.workers(POOL)
        with running(opgrid_workers, raw_workers):
            bench_latency_and_fan(opgrid, raw, chain_len, fan_width, reps, fan_reps)
            if args.profile:
                profile_chain(opgrid, chain_len)
                profile_fan(opgrid, fan_width)
                meter = Meter(url, redis_pid, opgrid.coordinator.id)
                profile_costs(meter, opgrid, raw, opgrid_workers, raw_workers, chain_len, fan_width)
        if not args.skip_scale:
            bench_scale(opgrid, raw, sizes, naps)
    print(f"\n(total {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
