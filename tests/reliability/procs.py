"""Real cluster processes for the fault tests: workers and coordinators as subprocesses.

Each process runs in a session of its own, so a test can SIGKILL one process (a
worker's pool process, a whole worker, a coordinator) and the harness can still
stop everything it started, even when the test fails.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from opgrid.orchestrator.settings import Settings
from tests.processes import OPGRID, cluster_env, start, stop

#: The jobs' code location, relative to ROOT (workers and submitters name it alike).
JOBS = "tests/reliability/jobs.py"
#: Settings that make faults show quickly.
FAST = {
    "OPGRID_STEP_HEARTBEAT_S": "0.3",
    "OPGRID_STEP_LOST_AFTER_S": "1.5",
    "OPGRID_CANCEL_GRACE_S": "1",
    "OPGRID_LEASE_S": "2",
    "OPGRID_BLOCK_S": "0.3",
}


def fast_settings(settings: Settings, **changes: object) -> Settings:
    """``settings`` with FAST's values (and ``changes``), for in-process parts."""
    values = {key.removeprefix("OPGRID_").lower(): value for key, value in FAST.items()}
    return Settings(**{**settings.model_dump(), **values, **changes})


class Proc:
    """One started process and its log."""

    def __init__(self, name: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.name = name
        self.process = process
        self.log = log

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group (a worker with its pool processes)."""
        with _gone():
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL what is left after a few seconds."""
        stop(self.process)

    def text(self) -> str:
        return self.log.read_text(errors="replace")


class Processes:
    """Starts cluster processes for one test; ``stop_all`` ends them."""

    def __init__(self, settings: Settings, tmp_path: Path, **env: str) -> None:
        self.settings = settings
        self.tmp_path = tmp_path
        self.marks = tmp_path / "marks.txt"
        self.marks.touch()
        self.env = cluster_env(settings, **FAST, MARKS=str(self.marks), **env)
        self.started: list[Proc] = []

    def _start(self, name: str, argv: list[str]) -> Proc:
        log = self.tmp_path / f"{name}.log"
        proc = Proc(name, start(argv, self.env, log), log)
        self.started.append(proc)
        return proc

    def worker(self, name: str, concurrency: int = 1, pool: str = "prefork") -> Proc:
        """``opgrid worker`` serving JOBS; waits until it consumes."""
        argv = [OPGRID, "worker", "-f", JOBS, "--pool", pool, "-c", str(concurrency)]
        argv += ["-n", f"{name}@%h", "--", "--without-gossip", "--without-mingle"]
        proc = self._start(name, argv)
        wait_for(lambda: "ready." in proc.text() or not proc.alive(), 20, proc.text)
        assert proc.alive(), proc.text()
        return proc

    def coordinator(self, name: str) -> Proc:
        proc = self._start(name, [OPGRID, "coordinator", "--id", name])
        wait_for(lambda: name in proc.text() or not proc.alive(), 20, proc.text)
        assert proc.alive(), proc.text()
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            proc.stop()

    # The ops' marks ---------------------------------------------------------------------------
    def marks_of(self, op: str, event: str) -> list[int]:
        """The pids that wrote ``<op> <event>``, in order."""
        found = []
        for line in self.marks.read_text().splitlines():
            name, what, pid = line.split()
            if (name, what) == (op, event):
                found.append(int(pid))
        return found


def pool_children(pid: int) -> list[int]:
    """The child processes of ``pid`` (a prefork worker's pool)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in children.read_text().split()] if children.exists() else []


def wait_for(condition: Callable[[], bool], timeout_s: float, describe: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s:\n{describe()}")
        time.sleep(0.05)


@contextmanager
def _gone() -> Iterator[None]:
    try:
        yield
    except ProcessLookupError:
        pass
