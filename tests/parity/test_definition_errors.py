"""Definition-time validation, raised where Dagster raises it."""

import pytest

from .shim import dg, raised


@dg.op
def one():
    return 1


@dg.op
def add(x):
    return x


@dg.op
def two(x, y):
    return x


@dg.op(out=dg.DynamicOut())
def fan():
    yield dg.DynamicOutput(1, "a")


def _bad_op_name():
    @dg.op(name="bad name")
    def named():
        pass


def _bad_job_name():
    @dg.job(name="bad-job")
    def named():
        one()


def _bad_alias():
    @dg.job
    def aliased():
        one.alias("bad alias")()


def _unmapped_graph_input():
    @dg.graph
    def wrapper(x, unused):
        return add(x)


def _unknown_input_value():
    @dg.graph
    def wrapper(x):
        return add(x)

    wrapper.to_job(input_values={"nope": 1})


@dg.op(name="same")
def same_one():
    return 1


@dg.op(name="same")
def same_two():
    return 2


def _duplicate_nested_definition():
    @dg.graph
    def inner():
        return same_one()

    @dg.job
    def outer():
        inner()
        same_two()


def _bad_tag():
    @dg.op(tags={"a": object()})
    def tagged():
        pass


def _bad_default():
    @dg.op(ins={"x": dg.In(int, default_value="s")})
    def defaulted(x):
        pass


def _nothing_parameter():
    @dg.op
    def nothing(x: dg.Nothing):
        pass


def _two_dynamic_upstreams():
    @dg.job
    def both():
        first = fan()
        second = fan.alias("fan_2")()
        first.map(lambda x: second.map(lambda y: two(x, y)))


def _collect_and_direct():
    @dg.job
    def mixed():
        mapped = fan().map(add)
        two(mapped.collect(), mapped)


def _missing_resource():
    @dg.op(required_resource_keys={"r"})
    def needs(context):
        pass

    dg.GraphDefinition(name="needs_graph", node_defs=[needs]).to_job(
        resource_defs={"other": dg.ResourceDefinition.none_resource()}
    )


@pytest.mark.parametrize(
    "define",
    [
        _bad_op_name,
        _bad_job_name,
        _bad_alias,
        _unmapped_graph_input,
        _unknown_input_value,
        _duplicate_nested_definition,
        _bad_tag,
        _bad_default,
        _nothing_parameter,
        _two_dynamic_upstreams,
        _collect_and_direct,
        _missing_resource,
        lambda: dg.Out(3),
        lambda: dg.In(3),
        lambda: dg.Field(3),
    ],
)
def test_invalid_definitions_are_refused(define):
    assert raised(define) == "DagsterInvalidDefinitionError"


def _index_output():
    @dg.job
    def indexed():
        one()[0]


def _unpack_output():
    @dg.job
    def unpacked():
        a, b = one()


def _alias_output():
    @dg.job
    def aliased():
        one().alias("x")


@pytest.mark.parametrize("define", [_index_output, _unpack_output, _alias_output])
def test_misusing_an_op_output_in_a_body_is_an_invariant_violation(define):
    assert raised(define) == "DagsterInvariantViolationError"


def test_json_tags_and_plain_nested_mapping_are_accepted():
    @dg.job(tags={"a": {"b": 1}})
    def tagged():
        one()

    @dg.job
    def unrelated_inside_map():
        fan().map(lambda x: one.alias("inside")())

    assert tagged.execute_in_process().success
    assert unrelated_inside_map.execute_in_process().success


def test_conflicting_definitions_are_reported_in_dagster_words():
    try:
        _duplicate_nested_definition()
    except Exception as exc:
        message = str(exc)
    else:
        raise AssertionError("no error")
    assert 'Detected conflicting node definitions with the same name "same"' in message
