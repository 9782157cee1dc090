"""In-process execution details beyond the Dagster-pinned semantics."""

from __future__ import annotations

import time

import pytest

from opgrid import (
    DagsterResourceFunctionError,
    RetryPolicy,
    graph,
    job,
    op,
    resource,
    success_hook,
)


@op
def one() -> int:
    return 1


def test_context_log_lines_are_kept_apart_from_step_events(capsys):
    @op
    def chatty(context) -> int:
        context.log.info("first %s", "line")
        context.log.warning("second")
        return 1

    @job
    def logs():
        chatty()

    result = logs.execute_in_process()
    assert [(e.level, e.message) for e in result.log_messages] == [
        ("INFO", "first line"),
        ("WARNING", "second"),
    ]
    assert all(e.event_type_value != "LOG_MESSAGE" for e in result.all_events)
    assert "first line" in capsys.readouterr().err


def test_a_failing_hook_is_reported_and_does_not_fail_the_step():
    @success_hook
    def broken(_context):
        raise RuntimeError("hook bug")

    @job(hooks={broken})
    def hooked():
        one()

    result = hooked.execute_in_process()
    assert result.success
    events = [e for e in result.all_events if e.step_key == "one"]
    assert [e.event_type_value for e in events][-2:] == ["STEP_SUCCESS", "HOOK_ERRORED"]
    assert events[-1].error is not None and events[-1].error.message == "hook bug"


def test_resource_that_fails_to_initialise_fails_the_run_before_any_op():
    ran = []

    @resource
    def broken(_context):
        raise ConnectionError("no database")

    @op(required_resource_keys={"db"})
    def uses(context) -> None:
        ran.append(True)

    @job(resource_defs={"db": broken})
    def needs():
        uses()

    with pytest.raises(DagsterResourceFunctionError, match="'db'"):
        needs.execute_in_process()
    result = needs.execute_in_process(raise_on_error=False)
    assert not result.success and ran == []
    assert result.all_events[-1].event_type_value == "PIPELINE_FAILURE"


def test_retry_waits_for_the_policy_delay():
    starts: list[float] = []

    @op(retry_policy=RetryPolicy(max_retries=1, delay=0.2))
    def flaky(context) -> int:
        starts.append(time.monotonic())
        if context.retry_number == 0:
            raise ValueError("first")
        return 2

    @job
    def retried():
        flaky()

    result = retried.execute_in_process()
    assert result.success
    assert starts[1] - starts[0] >= 0.2
    kinds = [e.event_type_value for e in result.all_events if e.step_key == "flaky"]
    assert kinds == [
        "STEP_START",
        "STEP_UP_FOR_RETRY",
        "STEP_RESTARTED",
        "STEP_OUTPUT",
        "STEP_SUCCESS",
    ]


def test_independent_steps_run_while_a_retry_waits():
    order: list[str] = []

    @op(retry_policy=RetryPolicy(max_retries=1, delay=0.1))
    def slow_retry(context) -> None:
        order.append(f"retry{context.retry_number}")
        if context.retry_number == 0:
            raise ValueError("again")

    @op
    def other() -> None:
        order.append("other")

    @job
    def both():
        slow_retry()
        other()

    assert both.execute_in_process().success
    assert order.index("other") < order.index("retry1")


def test_graph_inputs_take_values_at_launch():
    @op
    def double(x: int) -> int:
        return 2 * x

    @graph
    def doubler(x):
        return double(x)

    result = doubler.execute_in_process(input_values={"x": 21})
    assert result.output_value() == 42
    assert result.dagster_run.job_name == "doubler"


def test_every_event_carries_the_run_id_and_a_timestamp():
    @job
    def tiny():
        one()

    result = tiny.execute_in_process(run_id="fixed-run-id")
    assert result.run_id == "fixed-run-id"
    assert {e.run_id for e in result.all_events} == {"fixed-run-id"}
    stamps = [e.timestamp for e in result.all_events]
    assert stamps == sorted(stamps)
