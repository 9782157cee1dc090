"""Fan-in (list of outputs into a List input)."""

from typing import List

from opgrid import Out, Output, job, op


@op(config_schema={"emit": [str]}, out={n: Out(is_required=False) for n in "abc"})
def emitter(context):
    for name in context.op_config["emit"]:
        yield Output(name, name)


@op
def gather(items: List[str]) -> List[str]:
    return items


@job
def fan_job():
    a, b, c = emitter()
    gather([a, b, c])


def _cfg(emit):
    return {"ops": {"emitter": {"config": {"emit": emit}}}}


def test_fan_in_receives_all_values_in_list_order(execute):
    result = execute(fan_job, run_config=_cfg(["c", "a", "b"]))
    assert result.output_for_node("gather") == ["a", "b", "c"]


def test_fan_in_runs_with_only_the_values_that_exist(execute):
    result = execute(fan_job, run_config=_cfg(["c", "a"]))
    assert result.is_node_success("gather")
    assert result.output_for_node("gather") == ["a", "c"]


def test_fan_in_skipped_only_when_all_sources_missing(execute, events_for):
    result = execute(fan_job, run_config=_cfg([]))
    assert result.success
    assert result.is_node_skipped("gather")
    assert events_for(result, "gather") == ["STEP_SKIPPED"]


def test_fan_in_of_many_aliased_ops(execute):
    @op
    def one() -> int:
        return 1

    @op
    def add_all(nums: List[int]) -> int:
        return sum(nums)

    @job
    def j():
        add_all([one.alias(f"one_{i}")() for i in range(10)])

    assert execute(j).output_for_node("add_all") == 10


def test_fan_in_with_failed_source_does_not_run(execute):
    @op
    def ok() -> str:
        return "ok"

    @op
    def broken() -> str:
        raise ValueError("nope")

    @job
    def j():
        gather([ok(), broken()])

    result = execute(j, raise_on_error=False)
    assert not result.success
    assert not result.is_node_success("gather")
    assert not result.is_node_skipped("gather")
    assert result.is_node_untouched("gather")
