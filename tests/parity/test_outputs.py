"""Typed returns, Output/DynamicOutput values and output metadata."""

import typing

from .shim import dg, one_op_job, raised, run


def test_output_of_t_declares_t():
    @dg.op
    def typed() -> dg.Output[int]:
        return dg.Output("a")

    @dg.op
    def untyped() -> dg.Output:
        return dg.Output("a")

    assert typed.outs["result"].dagster_type.display_name == "Int"
    assert untyped.outs["result"].dagster_type.display_name == "Any"
    assert run(one_op_job(typed)).errors == {"typed": "DagsterTypeCheckDidNotPass"}
    assert run(one_op_job(untyped)).success


def test_list_of_dynamic_output_declares_the_item_type():
    @dg.op(out=dg.DynamicOut())
    def fan() -> typing.List[dg.DynamicOutput[int]]:
        return [dg.DynamicOutput("x", "a")]

    assert fan.outs["result"].dagster_type.display_name == "Int"
    assert run(one_op_job(fan)).errors == {"fan": "DagsterTypeCheckDidNotPass"}


def test_generator_annotations_declare_no_type():
    @dg.op
    def events() -> typing.Iterator[dg.Output[int]]:
        yield dg.Output("not checked against the annotation")

    assert events.outs["result"].dagster_type.display_name == "Any"
    assert run(one_op_job(events)).success


def test_a_bare_dynamic_output_annotation_is_refused():
    def define():
        @dg.op(out=dg.DynamicOut())
        def single() -> dg.DynamicOutput[int]:
            return dg.DynamicOutput(1, "a")

    assert raised(define) == "DagsterInvalidDefinitionError"


def test_outputs_compare_by_value():
    assert dg.Output(1) == dg.Output(1)
    assert dg.Output(1, "a") != dg.Output(1, "b")
    assert dg.Output(1, metadata={"a": 1}) != dg.Output(1)
    assert dg.DynamicOutput(1, "k") == dg.DynamicOutput(1, "k")
    assert dg.DynamicOutput(1, "k") != dg.DynamicOutput(1, "j")


def _metadata(event):
    return {k: getattr(v, "value", v) for k, v in event.event_specific_data.metadata.items()}


def test_output_metadata_shows_on_step_output_events():
    @dg.op
    def counted(context):
        context.add_output_metadata({"rows": 3})
        context.add_output_metadata({"cols": 2})
        return 1

    @dg.op
    def explicit():
        return dg.Output(2, metadata={"k": "v"})

    @dg.op(out={"a": dg.Out(), "b": dg.Out()})
    def two(context):
        context.add_output_metadata({"x": 1}, output_name="a")
        return 1, 2

    @dg.job
    def metadata_job():
        counted()
        explicit()
        two()

    result = metadata_job.execute_in_process()
    found = {
        (e.step_key, e.event_specific_data.step_output_handle.output_name): _metadata(e)
        for e in result.all_events
        if e.event_type_value == "STEP_OUTPUT"
    }
    assert found == {
        ("counted", "result"): {"rows": 3, "cols": 2},
        ("explicit", "result"): {"k": "v"},
        ("two", "a"): {"x": 1},
        ("two", "b"): {},
    }


def test_add_output_metadata_needs_a_name_when_there_are_several_outputs():
    @dg.op(out={"a": dg.Out(), "b": dg.Out()})
    def ambiguous(context):
        context.add_output_metadata({"x": 1})
        return 1, 2

    assert run(one_op_job(ambiguous)).errors == {"ambiguous": "DagsterInvariantViolationError"}
