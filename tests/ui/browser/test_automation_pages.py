"""The Schedules, Sensors and Backfills pages in a real browser against a real cluster."""

from __future__ import annotations

import pytest

from opgrid.orchestrator.store.redis import RedisRunStore
from tests.ui.test_automation_api import backfill, wait_for

pytestmark = pytest.mark.integration


def _shot(page, screenshots, name: str) -> None:
    page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True, timeout=45_000)


@pytest.fixture
def store(ui_cluster):
    store = RedisRunStore.from_settings(ui_cluster.settings)
    yield store
    store.client.close()


@pytest.mark.timeout(60)
def test_the_schedules_page_stops_then_starts_a_schedule(page, store, screenshots):
    page.goto("/schedules")
    row = page.locator('#schedules tr[data-name="nightly"]')
    assert "Europe/Paris" in row.inner_text() and "0 3 1 1 *" in row.inner_text()
    assert page.locator("#leader").is_visible()
    _shot(page, screenshots, "schedules")
    if row.get_attribute("data-state") == "stopped":  # left so by an earlier run of the test
        row.get_by_role("button", name="Start").click()
        page.locator('#schedules tr[data-name="nightly"][data-state="running"]').wait_for()
    row.get_by_role("button", name="Stop").click()
    page.locator('#schedules tr[data-name="nightly"][data-state="stopped"]').wait_for()
    assert store.get_instigator_state("schedule:nightly").running is False
    assert page.locator('#schedules tr[data-name="nightly"]').inner_text().count("—") >= 1
    _shot(page, screenshots, "schedules-stopped")
    page.locator('#schedules tr[data-name="nightly"]').get_by_role("button", name="Start").click()
    page.locator('#schedules tr[data-name="nightly"][data-state="running"]').wait_for()
    assert store.get_instigator_state("schedule:nightly").running is True
    page.click('#schedules a[href="/schedules/nightly"]')
    page.wait_for_url("**/schedules/nightly")
    assert "No ticks recorded yet." in page.locator("#ticks").inner_text()
    _shot(page, screenshots, "schedule-nightly")


@pytest.mark.timeout(60)
def test_a_sensor_s_tick_list_after_ticks_on_the_cluster(page, store, screenshots):
    page.goto("/sensors")
    row = page.locator('#sensors tr[data-name="counting"]')
    if row.get_attribute("data-state") == "stopped":
        row.get_by_role("button", name="Start").click()
        page.locator('#sensors tr[data-name="counting"][data-state="running"]').wait_for()
    assert store.get_instigator_state("sensor:counting").running is True
    try:

        def ticked() -> bool:
            statuses = {t.status for t in store.list_ticks("sensor:counting", 10) if t.launched}
            return {"success", "skipped"} <= statuses

        wait_for(ticked, what="a SUCCESS and a SKIPPED tick of sensor counting")
        page.goto("/sensors")
        assert page.locator('#sensors tr[data-name="counting"] td.cursor').inner_text() != "—"
        _shot(page, screenshots, "sensors")
        page.click('#sensors a[href="/sensors/counting"]')
        page.wait_for_url("**/sensors/counting")
        ticks = page.locator("#ticks tbody tr")
        skipped = page.locator('#ticks tr[data-status="skipped"]').first
        assert "nothing new after" in skipped.inner_text()
        success = page.locator('#ticks tr[data-status="success"]').first
        assert ticks.count() >= 2 and success.locator("a").count() == 1
        _shot(page, screenshots, "sensor-ticks")
        success.locator("a").click()
        page.wait_for_url("**/runs/*")
        page.locator("#run-status .badge.success").wait_for(timeout=25_000)
        assert "first" in page.locator(".run-head").inner_text()  # its run key tag
    finally:
        page.goto("/sensors/counting")
        page.get_by_role("button", name="Stop").click()
        page.locator("button", has_text="Start").wait_for()
    assert store.get_instigator_state("sensor:counting").running is False


@pytest.mark.timeout(60)
def test_the_backfills_page_shows_progress_and_cancels_a_backfill(
    page, ui_cluster, store, screenshots
):
    backfill_id = backfill(ui_cluster.settings, "slow_regions", "--all", "--max-concurrent", "2")
    wait_for(
        lambda: len((store.get_backfill(backfill_id) or _none()).launched) == 2,
        what=f"two runs of backfill {backfill_id}",
    )
    page.goto("/backfills")
    row = page.locator(f'#backfills tr[data-backfill="{backfill_id}"]')
    cells = row.locator("td").all_inner_texts()
    assert cells[1:7] == ["slow_regions", "requested", "4", "2", "0", "0"]
    assert row.locator("td.parts a").count() == 2  # the two launched partitions link their runs
    assert row.locator("svg.progress rect.run").count() == 1
    _shot(page, screenshots, "backfills")
    row.get_by_role("button", name="Cancel").click()
    page.locator(f'#backfills tr[data-backfill="{backfill_id}"][data-status="canceled"]').wait_for()
    progress = store.get_backfill(backfill_id)
    assert progress is not None and progress.record.status == "canceled"
    run_ids = list(progress.launched.values())
    for run_id in run_ids:
        assert ui_cluster.wait_status(run_id, "CANCELED", "SUCCESS", "FAILURE") == "CANCELED"
    page.reload()
    canceled_row = page.locator(f'#backfills tr[data-backfill="{backfill_id}"]')
    assert canceled_row.get_by_role("button", name="Cancel").count() == 0
    cells = canceled_row.locator("td").all_inner_texts()
    assert cells[2:7] == ["canceled", "4", "2", "0", "0"]  # its two runs canceled, not failed
    parts = canceled_row.locator("td.parts").inner_text()
    assert parts.count("canceled") == 2 and parts.count("not launched") == 2
    _shot(page, screenshots, "backfills-canceled")


def _none():
    raise AssertionError("the backfill is not recorded")
