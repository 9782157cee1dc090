"""The UI server's API over HTTP against a real cluster."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

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


def _params(job: str, config: dict, tags: list | None = None, selection=None) -> dict:
    return {
        "selector": {
            "repositoryLocationName": "tests/ui/jobs_for_ui.py",
            "repositoryName": "__repository__",
            "pipelineName": job,
            "solidSelection": selection,
        },
        "runConfigData": config,
        "executionMetadata": {"tags": tags or []},
    }


def test_launch_over_graphql_runs_the_job_on_the_cluster(ui_cluster):
    config = {"ops": {"greet": {"config": {"name": "ada"}}}}
    data = ui_cluster.graphql(LAUNCH, {"params": _params("hello", config, [{"key": "k", "value": "v"}])})
    result = data["launchRun"]
    assert result["__typename"] == "LaunchRunSuccess", result
    run_id = result["run"]["runId"]
    assert ui_cluster.wait_status(run_id, "SUCCESS", "FAILURE") == "SUCCESS"
