"""Conditional branching: optional outputs and skip cascades."""

from opgrid import Out, Output, job, op


def _brancher(which):
    @op(out={"left": Out(is_required=False), "right": Out(is_required=False)})
    def brancher():
        yield Output(1, which)

    return brancher


@op
def left_op(v):
    return ("left", v)


@op
def right_op(v):
    return ("right", v)


@op
def after_right(v):
    return v


@op
def after_after_right(v):
    return v


def _job(which):
    brancher = _brancher(which)

    @job
    def branching():
        left, right = brancher()
        left_op(left)
        after_after_right(after_right(right_op(right)))

    return branching


def test_only_yielded_branch_runs(execute):
    result = execute(_job("left"))
    assert result.success
    assert result.is_node_success("left_op")
    assert result.output_for_node("left_op") == ("left", 1)
    assert result.is_node_skipped("right_op")
    assert not result.is_node_success("right_op")


def test_other_branch_runs_when_other_output_yielded(execute):
    result = execute(_job("right"))
    assert result.is_node_skipped("left_op")
    assert result.output_for_node("right_op") == ("right", 1)
    assert result.output_for_node("after_after_right") == ("right", 1)


def test_skip_cascades_to_all_downstream(execute):
    result = execute(_job("left"))
    for name in ["right_op", "after_right", "after_after_right"]:
        assert result.is_node_skipped(name), name
        assert not result.is_node_untouched(name), name
        assert not result.is_node_failed(name), name


def test_skipped_steps_emit_step_skipped_events(execute, events_for):
    result = execute(_job("left"))
    for name in ["right_op", "after_right", "after_after_right"]:
        assert events_for(result, name) == ["STEP_SKIPPED"], name
    assert "STEP_SUCCESS" in events_for(result, "left_op")


def test_run_with_skips_is_successful(execute):
    result = execute(_job("left"))
    assert result.success
    run_events = [e.event_type_value for e in result.all_events if e.step_key is None]
    # Dagster still reports the run-level events with the legacy PIPELINE_ names.
    assert "PIPELINE_SUCCESS" in run_events
    assert "PIPELINE_START" in run_events
