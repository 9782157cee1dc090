"""Benchmark part: the UI server's memory while 50 live pages stay open.

A real cluster (an ``opgrid worker`` and an ``opgrid coordinator`` process) runs a job
that logs four lines a second; an ``opgrid ui`` process serves it. Half of 50 clients
follow the run's page stream (``/live/runs/{id}``), half the cluster page's
(``/live/cluster``), reading every byte, for ``hold_s`` seconds. The UI process's
resident memory (RSS, from ``/proc``) is sampled every ``SAMPLE_EVERY_S``; the figures
are its start (streams open), end and growth. Goal: flat.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from opgrid.orchestrator.settings import Settings
from tests.harness.processes import OPGRID, cluster_env, running, wait_for_text

JOBS = "tests/benchmarks/ui_jobs.py"
#: Live pages held open, and how they split between a run page and the cluster page.
PAGES = 50
#: How often the UI process's memory is read.
SAMPLE_EVERY_S = 2.0


def rss_mb(pid: int) -> float:
    """A process's resident set size, in MiB (``VmRSS`` of ``/proc/<pid>/status``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def _follow(url: str, stop: threading.Event, received: list[int]) -> None:
    """Read a live stream until ``stop``; count the bytes."""
    with httpx.Client(timeout=httpx.Timeout(10.0, read=30.0)) as http:
        while not stop.is_set():
            with http.stream("GET", url) as live:
                for chunk in live.iter_bytes():
                    received.append(len(chunk))
                    if stop.is_set():
                        return


@contextmanager
def _cluster(redis_url: str, port: int, logs: Path) -> Iterator[tuple[str, int]]:
    """Worker, coordinator and UI processes; the UI's URL and pid."""
    settings = Settings(
        redis_url=redis_url, namespace="bench-ui-live", secret="bench", default_queue="live"
    )
    env = cluster_env(settings)
    with ExitStack() as stack:
        worker = stack.enter_context(
            running(
                [OPGRID, "worker", "-f", JOBS, "--pool", "solo", "-n", "live@%h"],
                env,
                logs / "worker.log",
            )
        )
        stack.enter_context(running([OPGRID, "coordinator"], env, logs / "coordinator.log"))
        command = [OPGRID, "ui", "-f", JOBS, "--port", str(port)]
        ui = stack.enter_context(running(command, env, logs / "ui.log"))
        wait_for_text(logs / "worker.log", "ready", worker, timeout_s=30)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=1).raise_for_status()
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield base, ui.pid


def measure(redis_url: str, port: int, hold_s: float) -> tuple[list[float], int]:
    """RSS samples (MiB) of the UI process with ``PAGES`` live pages open, and the bytes
    the pages received."""
    with tempfile.TemporaryDirectory(prefix="opgrid-bench-ui-") as folder:
        with _cluster(redis_url, port, Path(folder)) as (base, pid):
            config = f"ops:\n  tick:\n    config:\n      seconds: {hold_s + 30}\n"
            reply = httpx.post(f"{base}/api/launch", json={"job": "ticking", "config": config})
            reply.raise_for_status()
            run_id = reply.json()["run_id"]
            urls = [f"{base}/live/runs/{run_id}", f"{base}/live/cluster"]
            stop = threading.Event()
            received: list[int] = []
            threads = [
                threading.Thread(target=_follow, args=(urls[i % 2], stop, received), daemon=True)
                for i in range(PAGES)
            ]
            for thread in threads:
                thread.start()
            time.sleep(5.0)  # every stream open and sending
            samples = [rss_mb(pid)]
            deadline = time.monotonic() + hold_s
            while time.monotonic() < deadline:
                time.sleep(SAMPLE_EVERY_S)
                samples.append(rss_mb(pid))
            stop.set()
            httpx.post(f"{base}/api/runs/{run_id}/cancel", json={})
            for thread in threads:
                thread.join(timeout=35)
            return samples, sum(received)


def report(samples: list[float], received: int, hold_s: float) -> None:
    start, end, peak = samples[0], samples[-1], max(samples)
    growth = end - start
    verdict = "ok" if growth <= max(2.0, start * 0.05) else "GROWS"
    print(
        f"{'UI server memory, 50 live pages for ' + f'{hold_s:.0f} s':<52} start {start:6.1f} MiB"
        f"  end {end:6.1f} MiB  peak {peak:6.1f} MiB  growth {growth:+5.1f} MiB  goal flat  "
        f"{verdict}  ({received / 1e6:.1f} MB sent)"
    )
