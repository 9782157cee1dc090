"""The plan compiler: flattening, sources, config validation, determinism, JSON."""

from __future__ import annotations

import pytest

from opgrid import (
    ConfigError,
    DagsterInvalidDefinitionError,
    DynamicOut,
    DynamicOutput,
    Field,
    In,
    Nothing,
    RetryPolicy,
    graph,
    job,
    op,
    resource,
)
from opgrid.orchestrator.planning.compiler import compile_plan
from opgrid.orchestrator.planning.plan import ExecutionPlan


@op
def one() -> int:
    return 1


@op
def add_one(number: int) -> int:
    return number + 1


@op
def total(numbers: list[int]) -> int:
    return sum(numbers)


@op(config_schema={"param": str, "count": Field(int, default_value=2)})
def configured(context) -> str:
    return context.op_config["param"]


@graph
def inner(x):
    return add_one(add_one(x))


@job
def nested():
    inner(one())


def test_nested_graph_steps_are_keyed_by_node_handle_in_topological_order():
    plan = compile_plan(nested)
    assert [s.key for s in plan.steps] == ["one", "inner.add_one", "inner.add_one_2"]
    step = plan.step_named()["inner.add_one"]
    assert step.inputs[0].kind == "from_step"
    assert step.inputs[0].sources[0].step == "one"


def test_plan_round_trips_through_json():
    plan = compile_plan(nested, tags={"team": "data"})
    again = ExecutionPlan.model_validate_json(plan.model_dump_json())
    assert again == plan
    assert again.tags == {"team": "data"}


def test_compiling_twice_gives_equal_plans():
    assert compile_plan(nested) == compile_plan(nested)


def test_fan_in_lists_every_source_in_order():
    @job
    def fan():
        total([one.alias(f"one_{i}")() for i in range(3)])

    step = compile_plan(fan).step_named()["total"]
    assert step.inputs[0].kind == "fan_in"
    assert [s.step for s in step.inputs[0].sources] == ["one_0", "one_1", "one_2"]


def test_mapped_steps_are_templates_of_the_dynamic_output():
    @op(out=DynamicOut())
    def emit():
        yield DynamicOutput(1, "a")

    @job
    def dyn():
        total(emit().map(add_one).collect())

    steps = compile_plan(dyn).step_named()
    assert steps["add_one"].mapped_by is not None
    assert steps["add_one"].mapped_by.step == "emit"
    assert steps["total"].mapped_by is None
    assert steps["total"].inputs[0].kind == "collect"


def test_nothing_input_is_marked_and_carries_no_value():
    @op(ins={"start": In(Nothing)})
    def after() -> None:
        return None

    @job
    def ordered():
        after(start=one())

    step = compile_plan(ordered).step_named()["after"]
    assert step.inputs[0].is_nothing


def test_every_bad_config_field_is_reported_with_its_dotted_path():
    @job
    def two():
        configured()
        configured.alias("other")()

    with pytest.raises(ConfigError) as exc:
        compile_plan(
            two,
            {
                "ops": {
                    "configured": {"config": {"param": 1, "extra": True}},
                    "ghost": {},
                },
                "bogus": 1,
            },
        )
    paths = {path for path, _ in exc.value.errors}
    assert paths == {
        "bogus",
        "ops.ghost",
        "ops.configured.config.param",
        "ops.configured.config.extra",
        "ops.other.config.param",
    }
    assert 'ops.other.config.param: Missing required config entry "param"' in str(exc.value)


def test_config_defaults_are_filled_into_the_plan():
    @job
    def single():
        configured()

    plan = compile_plan(single, {"ops": {"configured": {"config": {"param": "x"}}}})
    assert plan.step_named()["configured"].config == {"param": "x", "count": 2}


def test_unconnected_input_comes_from_config_and_is_type_checked():
    @job
    def lone():
        add_one()

    plan = compile_plan(lone, {"ops": {"add_one": {"inputs": {"number": {"value": 4}}}}})
    assert plan.step_named()["add_one"].inputs[0].value == 4
    with pytest.raises(ConfigError) as exc:
        compile_plan(lone, {"ops": {"add_one": {"inputs": {"number": "four"}}}})
    assert exc.value.errors[0][0] == "ops.add_one.inputs.number"
    with pytest.raises(ConfigError) as exc:
        compile_plan(lone)
    assert "ops.add_one.inputs.number" in str(exc.value)


def test_connected_input_cannot_also_be_set_in_config():
    with pytest.raises(ConfigError) as exc:
        compile_plan(nested, {"ops": {"inner": {"ops": {"add_one": {"inputs": {"number": 1}}}}}})
    assert exc.value.errors[0][0] == "ops.inner.ops.add_one.inputs.number"


def test_resource_config_is_validated_and_unknown_resources_are_named():
    @resource(config_schema={"url": str})
    def db(context):
        return context.resource_config["url"]

    @op(required_resource_keys={"db"})
    def query(context) -> str:
        return context.resources.db

    @job(resource_defs={"db": db})
    def uses_db():
        query()

    plan = compile_plan(uses_db, {"resources": {"db": {"config": {"url": "x"}}}})
    assert plan.resource_keys == ("db",)
    assert plan.resource_config == {"db": {"url": "x"}}
    with pytest.raises(ConfigError) as exc:
        compile_plan(uses_db, {"resources": {"db": {"config": {}}, "cache": {}}})
    assert {p for p, _ in exc.value.errors} == {"resources.db.config.url", "resources.cache"}


def test_retry_policy_precedence_invocation_then_definition_then_job():
    @op(retry_policy=RetryPolicy(max_retries=2))
    def own_policy() -> int:
        return 1

    @job(op_retry_policy=RetryPolicy(max_retries=5))
    def policies():
        own_policy()
        own_policy.with_retry_policy(RetryPolicy(max_retries=7)).alias("overridden")()
        one()

    steps = compile_plan(policies).step_named()
    assert steps["own_policy"].retry_policy.max_retries == 2
    assert steps["overridden"].retry_policy.max_retries == 7
    assert steps["one"].retry_policy.max_retries == 5


def test_step_tags_merge_definition_and_invocation_tags():
    @op(tags={"a": "1", "b": "1"})
    def tagged() -> None:
        return None

    @job
    def tags_job():
        tagged.tag({"b": "2"})()

    assert compile_plan(tags_job).step_named()["tagged"].tags == {"a": "1", "b": "2"}


def test_op_with_dynamic_out_inside_a_map_is_refused():
    @op(out=DynamicOut())
    def emit():
        yield DynamicOutput(1, "a")

    @op(out=DynamicOut())
    def emit_again(x):
        yield DynamicOutput(x, "b")

    @job
    def nested_dyn():
        emit().map(emit_again)

    with pytest.raises(DagsterInvalidDefinitionError, match="emit_again"):
        compile_plan(nested_dyn)
