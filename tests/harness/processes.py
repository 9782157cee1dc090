"""Starting, signalling, stopping and waiting on the real processes of the tests.

Every process a test runs for longer than one command (workers, coordinators,
Flower, redis-servers, ``opgrid dev``, the compose services) is started by
``start``: a session (process group) of its own, its output appended to a log file,
so ``stop`` ends it with whatever it forked (a worker's pool, for example): SIGTERM
first, SIGKILL after a grace period. ``Processes`` starts the workers and
coordinators of one test by name and ``stop_all`` ends every one of them, even when
the test fails.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from opgrid.errors import StorageError
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.redis import RedisRunStore

#: The repository root: worker processes run there, so code locations are relative to it.
ROOT = Path(__file__).resolve().parents[2]
#: The ``opgrid`` command of the environment the tests run in.
OPGRID = str(Path(sys.executable).parent / "opgrid")
#: Seconds a process group has to exit after SIGTERM before it is killed.
STOP_GRACE_S = 10.0
#: The code location ``Processes`` workers serve, relative to ROOT (workers and
#: submitters name it alike).
JOBS = "tests/jobs/faults_jobs.py"
T = TypeVar("T")
#: Settings that make faults show quickly.
FAST = {
    "OPGRID_STEP_HEARTBEAT_S": "0.3",
    "OPGRID_STEP_LOST_AFTER_S": "1.5",
    "OPGRID_CANCEL_GRACE_S": "1",
    "OPGRID_LEASE_S": "2",
    "OPGRID_BLOCK_S": "0.3",
}


# Environments ------------------------------------------------------------------------------
def environment(**values: str) -> dict[str, str]:
    """This process's environment without any ``OPGRID_*`` variable, plus ``values``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("OPGRID_")}
    env.update(values)
    return env


def cluster_env(settings: Settings, **extra: str) -> dict[str, str]:
    """``environment()`` with the cluster's settings, then ``extra``."""
    return environment(
        OPGRID_REDIS_URL=settings.redis_url,
        OPGRID_BROKER_URL=settings.broker_url,
        OPGRID_NAMESPACE=settings.namespace,
        OPGRID_SECRET=settings.secret.get_secret_value(),
        OPGRID_DEFAULT_QUEUE=settings.default_queue,
        **extra,
    )


def fast_settings(settings: Settings, **changes: object) -> Settings:
    """``settings`` with FAST's values (and ``changes``), for in-process parts."""
    values = {key.removeprefix("OPGRID_").lower(): value for key, value in FAST.items()}
    return Settings(**{**settings.model_dump(), **values, **changes})


# One process -------------------------------------------------------------------------------
def start(
    command: Sequence[str],
    env: Mapping[str, str],
    log: Path,
    *,
    stderr: Path | None = None,
    cwd: Path = ROOT,
) -> subprocess.Popen[bytes]:
    """Run ``command`` in a new session from ``cwd``, its output appended to ``log``
    (its stderr to a file of its own when ``stderr`` names one)."""
    with contextlib.ExitStack() as files:
        out = files.enter_context(log.open("ab"))
        err = files.enter_context(stderr.open("ab")) if stderr is not None else subprocess.STDOUT
        return subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )


def signal_group(process: subprocess.Popen[bytes], signum: signal.Signals) -> None:
    """Send ``signum`` to the process's whole group (it and what it forked)."""
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:  # the whole group is gone already
        return


def stop(process: subprocess.Popen[bytes]) -> int:
    """End the process's group: SIGTERM, then SIGKILL after ``STOP_GRACE_S``; its exit code."""
    stop_all([process])
    return process.returncode


def stop_all(processes: Iterable[subprocess.Popen[bytes]]) -> None:
    """SIGTERM to every group at once, then SIGKILL to what is left after the grace period."""
    processes = list(processes)
    for process in processes:
        signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        signal_group(process, signal.SIGKILL)  # the group's children too
        process.wait()


@contextlib.contextmanager
def running(
    command: Sequence[str], env: Mapping[str, str], log: Path, **options: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """``start(command, env, log, **options)``, stopped on exit."""
    process = start(command, env, log, **options)
    try:
        yield process
    finally:
        stop(process)


def worker_process(
    settings: Settings, log: Path, location: str, env: Mapping[str, str] | None = None
) -> contextlib.AbstractContextManager[subprocess.Popen[bytes]]:
    """``opgrid worker -f location`` for ``settings`` (solo pool, node ``<namespace>@%h``,
    output to ``log``), stopped on exit."""
    command = [OPGRID, "worker", "-f", location, "--pool", "solo", "-n", f"{settings.namespace}@%h"]
    command += ["--", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    return running(command, cluster_env(settings) if env is None else env, log)


# Waiting -----------------------------------------------------------------------------------
def through_outages(call: Callable[[], T], timeout_s: float = 60) -> T:
    """``call()``, again while Redis does not answer yet (restarting, failing over)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return call()
        except StorageError:  # noqa: PERF203 (a retry loop)
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def wait_for(condition: Callable[[], bool], timeout_s: float, describe: Callable[[], str]) -> None:
    """Until ``condition()``; fails with ``describe()`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s:\n{describe()}")
        time.sleep(0.05)


def wait_for_text(
    log: Path,
    text: str,
    process: subprocess.Popen[bytes] | None = None,
    *,
    count: int = 1,
    timeout_s: float = 20.0,
) -> str:
    """The log once ``text`` appears in it ``count`` times; fails with the log if
    ``process`` exits first or after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        content = log.read_text(errors="replace")
        if content.count(text) >= count:
            return content
        if process is not None and process.poll() is not None:
            raise AssertionError(
                f"{process.args!r} exited with {process.returncode} before logging {text!r}:\n"
                + content
            )
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} x{count} not logged within {timeout_s} s:\n{content}")
        time.sleep(0.05)


def wait_for_coordinator(
    settings: Settings,
    describe: Callable[[], str],
    name: str | None = None,
    process: subprocess.Popen[bytes] | None = None,
) -> None:
    """Until coordinator ``name`` (or any) has sent its first heartbeat, from when on
    submitters count on it (it logs its banner before); fails if ``process`` exits."""
    store = RedisRunStore.from_settings(settings)

    def ready() -> bool:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"{process.args!r} exited ({process.returncode}):\n{describe()}")
        live = store.live_coordinators()
        return name in live if name is not None else bool(live)

    try:
        wait_for(ready, 20, describe)
    finally:
        store.client.close()


def pool_children(pid: int) -> list[int]:
    """The child processes of ``pid`` (a prefork worker's pool)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in children.read_text().split()] if children.exists() else []


# The cluster processes of one test ------------------------------------------------------------
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
        signal_group(self.process, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL what is left after a few seconds."""
        stop(self.process)

    def text(self) -> str:
        return self.log.read_text(errors="replace")


class Processes:
    """Starts cluster processes (FAST timings, JOBS) for one test; ``stop_all`` ends them.

    Every op of JOBS appends ``<op> <event> <pid>`` to the file ``MARKS`` names, which
    ``marks_of`` reads back.
    """

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

    def worker(
        self, name: str, concurrency: int = 1, pool: str = "prefork", location: str = JOBS
    ) -> Proc:
        """``opgrid worker`` serving ``location``; waits until it consumes."""
        argv = [OPGRID, "worker", "-f", location, "--pool", pool, "-c", str(concurrency)]
        argv += ["-n", f"{name}@%h", "--", "--without-gossip", "--without-mingle"]
        proc = self._start(name, argv)
        wait_for(lambda: "ready." in proc.text() or not proc.alive(), 20, proc.text)
        assert proc.alive(), proc.text()
        return proc

    def coordinator(self, name: str) -> Proc:
        """``opgrid coordinator --id name``; waits until it has sent its first heartbeat."""
        proc = self._start(name, [OPGRID, "coordinator", "--id", name])
        wait_for_coordinator(self.settings, proc.text, name, proc.process)
        return proc

    def stop_all(self) -> None:
        stop_all(proc.process for proc in reversed(self.started))

    # The ops' marks ---------------------------------------------------------------------------
    def marks_of(self, op: str, event: str) -> list[int]:
        """The pids that wrote ``<op> <event>``, in order."""
        found = []
        for line in self.marks.read_text().splitlines():
            name, what, pid = line.split()
            if (name, what) == (op, event):
                found.append(int(pid))
        return found
