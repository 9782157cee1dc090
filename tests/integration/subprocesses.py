"""Starting and stopping the real processes of the Flower and multi-host tests.

Each process gets a session (process group) of its own, so ``stop`` ends it with
whatever it forked (a worker's pool, for example): SIGTERM first, SIGKILL after a
grace period.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

#: The repository root: worker processes run there, so code locations are relative to it.
ROOT = Path(__file__).resolve().parents[2]
#: Seconds a process group has to exit after SIGTERM before it is killed.
STOP_GRACE_S = 10.0


def environment(**values: str) -> dict[str, str]:
    """This process's environment without any ``OPGRID_*`` variable, plus ``values``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("OPGRID_")}
    env.update(values)
    return env


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
    log: Path, text: str, process: subprocess.Popen[bytes], timeout_s: float = 20.0
) -> None:
    """Block until ``text`` appears in ``log``; fail with the log if the process exits first."""
    deadline = time.monotonic() + timeout_s
    while text not in log.read_text(errors="replace"):
        if process.poll() is not None:
            raise AssertionError(
                f"{process.args!r} exited with {process.returncode} before logging {text!r}:\n"
                + log.read_text(errors="replace")
            )
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{process.args!r} did not log {text!r} within {timeout_s} s:\n"
                + log.read_text(errors="replace")
            )
        time.sleep(0.1)
