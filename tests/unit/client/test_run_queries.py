"""A run can be followed from anywhere: ``opgrid.get_run`` attaches to it by a short id,
``opgrid.list_runs`` finds runs by job, status and tag; on the session's real cluster."""

from __future__ import annotations

import pytest

import opgrid
from opgrid import RunNotFound, job, op
from opgrid.orchestrator.client.submit import submit

pytestmark = pytest.mark.integration


@op
def answer() -> int:
    return 42


@job(tags={"team": "queries"})
def queried():
    answer()


@op
def breaks() -> None:
    raise ValueError("no")


@job
def queried_failing():
    breaks()


def test_a_run_is_attached_by_a_short_id_and_its_result_read(session_cluster) -> None:
    settings = session_cluster.settings
    session_cluster.app.opgrid_locations.register(queried)
    handle = submit(queried, settings=settings)
    handle.close()
    attached = opgrid.get_run(handle.run_id[:8], job=queried, settings=settings)
    try:
        assert attached.run_id == handle.run_id
        result = attached.wait(timeout=25)
        assert result.success and result.output_for_node("answer") == 42
    finally:
        attached.close()
    no_job = opgrid.get_run(handle.run_id, settings=settings)
    try:
        assert no_job.status.value == "success"
        with pytest.raises(opgrid.DagsterInvariantViolationError, match="job="):
            no_job.result()
    finally:
        no_job.close()
    with pytest.raises(RunNotFound):
        opgrid.get_run("0000-no-such", settings=settings)


def test_runs_are_listed_by_job_status_and_tag(session_cluster) -> None:
    settings = session_cluster.settings
    good = session_cluster.execute(queried)
    bad = session_cluster.execute(queried_failing, raise_on_error=False)
    assert good.success and not bad.success
    failed = opgrid.list_runs(job="queried_failing", status="failure", settings=settings)
    assert bad.run_id in [record.run_id for record in failed]
    assert all(record.status.value == "failure" for record in failed)
    tagged = opgrid.list_runs(tags={"team": "queries"}, settings=settings)
    assert good.run_id in [record.run_id for record in tagged]
    assert bad.run_id not in [record.run_id for record in tagged]
    assert opgrid.list_runs(job="queried", status=["canceled"], settings=settings) == []
