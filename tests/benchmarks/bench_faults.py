"""Benchmark: a fault campaign on a real cluster, figures next to their goals.

Run from the repository root::

    python tests/benchmarks/bench_faults.py [--runs 100] [--minutes 4] [--seed 1]

Three ``opgrid worker`` processes (prefork, two pool processes each), two
``opgrid coordinator`` processes and a redis-server with its append-only file serve
``tests/jobs/campaign_jobs.py`` (fan-out, a branch not taken, a retry with a delay, a
dynamic map). Runs are submitted continuously, a few in flight at a time, while a
fault thread strikes every few seconds at random: a pool process SIGKILLed, a whole
worker SIGKILLed (started again), a worker SIGSTOPped past the lost-after time then
continued, a coordinator SIGKILLed (started again), Redis stopped and started. Then
the faults stop and every run is waited for.

Printed next to their goals: wrong outputs, duplicate success events, hung runs, and
workers or coordinators dead of their own accord (goal 0 each), attempts that ran more
than once and whether a fault explains each (a fault hit the process that ran it first, or Redis
restarted meanwhile: goal 0 unexplained), and per fault type the recovery time: from
the fault (from Redis answering again, for a restart) until the steps it interrupted
start again; for a coordinator, until others have taken every run it held (from their
logs); for Redis, until every run in flight logs an event again. Goal: under 2x
``OPGRID_STEP_LOST_AFTER_S`` (``OPGRID_LEASE_S`` for a coordinator). Exits 1 when a
correctness goal is missed. Nothing is asserted on time.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a file: make ``tests`` importable
    sys.path.insert(0, str(ROOT))

from opgrid import submit  # noqa: E402
from opgrid.errors import OpgridError  # noqa: E402
from opgrid.event_type import DagsterEventType as E  # noqa: E402
from opgrid.orchestrator.cli.embedded_redis import RedisServer  # noqa: E402
from opgrid.orchestrator.client.submit import RunHandle  # noqa: E402
from opgrid.orchestrator.protocol.status import FINAL_RUN_STATUSES  # noqa: E402
from opgrid.orchestrator.settings import Settings  # noqa: E402
from opgrid.orchestrator.store.redis import RedisRunStore  # noqa: E402
from tests.benchmarks.bench_cluster import table  # noqa: E402
from tests.harness.processes import Proc, Processes, pool_children, signal_group  # noqa: E402
from tests.jobs import campaign_jobs as jobs  # noqa: E402

LOCATION = "tests/jobs/campaign_jobs.py"
#: The cluster's timings: short enough to see recoveries, long enough for 2 busy cores.
TIMINGS = {
    "OPGRID_STEP_HEARTBEAT_S": "1",
    "OPGRID_STEP_LOST_AFTER_S": "5",
    "OPGRID_LEASE_S": "4",
    "OPGRID_BLOCK_S": "0.5",
    "OPGRID_CANCEL_GRACE_S": "2",
    "OPGRID_MAX_REDELIVERIES": "20",
}
LOST_AFTER_S = float(TIMINGS["OPGRID_STEP_LOST_AFTER_S"])
LEASE_S = float(TIMINGS["OPGRID_LEASE_S"])
KINDS = ("pool kill", "worker kill", "worker stop", "coordinator kill", "redis restart")
IN_FLIGHT = 6
FINAL = {E.RUN_SUCCESS, E.RUN_FAILURE, E.RUN_CANCELED}


@dataclass
class Fault:
    kind: str
    at: float  # when it struck (for a Redis restart: when Redis answered again)
    pids: set[int] = field(default_factory=set)
    #: a coordinator kill: the unfinished runs the coordinator held a lease on
    runs: set[str] = field(default_factory=set)


class Campaign:
    def __init__(
        self, procs: Processes, server: RedisServer, rng: random.Random, store: RedisRunStore
    ) -> None:
        self.procs = procs
        self.store = store
        self.server = server
        self.rng = rng
        self.workers: dict[str, Proc] = {}
        self.coordinators: dict[str, Proc] = {}
        self.faults: list[Fault] = []
        self.killed: set[int] = set()  # processes the campaign ended on purpose
        self.died: set[str] = set()  # processes found dead that no fault ended
        self.stop = threading.Event()

    def start(self) -> None:
        for name in ("w1", "w2", "w3"):
            self.workers[name] = self.procs.worker(name, concurrency=2, location=LOCATION)
        for name in ("c1", "c2"):
            self.coordinators[name] = self.procs.coordinator(name)

    def look_for_deaths(self) -> None:
        """Note every worker or coordinator that ended though no fault ended it."""
        for proc in [*self.workers.values(), *self.coordinators.values()]:
            if not proc.alive() and proc.pid not in self.killed:
                self.died.add(f"{proc.name} (pid {proc.pid})")

    def strike(self) -> None:
        while not self.stop.wait(self.rng.uniform(4.0, 7.0)):
            self.look_for_deaths()
            kind = self.rng.choice(KINDS)
            try:
                getattr(self, "_" + kind.replace(" ", "_"))()
            except Exception as exc:  # a fault that could not be made is reported
                print(f"  could not make a {kind}: {exc!r}")

    def _pool_kill(self) -> None:
        worker = self.rng.choice(list(self.workers.values()))
        children = pool_children(worker.pid)
        if children:
            pid = self.rng.choice(children)
            self.faults.append(Fault("pool kill", time.time(), {pid}))
            self.killed.add(pid)
            os.kill(pid, signal.SIGKILL)

    def _group(self, proc: Proc) -> set[int]:
        return {proc.pid, *pool_children(proc.pid)}

    def _worker_kill(self) -> None:
        name = self.rng.choice(list(self.workers))
        worker = self.workers[name]
        pids = self._group(worker)
        self.faults.append(Fault("worker kill", time.time(), pids))
        self.killed |= pids
        worker.kill()
        time.sleep(1.0)
        self.workers[name] = self.procs.worker(f"{name}", concurrency=2, location=LOCATION)

    def _worker_stop(self) -> None:
        worker = self.rng.choice(list(self.workers.values()))
        pids = self._group(worker)
        self.faults.append(Fault("worker stop", time.time(), pids))
        signal_group(worker.process, signal.SIGSTOP)
        time.sleep(LOST_AFTER_S + 2.0)
        signal_group(worker.process, signal.SIGCONT)

    def _coordinator_kill(self) -> None:
        name = self.rng.choice(list(self.coordinators))
        coordinator = self.coordinators[name]
        active = self.store.active_runs()
        leases = [self.store.client.get(self.store.keys.lease(run_id)) for run_id in active]
        held = {
            run_id for run_id, owner in zip(active, leases, strict=True) if owner == name.encode()
        }
        self.faults.append(Fault("coordinator kill", time.time(), {coordinator.pid}, held))
        self.killed.add(coordinator.pid)
        coordinator.kill()
        time.sleep(1.0)
        self.coordinators[name] = self.procs.coordinator(name)

    def _redis_restart(self) -> None:
        self.server.stop()
        time.sleep(1.0)
        self.server.start()
        self.faults.append(Fault("redis restart", time.time()))


# Reading what happened ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Mark:
    run_id: str
    step: str
    attempt: int
    pid: int
    event: str
    at: float


def read_marks(path: Path) -> list[Mark]:
    marks = []
    for line in path.read_text().splitlines():
        run_id, step, attempt, pid, event, at = line.split()
        marks.append(Mark(run_id, step, int(attempt), int(pid), event, float(at)))
    return marks


def reruns(marks: list[Mark], faults: list[Fault]) -> tuple[int, int]:
    """(attempts that started more than once, how many of them no fault explains)."""
    starts: dict[tuple[str, str, int], list[Mark]] = defaultdict(list)
    for mark in marks:
        if mark.event == "start":
            starts[(mark.run_id, mark.step, mark.attempt)].append(mark)
    again = unexplained = 0
    for runs in starts.values():
        if len(runs) < 2:
            continue
        again += 1
        first, last = runs[0], runs[-1]
        hit = any(first.pid in f.pids for f in faults)
        restart = any(
            f.kind == "redis restart" and first.at - 2.0 <= f.at <= last.at + 1.0 for f in faults
        )
        unexplained += not (hit or restart)
    return again, unexplained


#: A coordinator's log line when it takes a run: ``<date> <time>,<ms> INFO ... owns run <id>``.
_OWNS = re.compile(r"^(\S+ \S+),(\d+) .* owns run (\S+) ")


def adoptions(logs: list[Path]) -> dict[str, list[float]]:
    """Run id -> when coordinators took it (from their logs), in order."""
    found: dict[str, list[float]] = defaultdict(list)
    for path in logs:
        for line in path.read_text(errors="replace").splitlines():
            match = _OWNS.match(line)
            if match:
                stamp = time.mktime(time.strptime(match[1], "%Y-%m-%d %H:%M:%S"))
                found[match[3]].append(stamp + int(match[2]) / 1000)
    return {run_id: sorted(times) for run_id, times in found.items()}


def recoveries(
    faults: list[Fault],
    marks: list[Mark],
    events: dict[str, list[float]],
    adopted: dict[str, list[float]],
) -> dict[str, list[float]]:
    """Seconds from each fault to the recovery its kind is judged by."""
    out: dict[str, list[float]] = defaultdict(list)
    for fault in faults:
        if fault.kind == "coordinator kill":
            waits = [
                min(t for t in adopted[run_id] if t > fault.at) - fault.at
                for run_id in fault.runs
                if any(t > fault.at for t in adopted.get(run_id, []))
            ]
            if waits:
                out[fault.kind].append(max(waits))
            continue
        if fault.kind == "redis restart":
            waits = []
            for stamps in events.values():
                if stamps[0] < fault.at < stamps[-1]:  # the run was in flight
                    waits.append(min(t for t in stamps if t >= fault.at) - fault.at)
            if waits:
                out[fault.kind].append(max(waits))
            continue
        done = {
            (m.run_id, m.step, m.attempt) for m in marks if m.event == "done" and m.at <= fault.at
        }
        hit = [
            m
            for m in marks
            if m.event == "start"
            and m.pid in fault.pids
            and m.at <= fault.at
            and (m.run_id, m.step, m.attempt) not in done
        ]
        for mark in hit:
            later = [
                m.at
                for m in marks
                if m.event == "start"
                and (m.run_id, m.step) == (mark.run_id, mark.step)
                and m.attempt >= mark.attempt
                and m.at > fault.at
            ]
            if later:
                out[fault.kind].append(min(later) - fault.at)
    return out


# The campaign ----------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--minutes", type=float, default=4.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="opgrid-faults-"))
    with RedisServer(appendonly=True, dir=workdir / "redis") as server:
        namespace = f"faults-{uuid.uuid4().hex[:6]}"
        settings = Settings(
            redis_url=server.url, namespace=namespace, secret="bench", default_queue=namespace
        )
        procs = Processes(settings, workdir)
        procs.env.update(TIMINGS, CAMPAIGN_WORK_S="0.3")
        store = RedisRunStore.from_settings(settings)
        campaign = Campaign(procs, server, rng, store)
        try:
            return run(args, settings, procs, campaign, workdir)
        finally:
            campaign.stop.set()
            procs.stop_all()
            store.client.close()


def run(
    args: argparse.Namespace,
    settings: Settings,
    procs: Processes,
    campaign: Campaign,
    workdir: Path,
) -> int:
    campaign.start()
    print(f"fault campaign: {args.runs}+ runs over {args.minutes:g} min; logs in {workdir}")
    striker = threading.Thread(target=campaign.strike, daemon=True)
    started = time.monotonic()
    striker.start()
    handles: list[RunHandle] = []
    deadline = started + args.minutes * 60
    while time.monotonic() < deadline or len(handles) < args.runs:
        live = [h for h in handles if not _ended(h)]
        while len(live) < IN_FLIGHT:
            handle = _retrying(lambda: submit(jobs.campaign, settings=settings))
            handles.append(handle)
            live.append(handle)
        time.sleep(0.5)
    campaign.stop.set()
    striker.join()
    print(f"faults stopped after {time.monotonic() - started:.0f} s; waiting for every run")
    return report(settings, procs, campaign, handles)


def _ended(handle: RunHandle) -> bool:
    try:
        return handle.status in FINAL_RUN_STATUSES
    except OpgridError:
        return False


def _retrying(call, timeout_s: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return call()
        except OpgridError:  # noqa: PERF203 (Redis restarting)
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def report(
    settings: Settings, procs: Processes, campaign: Campaign, handles: list[RunHandle]
) -> int:
    wrong = hung = duplicate = 0
    store = RedisRunStore.from_settings(settings)
    events: dict[str, list[float]] = {}
    for handle in handles:
        try:
            result = _retrying(lambda h=handle: h.wait(timeout=300, raise_on_error=False))
        except OpgridError:
            hung += 1
            continue
        if not result.success or result.output_for_node("combine") != jobs.EXPECTED:
            wrong += 1
        log = [e for _, e in store.read_events(handle.run_id)]
        successes = Counter(e.step_key for e in log if e.kind is E.STEP_SUCCESS)
        duplicate += sum(count - 1 for count in successes.values())
        events[handle.run_id] = sorted(e.timestamp for e in log)
    marks = read_marks(procs.marks)
    again, unexplained = reruns(marks, campaign.faults)
    campaign.look_for_deaths()
    dead = sorted(campaign.died)
    counts = Counter(f.kind for f in campaign.faults)
    table(
        "correctness",
        ("measure", "figure", "goal"),
        [
            ("runs (faults made)", f"{len(handles)} ({len(campaign.faults)})", ">= 100"),
            ("wrong outputs or failed runs", str(wrong), "0"),
            ("duplicate success events", str(duplicate), "0"),
            ("hung runs", str(hung), "0"),
            ("workers or coordinators dead of their own accord", str(len(dead)), "0"),
            ("attempts run more than once / unexplained", f"{again} / {unexplained}", "- / 0"),
        ],
    )
    logs = sorted(procs.tmp_path.glob("c*.log"))
    waits = recoveries(campaign.faults, marks, events, adoptions(logs))
    rows = []
    for kind in KINDS:
        goal = 2 * (LEASE_S if kind == "coordinator kill" else LOST_AFTER_S)
        found = sorted(waits.get(kind, []))
        shown = f"{found[len(found) // 2]:.1f} / {found[-1]:.1f} s" if found else "-"
        rows.append((kind, str(counts.get(kind, 0)), shown, f"< {goal:.0f} s"))
    table("recovery", ("fault", "made", "recovery median / max", "goal"), rows)
    if dead:
        print("dead of their own accord:", ", ".join(dead))
    store.client.close()
    return 1 if wrong or duplicate or hung or dead or unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
