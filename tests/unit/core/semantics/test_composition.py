"""@op forms and @job/@graph composition."""

from typing import List

from opgrid import In, Nothing, Out, Output, graph, job, op


@op
def return_five():
    return 5


@op
def add_one(num):
    return num + 1


def test_op_without_context_returning_value(execute):
    @job
    def j():
        add_one(return_five())

    result = execute(j)
    assert result.success
    assert result.output_for_node("return_five") == 5
    assert result.output_for_node("add_one") == 6


def test_op_with_context_and_annotated_inputs(execute):
    @op
    def ctx_op(context, value: int) -> int:
        context.log.info("got %s" % value)
        return value * 2

    @job
    def j():
        ctx_op(return_five())

    assert execute(j).output_for_node("ctx_op") == 10


def test_returned_tuple_maps_to_multiple_outs(execute):
    @op(out={"a": Out(), "b": Out()})
    def two():
        return 1, 2

    @job
    def j():
        a, b = two()
        add_one.alias("from_a")(a)
        add_one.alias("from_b")(b)

    result = execute(j)
    assert result.output_for_node("two", "a") == 1
    assert result.output_for_node("two", "b") == 2
    assert result.output_for_node("from_a") == 2
    assert result.output_for_node("from_b") == 3


def test_returned_output_object_default_name(execute):
    @op
    def ret_output():
        return Output(7)

    @op
    def ret_named():
        return Output(8, "result")

    @job
    def j():
        ret_output()
        ret_named()

    result = execute(j)
    assert result.output_for_node("ret_output") == 7
    assert result.output_for_node("ret_named") == 8


def test_returned_tuple_of_named_outputs(execute):
    @op(out={"a": Out(), "b": Out()})
    def two():
        return Output(1, "a"), Output(2, "b")

    @job
    def j():
        two()

    result = execute(j)
    assert result.output_for_node("two", "a") == 1
    assert result.output_for_node("two", "b") == 2


def test_yielded_outputs_in_any_order(execute):
    @op(out={"a": Out(), "b": Out()})
    def two():
        yield Output(20, "b")
        yield Output(10, "a")

    @job
    def j():
        two()

    result = execute(j)
    assert result.output_for_node("two", "a") == 10
    assert result.output_for_node("two", "b") == 20


def test_optional_output_not_yielded_is_ok_and_skips_downstream(execute):
    @op(out={"a": Out(), "maybe": Out(is_required=False)})
    def partial():
        yield Output(1, "a")

    @job
    def j():
        a, maybe = partial()
        add_one.alias("after_a")(a)
        add_one.alias("after_maybe")(maybe)

    result = execute(j)
    assert result.success
    assert result.is_node_success("partial")
    assert result.output_for_node("after_a") == 2
    assert result.is_node_skipped("after_maybe")


def test_in_default_value_used_when_unconnected(execute):
    @op(ins={"v": In(default_value=9)})
    def dflt(v):
        return v

    @op
    def py_default(v: int = 7):
        return v

    @job
    def j():
        dflt()
        py_default()

    result = execute(j)
    assert result.output_for_node("dflt") == 9
    assert result.output_for_node("py_default") == 7


def test_ins_dict_with_type(execute):
    @op(ins={"x": In(int)})
    def typed(x):
        return x + 1

    @job
    def j():
        typed(return_five())

    assert execute(j).output_for_node("typed") == 6


def test_op_name_and_description_override(execute):
    @op(name="renamed_op", description="does a thing")
    def original_fn():
        return 1

    assert original_fn.name == "renamed_op"
    assert original_fn.description == "does a thing"

    @job
    def j():
        original_fn()

    assert execute(j).output_for_node("renamed_op") == 1


def test_same_op_twice_is_auto_aliased(execute):
    @job
    def j():
        add_one(add_one(add_one(return_five())))

    result = execute(j)
    assert result.output_for_node("add_one") == 6
    assert result.output_for_node("add_one_2") == 7
    assert result.output_for_node("add_one_3") == 8


def test_alias_names_the_node(execute):
    @job
    def j():
        add_one.alias("second")(add_one(return_five()))

    result = execute(j)
    assert result.output_for_node("add_one") == 6
    assert result.output_for_node("second") == 7


def test_op_context_exposes_run_and_op_info(execute):
    @op
    def info(context):
        return (context.run_id, context.job_name, context.op_def.name, context.retry_number)

    @job
    def info_job():
        info()

    result = execute(info_job)
    run_id, job_name, op_name, retry_number = result.output_for_node("info")
    assert run_id == result.run_id
    assert job_name == "info_job"
    assert op_name == "info"
    assert retry_number == 0
    assert result.dagster_run.job_name == "info_job"


def test_list_of_outputs_fans_in(execute):
    @op
    def total(nums: List[int]) -> int:
        return sum(nums)

    @job
    def j():
        total([return_five(), return_five(), add_one(return_five())])

    assert execute(j).output_for_node("total") == 16


def test_start_keyword_into_nothing_input_orders_ops(execute):
    order = []

    @op
    def first():
        order.append("first")

    @op(ins={"start": In(Nothing)})
    def second():
        order.append("second")
        return "done"

    @job
    def j():
        second(start=first())

    result = execute(j)
    assert order == ["first", "second"]
    assert result.output_for_node("second") == "done"


def test_graph_execute_in_process_with_input_values(execute):
    @graph
    def g(x):
        return add_one(x)

    result = execute(g, input_values={"x": 41})
    assert result.success
    assert result.output_value() == 42
    assert result.output_for_node("add_one") == 42


def test_graph_to_job_with_name_tags_config(execute):
    @op(config_schema={"v": int})
    def cfg(context):
        return context.op_config["v"]

    @graph
    def g():
        cfg()

    j = g.to_job(name="g_job", tags={"team": "x"}, config={"ops": {"cfg": {"config": {"v": 3}}}})
    assert j.name == "g_job"
    result = execute(j)
    assert result.dagster_run.job_name == "g_job"
    assert result.dagster_run.tags["team"] == "x"
    assert result.output_for_node("cfg") == 3


def test_graph_to_job_default_name_is_graph_name():
    @graph
    def my_graph():
        return_five()

    assert my_graph.to_job().name == "my_graph"


def test_successful_step_event_order(execute, events_for):
    @job
    def j():
        add_one(return_five())

    result = execute(j)
    evs = [
        e
        for e in events_for(result, "add_one")
        if e in ("STEP_START", "STEP_OUTPUT", "STEP_SUCCESS")
    ]
    assert evs == ["STEP_START", "STEP_OUTPUT", "STEP_SUCCESS"]
