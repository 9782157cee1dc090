"""The UI server's API and pages over HTTP against a real cluster."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.harness.processes import stop
from tests.ui.conftest import free_port, start_ui

pytestmark = pytest.mark.integration

LOCATION = "tests/jobs/ui_jobs.py"
LAUNCH = """
mutation($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId status jobName } }
    ... on RunConfigValidationInvalid { errors { message path reason } }
    ... on PipelineNotFoundError { message }
    ... on InvalidSubsetError { message }
    ... on PythonError { message }
  }
}
"""
RUNS = """
query($filter: RunsFilter, $cursor: String, $limit: Int) {
  runsOrError(filter: $filter, cursor: $cursor, limit: $limit) {
    ... on Runs { results { runId status jobName tags { key value } } cursor }
  }
}
"""
HELLO = {"ops": {"greet": {"config": {"name": "ada"}}}}


def _params(job: str, config: dict, tags: dict | None = None, selection=None) -> dict:
    return {
        "selector": {
            "repositoryLocationName": LOCATION,
            "repositoryName": "__repository__",
            "pipelineName": job,
            "solidSelection": selection,
        },
        "runConfigData": config,
        "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]},
    }


def _launch(ui_cluster, job: str, config: dict, **kwargs) -> str:
    result = ui_cluster.graphql(LAUNCH, {"params": _params(job, config, **kwargs)})["launchRun"]
    assert result["__typename"] == "LaunchRunSuccess", result
    return result["run"]["runId"]


def test_launch_over_graphql_runs_the_job_and_the_run_query_shows_steps_and_events(ui_cluster):
    run_id = _launch(ui_cluster, "hello", HELLO, tags={"k": "v"})
    assert ui_cluster.wait_status(run_id, "SUCCESS", "FAILURE") == "SUCCESS"
    query = """query($id: ID!){ runOrError(runId: $id) { ... on Run {
        jobName tags { key value } stepStats { stepKey status attempts }
        eventConnection { cursor hasMore events { eventType stepKey } } } } }"""
    run = ui_cluster.graphql(query, {"id": run_id})["runOrError"]
    assert {"key": "k", "value": "v"} in run["tags"]
    assert {(s["stepKey"], s["status"], s["attempts"]) for s in run["stepStats"]} == {
        ("greet", "SUCCESS", 1),
        ("shout", "SUCCESS", 1),
    }
    kinds = [e["eventType"] for e in run["eventConnection"]["events"]]
    assert kinds[-1] == "RUN_SUCCESS" and "STEP_OUTPUT" in kinds
    cursor = run["eventConnection"]["cursor"]
    later = """query($id: ID!, $c: String){ runOrError(runId: $id) { ... on Run {
        eventConnection(afterCursor: $c) { events { eventType } cursor } } } }"""
    after = ui_cluster.graphql(later, {"id": run_id, "c": cursor})["runOrError"]
    assert after["eventConnection"]["events"] == []


def test_a_bad_config_lists_every_error_at_its_path_and_queues_nothing(ui_cluster):
    bad = {"ops": {"greet": {"config": {"times": "x"}}}, "bogus": 1}
    result = ui_cluster.graphql(LAUNCH, {"params": _params("hello", bad)})["launchRun"]
    assert result["__typename"] == "RunConfigValidationInvalid"
    paths = sorted(tuple(e["path"]) for e in result["errors"])
    assert paths == [
        ("bogus",),
        ("ops", "greet", "config", "name"),
        ("ops", "greet", "config", "times"),
    ]


def test_unknown_job_and_bad_selection_are_refused_by_kind(ui_cluster):
    missing = ui_cluster.graphql(LAUNCH, {"params": _params("nope", {})})["launchRun"]
    assert missing["__typename"] == "PipelineNotFoundError"
    assert "nope" in missing["message"]
    subset = ui_cluster.graphql(LAUNCH, {"params": _params("hello", HELLO, selection=["zzz"])})
    assert subset["launchRun"]["__typename"] == "InvalidSubsetError"
    assert "zzz" in subset["launchRun"]["message"]
    cut = ui_cluster.graphql(LAUNCH, {"params": _params("hello", HELLO, selection=["shout"])})
    assert cut["launchRun"]["__typename"] == "InvalidSubsetError"
    assert "greet" in cut["launchRun"]["message"]


def test_runs_are_filtered_and_paginated_on_the_server(ui_cluster):
    marker = f"batch-{time.monotonic_ns()}"
    ids = [_launch(ui_cluster, "hello", HELLO, tags={"batch": marker}) for _ in range(5)]
    for run_id in ids:
        ui_cluster.wait_status(run_id, "SUCCESS", "FAILURE")
    flt = {"tags": [{"key": "batch", "value": marker}], "pipelineName": "hello"}
    first = ui_cluster.graphql(RUNS, {"filter": flt, "limit": 3})["runsOrError"]
    second = ui_cluster.graphql(RUNS, {"filter": flt, "limit": 3, "cursor": first["cursor"]})
    shown = [r["runId"] for r in first["results"]] + [
        r["runId"] for r in second["runsOrError"]["results"]
    ]
    assert shown == list(reversed(ids))
    assert second["runsOrError"]["cursor"] is None
    failed = ui_cluster.graphql(RUNS, {"filter": {**flt, "statuses": ["FAILURE"]}})
    assert failed["runsOrError"]["results"] == []
    with ui_cluster.client() as http:
        rows = http.get("/api/runs", params={"tag": f"batch={marker}", "status": "success"}).json()
    assert [r["run_id"] for r in rows["runs"]] == list(reversed(ids))
    created = {
        r["runId"]: r["creationTime"]
        for r in ui_cluster.graphql(
            RUNS.replace("jobName", "jobName creationTime"), {"filter": flt}
        )["runsOrError"]["results"]
    }
    since = {**flt, "createdAfter": created[ids[2]] - 1e-6}
    recent = ui_cluster.graphql(RUNS, {"filter": since})["runsOrError"]["results"]
    assert [r["runId"] for r in recent] == list(reversed(ids[2:]))


def test_jobs_workers_and_coordinators_queries(ui_cluster):
    data = ui_cluster.graphql(
        "{jobs {name description isPartitioned partitionKeys ops runConfigSchemaScaffold}"
        " workers {hostname queues} coordinators {id}}"
    )
    jobs = {j["name"]: j for j in data["jobs"]}
    assert jobs["hello"]["ops"] == ["greet", "shout"]
    assert "name: ''" in jobs["hello"]["runConfigSchemaScaffold"]
    assert jobs["regional"]["isPartitioned"] and jobs["regional"]["partitionKeys"] == ["eu", "us"]
    assert [w["queues"] for w in data["workers"]] == [[ui_cluster.settings.default_queue]]
    assert len(data["coordinators"]) == 1


def test_a_partitioned_job_launches_for_its_partition(ui_cluster):
    params = _params("regional", {}, tags={"dagster/partition": "us"})
    result = ui_cluster.graphql(LAUNCH, {"params": params})["launchRun"]
    assert result["__typename"] == "LaunchRunSuccess", result
    run_id = result["run"]["runId"]
    assert ui_cluster.wait_status(run_id, "SUCCESS", "FAILURE") == "SUCCESS"
    with ui_cluster.client() as http:
        page = http.get(f"/runs/{run_id}").text
    assert "partition us" in page and "&#x27;us&#x27;" in page


def test_the_run_page_previews_small_outputs_and_gives_the_size_of_large_ones(ui_cluster):
    run_id = _launch(ui_cluster, "blobs", {})
    assert ui_cluster.wait_status(run_id, "SUCCESS", "FAILURE") == "SUCCESS"
    with ui_cluster.client() as http:
        page = http.get(f"/runs/{run_id}").text
    assert "big_blob.result</td><td>50.1 KiB</td><td class='mono'>(large: not loaded)" in page
    assert "small_len.result</td><td>" in page and "<td class='mono'>51200</td>" in page


def test_pages_render_for_jobs_runs_a_run_the_launchpad_and_the_cluster(ui_cluster):
    run_id = _launch(ui_cluster, "hello", HELLO)
    ui_cluster.wait_status(run_id, "SUCCESS", "FAILURE")
    with ui_cluster.client() as http:
        for path, text in [
            ("/jobs", "Greets someone, loudly."),
            ("/jobs/hello", "<svg"),
            ("/jobs/nested", 'id="graph-inner"'),
            ("/runs", run_id[:8]),
            (f"/runs/{run_id}", "hello adA".upper()[:5]),
            ("/launchpad/hello", "name: &#x27;&#x27;"),
            ("/launchpad/regional", '<option value="eu">'),
            ("/cluster", "Workers (1)"),
        ]:
            page = http.get(path)
            assert page.status_code == 200, path
            assert text in page.text, (path, text)
        assert http.get("/runs/no-such-run").status_code == 404


def test_the_run_stream_sends_new_events_as_they_are_committed(ui_cluster):
    run_id = _launch(ui_cluster, "sleepy", {"ops": {"nap": {"config": {"seconds": 1.5}}}})
    seen = []
    with ui_cluster.client(timeout=15) as http, http.stream("GET", f"/live/runs/{run_id}") as live:
        for line in live.iter_lines():
            if line.startswith("data: "):
                seen.append(json.loads(line[6:]))
                if seen[-1].get("status") == "success":
                    break
    statuses = [s.get("status") for s in seen]
    assert "success" in statuses
    assert any("STEP_START" in s.get("events", "") for s in seen)


def test_cancel_and_reexecute_through_the_json_actions(ui_cluster, tmp_path):
    marker = tmp_path / "marker"
    run_id = _launch(ui_cluster, "gated", {"ops": {"gate": {"config": {"marker": str(marker)}}}})
    assert ui_cluster.wait_status(run_id, "SUCCESS", "FAILURE") == "FAILURE"
    headers = {"X-Opgrid-CSRF": "not-needed-with-json"}
    with ui_cluster.client() as http:
        page = http.get(f"/runs/{run_id}").text
        assert "the marker" in page and "create it, then re-execute" in page  # Failure metadata
        refused = http.post(f"/api/runs/{run_id}/cancel", json={}, headers=headers)
        assert refused.status_code == 409
        marker.write_text("ok")
        again = http.post(f"/api/runs/{run_id}/reexecute", json={"from_failure": True})
        assert again.status_code == 200, again.text
    child = again.json()["run_id"]
    assert ui_cluster.wait_status(child, "SUCCESS", "FAILURE") == "SUCCESS"
    steps = ui_cluster.graphql(
        "query($id: ID!){runOrError(runId: $id){... on Run {stepStats {stepKey attempts}}}}",
        {"id": child},
    )["runOrError"]["stepStats"]
    assert {s["stepKey"]: s["attempts"] for s in steps} == {"first": 0, "gate": 1, "last": 1}
    with ui_cluster.client() as http:
        page = http.get(f"/runs/{child}").text
    assert 'first.result <span class="muted">(reused from the parent run)</span>' in page
    assert "last.result</td>" in page


def test_secret_looking_config_values_never_appear_in_pages_or_answers(ui_cluster):
    config = {
        "ops": {
            "use_vault": {
                "config": {
                    "api_token": "tok-8c1f2e",
                    "dsn": "postgres://bob:pw-77af@db/x",
                    "label": "seen",
                }
            }
        }
    }
    run_id = _launch(ui_cluster, "secretive", config)
    ui_cluster.wait_status(run_id, "SUCCESS", "FAILURE")
    with ui_cluster.client() as http:
        texts = [
            http.get(f"/runs/{run_id}").text,
            http.get(f"/launchpad/secretive?from_run={run_id}").text,
            json.dumps(
                ui_cluster.graphql(
                    "query($id: ID!){runOrError(runId: $id){... on Run {runConfigYaml}}}",
                    {"id": run_id},
                )
            ),
        ]
    for text in texts:
        assert "tok-8c1f2e" not in text and "pw-77af" not in text
    assert "seen" in texts[0] and "***" in texts[2]


def test_cross_site_posts_are_refused(ui_cluster):
    with ui_cluster.client() as http:
        form = http.post("/api/launch", data={"job": "hello"})
        assert form.status_code == 403
        foreign = http.post(
            "/graphql", json={"query": "{version}"}, headers={"Origin": "http://evil.example"}
        )
        assert foreign.status_code == 403
        rebound = http.get("/runs", headers={"Host": "evil.example"})
        assert rebound.status_code == 421
        mutation_by_get = http.get(
            "/graphql", params={"query": 'mutation { terminateRun(runId: "x") { __typename } }'}
        )
        assert mutation_by_get.status_code >= 400


def test_with_a_token_every_request_needs_it_by_header_or_login_cookie(ui_cluster, tmp_path):
    port = free_port()
    process = start_ui(ui_cluster.settings, port, tmp_path / "ui.log", OPGRID_UI_TOKEN="t0ken-abc")
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base) as http:
            assert http.post("/graphql", json={"query": "{version}"}).status_code == 401
            assert http.get("/runs", headers={"accept": "text/html"}).status_code == 303
            bearer = {"Authorization": "Bearer t0ken-abc"}
            assert (
                http.post("/graphql", json={"query": "{version}"}, headers=bearer).status_code
                == 200
            )
            wrong = http.post("/login", data={"token": "nope"})
            assert wrong.status_code == 401
            login = http.post("/login", data={"token": "t0ken-abc"})
            assert login.status_code == 303
            cookie = login.cookies.get("opgrid_ui_session")
            assert cookie and "t0ken-abc" not in cookie
        with httpx.Client(base_url=base, cookies={"opgrid_ui_session": cookie}) as browser:
            page = browser.get("/runs")
            assert page.status_code == 200 and "t0ken-abc" not in page.text
    finally:
        stop(process)


def test_binding_beyond_loopback_without_a_token_refuses_to_start(ui_cluster, tmp_path):
    import subprocess

    from tests.harness.processes import OPGRID, ROOT, cluster_env

    done = subprocess.run(
        [OPGRID, "ui", "-f", LOCATION, "--host", "0.0.0.0", "--port", str(free_port())],
        cwd=ROOT,
        env=cluster_env(ui_cluster.settings),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert "OPGRID_UI_TOKEN" in done.stderr


def test_a_queue_with_steps_and_no_consumer_stands_out_on_the_cluster_page(ui_cluster):
    run_id = _launch(ui_cluster, "hello", HELLO, tags={"opgrid/queue": "nobody-consumes"})
    try:
        deadline = time.monotonic() + 10
        while True:
            queues = ui_cluster.graphql("{queues {name depth consumers} workers {hostname queues}}")
            found = {q["name"]: q for q in queues["queues"]}
            if found.get("nobody-consumes", {}).get("depth") == 1 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert found["nobody-consumes"] == {"name": "nobody-consumes", "depth": 1, "consumers": []}
        assert found[ui_cluster.settings.default_queue]["consumers"]
        with ui_cluster.client() as http:
            page = http.get("/cluster").text
        assert "<tr class=\"orphan\"><td class='mono'>nobody-consumes</td><td>1</td>" in page
    finally:
        with ui_cluster.client() as http:
            http.post(f"/api/runs/{run_id}/cancel", json={})


def test_a_second_ui_process_serves_the_same_cluster_live(ui_cluster, tmp_path):
    port = free_port()
    process = start_ui(ui_cluster.settings, port, tmp_path / "second-ui.log")
    try:
        run_id = _launch(ui_cluster, "sleepy", {"ops": {"nap": {"config": {"seconds": 0.5}}}})
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=15) as other:
            assert run_id[:8] in other.get("/runs").text
            with other.stream("GET", f"/live/runs/{run_id}") as live:
                for line in live.iter_lines():
                    if (
                        line.startswith("data: ")
                        and json.loads(line[6:]).get("status") == "success"
                    ):
                        break
    finally:
        stop(process)


def test_an_unreachable_redis_is_a_clear_503_without_its_password(ui_cluster, tmp_path):
    dead = ui_cluster.settings.model_copy(
        update={"redis_url": "redis://:hunter2-pw@127.0.0.1:1/0", "broker_url": ""}
    )
    port = free_port()
    process = start_ui(dead, port, tmp_path / "dead-ui.log")
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            page = http.get("/runs")
            assert page.status_code == 503
            assert "cannot use the cluster's Redis at redis://:***@127.0.0.1:1/0" in page.text
            answer = http.post("/graphql", json={"query": "{runsOrError {__typename}}"})
            assert answer.json()["data"]["runsOrError"]["__typename"] == "PythonError"
            assert "hunter2-pw" not in page.text + answer.text
    finally:
        stop(process)


def test_a_run_answers_what_a_step_printed_over_graphql(ui_cluster):
    run_id = _launch(ui_cluster, "printer", {})
    assert ui_cluster.wait_status(run_id, "SUCCESS", "FAILURE") == "SUCCESS"
    query = """query($id: ID!, $step: String!){ runOrError(runId: $id) { ... on Run {
        capturedLogs(stepKey: $step) { stepKey attempt stdout stderr stdoutCutBytes } } } }"""
    printed = ui_cluster.graphql(query, {"id": run_id, "step": "chatter"})["runOrError"]
    assert printed["capturedLogs"] == {
        "stepKey": "chatter",
        "attempt": 0,
        "stdout": "hello from <chatter> on stdout\n",
        "stderr": "a warning on stderr\n",
        "stdoutCutBytes": 0,
    }
    nothing = ui_cluster.graphql(query, {"id": run_id, "step": "nobody"})["runOrError"]
    assert nothing["capturedLogs"] is None
    with ui_cluster.client() as http:
        page = http.get(f"/runs/{run_id}/steps/chatter/stdout").text
        missing = http.get(f"/runs/{run_id}/steps/chatter/stdout?attempt=4")
    assert "hello from &lt;chatter&gt; on stdout" in page
    assert missing.status_code == 404 and "attempt 4 of step" in missing.text


COUNT = """
query($filter: RunsFilter, $limit: Int) {
  runsOrError(filter: $filter, limit: $limit) {
    ... on Runs { count results { runId creationTime } }
  }
}
"""


def test_runs_count_is_the_total_the_filter_accepts_over_every_page(ui_cluster):
    marker = f"count-{time.monotonic_ns()}"
    tags = {"batch": marker}
    ids = [_launch(ui_cluster, "hello", HELLO, tags=tags) for _ in range(3)]
    failing = _launch(
        ui_cluster, "gated", {"ops": {"gate": {"config": {"marker": "/nope"}}}}, tags=tags
    )
    for run_id in [*ids, failing]:
        ui_cluster.wait_status(run_id, "SUCCESS", "FAILURE")

    def count(flt: dict | None, limit: int = 50) -> tuple[int, int]:
        runs = ui_cluster.graphql(COUNT, {"filter": flt, "limit": limit})["runsOrError"]
        return runs["count"], len(runs["results"])

    batch = {"tags": [{"key": "batch", "value": marker}]}
    assert count(batch, limit=2) == (4, 2)
    assert count({**batch, "statuses": ["SUCCESS"]})[0] == 3
    assert count({**batch, "statuses": ["FAILURE", "CANCELED"]})[0] == 1
    assert count({**batch, "pipelineName": "gated"})[0] == 1
    assert count({"runIds": [ids[0], failing, "no-such-run"]})[0] == 2
    everything = ui_cluster.graphql(COUNT, {"limit": 500})["runsOrError"]
    assert everything["count"] == len(everything["results"]) >= 4
    since = min(r["creationTime"] for r in everything["results"] if r["runId"] in ids)
    newer = [r for r in everything["results"] if r["creationTime"] >= since]
    assert count({"createdAfter": since - 1e-6}, limit=1) == (len(newer), 1)
