"""Definitions as Dagster exposes them: input_defs/output_defs, mappings."""

from .shim import dg


@dg.op(ins={"x": dg.In(dg.Int, metadata={"m": 1})}, out=dg.Out(dg.String))
def typed(x, y: str):
    return str(x) + y


@dg.op
def passthrough(value: int) -> int:
    return value


def test_input_and_output_defs_are_sequences_of_definitions():
    assert [d.name for d in typed.input_defs] == ["x", "y"]
    assert typed.input_defs[0].dagster_type.display_name == "Int"
    assert typed.input_defs[1].dagster_type.display_name == "String"
    assert dict(typed.input_defs[0].metadata) == {"m": 1}
    assert [d.name for d in typed.output_defs] == ["result"]
    assert typed.output_defs[0].dagster_type.display_name == "String"
    assert len(typed.input_defs) == 2


def test_graph_inputs_take_the_types_of_the_inputs_they_feed():
    @dg.graph
    def wrapper(value):
        return passthrough(value)

    assert [d.name for d in wrapper.input_defs] == ["value"]
    assert wrapper.input_defs[0].dagster_type.display_name == "Int"
    mapping = wrapper.input_mappings[0]
    assert (mapping.graph_input_name, mapping.mapped_node_name) == ("value", "passthrough")
    assert mapping.mapped_node_input_name == "value"
    out = wrapper.output_mappings[0]
    assert (out.graph_output_name, out.mapped_node_name, out.mapped_node_output_name) == (
        "result",
        "passthrough",
        "result",
    )


def test_graph_definition_with_dagster_style_mappings():
    graph = dg.GraphDefinition(
        name="explicit",
        node_defs=[passthrough],
        input_mappings=[
            dg.InputMapping(
                graph_input_name="number",
                mapped_node_name="passthrough",
                mapped_node_input_name="value",
            )
        ],
        output_mappings=[
            dg.OutputMapping(
                graph_output_name="out",
                mapped_node_name="passthrough",
                mapped_node_output_name="result",
            )
        ],
    )
    assert [d.name for d in graph.input_defs] == ["number"]
    result = graph.execute_in_process(input_values={"number": 4})
    assert result.output_value("out") == 4
