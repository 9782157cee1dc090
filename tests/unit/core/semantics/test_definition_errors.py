"""Graph construction errors raise DagsterInvalidDefinitionError."""

from typing import List

import pytest

from opgrid import (
    DagsterInvalidDefinitionError,
    DependencyDefinition,
    GraphDefinition,
    MultiDependencyDefinition,
    Out,
    job,
    op,
)

# Real Dagster emits a follow-on UserWarning ("received an uninvoked op") when a
# composition body raises; it is not part of the behaviour pinned here.
pytestmark = pytest.mark.filterwarnings("ignore:.*uninvoked op:UserWarning")


@op
def node_alpha(in_val):
    return in_val


@op
def node_beta(in_val):
    return in_val


@op
def emit_value():
    return 1


@op
def takes_scalar(scalar_in: int):
    return scalar_in


@op
def takes_list(list_in: List[int]):
    return list_in


def test_cycle_in_graph_definition():
    with pytest.raises(DagsterInvalidDefinitionError) as exc:
        GraphDefinition(
            name="cyclic",
            node_defs=[node_alpha, node_beta],
            dependencies={
                "node_alpha": {"in_val": DependencyDefinition("node_beta")},
                "node_beta": {"in_val": DependencyDefinition("node_alpha")},
            },
        )
    assert "node_alpha" in str(exc.value) and "node_beta" in str(exc.value)


def test_unknown_upstream_node():
    with pytest.raises(DagsterInvalidDefinitionError) as exc:
        GraphDefinition(
            name="g",
            node_defs=[node_alpha],
            dependencies={"node_alpha": {"in_val": DependencyDefinition("ghost_node")}},
        )
    assert "ghost_node" in str(exc.value)


def test_unknown_downstream_node_key():
    with pytest.raises(DagsterInvalidDefinitionError) as exc:
        GraphDefinition(
            name="g",
            node_defs=[node_alpha],
            dependencies={"phantom_node": {"in_val": DependencyDefinition("node_alpha")}},
        )
    assert "phantom_node" in str(exc.value)


def test_unknown_input():
    with pytest.raises(DagsterInvalidDefinitionError) as exc:
        GraphDefinition(
            name="g",
            node_defs=[node_alpha, emit_value],
            dependencies={"node_alpha": {"bogus_input": DependencyDefinition("emit_value")}},
        )
    assert "node_alpha" in str(exc.value) and "bogus_input" in str(exc.value)


def test_unknown_output():
    with pytest.raises(DagsterInvalidDefinitionError) as exc:
        GraphDefinition(
            name="g",
            node_defs=[node_alpha, emit_value],
            dependencies={
                "node_alpha": {"in_val": DependencyDefinition("emit_value", "bogus_output")}
            },
        )
    assert "emit_value" in str(exc.value) and "bogus_output" in str(exc.value)


def test_fan_in_into_non_list_input_graph_definition():
    with pytest.raises(DagsterInvalidDefinitionError) as exc:
        GraphDefinition(
            name="g",
            node_defs=[takes_scalar, emit_value],
            dependencies={
                "takes_scalar": {
                    "scalar_in": MultiDependencyDefinition([DependencyDefinition("emit_value")])
                }
            },
        )
    assert "scalar_in" in str(exc.value)


def test_fan_in_into_non_list_input_composition():
    with pytest.raises(DagsterInvalidDefinitionError) as exc:

        @job
        def j():
            takes_scalar([emit_value(), emit_value.alias("e2")()])

    assert "scalar_in" in str(exc.value)


def test_too_many_positional_args():
    with pytest.raises(DagsterInvalidDefinitionError) as exc:

        @job
        def j():
            node_alpha(emit_value(), emit_value.alias("e2")())

    assert "node_alpha" in str(exc.value)


def test_unknown_keyword_input_in_composition():
    with pytest.raises(DagsterInvalidDefinitionError) as exc:

        @job
        def j():
            node_alpha(wrong_kw=emit_value())

    assert "node_alpha" in str(exc.value) and "wrong_kw" in str(exc.value)


def test_non_output_passed_in_composition():
    with pytest.raises(DagsterInvalidDefinitionError) as exc:

        @job
        def j():
            node_alpha(5)

    assert "node_alpha" in str(exc.value) and "in_val" in str(exc.value)


def test_multi_output_tuple_passed_whole():
    @op(out={"out_p": Out(), "out_q": Out()})
    def two():
        return 1, 2

    with pytest.raises(DagsterInvalidDefinitionError) as exc:

        @job
        def j():
            node_alpha(two())

    assert "node_alpha" in str(exc.value) and "in_val" in str(exc.value)


def test_same_alias_used_twice_in_composition():
    with pytest.raises(DagsterInvalidDefinitionError) as exc:

        @job
        def j():
            emit_value.alias("dup_alias")()
            emit_value.alias("dup_alias")()

    assert "dup_alias" in str(exc.value)


def test_conflicting_defs_with_same_name():
    @op(name="node_alpha")
    def impostor():
        return 2

    # GraphDefinition construction accepts it; building the job rejects it.
    with pytest.raises(DagsterInvalidDefinitionError) as exc:
        GraphDefinition(name="g", node_defs=[node_alpha, impostor]).to_job()
    assert "node_alpha" in str(exc.value)


def test_duplicate_fan_in_source():
    with pytest.raises(DagsterInvalidDefinitionError) as exc:

        @job
        def j():
            v = emit_value()
            takes_list([v, v])

    assert "emit_value" in str(exc.value)
