"""Op failure semantics: untouched downstream, independent branches, raise_on_error."""

import pytest

from opgrid import Failure, job, op


class MyOpError(Exception):
    pass


@op
def one():
    return 1


@op
def explode(x):
    raise MyOpError("exploded")


@op
def after(x):
    return x


@op
def after_after(x):
    return x


@op
def independent():
    return "indep"


@job
def failing_job():
    after_after(after(explode(one())))
    independent()


def test_failed_op_reported_failed(execute):
    result = execute(failing_job, raise_on_error=False)
    assert not result.success
    assert result.is_node_failed("explode")
    assert not result.is_node_success("explode")
    assert result.is_node_success("one")


def test_downstream_of_failure_untouched_not_skipped(execute):
    result = execute(failing_job, raise_on_error=False)
    for name in ["after", "after_after"]:
        assert result.is_node_untouched(name), name
        assert not result.is_node_skipped(name), name
        assert not result.is_node_failed(name), name
        assert not result.is_node_success(name), name


def test_downstream_of_failure_has_no_step_events(execute):
    result = execute(failing_job, raise_on_error=False)
    keys = {e.step_key for e in result.all_events}
    assert "after" not in keys
    assert "after_after" not in keys


def test_independent_branch_still_runs(execute):
    result = execute(failing_job, raise_on_error=False)
    assert result.is_node_success("independent")
    assert result.output_for_node("independent") == "indep"


def test_failure_events(execute, events_for):
    result = execute(failing_job, raise_on_error=False)
    evs = events_for(result, "explode")
    assert evs[0] == "STEP_START"
    assert evs[-1] == "STEP_FAILURE"
    run_level = [e.event_type_value for e in result.all_events if e.step_key is None]
    # Dagster reports run-level events with legacy PIPELINE_ names.
    assert run_level[-1] == "PIPELINE_FAILURE"
    assert "PIPELINE_SUCCESS" not in run_level


def test_raise_on_error_true_reraises_user_exception(execute):
    with pytest.raises(MyOpError, match="exploded"):
        execute(failing_job)


def test_raise_on_error_default_is_true(execute):
    with pytest.raises(MyOpError):
        execute(failing_job, raise_on_error=True)


def test_raise_on_error_false_returns_result(execute):
    result = execute(failing_job, raise_on_error=False)
    assert result.success is False
    assert result.run_id


def test_failure_exception_raised_as_failure(execute):
    @op
    def fails_explicitly():
        raise Failure(description="explicit failure")

    @job
    def j():
        fails_explicitly()

    with pytest.raises(Failure) as exc:
        execute(j)
    assert exc.value.description == "explicit failure"


def test_op_failure_in_graph_execute(execute):
    from opgrid import graph

    @graph
    def g():
        after(explode(one()))

    result = execute(g, raise_on_error=False)
    assert not result.success
    assert result.is_node_failed("explode")
    assert result.is_node_untouched("after")
