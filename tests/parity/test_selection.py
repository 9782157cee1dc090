"""op_selection: Dagster's clause syntax, nested paths, inputs from config."""

import pytest

from .shim import dg, raised


@dg.op
def a():
    return 1


@dg.op
def b(x):
    return x + 1


@dg.op
def c(x):
    return x * 10


@dg.op
def d(x, y):
    return x + y


@dg.graph
def inner(x):
    return c(b(x))


@dg.job
def chain():
    first = a()
    d(c(b(first)), inner(first))


def V(value):
    return {"value": value}


def _succeeded(result):
    return sorted({e.step_key for e in result.all_events if e.event_type_value == "STEP_SUCCESS"})


@pytest.mark.parametrize(
    ("selection", "ops", "steps"),
    [
        (["a"], None, ["a"]),
        (["*c"], None, ["a", "b", "c"]),
        (["b+"], {"b": {"inputs": {"x": V(5)}}}, ["b", "c"]),
        (["+c"], {"b": {"inputs": {"x": V(5)}}}, ["b", "c"]),
        (["++c"], None, ["a", "b", "c"]),
        (["a*"], None, ["a", "b", "c", "d", "inner.b", "inner.c"]),
        (["b", "c"], {"b": {"inputs": {"x": V(5)}}}, ["b", "c"]),
        (["inner"], {"inner": {"inputs": {"x": V(1)}}}, ["inner.b", "inner.c"]),
        (["inner.b"], {"inner": {"inputs": {"x": V(1)}}}, ["inner.b"]),
        (["inner.c"], {"inner": {"ops": {"c": {"inputs": {"x": V(2)}}}}}, ["inner.c"]),
        (
            ["inner*"],
            {"inner": {"inputs": {"x": V(1)}}, "d": {"inputs": {"x": V(1)}}},
            ["d", "inner.b", "inner.c"],
        ),
        (["d"], {"d": {"inputs": {"x": V(2), "y": V(3)}}}, ["d"]),
        (["a", "a"], None, ["a"]),
    ],
)
def test_selection_runs_exactly_the_selected_steps(selection, ops, steps):
    run_config = {"ops": ops} if ops else None
    result = chain.execute_in_process(op_selection=selection, run_config=run_config)
    assert _succeeded(result) == steps


def test_selected_out_inputs_come_from_run_config():
    result = chain.execute_in_process(
        op_selection=["c"], run_config={"ops": {"c": {"inputs": {"x": V(2)}}}}
    )
    assert result.output_for_node("c") == 20
    assert raised(lambda: chain.execute_in_process(op_selection=["c"])) == (
        "DagsterInvalidConfigError"
    )


def test_unknown_nodes_and_operators_on_nested_paths_are_refused():
    assert raised(lambda: chain.execute_in_process(op_selection=["nope"])) == (
        "DagsterInvalidSubsetError"
    )
    assert raised(lambda: chain.execute_in_process(op_selection=["*inner.c"])) == (
        "DagsterInvalidSubsetError"
    )


def test_get_subset_keeps_the_name_and_records_the_selection():
    subset = chain.get_subset(op_selection=["a", "b"])
    assert subset.name == "chain"
    assert sorted(subset.op_selection) == ["a", "b"]
    assert sorted(node.name for node in subset.graph.nodes) == ["a", "b"]
    assert _succeeded(subset.execute_in_process()) == ["a", "b"]
    result = chain.execute_in_process(op_selection=["a"])
    assert raised(lambda: result.output_for_node("b")) == "DagsterInvariantViolationError"


def test_to_job_and_graph_execute_take_a_selection():
    job = inner.to_job(name="inner_b", op_selection=["b"])
    assert _succeeded(job.execute_in_process(run_config={"inputs": {"x": V(1)}})) == ["b"]
    result = inner.execute_in_process(
        op_selection=["c"], run_config={"ops": {"c": {"inputs": {"x": V(1)}}}}
    )
    assert _succeeded(result) == ["c"]
