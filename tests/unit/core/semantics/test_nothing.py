"""In(Nothing) ordering dependencies."""

from opgrid import In, Nothing, Out, Output, job, op


def test_nothing_input_runs_after_upstream(execute):
    order = []

    @op
    def create_table_1():
        order.append("t1")

    @op(ins={"start": In(Nothing)})
    def create_table_2():
        order.append("t2")

    @job
    def j():
        create_table_2(start=create_table_1())

    result = execute(j)
    assert result.success
    assert order == ["t1", "t2"]


def test_nothing_input_has_no_function_parameter_alongside_data_input(execute):
    @op
    def value() -> int:
        return 4

    @op
    def marker():
        return "ignored"

    @op(ins={"num": In(int), "after": In(Nothing)})
    def uses_value(num):
        return num * 2

    @job
    def j():
        uses_value(num=value(), after=marker())

    assert execute(j).output_for_node("uses_value") == 8


def test_nothing_fan_in_from_list(execute):
    ran = []

    @op
    def a():
        ran.append("a")

    @op
    def b():
        ran.append("b")

    @op(ins={"start": In(Nothing)})
    def last():
        ran.append("last")

    @job
    def j():
        last(start=[a(), b()])

    execute(j)
    assert ran[-1] == "last"
    assert sorted(ran[:2]) == ["a", "b"]


@op(config_schema={"emit": [str]}, out={"a": Out(is_required=False), "b": Out(is_required=False)})
def emitter(context):
    for name in context.op_config["emit"]:
        yield Output(None, name)


@op(ins={"start": In(Nothing)})
def waits():
    return "ran"


@job
def nothing_fan_job():
    a, b = emitter()
    waits(start=[a, b])


def _cfg(emit):
    return {"ops": {"emitter": {"config": {"emit": emit}}}}


def test_nothing_fan_in_runs_if_any_source_present(execute):
    result = execute(nothing_fan_job, run_config=_cfg(["b"]))
    assert result.output_for_node("waits") == "ran"


def test_nothing_fan_in_skipped_when_all_sources_missing(execute):
    result = execute(nothing_fan_job, run_config=_cfg([]))
    assert result.success
    assert result.is_node_skipped("waits")


def test_single_nothing_input_skipped_when_source_missing(execute):
    @job
    def j():
        a, b = emitter()
        waits(start=b)

    result = execute(j, run_config=_cfg(["a"]))
    assert result.is_node_skipped("waits")


def test_nothing_input_downstream_of_failure_is_untouched(execute):
    @op
    def fails():
        raise RuntimeError("x")

    @job
    def j():
        waits(start=fails())

    result = execute(j, raise_on_error=False)
    assert result.is_node_failed("fails")
    assert result.is_node_untouched("waits")
    assert not result.is_node_skipped("waits")
