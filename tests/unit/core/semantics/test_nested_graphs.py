"""Graphs nested inside graphs/jobs, with input and output mapping."""

from opgrid import GraphOut, graph, job, op


@op
def seed() -> int:
    return 10


@op
def inc(x: int) -> int:
    return x + 1


@graph
def inner(x):
    return inc(x)


@graph(out={"via_inner": GraphOut(), "direct": GraphOut()})
def outer(y):
    return {"via_inner": inner(y), "direct": inc(y)}


@job
def nested_job():
    via_inner, direct = outer(seed())
    inc.alias("final")(via_inner)
    inc.alias("final_direct")(direct)


def test_nested_nodes_addressed_with_dots(execute):
    result = execute(nested_job)
    assert result.success
    assert result.output_for_node("outer.inner.inc") == 11
    assert result.output_for_node("outer.inc") == 11


def test_graph_outputs_addressed_on_graph_node(execute):
    result = execute(nested_job)
    assert result.output_for_node("outer", "via_inner") == 11
    assert result.output_for_node("outer", "direct") == 11


def test_graph_outputs_feed_downstream_ops(execute):
    result = execute(nested_job)
    assert result.output_for_node("final") == 12
    assert result.output_for_node("final_direct") == 12


def test_graph_returning_single_value_has_result_output(execute):
    @job
    def j():
        inc.alias("after")(inner(seed()))

    result = execute(j)
    assert result.output_for_node("inner") == 11
    assert result.output_for_node("after") == 12


def test_graph_execute_with_multiple_graph_outputs(execute):
    result = execute(outer, input_values={"y": 1})
    assert result.output_value("via_inner") == 2
    assert result.output_value("direct") == 2


def test_graph_execute_default_output(execute):
    result = execute(inner, input_values={"x": 5})
    assert result.output_value() == 6
    assert result.is_node_success("inc")
    assert result.dagster_run.job_name == "inner"


def test_nested_op_config_path(execute):
    @op(config_schema={"v": int})
    def cv(context, x):
        return context.op_config["v"] + x

    @graph
    def cgraph():
        return cv(seed())

    @job
    def j():
        cgraph()

    rc = {"ops": {"cgraph": {"ops": {"cv": {"config": {"v": 5}}}}}}
    assert execute(j, run_config=rc).output_for_node("cgraph.cv") == 15


def test_failure_inside_nested_graph_marks_graph_node(execute):
    @op
    def boom(x):
        raise ValueError("inner failure")

    @graph
    def bad_graph(x):
        return boom(x)

    @job
    def j():
        inc.alias("after")(bad_graph(seed()))

    result = execute(j, raise_on_error=False)
    assert not result.success
    assert result.is_node_failed("bad_graph.boom")
    assert result.is_node_untouched("after")
