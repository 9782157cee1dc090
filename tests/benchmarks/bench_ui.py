"""Benchmark: the web UI's pages and API on a big store, and its live latency.

Run from the repository root::

    python -m tests.benchmarks.bench_ui [--runs N]

Against a throwaway redis-server, with the UI server (``create_app``) under uvicorn in
a thread of this process, it measures:

1. the Runs page and its API (``/runs``, ``/api/runs``, GraphQL ``runsOrError``, a
   status filter, a rare job filter that scans the whole index) with 10,000 runs
   stored. Goal: <= 100 ms per page;
2. the page of a finished 1,000-step run (graph, timeline, outputs, events).
   Goal: <= 300 ms;
3. commit-to-live latency: an event appended to a run's stream until the run page's
   live stream (``/live/runs/{id}``) delivers it. Goal: <= 250 ms;
4. the memory of an ``opgrid ui`` process serving a real cluster while 50 live pages
   stay open (``ui_live_memory``). Goal: flat.

Times are measured at the client, over loopback (so they include HTTP), median and
95th percentile of repeated requests. Nothing is asserted; figures print next to goals.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import time
import uuid
from collections.abc import Callable

import httpx

from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.cli.embedded_redis import RedisServer
from opgrid.orchestrator.planning.compiler import compile_plan
from opgrid.orchestrator.planning.state import ValueRef
from opgrid.orchestrator.protocol.events import RunEvent
from opgrid.orchestrator.protocol.messages import RunRecord
from opgrid.orchestrator.protocol.status import RunStatus
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.envelopes import io_manager_from_settings
from opgrid.orchestrator.store.redis import RedisRunStore
from opgrid.orchestrator.ui.catalog import LocationSource
from opgrid.orchestrator.ui.server import serving
from tests.benchmarks import ui_jobs, ui_live_memory

JOBS = "tests/benchmarks/ui_jobs.py"
STATUSES = [RunStatus.SUCCESS] * 6 + [RunStatus.FAILURE, RunStatus.CANCELED, RunStatus.STARTED]


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _fill_runs(store: RedisRunStore, count: int) -> None:
    plan = compile_plan(ui_jobs.small)
    now = time.time() - count
    for index in range(count):
        status = STATUSES[index % len(STATUSES)]
        job_name = "rare" if index == count // 2 else "small"
        record = RunRecord(
            run_id=str(uuid.uuid4()),
            job_name=job_name,
            location=JOBS,
            status=status,
            tags={"team": f"t{index % 7}"},
            created_at=now + index,
            started_at=now + index,
            finished_at=None if status is RunStatus.STARTED else now + index + 0.5,
        )
        store.create_run(record, plan)


def _wide_run(store: RedisRunStore, settings: Settings) -> str:
    plan = compile_plan(ui_jobs.wide)
    run_id = str(uuid.uuid4())
    t0 = time.time() - 60
    record = RunRecord(run_id=run_id, job_name="wide", location=JOBS, created_at=t0)
    store.create_run(record, plan)
    io = io_manager_from_settings(settings)
    events = [RunEvent(run_id=run_id, kind=E.RUN_START, timestamp=t0)]
    outputs = []
    for index, step in enumerate(plan.steps):
        at = t0 + 1 + index * 0.01
        for kind in (E.STEP_START, E.STEP_OUTPUT, E.STEP_SUCCESS):
            events.append(
                RunEvent(
                    run_id=run_id,
                    kind=kind,
                    timestamp=at,
                    step_key=step.key,
                    output_name="result" if kind is E.STEP_OUTPUT else None,
                )
            )
        outputs.append((ValueRef(step.key, "result"), io.dumps(index, where=step.key)))
    events.append(RunEvent(run_id=run_id, kind=E.RUN_SUCCESS, timestamp=t0 + 20))
    store.commit_step(run_id, outputs, [])
    store.save_progress(run_id, {s.key: "success" for s in plan.steps}, {}, events)
    store.save_run(
        record.model_copy(
            update={"status": RunStatus.SUCCESS, "started_at": t0, "finished_at": t0 + 20}
        )
    )
    return run_id


def _timed(call: Callable[[], httpx.Response], reps: int) -> tuple[float, float]:
    call()  # warm
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        reply = call()
        times.append((time.perf_counter() - start) * 1000)
        assert reply.status_code == 200, reply.text[:300]
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def _latency(base: str, store: RedisRunStore, reps: int) -> tuple[float, float]:
    plan = compile_plan(ui_jobs.small)
    run_id = str(uuid.uuid4())
    store.create_run(
        RunRecord(
            run_id=run_id,
            job_name="small",
            location=JOBS,
            status=RunStatus.STARTED,
            created_at=time.time(),
        ),
        plan,
    )
    store.append_events(run_id, [RunEvent(run_id=run_id, kind=E.RUN_START, timestamp=time.time())])
    cursor = store.read_events(run_id)[-1][0]
    times: list[float] = []
    with (
        httpx.Client(timeout=10) as http,
        http.stream("GET", f"{base}/live/runs/{run_id}", params={"cursor": cursor}) as live,
    ):
        lines = live.iter_lines()
        next(lines)  # the stream's opening comment
        for index in range(reps):
            sent = time.perf_counter()
            store.append_events(
                run_id,
                [
                    RunEvent(
                        run_id=run_id,
                        kind=E.LOG_MESSAGE,
                        timestamp=time.time(),
                        step_key="source",
                        message=f"tick {index}",
                        level="INFO",
                    )
                ],
            )
            for line in lines:
                if line.startswith("data: ") and f"tick {index}" in json.loads(line[6:])["events"]:
                    times.append((time.perf_counter() - sent) * 1000)
                    break
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def _row(name: str, figures: tuple[float, float], goal: float) -> None:
    median, p95 = figures
    verdict = "ok" if median <= goal else "OVER"
    print(
        f"{name:<52} median {median:7.1f} ms  p95 {p95:7.1f} ms  goal <= {goal:.0f} ms  {verdict}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--hold", type=float, default=60.0, help="seconds live pages stay open")
    args = parser.parse_args()
    with RedisServer() as server:
        settings = Settings(redis_url=server.url, namespace="bench-ui", secret="bench")
        store = RedisRunStore.from_settings(settings)
        started = time.perf_counter()
        _fill_runs(store, args.runs)
        wide = _wide_run(store, settings)
        print(
            f"stored {args.runs} runs and a 1,000-step run in {time.perf_counter() - started:.1f} s"
        )
        with serving(settings, [LocationSource(file=JOBS)], port=_port()) as base:
            _measure(base, store, wide, args.reps)
        store.client.close()
        samples, received = ui_live_memory.measure(server.url, _port(), args.hold)
        ui_live_memory.report(samples, received, args.hold)


def _measure(base: str, store: RedisRunStore, wide: str, reps: int) -> None:
    query = "{runsOrError(limit: 50){... on Runs {results {runId status jobName}}}}"
    with httpx.Client(base_url=base, timeout=30) as http:
        _row("runs page, 10,000 runs stored", _timed(lambda: http.get("/runs"), reps), 100)
        _row("runs API (/api/runs)", _timed(lambda: http.get("/api/runs"), reps), 100)
        _row(
            "GraphQL runsOrError, 50 runs",
            _timed(lambda: http.post("/graphql", json={"query": query}), reps),
            100,
        )
        _row(
            "runs page, status=failure",
            _timed(lambda: http.get("/runs?status=failure"), reps),
            100,
        )
        _row(
            "runs page, rare job (scans all 10,000)",
            _timed(lambda: http.get("/runs?job=rare"), reps),
            100,
        )
        _row(
            "run page of a 1,000-step run",
            _timed(lambda: http.get(f"/runs/{wide}"), max(5, reps // 2)),
            300,
        )
    _row("commit-to-live-page latency", _latency(base, store, reps), 250)


if __name__ == "__main__":
    main()
