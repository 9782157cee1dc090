"""The scheduler's metrics on a real cluster: an ``opgrid coordinator`` process serving
``/metrics``, an ``opgrid worker`` process of a code location with sensors, a real
redis-server; the counters move as sensors tick and launch runs, the backfill gauges
follow a backfill until it is canceled."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from opgrid.orchestrator.settings import Settings
from tests.harness.processes import OPGRID, ROOT, cluster_env, start, stop, wait_for_text
from tests.integration.test_metrics import samples, scrape, value
from tests.ui.conftest import free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

#: The code location, relative to ROOT.
JOBS = "tests/jobs/schedules_jobs.py"


def _until(port: int, check: Callable[[dict], bool], timeout_s: float = 30.0) -> dict:
    """The samples of ``/metrics`` once ``check`` holds for them."""
    deadline = time.monotonic() + timeout_s
    found: dict = {}
    while time.monotonic() < deadline:
        try:
            found = samples(scrape(port)[1])
        except OSError:  # not serving yet
            found = {}
        if found and check(found):
            return found
        time.sleep(0.2)
    names = sorted({name for name, _ in found if "scheduler" in name or "backfill" in name})
    raise AssertionError(f"/metrics never showed what was expected; scheduler metrics: {names}")


def _opgrid(settings: Settings, *args: str) -> str:
    done = subprocess.run(
        [OPGRID, *args], cwd=ROOT, env=cluster_env(settings), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@contextlib.contextmanager
def _cluster(settings: Settings, tmp_path: Path, keys: Path) -> Iterator[int]:
    """A worker of JOBS and a coordinator serving its metrics; yields the metrics port."""
    env = cluster_env(settings, KEYS_FILE=str(keys), MARKS=str(tmp_path / "marks"))
    name = f"{settings.namespace}@%h"
    quiet = ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    command = [OPGRID, "worker", "-f", JOBS, "--pool", "solo", "-n", name, "--", *quiet]
    worker = start(command, env, tmp_path / "worker.log")
    port = free_port()
    coordinator = start(
        [OPGRID, "coordinator", "--metrics-port", str(port)],
        cluster_env(settings, OPGRID_BLOCK_S="0.3"),
        tmp_path / "coordinator.log",
    )
    try:
        wait_for_text(tmp_path / "worker.log", "ready", worker, timeout_s=30)
        yield port
    finally:
        stop(coordinator)
        stop(worker)


def _backfill_gauges_follow_a_backfill_until_canceled(settings: Settings, port: int) -> None:
    out = _opgrid(
        settings, "job", "backfill", "-f", JOBS, "-j", "numbered", "--all",
        "--max-concurrent", "2", "--tag", "opgrid/queue=nobody-consumes-this",
    )  # fmt: skip
    backfill_id = out.split()[1].rstrip(":")

    def partitions(state: str) -> Callable[[dict], float | None]:
        return lambda f: value(f, "opgrid_backfill_partitions", job="numbered", state=state)

    found = _until(port, lambda f: partitions("launched")(f) == 2)
    assert partitions("requested")(found) == 20
    assert partitions("completed")(found) == 0  # its runs wait on a queue nobody consumes
    _opgrid(settings, "backfill", "cancel", backfill_id)
    found = _until(port, lambda f: partitions("requested")(f) == 0)
    assert partitions("launched")(found) == 0


def test_ticks_launched_runs_and_backfill_progress_move_on_the_coordinator_s_metrics(
    settings, tmp_path
):
    keys = tmp_path / "keys"
    keys.write_text("alpha\n")
    launched = "opgrid_scheduler_runs_launched_total"
    ticks = "opgrid_scheduler_ticks_total"

    def keyed(found: dict, status: str) -> float:
        return value(found, ticks, instigator="keyed", kind="sensor", status=status) or 0

    with _cluster(settings, tmp_path, keys) as port:
        found = _until(port, lambda f: keyed(f, "success") >= 1 and keyed(f, "skipped") >= 1)
        assert value(found, launched, instigator="keyed", job="keyed_job") == 1
        assert value(found, "opgrid_scheduler_leading") == 1
        doomed = {"instigator": "on_doomed_failure", "kind": "sensor", "status": "failure"}
        assert value(found, ticks, **doomed) == 0
        keys.write_text("alpha\nbeta\n")  # beta is new: one more run; alpha is not again
        found = _until(port, lambda f: value(f, launched, instigator="keyed", job="keyed_job") == 2)
        assert keyed(found, "success") == 2
        _backfill_gauges_follow_a_backfill_until_canceled(settings, port)
