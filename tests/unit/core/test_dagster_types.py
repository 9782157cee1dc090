"""Dagster types inside opgrid: annotations, fan-in into typed lists, loaders in plans."""

import typing

import pytest

import opgrid
from opgrid import DagsterTypeCheckDidNotPass, In, List, Out, op
from opgrid.dagster_type import BUILTIN_ANY, BUILTIN_INT, resolve_dagster_type
from opgrid.orchestrator.planning.compiler import compile_plan


@pytest.mark.parametrize(
    ("annotation", "name"),
    [
        (int, "Int"),
        (typing.List[int], "[Int]"),
        (list[str], "[String]"),
        (typing.Optional[int], "Int?"),
        (dict[str, int], "Dict[String,Int]"),
        (set[int], "Set[Int]"),
        (tuple[int, str], "Tuple[Int,String]"),
        (typing.Any, "Any"),
        (typing.Union[int, str], "Union[int, str]"),
    ],
)
def test_annotations_resolve_to_named_dagster_types(annotation, name):
    assert resolve_dagster_type(annotation).display_name == name


def test_builtin_scalars_are_the_python_classes():
    assert (opgrid.Int, opgrid.String, opgrid.Bool, opgrid.Float) == (int, str, bool, float)
    assert resolve_dagster_type(opgrid.Int) is BUILTIN_INT
    assert resolve_dagster_type(opgrid.Any) is BUILTIN_ANY


def test_a_union_annotation_still_checks_its_members():
    @op
    def bad() -> int | str:
        return 1.5

    job = opgrid.GraphDefinition(name="union_job", node_defs=[bad]).to_job()
    with pytest.raises(DagsterTypeCheckDidNotPass, match=r"int \| str"):
        job.execute_in_process()


def test_a_fan_in_may_feed_a_dagster_list_input():
    @op
    def one() -> int:
        return 1

    @op(ins={"xs": In(List[opgrid.Int])})
    def total(xs):
        return sum(xs)

    @opgrid.job
    def fan():
        total([one(), one.alias("two")()])

    assert fan.execute_in_process().output_for_node("total") == 2


def test_the_type_check_error_names_the_op_and_the_output():
    @op(out=Out(opgrid.String))
    def wrong():
        return 3

    job = opgrid.GraphDefinition(name="wrong_job", node_defs=[wrong]).to_job()
    with pytest.raises(DagsterTypeCheckDidNotPass) as info:
        job.execute_in_process()
    assert 'step output "result"' in str(info.value)
    assert 'op "wrong"' in str(info.value)
    assert "must be a string" in str(info.value)


def test_loader_config_is_validated_when_the_plan_is_compiled():
    @opgrid.dagster_type_loader(config_schema=int)
    def from_int(_context, value):
        return str(value)

    Text = opgrid.DagsterType(
        name="Text", type_check_fn=lambda _c, v: isinstance(v, str), loader=from_int
    )

    @op(ins={"x": In(Text)})
    def shout(x):
        return x.upper()

    job = opgrid.GraphDefinition(name="loader_job", node_defs=[shout]).to_job()
    with pytest.raises(opgrid.DagsterInvalidConfigError) as info:
        compile_plan(job, {"ops": {"shout": {"inputs": {"x": "no"}}}})
    assert info.value.errors[0].path == "ops.shout.inputs.x"
    plan = compile_plan(job, {"ops": {"shout": {"inputs": {"x": 5}}}})
    assert plan.steps[0].inputs[0].value == 5  # the plan carries config, the step loads it
