"""Run by the Dagster client's own Python (a venv with dagster-graphql): drives opgrid's UI
server with ``DagsterGraphQLClient`` unchanged and prints one JSON object of findings.

Usage: python dagster_client_script.py PORT MARKER_PATH
"""

import json
import sys
import time

from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError
from dagster_graphql.client import client_queries
from gql import Client, gql
from gql.transport.requests import RequestsHTTPTransport

port = int(sys.argv[1])
marker = sys.argv[2]
client = DagsterGraphQLClient("localhost", port_number=port)
found = {}


def error_of(call):
    try:
        call()
    except DagsterGraphQLClientError as exc:
        return {
            "type": exc.args[0],
            "detail": exc.args[1] if len(exc.args) > 1 else None,
            "body": str(exc.body) if exc.body is not None else None,
        }
    return None


def wait(run_id, timeout=25):
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        status = client.get_run_status(run_id).value
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            return status
        time.sleep(0.2)
    return status


# Every query string of the client validates against the schema the server introspects.
transport = RequestsHTTPTransport(url=f"http://localhost:{port}/graphql")
with Client(transport=transport, fetch_schema_from_transport=True) as session:
    schema_client = session.client
invalid = {}
for name in dir(client_queries):
    if name.isupper():
        errors = __import__("graphql").validate(
            schema_client.schema, gql(getattr(client_queries, name)).document
        )
        if errors and name not in (
            "SHUTDOWN_REPOSITORY_LOCATION_MUTATION",
            "STORE_METRICS_MUTATION",
        ):
            invalid[name] = [str(e) for e in errors]
found["invalid_queries"] = invalid

config = {"ops": {"greet": {"config": {"name": "dagster"}}}}
run_id = client.submit_job_execution("hello", run_config=config, tags={"via": "dagster-client"})
found["run_status"] = wait(run_id)
run_id2 = client.submit_job_execution(
    "hello",
    repository_location_name="tests/jobs/ui_jobs.py",
    repository_name="__repository__",
    run_config=config,
)
found["run_status_with_location"] = wait(run_id2)
run_id3 = client.submit_job_execution(
    "hello",
    repository_location_name="tests/jobs/ui_jobs.py",
    run_config=config,
    op_selection=["greet"],
)
found["selection_status"] = wait(run_id3)
found["bad_config"] = error_of(
    lambda: client.submit_job_execution(
        "hello", run_config={"ops": {"greet": {"config": {"name": 3, "extra": 1}}}}
    )
)
found["missing_job"] = error_of(lambda: client.submit_job_execution("nope", run_config={}))
found["missing_job_with_location"] = error_of(
    lambda: client.submit_job_execution(
        "nope",
        repository_location_name="tests/jobs/ui_jobs.py",
        repository_name="__repository__",
        run_config={},
    )
)
# Dagster 1.13's client asks InvalidSubsetError for no field, then reads its message:
# against Dagster's own server it raises KeyError too (the API test checks the answer).
try:
    client.submit_job_execution("hello", run_config=config, op_selection=["nosuchop"])
    found["bad_selection"] = "launched"
except KeyError:
    found["bad_selection"] = "InvalidSubsetError"
found["unplannable"] = error_of(lambda: client.submit_job_execution("unresourced", run_config={}))
found["missing_run"] = error_of(lambda: client.get_run_status("no-such-run"))
long_run = client.submit_job_execution(
    "sleepy", run_config={"ops": {"nap": {"config": {"seconds": 20}}}}
)
time.sleep(1.0)
client.terminate_run(long_run)
found["terminated_status"] = wait(long_run)
found["terminate_missing"] = error_of(lambda: client.terminate_run("no-such-run"))
a = client.submit_job_execution("sleepy", run_config={"ops": {"nap": {"config": {"seconds": 20}}}})
b = client.submit_job_execution("sleepy", run_config={"ops": {"nap": {"config": {"seconds": 20}}}})
client.terminate_runs([a, b])
found["terminate_runs_statuses"] = [wait(a), wait(b)]
found["terminate_runs_partly"] = error_of(lambda: client.terminate_runs([run_id, "no-such-run"]))
reload_ok = client.reload_repository_location("tests/jobs/ui_jobs.py")
found["reload"] = reload_ok.status.value
reload_missing = client.reload_repository_location("nope")
found["reload_missing"] = [reload_missing.status.value, reload_missing.failure_type]
print(json.dumps(found))
