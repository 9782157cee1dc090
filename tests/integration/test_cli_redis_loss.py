"""Losing Redis while a run is watched says the run goes on and how to follow it again."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from opgrid.orchestrator.cli import main
from opgrid.orchestrator.cli.embedded_redis import RedisServer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_a_watcher_that_loses_redis_exits_1_with_how_to_follow_again(monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    with RedisServer() as server:
        env = {"OPGRID_REDIS_URL": server.url, "OPGRID_NAMESPACE": "loss", "OPGRID_SECRET": "s"}
        stopper = threading.Timer(1.5, server.stop)  # nothing runs the run: it waits
        stopper.start()
        try:
            result = CliRunner().invoke(
                main, ["job", "submit", "-f", "examples/hello.py", "-j", "hello", "--wait"], env=env
            )
        finally:
            stopper.cancel()
    assert result.exit_code == 1, result.output
    assert "lost the cluster's Redis while watching run" in result.output
    assert "the run goes on" in result.output
    assert "opgrid run logs --follow" in result.output
    assert "Traceback" not in result.output
