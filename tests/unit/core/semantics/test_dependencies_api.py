"""GraphDefinition built explicitly from DependencyDefinition & friends."""

from typing import List

from opgrid import (
    DependencyDefinition,
    GraphDefinition,
    MultiDependencyDefinition,
    NodeInvocation,
    Out,
    op,
)


@op
def emit_one() -> int:
    return 1


@op
def plus_one(num: int) -> int:
    return num + 1


@op
def minus(left: int, right: int) -> int:
    return left - right


@op
def total(nums: List[int]) -> int:
    return sum(nums)


@op(out={"hi": Out(), "lo": Out()})
def split():
    return 10, 3


def test_positional_dependency_definition(execute):
    g = GraphDefinition(
        name="pos_graph",
        node_defs=[emit_one, plus_one],
        dependencies={"plus_one": {"num": DependencyDefinition("emit_one", "result")}},
    )
    result = execute(g.to_job())
    assert result.output_for_node("plus_one") == 2


def test_node_keyword_and_default_output(execute):
    g = GraphDefinition(
        name="kw_graph",
        node_defs=[emit_one, plus_one],
        dependencies={"plus_one": {"num": DependencyDefinition(node="emit_one")}},
    )
    assert execute(g.to_job()).output_for_node("plus_one") == 2


def test_named_outputs_wired_by_dependency_definition(execute):
    g = GraphDefinition(
        name="named_out_graph",
        node_defs=[split, minus],
        dependencies={
            "minus": {
                "left": DependencyDefinition("split", "hi"),
                "right": DependencyDefinition("split", "lo"),
            }
        },
    )
    assert execute(g.to_job()).output_for_node("minus") == 7


def test_multi_dependency_definition_fans_in(execute):
    g = GraphDefinition(
        name="multi_graph",
        node_defs=[emit_one, plus_one, total],
        dependencies={
            "plus_one": {"num": DependencyDefinition("emit_one")},
            "total": {
                "nums": MultiDependencyDefinition(
                    [DependencyDefinition("emit_one"), DependencyDefinition("plus_one")]
                )
            },
        },
    )
    assert execute(g.to_job()).output_for_node("total") == 3


def test_node_invocation_aliases(execute):
    g = GraphDefinition(
        name="alias_graph",
        node_defs=[emit_one, plus_one],
        dependencies={
            NodeInvocation("plus_one", alias="first"): {"num": DependencyDefinition("emit_one")},
            NodeInvocation("plus_one", alias="second"): {"num": DependencyDefinition("first")},
        },
    )
    result = execute(g.to_job())
    assert result.output_for_node("first") == 2
    assert result.output_for_node("second") == 3


def test_unconnected_input_via_run_config(execute):
    g = GraphDefinition(name="unconnected", node_defs=[plus_one])
    result = execute(g.to_job(), run_config={"ops": {"plus_one": {"inputs": {"num": 4}}}})
    assert result.output_for_node("plus_one") == 5


def test_graph_definition_description_and_name():
    g = GraphDefinition(name="described", node_defs=[emit_one], description="some text")
    assert g.name == "described"
    assert g.description == "some text"


def test_same_def_listed_twice_in_node_defs_is_deduplicated(execute):
    g = GraphDefinition(name="dedup", node_defs=[emit_one, emit_one])
    assert [n.name for n in g.nodes] == ["emit_one"]
    assert execute(g.to_job()).output_for_node("emit_one") == 1
