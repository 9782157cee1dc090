"""Dagster's own GraphQL client, unchanged, against opgrid's UI server.

The client lives in a venv of its own (it pulls in dagster): ``OPGRID_DAGSTER_CLIENT_PYTHON``
names that venv's python. CI creates it (``.ci/run``); without it this test skips, except
under CI, where it fails.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

CLIENT_PYTHON = os.environ.get("OPGRID_DAGSTER_CLIENT_PYTHON", "")
SCRIPT = Path(__file__).with_name("dagster_client_script.py")


@pytest.fixture(scope="module")
def findings(request, tmp_path_factory) -> dict:
    if not CLIENT_PYTHON:
        if os.environ.get("CI"):
            pytest.fail("CI must run Dagster's client: .ci/run sets OPGRID_DAGSTER_CLIENT_PYTHON")
        pytest.skip("OPGRID_DAGSTER_CLIENT_PYTHON is not set (a python with dagster-graphql)")
    ui_cluster = request.getfixturevalue("ui_cluster")
    marker = tmp_path_factory.mktemp("client") / "marker"
    done = subprocess.run(
        [CLIENT_PYTHON, str(SCRIPT), str(ui_cluster.port), str(marker)],
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.timeout(180)
def test_every_client_query_validates_against_the_introspected_schema(findings):
    assert findings["invalid_queries"] == {}


@pytest.mark.timeout(180)
def test_submit_with_and_without_a_location_runs_the_job(findings):
    assert findings["run_status"] == "SUCCESS"
    assert findings["run_status_with_location"] == "SUCCESS"
    assert findings["selection_status"] == "SUCCESS"


@pytest.mark.timeout(180)
def test_a_bad_config_is_refused_with_every_error_at_its_path(findings):
    error = findings["bad_config"]
    assert error["type"] == "RunConfigValidationInvalid"
    paths = sorted(tuple(e["path"]) for e in error["detail"])
    assert paths == [("ops", "greet", "config", "extra"), ("ops", "greet", "config", "name")]
    reasons = {e["reason"] for e in error["detail"]}
    assert reasons == {"FIELD_NOT_DEFINED", "RUNTIME_TYPE_MISMATCH"}


@pytest.mark.timeout(180)
def test_unknown_jobs_runs_and_selections_get_dagsters_error_types(findings):
    assert findings["missing_job"]["type"] == "JobNotFoundError"
    assert findings["missing_job_with_location"]["type"] == "PipelineNotFoundError"
    assert findings["bad_selection"] == "InvalidSubsetError"
    assert findings["missing_run"]["type"] == "RunNotFoundError"
    unplannable = findings["unplannable"]
    assert unplannable["type"] == "PythonError"
    assert "resource with key 'warehouse' required by op" in unplannable["detail"]
    assert findings["terminate_missing"]["type"] == "RunNotFoundError"
    assert findings["terminate_runs_partly"]["type"] == "TerminateRunsError"


@pytest.mark.timeout(180)
def test_terminate_run_and_runs_cancel_them(findings):
    assert findings["terminated_status"] == "CANCELED"
    assert findings["terminate_runs_statuses"] == ["CANCELED", "CANCELED"]


@pytest.mark.timeout(180)
def test_reload_repository_location(findings):
    assert findings["reload"] == "SUCCESS"
    assert findings["reload_missing"] == ["FAILURE", "RepositoryLocationNotFound"]
