"""Config types and config errors."""

import enum
from typing import Optional

from .shim import dg, one_op_job, raised, raised_exc


def _run_config(op_name, config):
    return {"ops": {op_name: {"config": config}}}


def test_enum_config_takes_config_values_and_gives_python_values():
    Level = dg.Enum("Level", [dg.EnumValue("LOW", python_value=1), dg.EnumValue("HIGH")])

    @dg.op(config_schema={"level": Level})
    def level(context):
        return context.op_config["level"]

    job = one_op_job(level)
    assert (
        job.execute_in_process(run_config=_run_config("level", {"level": "LOW"})).output_for_node(
            "level"
        )
        == 1
    )
    assert (
        job.execute_in_process(run_config=_run_config("level", {"level": "HIGH"})).output_for_node(
            "level"
        )
        == "HIGH"
    )
    bad = _run_config("level", {"level": "MID"})
    assert raised(lambda: job.execute_in_process(run_config=bad)) == "DagsterInvalidConfigError"


class Color(enum.Enum):
    RED = "r"
    GREEN = "g"


class Paint(dg.Config):
    color: Color
    coats: Optional[int] = None


def test_python_enum_fields_of_config_classes_are_taken_by_member_name():
    @dg.op
    def paint(config: Paint):
        return config.color.name, config.coats

    job = one_op_job(paint)
    result = job.execute_in_process(run_config=_run_config("paint", {"color": "GREEN"}))
    assert result.output_for_node("paint") == ("GREEN", None)
    with_none = _run_config("paint", {"color": "RED", "coats": None})
    assert job.execute_in_process(run_config=with_none).output_for_node("paint") == ("RED", None)


def test_map_schemas():
    @dg.op(config_schema={"weights": dg.Map(str, int), "other": {str: int}})
    def weights(context):
        return context.op_config

    job = one_op_job(weights)
    config = {"weights": {"a": 1, "b": 2}, "other": {"c": 3}}
    assert (
        job.execute_in_process(run_config=_run_config("weights", config)).output_for_node("weights")
        == config
    )
    bad = _run_config("weights", {"weights": {"a": "x"}, "other": {}})
    assert raised(lambda: job.execute_in_process(run_config=bad)) == "DagsterInvalidConfigError"


def test_an_op_without_config_schema_accepts_any_config():
    @dg.op
    def anything(context):
        return context.op_config

    job = one_op_job(anything)
    assert job.execute_in_process(
        run_config=_run_config("anything", {"free": [1, "form"]})
    ).output_for_node("anything") == {"free": [1, "form"]}


def test_unexpected_config_entry_is_reported_in_dagster_words():
    @dg.op(config_schema={"a": int})
    def strict(context):
        return context.op_config

    error = raised_exc(
        lambda: one_op_job(strict).execute_in_process(
            run_config=_run_config("strict", {"a": 1, "b": 2})
        )
    )
    assert type(error).__name__ == "DagsterInvalidConfigError"
    assert 'Received unexpected config entry "b"' in str(error)
    assert len(error.errors) == 1
    assert "unexpected config entry" in error.errors[0].message
    assert error.errors[0].reason.__str__().endswith("FIELD_NOT_DEFINED")
    missing = raised_exc(
        lambda: one_op_job(strict).execute_in_process(run_config=_run_config("strict", {}))
    )
    assert 'Missing required config entry "a"' in str(missing)


def test_an_invalid_schema_is_a_config_definition_error():
    class NotASchema:
        pass

    def define():
        @dg.op(config_schema={"x": NotASchema})
        def broken(context):
            return context.op_config

    assert raised(define) == "DagsterInvalidConfigDefinitionError"


def test_field_is_required_as_dagster_resolves_it():
    Field = dg.Field
    assert Field(int).is_required
    assert not Field(int, default_value=1).is_required
    assert not Field(dg.Noneable(int)).is_required
    assert not Field({"a": Field(int, default_value=1)}).is_required
    assert Field({"a": int}).is_required


class Count(dg.Config):
    n: int = 1


@dg.op
def counted(config: Count):
    return config.n


@dg.graph
def counting_graph():
    counted()


@dg.job
def counting_job():
    counting_graph()
    counted.alias("top")()


def test_run_config_objects_reach_ops_inside_graphs():
    run_config = dg.RunConfig(
        ops={"counting_graph": {"ops": {"counted": Count(n=5)}}, "top": Count(n=2)}
    )
    result = counting_job.execute_in_process(run_config=run_config)
    assert (result.output_for_node("counting_graph.counted"), result.output_for_node("top")) == (
        5,
        2,
    )
    plain = dg.RunConfig(ops={"top": Count(n=2)}).to_config_dict()
    assert plain["ops"] == {"top": {"config": {"n": 2}}}


def test_a_scalar_mismatch_is_reported_in_dagster_words():
    @dg.op(config_schema={"a": int})
    def typed(context):
        return context.op_config

    error = raised_exc(
        lambda: one_op_job(typed, "scalar_job").execute_in_process(
            run_config=_run_config("typed", {"a": "x"})
        )
    )
    assert "Error in config for job scalar_job" in str(error)
    assert 'Value "x" of type "<class \'str\'>" is not valid for expected type "Int"' in str(error)
