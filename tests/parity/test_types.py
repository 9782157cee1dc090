"""Built-in and custom Dagster types, on either library."""

import pytest

from .shim import dg, one_op_job, raised, raised_exc, run


@pytest.mark.parametrize(
    ("dagster_type", "value", "passes"),
    [
        (dg.Int, 1, True),
        (dg.Int, True, True),
        (dg.Int, "a", False),
        (dg.Float, 1.5, True),
        (dg.Float, 1, False),
        (dg.String, "a", True),
        (dg.String, 1, False),
        (dg.Bool, False, True),
        (dg.Bool, 0, False),
        (dg.Any, object(), True),
        (dg.Nothing, None, True),
        (dg.Nothing, 1, False),
        (dg.List[dg.Int], [1, 2], True),
        (dg.List[dg.Int], [1, "a"], False),
        (dg.List[dg.Int], (1,), False),
        (dg.Optional[dg.Int], None, True),
        (dg.Optional[dg.Int], "a", False),
        (dg.Dict[dg.String, dg.Int], {"a": 1}, True),
        (dg.Dict[dg.String, dg.Int], {"a": "b"}, False),
        (dg.Set[dg.Int], {1}, True),
        (dg.Set[dg.Int], [1], False),
        (dg.Tuple[dg.Int, dg.String], (1, "a"), True),
        (dg.Tuple[dg.Int, dg.String], (1, 2), False),
    ],
)
def test_a_returned_value_is_checked_against_its_out_type(dagster_type, value, passes):
    @dg.op(out=dg.Out(dagster_type))
    def produce():
        return value

    outcome = run(one_op_job(produce))
    assert outcome.success is passes
    if not passes:
        assert outcome.errors == {"produce": "DagsterTypeCheckDidNotPass"}


def test_display_names_of_built_in_and_collection_types():
    @dg.op(
        ins={"a": dg.In(dg.Int), "b": dg.In(dg.List[dg.String]), "c": dg.In(dg.Optional[dg.Int])},
        out=dg.Out(dg.Dict[dg.String, dg.Int]),
    )
    def typed(a, b, c):
        return {}

    names = {name: typed.ins[name].dagster_type.display_name for name in ("a", "b", "c")}
    assert names == {"a": "Int", "b": "[String]", "c": "Int?"}
    assert typed.outs["result"].dagster_type.display_name == "Dict[String,Int]"


def test_builtin_types_as_config_schemas():
    @dg.op(config_schema=dg.String)
    def greet(context):
        return context.op_config

    @dg.op(config_schema={"n": dg.Field(dg.Int, default_value=2), "xs": dg.Field([dg.Int])})
    def counts(context):
        return context.op_config

    job = one_op_job(greet)
    assert (
        job.execute_in_process(run_config={"ops": {"greet": {"config": "hi"}}}).output_for_node(
            "greet"
        )
        == "hi"
    )
    assert raised(lambda: job.execute_in_process(run_config={"ops": {"greet": {"config": 3}}})) == (
        "DagsterInvalidConfigError"
    )
    result = one_op_job(counts).execute_in_process(
        run_config={"ops": {"counts": {"config": {"xs": [1]}}}}
    )
    assert result.output_for_node("counts") == {"n": 2, "xs": [1]}


def test_dagster_types_are_not_config_schemas():
    def define(schema):
        @dg.op(config_schema=schema)
        def configured_op(context):
            return context.op_config

    assert raised(lambda: define(dg.List[dg.Int])) == "DagsterInvalidDefinitionError"
    assert raised(lambda: dg.Field(dg.Optional[dg.Int])) == "DagsterInvalidDefinitionError"


def _even_check(_context, value):
    return dg.TypeCheck(
        success=isinstance(value, int) and value % 2 == 0,
        description=f"{value!r} is not even",
        metadata={"value": str(value)},
    )


Even = dg.DagsterType(name="Even", type_check_fn=_even_check, description="an even int")


def test_a_custom_type_reports_description_and_metadata():
    @dg.op(out=dg.Out(Even))
    def odd():
        return 3

    error = raised_exc(lambda: one_op_job(odd).execute_in_process())
    assert type(error).__name__ == "DagsterTypeCheckDidNotPass"
    assert "3 is not even" in str(error)
    assert error.dagster_type.display_name == "Even"
    assert list(error.metadata) == ["value"]
    assert (Even.display_name, Even.description) == ("Even", "an even int")
    assert dg.check_dagster_type(Even, 4).success
    assert not dg.check_dagster_type(Even, 3).success


def test_a_type_check_fn_must_take_two_arguments():
    assert raised(lambda: dg.DagsterType(name="bad", type_check_fn=lambda v: True)) == (
        "DagsterInvalidDefinitionError"
    )


def test_an_input_is_loaded_from_config_by_its_type_loader():
    @dg.dagster_type_loader(config_schema={"half": int})
    def doubled(_context, config):
        return config["half"] * 2

    Doubled = dg.DagsterType(
        name="Doubled", type_check_fn=lambda _c, v: isinstance(v, int), loader=doubled
    )

    @dg.op(ins={"x": dg.In(Doubled)})
    def echo(x):
        return x

    job = one_op_job(echo)
    result = job.execute_in_process(run_config={"ops": {"echo": {"inputs": {"x": {"half": 4}}}}})
    assert result.output_for_node("echo") == 8
    bad = {"ops": {"echo": {"inputs": {"x": {"half": "four"}}}}}
    assert raised(lambda: job.execute_in_process(run_config=bad)) == "DagsterInvalidConfigError"


def test_builtin_input_config_is_strict():
    @dg.op(ins={"x": dg.In(dg.Int)})
    def take(x):
        return x

    job = one_op_job(take)
    assert (
        job.execute_in_process(run_config={"ops": {"take": {"inputs": {"x": 3}}}}).output_for_node(
            "take"
        )
        == 3
    )
    bad = {"ops": {"take": {"inputs": {"x": "3"}}}}
    assert raised(lambda: job.execute_in_process(run_config=bad)) == "DagsterInvalidConfigError"


@dg.usable_as_dagster_type(name="BarType", description="a bar")
class Bar:
    pass


def test_usable_as_dagster_type_names_annotations():
    @dg.op
    def use(bar: Bar) -> int:
        return 1

    assert use.ins["bar"].dagster_type.display_name == "BarType"
    assert use.ins["bar"].dagster_type.description == "a bar"

    @dg.op
    def make_str() -> Bar:
        return "not a bar"

    assert run(one_op_job(make_str)).errors == {"make_str": "DagsterTypeCheckDidNotPass"}


def test_type_check_did_not_pass_keeps_description_and_metadata():
    error = dg.DagsterTypeCheckDidNotPass(description="bad value", metadata={"a": 1})
    assert error.description == "bad value"
    assert list(error.metadata) == ["a"]
    assert str(error) == "bad value"
