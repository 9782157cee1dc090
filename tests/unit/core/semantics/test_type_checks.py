"""Runtime type checks from annotations / In / Out, and missing outputs."""

from typing import List

import pytest

from opgrid import (
    DagsterStepOutputNotFoundError,
    DagsterTypeCheckDidNotPass,
    In,
    Out,
    Output,
    job,
    op,
)


@op
def make_str():
    return "a string"


def test_output_annotation_mismatch_raises(execute):
    @op
    def returns_wrong() -> int:
        return "s"

    @job
    def j():
        returns_wrong()

    with pytest.raises(DagsterTypeCheckDidNotPass) as exc:
        execute(j)
    assert "result" in str(exc.value)


def test_output_type_failure_without_raise_marks_op_failed(execute):
    @op
    def returns_wrong() -> int:
        return "s"

    @op
    def downstream(x):
        return x

    @job
    def j():
        downstream(returns_wrong())

    result = execute(j, raise_on_error=False)
    assert not result.success
    assert result.is_node_failed("returns_wrong")
    assert result.is_node_untouched("downstream")


def test_none_fails_int_output_check(execute):
    @op
    def returns_none() -> int:
        return None

    @job
    def j():
        returns_none()

    with pytest.raises(DagsterTypeCheckDidNotPass):
        execute(j)


def test_out_type_checked(execute):
    @op(out=Out(int))
    def typed_out():
        return "no"

    @job
    def j():
        typed_out()

    with pytest.raises(DagsterTypeCheckDidNotPass):
        execute(j)


def test_named_out_type_checked(execute):
    @op(out={"count_out": Out(int), "other": Out(str)})
    def two():
        return "not int", "fine"

    @job
    def j():
        two()

    with pytest.raises(DagsterTypeCheckDidNotPass) as exc:
        execute(j)
    assert "count_out" in str(exc.value)


def test_input_annotation_mismatch_raises(execute):
    @op
    def wants_int(number_in: int):
        return number_in

    @job
    def j():
        wants_int(make_str())

    with pytest.raises(DagsterTypeCheckDidNotPass) as exc:
        execute(j)
    assert "number_in" in str(exc.value)


def test_input_failure_marks_consumer_failed_not_producer(execute):
    @op
    def wants_int(number_in: int):
        return number_in

    @job
    def j():
        wants_int(make_str())

    result = execute(j, raise_on_error=False)
    assert result.is_node_success("make_str")
    assert result.is_node_failed("wants_int")


def test_in_type_checked(execute):
    @op(ins={"typed_in": In(int)})
    def wants(typed_in):
        return typed_in

    @job
    def j():
        wants(make_str())

    with pytest.raises(DagsterTypeCheckDidNotPass) as exc:
        execute(j)
    assert "typed_in" in str(exc.value)


def test_list_input_elements_checked(execute):
    @op
    def wants_ints(int_items: List[int]):
        return int_items

    @job
    def j():
        wants_ints([make_str()])

    with pytest.raises(DagsterTypeCheckDidNotPass) as exc:
        execute(j)
    assert "int_items" in str(exc.value)


def test_matching_types_pass(execute):
    @op
    def n() -> int:
        return 3

    @op
    def twice(v: int) -> int:
        return v * 2

    @job
    def j():
        twice(n())

    assert execute(j).output_for_node("twice") == 6


def test_required_output_not_produced(execute):
    @op(out={"first_out": Out(), "second_out": Out()})
    def only_one():
        yield Output(1, "first_out")

    @job
    def j():
        only_one()

    with pytest.raises(DagsterStepOutputNotFoundError) as exc:
        execute(j)
    assert "second_out" in str(exc.value)
    assert "only_one" in str(exc.value)


def test_required_output_not_produced_without_raise(execute):
    @op(out={"first_out": Out(), "second_out": Out()})
    def only_one():
        yield Output(1, "first_out")

    @op
    def consumer(x):
        return x

    @job
    def j():
        a, b = only_one()
        consumer(b)

    result = execute(j, raise_on_error=False)
    assert not result.success
    assert result.is_node_failed("only_one")
    assert not result.is_node_success("consumer")
