"""The README's screenshots of the web UI, taken again against a real cluster.

Run from the repository root::

    python -m tests.ui.screenshots [--out deploy/screenshots]

It starts redis-server, an ``opgrid worker`` (prefork, two processes), an ``opgrid
coordinator`` and an ``opgrid ui`` on loopback with ``tests/jobs/ui_jobs.py``, launches a
few runs (successes, a failure, a nested graph, a long one still running) and saves,
with Debian's chromium: ``runs.png`` (the Runs page), ``run.png`` (a run page with its
step graph and timeline) and ``cluster.png`` (workers with the step they run now).
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path

from opgrid.orchestrator.cli.embedded_redis import RedisServer
from opgrid.orchestrator.settings import Settings
from tests.harness.processes import OPGRID, cluster_env, start, stop_all, wait_for_text
from tests.ui.browser.conftest import ARGS, CHROMIUM
from tests.ui.conftest import JOBS, UICluster, free_port, start_ui
from tests.ui.test_api import HELLO, _launch

#: The browser window the screenshots show.
VIEWPORT = {"width": 1360, "height": 860}


def _runs(ui: UICluster) -> tuple[str, str]:
    """Runs to show; the ids of a finished nested run and of a long one still going."""
    for name in ("ada", "grace"):
        _launch(ui, "hello", {"ops": {"greet": {"config": {"name": name}}}}, tags={"team": "web"})
    failed = _launch(ui, "gated", {"ops": {"gate": {"config": {"marker": "/nowhere"}}}})
    nested = _launch(ui, "nested", {}, tags={"env": "demo"})
    _launch(ui, "hello", HELLO, tags={"env": "demo"})
    ui.wait_status(failed, "FAILURE")
    ui.wait_status(nested, "SUCCESS")
    sleepy = _launch(ui, "sleepy", {"ops": {"nap": {"config": {"seconds": 60}}}})
    return nested, sleepy


def _shoot(ui: UICluster, out: Path, nested: str, sleepy: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_context(base_url=ui.url, viewport=VIEWPORT).new_page()
        page.set_default_timeout(20_000)
        page.goto("/runs")
        page.locator(f'tr[data-run="{sleepy}"][data-status="started"]').wait_for()
        page.screenshot(path=str(out / "runs.png"))
        page.goto(f"/runs/{nested}")
        page.locator("#gantt svg").wait_for()
        page.screenshot(path=str(out / "run.png"))
        page.goto("/cluster")
        page.locator(f'div.now[data-run="{sleepy}"]').wait_for()
        time.sleep(2.5)  # the live stream's next refresh: a few seconds elapsed
        page.screenshot(path=str(out / "cluster.png"))
        page.request.post(
            f"/api/runs/{sleepy}/cancel", data="{}", headers={"Content-Type": "application/json"}
        )
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("deploy/screenshots"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    logs = Path(tempfile.mkdtemp(prefix="opgrid-screenshots-"))
    with RedisServer() as server:
        name = f"demo-{uuid.uuid4().hex[:6]}"
        settings = Settings(
            redis_url=server.url, namespace=name, secret="demo", default_queue="default"
        )
        env = cluster_env(settings, OPGRID_BLOCK_S="0.2")
        worker = start(
            [OPGRID, "worker", "-f", JOBS, "--pool", "prefork", "-c", "2", "-n", "w1@%h"],
            env,
            logs / "worker.log",
        )
        processes = [worker, start([OPGRID, "coordinator"], env, logs / "coordinator.log")]
        try:
            wait_for_text(logs / "worker.log", "ready", worker, timeout_s=30)
            port = free_port()
            processes.append(start_ui(settings, port, logs / "ui.log"))
            ui = UICluster(settings, f"http://127.0.0.1:{port}", port, logs)
            nested, sleepy = _runs(ui)
            _shoot(ui, args.out, nested, sleepy)
        finally:
            stop_all(processes)
    print(f"screenshots in {args.out} (process logs in {logs})")


if __name__ == "__main__":
    main()
