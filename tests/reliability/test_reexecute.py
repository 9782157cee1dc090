"""``opgrid run reexecute RUN_ID --from-failure`` on real workers: only what failed runs."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from opgrid import local_coordinator, submit
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.cli import main
from opgrid.orchestrator.client.submit import RunHandle
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.envelopes import io_manager_from_settings
from opgrid.orchestrator.store.redis import RedisRunStore
from tests.harness.processes import Processes, fast_settings
from tests.jobs import faults_jobs as jobs

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

RAN_ONCE = ["base", "steady", "fan", "piece0", "piece1"]
RAN_AGAIN = ["shaky", "piece2"]


def test_reexecution_from_failure_runs_only_what_failed_or_never_ran(
    procs: Processes, settings: Settings
) -> None:
    fixed = procs.tmp_path / "fixed"
    procs.env["FIXED"] = str(fixed)
    procs.worker("w1", concurrency=2)
    settings = fast_settings(settings)
    opgrid = CliRunner()
    with local_coordinator(settings):
        parent = submit(jobs.flaky_pipeline, settings=settings).wait(timeout=30)
        assert not parent.success
        fixed.touch()
        done = opgrid.invoke(
            main,
            ["run", "reexecute", parent.run_id, "--from-failure", "--wait", "--timeout", "30"],
            env=procs.env,
        )
    assert done.exit_code == 0, done.output
    child_id = done.output.split()[1]
    assert f"re-executes run {parent.run_id}, reusing 5 step(s)" in done.output
    assert re.search(
        r"summary\n  run id  \S+\n  job     flaky_pipeline\n  status  success", done.output
    )

    for op_name in RAN_ONCE:
        assert len(procs.marks_of(op_name, "start")) == 1, op_name
    for op_name in RAN_AGAIN:
        assert len(procs.marks_of(op_name, "start")) == 2, op_name
    assert len(procs.marks_of("after_shaky", "start")) == 1  # never ran in the parent
    assert len(procs.marks_of("gather", "start")) == 1

    child = RunHandle(
        jobs.flaky_pipeline,
        child_id,
        RedisRunStore.from_settings(settings),
        io_manager_from_settings(settings),
    )
    try:
        result = child.result()
        record = child._store.get_run(child_id)
    finally:
        child.close()
    assert result.success
    assert result.output_for_node("after_shaky") == 22  # from the parent's base: 10
    assert result.output_for_node("gather") == 300  # 0 + 100 (reused) + 200 (new)
    assert result.output_for_node("steady") == "steady"  # reused, readable in the child
    assert record.tags["dagster/parent_run_id"] == parent.run_id
    assert record.tags["dagster/root_run_id"] == parent.run_id
    started = {e.step_key for e in result.all_events if e.kind is E.STEP_START}
    assert started == {"shaky", "after_shaky", "piece[2]", "gather"}


def test_a_successful_run_is_not_reexecuted_from_failure_but_can_run_again(
    procs: Processes, settings: Settings
) -> None:
    procs.worker("w1")
    settings = fast_settings(settings)
    opgrid = CliRunner()
    with local_coordinator(settings):
        parent = submit(jobs.single, settings=settings).wait(timeout=20)
        refused = opgrid.invoke(
            main, ["run", "reexecute", parent.run_id, "--from-failure"], env=procs.env
        )
        again = opgrid.invoke(main, ["run", "reexecute", parent.run_id, "--wait"], env=procs.env)
        missing = opgrid.invoke(main, ["run", "reexecute", "no-such-run"], env=procs.env)

    assert refused.exit_code == 2 and "there is no failure to re-execute from" in refused.output
    assert again.exit_code == 0, again.output
    assert len(procs.marks_of("once", "start")) == 2
    assert missing.exit_code == 2 and "no run 'no-such-run'" in missing.output
