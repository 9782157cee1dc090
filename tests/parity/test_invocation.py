"""Ops called directly, as unit tests call them."""

from contextlib import contextmanager

import pytest

from .shim import dg, raised


@dg.op
def with_context(context, x):
    return (x, context.op_config)


@dg.op
def underscore(_, x):
    return x


@dg.op
def plain(x):
    return x + 1


def test_a_context_op_takes_a_context_or_none_and_needs_one():
    assert with_context(None, 1) == (1, None)
    assert with_context(dg.build_op_context(op_config={"a": 1}), 2) == (2, {"a": 1})
    assert with_context(dg.build_op_context(config={"a": 2}), 2) == (2, {"a": 2})
    assert with_context(context=dg.build_op_context(), x=3) == (3, None)
    assert underscore(None, 4) == 4
    assert raised(lambda: with_context(1)) == "DagsterInvalidInvocationError"
    assert raised(lambda: underscore(4)) == "DagsterInvalidInvocationError"


def test_an_op_without_context_accepts_and_ignores_one():
    assert plain(1) == 2
    assert plain(dg.build_op_context(), 1) == 2
    assert raised(lambda: plain(1, 2)) == "DagsterInvalidInvocationError"
    assert raised(lambda: plain()) == "DagsterInvalidInvocationError"


def test_invocation_type_checks_inputs_and_outputs():
    @dg.op(ins={"x": dg.In(dg.Int)}, out=dg.Out(dg.String))
    def typed(x):
        return x

    assert raised(lambda: typed("a")) == "DagsterTypeCheckDidNotPass"
    assert raised(lambda: typed(1)) == "DagsterTypeCheckDidNotPass"


def test_invocation_checks_dynamic_outputs():
    @dg.op(out=dg.DynamicOut())
    def not_dynamic():
        return 1

    @dg.op(out=dg.DynamicOut())
    def dynamic():
        return [dg.DynamicOutput(1, "a"), dg.DynamicOutput(2, "b")]

    assert raised(lambda: not_dynamic()) == "DagsterInvariantViolationError"
    assert [o.mapping_key for o in dynamic()] == ["a", "b"]


def test_context_manager_and_generator_resources_are_entered_and_torn_down():
    trail = []

    @dg.resource
    @contextmanager
    def managed(_):
        trail.append("enter")
        yield "M"
        trail.append("exit")

    @dg.resource
    def generated(_):
        trail.append("start")
        yield "G"
        trail.append("stop")

    @dg.op(required_resource_keys={"managed", "generated"})
    def use(context):
        return context.resources.managed + context.resources.generated

    with dg.build_op_context(resources={"managed": managed, "generated": generated}) as context:
        assert use(context) == "MG"
        assert sorted(trail) == ["enter", "start"]
    assert sorted(trail) == ["enter", "exit", "start", "stop"]


def test_resources_config_is_validated_and_applied():
    @dg.resource(config_schema={"v": int})
    def valued(init_context):
        return init_context.resource_config["v"]

    @dg.op(required_resource_keys={"valued"})
    def read(context):
        return context.resources.valued

    good = dg.build_op_context(
        resources={"valued": valued}, resources_config={"valued": {"config": {"v": 5}}}
    )
    assert read(good) == 5
    bad = lambda: dg.build_op_context(  # noqa: E731
        resources={"valued": valued}, resources_config={"valued": {"v": 5}}
    )
    assert raised(bad) == "DagsterInvalidConfigError"


def test_mapping_key_and_run_config_reach_the_op():
    @dg.op
    def report(context):
        return context.get_mapping_key(), context.run_config

    context = dg.build_op_context(mapping_key="k", op_config={"a": 1})
    assert report(context) == ("k", {"ops": {"report": {"config": {"a": 1}}}, "resources": {}})


def test_op_config_is_validated_when_invoked():
    @dg.op(config_schema={"a": int})
    def needs(context):
        return context.op_config["a"]

    assert needs(dg.build_op_context(op_config={"a": 1})) == 1
    assert raised(lambda: needs(dg.build_op_context(op_config={"a": "x"}))) == (
        "DagsterInvalidConfigError"
    )
    assert raised(lambda: needs(None)) == "DagsterInvalidConfigError"


def test_outputs_come_back_as_the_function_returns_them():
    @dg.op(out={"a": dg.Out(), "b": dg.Out()})
    def pair():
        return 1, 2

    @dg.op(out={"a": dg.Out(), "b": dg.Out()})
    def pair_events():
        yield dg.Output(1, "a")
        yield dg.Output(2, "b")

    assert pair() == (1, 2)
    assert [(o.output_name, o.value) for o in pair_events()] == [("a", 1), ("b", 2)]


@pytest.mark.parametrize("kind", ["graph", "job"])
def test_graphs_and_jobs_cannot_be_called_outside_composition(kind):
    decorator = dg.graph if kind == "graph" else dg.job

    @decorator
    def composed():
        plain(plain.alias("first")())

    assert raised(lambda: composed()) == "DagsterInvariantViolationError"


def test_a_graph_or_job_body_can_be_called_through_wrapped():
    @dg.op
    def five():
        return 5

    @dg.graph
    def graph_body():
        """The graph's doc."""
        return five()

    @dg.job
    def job_body():
        five()

    assert graph_body.__wrapped__() == 5  # outside composition the op runs directly
    assert job_body.__wrapped__() is None
    assert (graph_body.__name__, graph_body.__doc__) == ("graph_body", "The graph's doc.")
    assert five.__wrapped__() == 5


@dg.op
def add(a: int, b: int = 2) -> int:
    return a + b


def test_keywords_count_against_the_inputs_and_unknown_ones_are_ignored():
    assert add(1, c=5) == 3
    assert raised(lambda: plain(x=1, unrelated=2)) == "DagsterInvalidInvocationError"


def test_which_first_parameter_names_are_the_context():
    def op_from(source):
        namespace = {}
        exec(source, namespace)
        return dg.op(namespace["f"])

    for name in ("context", "_context", "context_", "_"):
        assert [d.name for d in op_from(f"def f({name}, x): return x").input_defs] == ["x"]
    assert [d.name for d in op_from("def f(ctx, x): return x").input_defs] == ["ctx", "x"]
