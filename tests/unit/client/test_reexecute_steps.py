"""Re-executing selected steps: only they run, reading what the parent run stored; on the
session's real cluster, through ``opgrid run reexecute --step``."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import opgrid
from opgrid import job, op
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.cli import main
from opgrid.orchestrator.client.reexecute import reexecute
from opgrid.orchestrator.store.redis import RedisRunStore

pytestmark = pytest.mark.integration


@op
def load() -> int:
    return 20


@op
def double(value: int) -> int:
    return value * 2


@op
def report(value: int) -> str:
    return f"total {value}"


@job
def chain_of_three():
    report(double(load()))


def _env(settings) -> dict[str, str]:
    return {
        "OPGRID_REDIS_URL": settings.redis_url,
        "OPGRID_NAMESPACE": settings.namespace,
        "OPGRID_SECRET": settings.secret.get_secret_value(),
        "OPGRID_DEFAULT_QUEUE": settings.default_queue,
    }


def test_only_the_selected_step_runs_reading_the_parents_outputs(session_cluster) -> None:
    settings = session_cluster.settings
    parent = session_cluster.execute(chain_of_three)
    assert parent.output_for_node("report") == "total 40"
    result = CliRunner().invoke(
        main,
        ["run", "reexecute", parent.run_id[:8], "--step", "double", "--wait", "--timeout", "25"],
        env=_env(settings),
    )
    assert result.exit_code == 0, result.output
    assert "reusing 1 step(s)" in result.output and "status  success" in result.output
    child_id = result.output.split()[1]
    child = opgrid.get_run(child_id, job=chain_of_three, settings=settings)
    try:
        outcome = child.result()
        started = [e.step_key for e in outcome.all_events if e.kind is E.STEP_START]
        assert started == ["double"]  # load was reused, report not selected
        assert outcome.output_for_node("double") == 40
        assert child.events()[0].message.startswith("re-execution of step(s) double")
    finally:
        child.close()


def test_an_unknown_step_is_refused_and_a_selection_keeps_the_steps_it_reads(session_cluster):
    settings = session_cluster.settings
    parent = session_cluster.execute(chain_of_three)
    store = RedisRunStore.from_settings(settings)
    try:
        with pytest.raises(opgrid.DagsterInvariantViolationError, match="no step 'nope'"):
            reexecute(store, parent.run_id, steps=["nope"])
        record = reexecute(store, parent.run_id, steps=["double", "report"])
        assert [s.key for s in store.get_plan(record.run_id).steps] == ["load", "double", "report"]
        assert list(record.reused) == ["load"]
    finally:
        store.client.close()
    both = CliRunner().invoke(
        main,
        ["run", "reexecute", parent.run_id, "--step", "double", "--from-failure"],
        env=_env(settings),
    )
    assert both.exit_code == 2 and "not both" in both.output
