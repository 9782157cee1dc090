"""Watching a run in a real terminal (a pty) shows the steps running now, with their
elapsed time and worker, then the summary; off a terminal, only plain lines."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

OPGRID = str(Path(sys.executable).parent / "opgrid")
#: CSI and OSC escape sequences a terminal interprets (colours, cursor moves).
_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")

JOB = """
import time
from opgrid import job, op

@op
def warm_up() -> int:
    time.sleep(2.5)
    return 1

@job
def slow():
    warm_up()
"""


def _env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OPGRID_")}
    return {**env, "COLUMNS": "100", "LINES": "30", "TERM": "xterm-256color"}


def _read_all(fd: int, process: subprocess.Popen[bytes], timeout_s: float) -> str:
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        elif process.poll() is not None:
            break
    return b"".join(chunks).decode(errors="replace")


@pytest.mark.timeout(90)
def test_a_terminal_shows_the_running_step_with_its_timer_and_worker(tmp_path: Path) -> None:
    (tmp_path / "slow.py").write_text(JOB)
    main, child = pty.openpty()
    process = subprocess.Popen(
        [OPGRID, "dev", "-f", "slow.py", "--workers", "1"],
        stdin=child,
        stdout=child,
        stderr=child,
        cwd=tmp_path,
        env=_env(),
        close_fds=True,
    )
    os.close(child)
    try:
        screen = _ESCAPES.sub("", _read_all(main, process, timeout_s=75))
    finally:
        os.close(main)
        process.wait(timeout=30)
    assert process.returncode == 0, screen
    assert re.search(r"warm_up\s+\d+\.\d\ds\s+0\s+\S+/\d+", screen), screen  # timer, worker
    assert "slow: 1 running, 0 done" in screen, screen
    assert "success  warm_up" in screen
    assert re.search(r"status\s+success", screen)


def test_off_a_terminal_only_plain_lines_are_printed(tmp_path: Path) -> None:
    (tmp_path / "slow.py").write_text(JOB.replace("2.5", "0.1"))
    done = subprocess.run(
        [OPGRID, "dev", "-f", "slow.py", "--workers", "1"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert re.search(r"opgrid UI at http://127\.0\.0\.1:\d+", done.stderr), done.stderr
    assert "\x1b[" not in done.stdout
    assert "running, 0 done" not in done.stdout
    assert "success  warm_up" in done.stdout


def test_dev_serves_the_ui_while_it_keeps_running_and_no_ui_skips_it(tmp_path: Path) -> None:
    (tmp_path / "slow.py").write_text(JOB.replace("2.5", "0.1"))
    quiet = subprocess.run(
        [OPGRID, "dev", "-f", "slow.py", "--workers", "1", "--no-ui"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert quiet.returncode == 0, quiet.stderr
    assert "opgrid UI" not in quiet.stderr
    process = subprocess.Popen(
        [OPGRID, "dev", "-f", "slow.py", "--workers", "1", "--keep-running", "--ui-port", "0"],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = None
        assert process.stderr is not None
        for line in process.stderr:
            found = re.search(r"opgrid UI at (http://\S+)", line)
            if found:
                url = found.group(1)
            if "Ctrl-C stops it" in line:
                break
        assert url is not None
        with urllib.request.urlopen(f"{url}/runs", timeout=10) as reply:
            page = reply.read().decode()
        assert reply.status == 200 and "slow" in page
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)  # reads the rest, closes the pipe
