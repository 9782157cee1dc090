"""The load benchmark's cluster, waves and checks: shared by ``bench_load.py`` and the suite.

``tests/benchmarks/bench_load.py`` (the full size) and
``tests/integration/test_load.py`` (a small one) both:

* start a ``LoadCluster``: the tests' process harness
  (``tests/harness/processes.py``) with ``opgrid worker`` processes serving
  ``load_jobs.py`` and one ``opgrid coordinator``, each in a process group of its
  own with its log in a folder, all ended by ``stop_all``. Unlike the fault tests,
  the processes get the timings of the given ``Settings`` rather than shortened
  heartbeats and leases, so that a busy 2-core machine is not taken for lost workers;
* call ``run_wave``: submit a wave of runs at once (``opgrid.submit`` in a loop),
  wait for each (``RunHandle.wait``), then check every run and that the coordinator
  owns no run any more;
* read a process's memory with ``memory`` (``VmRSS`` and ``VmHWM`` of
  ``/proc/<pid>/status``).
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from opgrid import submit
from opgrid.errors import RunTimeout
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.client.result import ExecuteInProcessResult
from opgrid.orchestrator.client.submit import RunHandle
from opgrid.orchestrator.protocol.status import RunStatus
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.redis import RedisRunStore
from tests.harness.processes import FAST, OPGRID, Proc, Processes, pool_children, wait_for
from tests.jobs import load_jobs

#: The code location the workers serve.
LOCATION = str(Path(load_jobs.__file__).resolve())
#: How long a worker or the coordinator may take to start.
START_TIMEOUT_S = 60.0
#: How long the coordinator may take to let go of a wave's runs once they have ended.
RELEASE_TIMEOUT_S = 10.0
#: Every kind of event a successful run of a load job has; any other is a problem.
_EXPECTED_KINDS = frozenset(
    {E.RUN_START, E.RUN_SUCCESS, E.STEP_START, E.STEP_OUTPUT, E.STEP_SUCCESS}
)
_FINAL_KINDS = frozenset({E.RUN_SUCCESS, E.RUN_FAILURE, E.RUN_CANCELED})
MIB = 1024 * 1024


class LoadCluster(Processes):
    """Workers serving ``location`` (``load_jobs.py`` by default) and coordinators, with
    the timings of ``settings``."""

    def __init__(self, settings: Settings, logdir: Path, location: str = LOCATION) -> None:
        super().__init__(settings, logdir)
        self.location = location
        for key in FAST:  # undo the fault tests' short heartbeats, leases and blocks
            self.env[key] = str(getattr(settings, key.removeprefix("OPGRID_").lower()))
        self.workers: list[Proc] = []

    def start_workers(self, count: int, concurrency: int = 1) -> list[Proc]:
        """``count`` ``opgrid worker -c concurrency --pool prefork`` processes, all ready."""
        started = []
        for i in range(count):
            name = f"w{len(self.workers) + i + 1}"
            argv = [OPGRID, "worker", "-f", self.location, "--pool", "prefork"]
            argv += ["-c", str(concurrency), "-n", f"{name}@%h"]
            argv += ["--", "--without-gossip", "--without-mingle"]
            started.append(self._start(name, argv))
        for proc in started:  # started together: they warm up in parallel
            _wait_started(proc, "ready.")
        self.workers += started
        return started

    def start_coordinator(self, name: str = "coordinator") -> Proc:
        """One ``opgrid coordinator`` process, running."""
        proc = self._start(name, [OPGRID, "coordinator", "--id", name])
        _wait_started(proc, name)
        return proc

    def workers_peak(self) -> int:
        """The sum of the peak RSS (bytes) of every worker process and its pool processes."""
        return sum(
            memory(pid).peak
            for worker in self.workers
            for pid in (worker.pid, *pool_children(worker.pid))
        )


def _wait_started(proc: Proc, line: str) -> None:
    wait_for(lambda: line in proc.text() or not proc.alive(), START_TIMEOUT_S, proc.text)
    if not proc.alive():
        raise RuntimeError(f"{proc.name} exited while starting:\n{proc.text()}")


# Memory ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Memory:
    """A process's resident memory, in bytes."""

    #: now (``VmRSS``)
    rss: int
    #: the highest it has been (``VmHWM``)
    peak: int


def memory(pid: int) -> Memory:
    """The memory of process ``pid``, from ``/proc/<pid>/status`` (Linux)."""
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) * 1024  # the kernel writes "<n> kB"
    return Memory(rss=found["VmRSS"], peak=found["VmHWM"])


# Waves -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Wave:
    """What one wave of runs did."""

    runs: int
    ops: int
    #: first submit -> last ``submit`` returned
    submit_s: float
    #: first submit -> the last run's final event
    wall_s: float
    #: each run's ``submit`` call -> its final event
    latencies_s: tuple[float, ...]
    #: everything that was wrong, one line each; empty when every check passed
    problems: tuple[str, ...]

    @property
    def runs_per_s(self) -> float:
        return self.runs / self.wall_s

    @property
    def steps_per_s(self) -> float:
        return self.runs * self.ops / self.wall_s

    @property
    def latency_median_s(self) -> float:
        return statistics.median(self.latencies_s) if self.latencies_s else float("nan")


def run_wave(
    settings: Settings, ops: int, runs: int, first_seed: int = 0, timeout_s: float = 600.0
) -> Wave:
    """Submit ``runs`` runs of ``load_<ops>`` at once, wait for all, check every one.

    Run ``i`` is seeded with ``first_seed + i``, so each has a result of its own.
    Nothing raises for a wrong run: ``Wave.problems`` says what was wrong.
    """
    job = load_jobs.JOBS[ops]
    store = RedisRunStore.from_settings(settings)
    handles: list[tuple[int, float, RunHandle]] = []
    problems: list[str] = []
    latencies: list[float] = []
    try:
        t0 = time.time()
        for i in range(runs):
            seed, at = first_seed + i, time.time()
            handle = submit(job, run_config=load_jobs.run_config(seed), settings=settings)
            handles.append((seed, at, handle))
        submit_s = time.time() - t0
        deadline = time.monotonic() + timeout_s
        results: list[tuple[int, RunHandle, ExecuteInProcessResult]] = []
        ends: list[float] = []
        for seed, at, handle in handles:
            try:
                result = handle.wait(timeout=max(0.1, deadline - time.monotonic()))
            except RunTimeout as exc:
                problems.append(str(exc))
                continue
            end = max(e.timestamp for e in result.all_events if e.kind in _FINAL_KINDS)
            ends.append(end)
            latencies.append(end - at)
            results.append((seed, handle, result))
        wall_s = (max(ends) if ends else time.time()) - t0
        for seed, handle, result in results:
            problems += check_run(store, handle.run_id, result, ops, seed)
        problems += _check_released(store)
    finally:
        for *_, handle in handles:
            handle.close()
        store.client.close()
    return Wave(runs, ops, submit_s, wall_s, tuple(latencies), tuple(problems))


def check_run(
    store: RedisRunStore, run_id: str, result: ExecuteInProcessResult, ops: int, seed: int
) -> list[str]:
    """What is wrong with a finished run of ``load_<ops>`` seeded with ``seed``, if anything.

    It must have succeeded, with its record and every step's status saying so; every
    step must have exactly one ``STEP_START``, one ``STEP_SUCCESS`` and one
    ``STEP_OUTPUT`` per output; the run exactly one start and one success, and no event
    of another kind; and ``combine`` the result of that seed.
    """
    problems: list[str] = []
    if not result.success:
        problems.append("did not succeed")
    status = store.get_run(run_id).status
    if status is not RunStatus.SUCCESS:
        problems.append(f"its record says {status.value}")
    unsettled = {k: v for k, v in store.step_statuses(run_id).items() if v != "success"}
    if unsettled:
        problems.append(f"step statuses not success: {unsettled}")
    counts = Counter((e.step_key, e.kind) for e in result.all_events)
    strays = sorted({f"{k.value}({s})" for s, k in counts if k not in _EXPECTED_KINDS})
    if strays:
        problems.append(f"unexpected events: {', '.join(strays)}")
    for kind in (E.RUN_START, E.RUN_SUCCESS):
        if counts[None, kind] != 1:
            problems.append(f"{counts[None, kind]} {kind.value} events")
    steps = result.plan.steps
    if len(steps) != ops:
        problems.append(f"{len(steps)} steps in the plan, expected {ops}")
    for step in steps:
        want = {E.STEP_START: 1, E.STEP_SUCCESS: 1, E.STEP_OUTPUT: len(step.outputs)}
        got = {kind: counts[step.key, kind] for kind in want}
        if got != want:
            problems.append(
                f"step {step.key}: "
                + ", ".join(f"{n} {kind.value}" for kind, n in got.items())
                + f" (expected {', '.join(f'{n} {kind.value}' for kind, n in want.items())})"
            )
    if result.success:
        value = result.output_for_node(load_jobs.RESULT_NODE)
        if value != load_jobs.expected(ops, seed):
            problems.append(
                f"{load_jobs.RESULT_NODE} gave {value!r}, expected {load_jobs.expected(ops, seed)}"
            )
    return [f"run {run_id} (seed {seed}): {problem}" for problem in problems]


def _check_released(store: RedisRunStore) -> list[str]:
    """The coordinator lets go of ended runs (the active set empties); or what it holds."""
    deadline = time.monotonic() + RELEASE_TIMEOUT_S
    while active := store.active_runs():
        if time.monotonic() > deadline:
            return [f"{len(active)} runs still active after the wave: {active[:5]}"]
        time.sleep(0.05)
    return []
