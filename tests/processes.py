"""Starting and stopping the real processes of the tests (workers, coordinators, Flower).

Each process gets a session (process group) of its own, so ``stop`` ends it with
whatever it forked (a worker's pool, for example): SIGTERM first, SIGKILL after a
grace period.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from opgrid.orchestrator.settings import Settings

#: The repository root: worker processes run there, so code locations are relative to it.
ROOT = Path(__file__).resolve().parents[1]
#: The ``opgrid`` command of the environment the tests run in.
OPGRID = str(Path(sys.executable).parent / "opgrid")
#: Seconds a process group has to exit after SIGTERM before it is killed.
STOP_GRACE_S = 10.0


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


def start(command: Sequence[str], env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Run ``command`` in a new session from ROOT, its output appended to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            list(command),
            cwd=ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    """End the process's group: SIGTERM, then SIGKILL after ``STOP_GRACE_S``."""
    _signal_group(process, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        _signal_group(process, signal.SIGKILL)
        process.wait()


def _signal_group(process: subprocess.Popen[bytes], signum: signal.Signals) -> None:
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:  # the whole group is gone already
        return


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
