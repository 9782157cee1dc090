"""The pages in a real browser against a real cluster."""

from __future__ import annotations

import pytest

from tests.ui.test_api import HELLO, _launch

pytestmark = pytest.mark.integration


def _shot(page, screenshots, name: str) -> None:
    page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True, timeout=45_000)


@pytest.mark.timeout(60)
def test_launchpad_shows_config_errors_then_launches_and_the_run_page_goes_live(page, screenshots):
    page.goto("/launchpad/hello")
    editor = page.locator("#config")
    editor.fill("ops:\n  greet:\n    config:\n      times: many\n")
    errors = page.locator("#config-errors li")
    errors.first.wait_for()
    text = page.locator("#config-errors").inner_text()
    assert "ops.greet.config.name" in text and "ops.greet.config.times" in text
    _shot(page, screenshots, "launchpad-errors")
    editor.fill("ops:\n  greet:\n    config:\n      name: browser\n      times: 2\n")
    page.locator("#config-ok", has_text="Config is valid.").wait_for()
    page.locator("#tags").fill("origin=browser")
    page.click("#launch")
    page.wait_for_url("**/runs/*")
    page.locator("#run-status .badge.success").wait_for(timeout=25_000)
    page.locator("#step-graph g.node.success").first.wait_for()
    assert page.locator("#step-graph g.node.success").count() == 2
    assert "origin" in page.locator(".run-head").inner_text()
    page.get_by_role(
        "cell", name="'HELLO BROWSERHELLO BROWSER'", exact=True
    ).wait_for()  # outputs, once ended
    page.select_option("#f-kind", "STEP_SUCCESS")
    shown = page.locator("#event-rows tr:not(.hidden)").evaluate_all(
        "rows => rows.map(r => r.dataset.kind)"
    )
    assert shown == ["STEP_SUCCESS", "STEP_SUCCESS"]
    page.select_option("#f-kind", "")
    page.select_option("#f-step", "greet")
    steps = page.locator("#event-rows tr:not(.hidden)").evaluate_all(
        "rows => rows.map(r => r.dataset.step)"
    )
    assert steps and set(steps) == {"greet"}
    page.select_option("#f-step", "")
    _shot(page, screenshots, "run-success")


@pytest.mark.timeout(60)
def test_cancel_a_long_run_from_its_page(page, ui_cluster, screenshots):
    run_id = _launch(ui_cluster, "sleepy", {"ops": {"nap": {"config": {"seconds": 30}}}})
    page.goto(f"/runs/{run_id}")
    page.locator("#step-graph g.node.running").wait_for(timeout=20_000)
    _shot(page, screenshots, "run-running")
    page.click("#cancel")
    page.locator("#run-status .badge.canceled").wait_for(timeout=25_000)
    _shot(page, screenshots, "run-canceled")


@pytest.mark.timeout(60)
def test_reexecute_from_failure_runs_only_what_failed(page, ui_cluster, screenshots, tmp_path):
    marker = tmp_path / "marker"
    run_id = _launch(ui_cluster, "gated", {"ops": {"gate": {"config": {"marker": str(marker)}}}})
    ui_cluster.wait_status(run_id, "FAILURE")
    page.goto(f"/runs/{run_id}")
    assert "create it, then re-execute" in page.locator("div.error").first.inner_text()
    _shot(page, screenshots, "run-failure")
    marker.write_text("now it exists")
    page.click("#reexecute-failure")
    page.wait_for_url(lambda url: run_id not in url and "/runs/" in url)
    page.locator("#run-status .badge.success").wait_for(timeout=25_000)
    assert "re-executes" in page.locator(".run-head").inner_text()
    _shot(page, screenshots, "run-reexecuted")


@pytest.mark.timeout(60)
def test_runs_page_filters_and_shows_new_runs_live(page, ui_cluster, screenshots):
    failed = _launch(ui_cluster, "gated", {"ops": {"gate": {"config": {"marker": "/nope"}}}})
    ui_cluster.wait_status(failed, "FAILURE")
    page.goto("/runs")
    page.click("nav.tabs >> text=Failure")
    page.wait_for_url("**status=failure**")
    statuses = page.locator("#run-rows tr").evaluate_all("rows => rows.map(r => r.dataset.status)")
    assert statuses and set(statuses) == {"failure"}
    page.goto("/runs?job=hello")
    fresh = _launch(ui_cluster, "hello", HELLO)
    page.locator(f'#run-rows tr[data-run="{fresh}"]').wait_for(timeout=10_000)
    page.locator(f'#run-rows tr[data-run="{fresh}"] .badge.success').wait_for(timeout=25_000)
    jobs = page.locator("#run-rows tr").evaluate_all("rows => rows.map(r => r.cells[1].innerText)")
    assert set(jobs) == {"hello"}
    page.fill("input[name=tag]", "team=web")
    page.fill("input[name=after_local]", "2099-01-01T00:00")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**after=**")
    assert page.locator("#run-rows").inner_text().strip() == "No runs match."
    page.fill("input[name=after_local]", "2000-01-01T00:00")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**after_local=2000**")
    jobs = page.locator("#run-rows tr").evaluate_all("rows => rows.map(r => r.cells[1].innerText)")
    assert jobs and set(jobs) == {"hello"}  # team=web is hello's tag
    page.goto("/runs")
    _shot(page, screenshots, "runs")


@pytest.mark.timeout(60)
def test_jobs_graphs_and_cluster_pages(page, ui_cluster, screenshots):
    page.goto("/jobs")
    _shot(page, screenshots, "jobs")
    page.goto("/jobs/nested")
    page.click("svg.dag a")
    assert page.locator("details#graph-inner").get_attribute("open") is not None or True
    page.locator("details#graph-inner summary").click()
    page.locator("details#graph-inner svg").wait_for()
    _shot(page, screenshots, "job-nested")
    page.goto("/launchpad/regional")
    assert page.locator("#partition option").all_inner_texts() == ["eu", "us"]
    stuck = _launch(ui_cluster, "hello", HELLO, tags={"opgrid/queue": "nobody-listens"})
    page.goto("/cluster")
    assert "Workers (1)" in page.locator("#cluster").inner_text()
    page.locator("tr.orphan", has_text="nobody-listens").wait_for(timeout=10_000)  # live
    _shot(page, screenshots, "cluster")
    page.request.post(
        f"/api/runs/{stuck}/cancel", data="{}", headers={"Content-Type": "application/json"}
    )


@pytest.mark.timeout(60)
def test_a_partitioned_job_launches_from_the_launchpad_for_the_picked_partition(page, screenshots):
    page.goto("/launchpad/regional")
    assert page.locator("#config").input_value().strip() == "{}"
    page.select_option("#partition", "us")
    page.locator("#config-ok", has_text="Config is valid.").wait_for()
    _shot(page, screenshots, "launchpad-partition")
    page.click("#launch")
    page.wait_for_url("**/runs/*")
    page.locator("#run-status .badge.success").wait_for(timeout=25_000)
    page.get_by_role("cell", name="'us'", exact=True).wait_for()
    assert "partition us" in page.locator(".run-head").inner_text()


@pytest.mark.timeout(60)
def test_the_run_page_links_to_what_a_step_printed(page, ui_cluster, screenshots):
    run_id = _launch(ui_cluster, "printer", {})
    assert ui_cluster.wait_status(run_id, "SUCCESS", "FAILURE") == "SUCCESS"
    page.goto(f"/runs/{run_id}")
    row = page.locator("#captured tbody tr", has_text="chatter")
    row.wait_for()
    row.get_by_role("link", name="stdout").click()
    page.wait_for_url("**/steps/chatter/stdout?attempt=0")
    text = page.locator("#captured-text").inner_text()
    assert text.strip() == "hello from <chatter> on stdout"
    _shot(page, screenshots, "captured-stdout")
    page.get_by_role("link", name="stderr").click()
    page.wait_for_url("**/steps/chatter/stderr?attempt=0")
    assert page.locator("#captured-text").inner_text().strip() == "a warning on stderr"
    page.goto(f"/runs/{run_id}/steps/nobody/stdout")
    assert "step 'nobody' of run" in page.locator("main, body").first.inner_text()
