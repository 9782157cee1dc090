"""The subset is a pure function of (graph, selection), and keeps the full job's handles."""

import pytest

from opgrid import DagsterInvalidSubsetError, job, op
from opgrid.handle import resolve_op
from opgrid.orchestrator.planning.compiler import compile_plan
from opgrid.orchestrator.planning.plan import ExecutionPlan
from opgrid.selection import parse_clause, subset_graph


@op
def a():
    return 1


@op
def b(x):
    return x


@op(tags={"kind": "c"})
def c(x):
    return x


@job
def line():
    c.alias("c2")(b(a()))


@pytest.mark.parametrize(
    ("clause", "parsed"),
    [("a", ("a", 0, 0)), ("*a", ("a", 1 << 30, 0)), ("++a+", ("a", 2, 1)), ("g.a", ("g.a", 0, 0))],
)
def test_clauses_parse(clause, parsed):
    assert parse_clause(clause) == parsed


@pytest.mark.parametrize("clause", ["", "a b", "*g.a", "a**"])
def test_bad_clauses_are_refused(clause):
    with pytest.raises(DagsterInvalidSubsetError):
        parse_clause(clause)


def test_the_subset_is_deterministic():
    first = subset_graph(line.graph, ["b+"])
    second = subset_graph(line.graph, ["b+"])
    assert list(first.node_dict) == list(second.node_dict) == ["b", "c2"]
    assert first.edges == second.edges


def test_a_worker_resolving_by_handle_on_the_full_job_runs_the_same_ops():
    subset = line.get_subset(op_selection=["b*"])
    plan = compile_plan(subset, {"ops": {"b": {"inputs": {"x": {"value": 3}}}}})
    assert plan.op_selection == ["b*"]
    copy = ExecutionPlan.model_validate_json(plan.model_dump_json())
    assert copy.op_selection == ["b*"]
    for step in plan.steps:
        assert resolve_op(line, step.key).op_def is resolve_op(subset, step.key).op_def
        assert resolve_op(line, step.key).tags == resolve_op(subset, step.key).tags
