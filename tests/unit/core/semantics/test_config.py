"""Op config schemas, run config layout, job default config, config mapping."""

from typing import List

import pytest

from opgrid import Config, ConfigMapping, DagsterInvalidConfigError, Field, config_mapping, job, op


def test_python_type_schema_dict(execute):
    @op(config_schema={"word": str, "count": int})
    def cfg(context):
        return context.op_config["word"] * context.op_config["count"]

    @job
    def j():
        cfg()

    result = execute(j, run_config={"ops": {"cfg": {"config": {"word": "ab", "count": 2}}}})
    assert result.output_for_node("cfg") == "abab"


def test_scalar_list_and_nested_schemas(execute):
    @op(config_schema={"names": [str], "nested": {"inner": {"deep": int}}})
    def cfg(context):
        return context.op_config

    @op(config_schema=int)
    def scalar(context):
        return context.op_config

    @job
    def j():
        cfg()
        scalar()

    rc = {
        "ops": {
            "cfg": {"config": {"names": ["a", "b"], "nested": {"inner": {"deep": 4}}}},
            "scalar": {"config": 8},
        }
    }
    result = execute(j, run_config=rc)
    assert result.output_for_node("cfg") == {"names": ["a", "b"], "nested": {"inner": {"deep": 4}}}
    assert result.output_for_node("scalar") == 8


def test_field_default_and_optional_field(execute):
    @op(config_schema={"n": Field(int, default_value=5), "label": Field(str, is_required=False)})
    def cfg(context):
        return dict(context.op_config)

    @job
    def j():
        cfg()

    # Optional field absent from op_config; defaulted field filled in; whole op config omittable.
    assert execute(j).output_for_node("cfg") == {"n": 5}
    rc = {"ops": {"cfg": {"config": {"label": "x"}}}}
    assert execute(j, run_config=rc).output_for_node("cfg") == {"n": 5, "label": "x"}


class MyConfig(Config):
    name: str
    count: int = 3
    tags: List[str] = []


def test_pythonic_config_param(execute):
    @op
    def pc(config: MyConfig):
        return (config.name, config.count, config.tags)

    @op
    def pc_ctx(context, config: MyConfig):
        return dict(context.op_config)

    @job
    def j():
        pc()
        pc_ctx()

    rc = {
        "ops": {"pc": {"config": {"name": "n"}}, "pc_ctx": {"config": {"name": "m", "tags": ["t"]}}}
    }
    result = execute(j, run_config=rc)
    assert result.output_for_node("pc") == ("n", 3, [])
    assert result.output_for_node("pc_ctx") == {"name": "m", "count": 3, "tags": ["t"]}


def test_pythonic_config_wrong_type_rejected(execute):
    @op
    def pc(config: MyConfig):
        return config.name

    @job
    def j():
        pc()

    with pytest.raises(DagsterInvalidConfigError) as exc:
        execute(j, run_config={"ops": {"pc": {"config": {"name": 1}}}})
    assert "pc" in str(exc.value) and "name" in str(exc.value)


def test_unconnected_input_from_run_config(execute):
    @op
    def add(num: int, other: int) -> int:
        return num + other

    @job
    def j():
        add()

    rc = {"ops": {"add": {"inputs": {"num": 40, "other": {"value": 2}}}}}
    assert execute(j, run_config=rc).output_for_node("add") == 42


seen = []


@op(config_schema={"a": str, "b": Field(int, default_value=5), "c": Field(str, is_required=False)})
def first(context):
    seen.append(("first", dict(context.op_config)))


@op(config_schema={"x": int})
def second(context):
    seen.append(("second", dict(context.op_config)))


@job(config={"ops": {"first": {"config": {"a": "A", "c": "C"}}, "second": {"config": {"x": 1}}}})
def defaulted_job():
    first()
    second()


def _seen():
    out = dict(seen)
    seen.clear()
    return out


def test_job_config_dict_is_default(execute):
    seen.clear()
    execute(defaulted_job)
    assert _seen() == {"first": {"a": "A", "b": 5, "c": "C"}, "second": {"x": 1}}


def test_job_config_override_of_one_op_keeps_other_ops_defaults(execute):
    seen.clear()
    execute(defaulted_job, run_config={"ops": {"second": {"config": {"x": 2}}}})
    assert _seen() == {"first": {"a": "A", "b": 5, "c": "C"}, "second": {"x": 2}}


def test_job_config_override_replaces_whole_op_config(execute):
    # The op's entry from the launch config replaces the job default for that op entirely:
    # "c" from the job default is NOT merged in (only schema defaults such as "b" apply).
    seen.clear()
    execute(defaulted_job, run_config={"ops": {"first": {"config": {"a": "Z"}}}})
    assert _seen() == {"first": {"a": "Z", "b": 5}, "second": {"x": 1}}


def test_job_config_empty_op_entry_does_not_inherit_default(execute):
    seen.clear()
    with pytest.raises(DagsterInvalidConfigError) as exc:
        execute(defaulted_job, run_config={"ops": {"first": {}}})
    assert "first" in str(exc.value) and "config" in str(exc.value)
    assert _seen() == {}


def test_config_mapping_decorator(execute):
    @op(config_schema={"config_param": str})
    def do_something(context):
        return context.op_config["config_param"]

    @config_mapping(config_schema={"simplified_param": str})
    def simplified(val):
        return {
            "ops": {"do_something": {"config": {"config_param": val["simplified_param"] + "!"}}}
        }

    @job(config=simplified)
    def j():
        do_something()

    result = execute(j, run_config={"simplified_param": "stuff"})
    assert result.output_for_node("do_something") == "stuff!"


def test_config_mapping_object(execute):
    @op(config_schema={"v": int})
    def cfg(context):
        return context.op_config["v"]

    mapping = ConfigMapping(
        config_fn=lambda c: {"ops": {"cfg": {"config": {"v": c["n"] * 2}}}},
        config_schema={"n": int},
    )

    @job(config=mapping)
    def j():
        cfg()

    assert execute(j, run_config={"n": 4}).output_for_node("cfg") == 8


def test_config_mapping_rejects_bad_outer_config(execute):
    @op(config_schema={"v": int})
    def cfg(context):
        return context.op_config["v"]

    @config_mapping(config_schema={"outer_number": int})
    def m(c):
        return {"ops": {"cfg": {"config": {"v": c["outer_number"]}}}}

    @job(config=m)
    def j():
        cfg()

    with pytest.raises(DagsterInvalidConfigError) as exc:
        execute(j, run_config={"outer_number": "nope"})
    assert "outer_number" in str(exc.value)
