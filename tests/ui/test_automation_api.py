"""Schedules, sensors and backfills through the UI server's GraphQL API and JSON actions,
against a real cluster (its coordinator's scheduler ticks what is started)."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.redis import RedisRunStore
from tests.harness.processes import OPGRID, ROOT, cluster_env, stop
from tests.ui.conftest import JOBS, free_port, start_ui

pytestmark = pytest.mark.integration

REPO = {"repositoryLocationName": JOBS, "repositoryName": "__repository__"}
STATE = "id status typeSpecificData { __typename ... on SensorData { lastCursor } }"
SCHEDULES = """
query($repo: RepositorySelector!) {
  schedulesOrError(repositorySelector: $repo) {
    __typename
    ... on Schedules { results { id name cronSchedule pipelineName executionTimezone
        defaultStatus scheduleState { id status nextTick { timestamp } } } }
    ... on RepositoryNotFoundError { message repositoryLocationName }
  }
}
"""
SENSOR = """
query($sel: SensorSelector!) {
  sensorOrError(sensorSelector: $sel) {
    __typename
    ... on Sensor { name minIntervalSeconds targets { pipelineName } defaultStatus
      sensorState { status ticks(limit: 5) { status skipReason runIds
        error { message className } } } }
    ... on SensorNotFoundError { message sensorName }
  }
}
"""
START_SCHEDULE = """
mutation($sel: ScheduleSelector!) {
  startSchedule(scheduleSelector: $sel) {
    __typename
    ... on ScheduleStateResult { scheduleState { id status } }
    ... on ScheduleNotFoundError { message }
  }
}
"""
STOP_SCHEDULE = """
mutation($id: String) {
  stopRunningSchedule(id: $id) {
    __typename ... on ScheduleStateResult { scheduleState { id status } }
  }
}
"""
START_SENSOR = """
mutation($sel: SensorSelector!) {
  startSensor(sensorSelector: $sel) { __typename ... on Sensor { sensorState { status } } }
}
"""
STOP_SENSOR = """
mutation($id: String) {
  stopSensor(id: $id) {
    __typename ... on StopSensorMutationResult { instigationState { id status } }
  }
}
"""
BACKFILLS = """
query {
  partitionBackfillsOrError {
    __typename
    ... on PartitionBackfills { results { id status jobName partitionNames numPartitions
        numCancelable runs { runId status } } }
  }
}
"""
CANCEL = """
mutation($id: String!) {
  cancelPartitionBackfill(backfillId: $id) {
    __typename
    ... on CancelBackfillSuccess { backfillId }
    ... on BackfillNotFoundError { message }
    ... on PythonError { message }
  }
}
"""


@pytest.fixture
def store(ui_cluster) -> Iterator[RedisRunStore]:
    store = RedisRunStore.from_settings(ui_cluster.settings)
    yield store
    store.client.close()


def wait_for(check: Callable[[], Any], timeout_s: float = 20.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout_s} s: {what}")


def backfill(settings: Settings, job: str, *options: str) -> str:
    """Submit a backfill with ``opgrid job backfill``; its id."""
    done = subprocess.run(
        [OPGRID, "job", "backfill", "-f", JOBS, "-j", job, *options],
        cwd=ROOT,
        env=cluster_env(settings),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.split()[1].rstrip(":")


def test_schedules_list_their_cron_timezone_job_and_state_default_or_set(ui_cluster, store):
    results = ui_cluster.graphql(SCHEDULES, {"repo": REPO})["schedulesOrError"]["results"]
    by_name = {s["name"]: s for s in results}
    nightly = by_name["nightly"]
    assert nightly["cronSchedule"] == "0 3 1 1 *" and nightly["pipelineName"] == "ticked"
    assert nightly["executionTimezone"] == "Europe/Paris"
    assert nightly["defaultStatus"] == "RUNNING"
    state = nightly["scheduleState"]
    assert state["id"] == "schedule:nightly"
    if store.get_instigator_state("schedule:nightly").running is None:
        assert state["status"] == "RUNNING"  # its default_status, nothing in Redis yet
    next_ts = state["nextTick"]["timestamp"]
    assert time.gmtime(next_ts)[1:4] == (1, 1, 2)  # 03:00 in Paris is 02:00 UTC in January
    assert by_name["hourly"]["defaultStatus"] == "STOPPED"
    missing = ui_cluster.graphql(
        SCHEDULES, {"repo": {**REPO, "repositoryLocationName": "nowhere.py"}}
    )["schedulesOrError"]
    assert missing["__typename"] == "RepositoryNotFoundError"
    assert missing["repositoryLocationName"] == "nowhere.py"


def test_start_and_stop_mutations_change_the_state_in_redis(ui_cluster, store):
    sel = {**REPO, "scheduleName": "hourly"}
    started = ui_cluster.graphql(START_SCHEDULE, {"sel": sel})["startSchedule"]
    assert started == {
        "__typename": "ScheduleStateResult",
        "scheduleState": {"id": "schedule:hourly", "status": "RUNNING"},
    }
    assert store.get_instigator_state("schedule:hourly").running is True
    stopped = ui_cluster.graphql(STOP_SCHEDULE, {"id": "schedule:hourly"})["stopRunningSchedule"]
    assert stopped["scheduleState"]["status"] == "STOPPED"
    assert store.get_instigator_state("schedule:hourly").running is False
    unknown = ui_cluster.graphql(START_SCHEDULE, {"sel": {**sel, "scheduleName": "nope"}})
    assert unknown["startSchedule"] == {
        "__typename": "ScheduleNotFoundError",
        "message": "Schedule nope could not be found.",
    }
    with ui_cluster.client() as http:
        action = http.post("/api/sensors/nope/start", json={})
    assert action.status_code == 404 and "no sensor 'nope' is known" in action.json()["error"]


def test_a_started_sensor_ticks_on_the_cluster_and_its_failing_ticks_carry_the_error(
    ui_cluster, store
):
    sel = {**REPO, "sensorName": "failing"}
    started = ui_cluster.graphql(START_SENSOR, {"sel": sel})["startSensor"]
    assert started["sensorState"]["status"] == "RUNNING"
    try:

        def failed_tick() -> dict | None:
            sensor = ui_cluster.graphql(SENSOR, {"sel": sel})["sensorOrError"]
            ticks = sensor["sensorState"]["ticks"]
            return next((t for t in ticks if t["status"] == "FAILURE"), None)

        tick = wait_for(failed_tick, what="a FAILURE tick of sensor failing")
        assert tick["error"]["className"] == "ValueError"
        assert "the feed is down" in tick["error"]["message"]
        assert tick["runIds"] == []
    finally:
        stopped = ui_cluster.graphql(STOP_SENSOR, {"id": "sensor:failing"})["stopSensor"]
    assert stopped["instigationState"] == {"id": "sensor:failing", "status": "STOPPED"}
    assert store.get_instigator_state("sensor:failing").running is False
    sensor = ui_cluster.graphql(SENSOR, {"sel": sel})["sensorOrError"]
    assert sensor["minIntervalSeconds"] == 1 and sensor["targets"] == [{"pipelineName": "ticked"}]
    missing = ui_cluster.graphql(SENSOR, {"sel": {**sel, "sensorName": "nope"}})["sensorOrError"]
    assert missing["__typename"] == "SensorNotFoundError" and missing["sensorName"] == "nope"


def test_one_schedule_and_the_sensors_are_found_by_selector_and_refused_elsewhere(ui_cluster):
    one = """
    query($sel: ScheduleSelector!) {
      scheduleOrError(scheduleSelector: $sel) {
        __typename ... on Schedule { name } ... on ScheduleNotFoundError { scheduleName }
      }
    }
    """
    sensors = """
    query($repo: RepositorySelector!) {
      sensorsOrError(repositorySelector: $repo) {
        __typename ... on Sensors { results { name } } ... on RepositoryNotFoundError { message }
      }
    }
    """
    sel = {**REPO, "scheduleName": "hourly"}
    found = ui_cluster.graphql(one, {"sel": sel})["scheduleOrError"]
    assert found == {"__typename": "Schedule", "name": "hourly"}
    for wrong in ({"scheduleName": "nope"}, {"repositoryLocationName": "nowhere.py"}):
        refused = ui_cluster.graphql(one, {"sel": {**sel, **wrong}})["scheduleOrError"]
        assert refused["__typename"] == "ScheduleNotFoundError"
    listed = ui_cluster.graphql(sensors, {"repo": REPO})["sensorsOrError"]
    assert {"name": "failing"} in listed["results"]
    elsewhere = {**REPO, "repositoryName": "other"}
    missing = ui_cluster.graphql(sensors, {"repo": elsewhere})["sensorsOrError"]
    assert missing["__typename"] == "RepositoryNotFoundError"
    started = ui_cluster.graphql(
        START_SENSOR,
        {"sel": {**REPO, "repositoryLocationName": "nowhere.py", "sensorName": "failing"}},
    )["startSensor"]
    assert started == {"__typename": "SensorNotFoundError"}


def test_backfills_are_listed_with_their_runs_and_canceled_as_the_cli_does(ui_cluster, store):
    backfill_id = backfill(ui_cluster.settings, "slow_regions", "--all", "--max-concurrent", "1")

    def launched() -> dict | None:
        data = ui_cluster.graphql(BACKFILLS)["partitionBackfillsOrError"]["results"]
        found = next(b for b in data if b["id"] == backfill_id)
        return found if found["runs"] else None

    found = wait_for(launched, what=f"a run of backfill {backfill_id}")
    assert found["status"] == "REQUESTED" and found["jobName"] == "slow_regions"
    assert found["partitionNames"] == ["north", "south", "east", "west"]
    assert found["numPartitions"] == 4 and found["numCancelable"] == 1
    run_id = found["runs"][0]["runId"]
    canceled = ui_cluster.graphql(CANCEL, {"id": backfill_id})["cancelPartitionBackfill"]
    assert canceled == {"__typename": "CancelBackfillSuccess", "backfillId": backfill_id}
    progress = store.get_backfill(backfill_id)
    assert progress is not None and progress.record.status == "canceled"
    assert ui_cluster.wait_status(run_id, "CANCELED", "SUCCESS", "FAILURE") == "CANCELED"
    again = ui_cluster.graphql(CANCEL, {"id": backfill_id})["cancelPartitionBackfill"]
    assert again == {
        "__typename": "PythonError",
        "message": f"backfill {backfill_id} is canceled already",
    }
    missing = ui_cluster.graphql(CANCEL, {"id": "nope"})["cancelPartitionBackfill"]
    assert missing["__typename"] == "BackfillNotFoundError"


def test_with_a_token_a_mutation_without_it_is_refused_and_changes_nothing(
    ui_cluster, store, tmp_path
):
    port = free_port()
    process = start_ui(ui_cluster.settings, port, tmp_path / "ui.log", OPGRID_UI_TOKEN="s3cret")
    before = store.get_instigator_state("schedule:hourly").running
    query = {"query": START_SCHEDULE, "variables": {"sel": {**REPO, "scheduleName": "hourly"}}}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            refused = http.post("/graphql", json=query)
            assert refused.status_code == 401
            assert http.post("/api/schedules/hourly/start", json={}).status_code == 401
            assert http.post("/api/backfills/x/cancel", json={}).status_code == 401
            assert store.get_instigator_state("schedule:hourly").running == before
            allowed = http.post("/graphql", json=query, headers={"Authorization": "Bearer s3cret"})
            assert allowed.status_code == 200
            assert allowed.json()["data"]["startSchedule"]["scheduleState"]["status"] == "RUNNING"
        assert store.get_instigator_state("schedule:hourly").running is True
    finally:
        stop(process)
        store.update_instigator_state(
            "schedule:hourly", lambda s: s.model_copy(update={"running": None})
        )


def test_pages_say_whether_a_coordinator_evaluates_ticks(ui_cluster, tmp_path):
    with ui_cluster.client() as http:
        for path in ("/schedules", "/sensors", "/backfills", "/schedules/nightly"):
            page = http.get(path)
            assert page.status_code == 200, path
            assert "Ticks are evaluated by the leading coordinator" in page.text, path
        assert http.get("/sensors/nope").status_code == 404
    lonely = ui_cluster.settings.model_copy(update={"namespace": f"alone-{uuid.uuid4().hex[:6]}"})
    port = free_port()
    process = start_ui(lonely, port, tmp_path / "ui.log")
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            for path in ("/schedules", "/sensors", "/backfills"):
                text = http.get(path).text
                assert "No coordinator is leading the scheduler" in text, path
                assert "ticks are not being evaluated" in text, path
            nightly = http.get("/schedules").text.split('data-name="nightly"')[1]
            assert "(not while no coordinator leads)" in nightly.split("</tr>")[0]
    finally:
        stop(process)
