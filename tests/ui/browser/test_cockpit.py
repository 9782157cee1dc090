"""The Cluster page and the GraphQL explorer in a real browser against a real cluster."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.ui.test_api import _launch

pytestmark = pytest.mark.integration

NAP = {"ops": {"nap": {"config": {"seconds": 30}}}}


def _shot(page, screenshots, name: str) -> None:
    page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True, timeout=45_000)


def _cancel(page, run_id: str) -> None:
    reply = page.request.post(
        f"/api/runs/{run_id}/cancel", data="{}", headers={"Content-Type": "application/json"}
    )
    assert reply.ok, reply.text()


@pytest.mark.timeout(90)
def test_cluster_page_shows_each_workers_pool_and_the_step_it_runs_live(
    page, ui_cluster, screenshots
):
    page.goto("/cluster")
    worker = page.locator("#cluster tr[data-worker]")
    assert worker.count() == 1
    assert worker.locator("td.concurrency").inner_text().startswith("2")  # --concurrency 2
    # idle once an earlier test's steps have ended (the page follows the live stream)
    expect(worker.locator("td.running")).to_have_text("idle", timeout=20_000)
    run_id = _launch(ui_cluster, "sleepy", NAP)
    try:
        now = page.locator(f'#cluster div.now[data-run="{run_id}"]')
        now.wait_for(timeout=20_000)  # arrives by the live stream, no reload
        text = now.inner_text()
        # attempts count from 0, as on the run page's timeline
        assert "sleepy" in text and "nap" in text and "attempt 0" in text, text
        assert now.locator("a").get_attribute("href") == f"/runs/{run_id}"
        first = int(now.locator(".elapsed").inner_text().split()[0])
        page.wait_for_function(
            f"""() => {{
                const e = document.querySelector('div.now[data-run="{run_id}"] .elapsed');
                return e && parseInt(e.textContent) >= {first + 2};
            }}""",
            timeout=15_000,
        )  # elapsed grows
        assert "1 of 2 pool slots busy" in page.locator("#slots").inner_text()
        coordinator = page.locator("#cluster tr[data-coordinator]")
        coordinator.locator(f'a[href="/runs/{run_id}"]').wait_for(timeout=10_000)
        assert "Scheduler leader" in page.locator("#scheduler").inner_text()
        _shot(page, screenshots, "cluster-running")
        data = ui_cluster.graphql(
            "{ workers { hostname concurrency pool running { runId jobName stepKey attempt "
            "elapsedSeconds } } coordinators { id leasedRunIds } }"
        )
        (only,) = data["workers"]
        assert (only["concurrency"], only["pool"]) == (2, "prefork")
        steps = [(s["runId"], s["jobName"], s["stepKey"], s["attempt"]) for s in only["running"]]
        assert steps == [(run_id, "sleepy", "nap", 0)]
        assert any(run_id in c["leasedRunIds"] for c in data["coordinators"])
    finally:
        _cancel(page, run_id)
    ui_cluster.wait_status(run_id, "CANCELED")
    page.locator(f'div.now[data-run="{run_id}"]').wait_for(state="detached", timeout=15_000)


@pytest.mark.timeout(60)
def test_graphql_explorer_runs_a_query_and_browses_the_schema_from_its_own_origin(
    page, ui_cluster, screenshots
):
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto("/graphql")
    page.locator("#gql-schema .type-link", has_text="Query").first.wait_for()
    page.fill(
        "#gql-query",
        "query($n: Int) { runsOrError(limit: $n) { __typename "
        "... on Runs { count results { runId jobName status } } } }",
    )
    page.fill("#gql-variables", '{"n": 3}')
    page.locator("#gql-query").press("Control+Enter")
    result = page.locator("#gql-result")
    page.wait_for_function(
        "() => document.querySelector('#gql-result').textContent.includes('\"Runs\"')"
    )
    assert '"count"' in result.inner_text()
    page.locator("#gql-schema .type-link", has_text=re.compile(r"^Query$")).first.click()
    page.locator("#gql-type-view .field-name", has_text="runsOrError").wait_for()
    page.locator("#gql-type-view .type-link", has_text=re.compile(r"^RunsOrError$")).first.click()
    page.locator("#gql-type-view h3", has_text="RunsOrError").wait_for()
    _shot(page, screenshots, "graphql-explorer")
    page.fill("#gql-query", "{ nope }")
    page.locator("#gql-run").click()
    page.wait_for_function(
        "() => document.querySelector('#gql-result').textContent.includes('nope')"
    )
    origin = ui_cluster.url
    assert requests and all(url.startswith(origin) for url in requests), requests
