"""DynamicOut / DynamicOutput: map and collect."""

import pytest

from opgrid import DagsterError, DynamicOut, DynamicOutput, job, op


@op(config_schema={"keys": [str]}, out=DynamicOut())
def fan_out(context):
    for key in context.op_config["keys"]:
        yield DynamicOutput(len(key), mapping_key=key)


@op
def double(x):
    return x * 2


@op
def plus_ten(x):
    return x + 10


@op
def collect_sum(values):
    return sorted(values)


@op
def after_collect(values):
    return ("after", values)


def _cfg(keys):
    return {"ops": {"fan_out": {"config": {"keys": keys}}}}


@job
def map_job():
    collect_sum(fan_out().map(double).collect())


def test_map_output_is_dict_keyed_by_mapping_key(execute):
    result = execute(map_job, run_config=_cfg(["a", "bb", "ccc"]))
    assert result.success
    assert result.output_for_node("double") == {"a": 2, "bb": 4, "ccc": 6}


def test_collect_gathers_all_mapped_values(execute):
    result = execute(map_job, run_config=_cfg(["a", "bb", "ccc"]))
    assert result.output_for_node("collect_sum") == [2, 4, 6]


def test_dynamic_output_values_directly(execute):
    result = execute(map_job, run_config=_cfg(["x", "yy"]))
    assert result.output_for_node("fan_out") == {"x": 1, "yy": 2}


def test_map_with_lambda_chain(execute):
    @job
    def j():
        fan_out().map(lambda x: plus_ten(double(x)))

    result = execute(j, run_config=_cfg(["a", "bb"]))
    assert result.output_for_node("double") == {"a": 2, "bb": 4}
    assert result.output_for_node("plus_ten") == {"a": 12, "bb": 14}


def test_mapped_step_keys_use_brackets(execute):
    @job
    def j():
        fan_out().map(lambda x: plus_ten(double(x)))

    result = execute(j, run_config=_cfg(["a", "bb"]))
    succeeded = {e.step_key for e in result.all_events if e.event_type_value == "STEP_SUCCESS"}
    assert succeeded == {"fan_out", "double[a]", "double[bb]", "plus_ten[a]", "plus_ten[bb]"}


def test_mapped_node_reports_success(execute):
    result = execute(map_job, run_config=_cfg(["a"]))
    assert result.is_node_success("double")


def test_zero_dynamic_outputs_mapped_step_never_runs(execute):
    result = execute(map_job, run_config=_cfg([]))
    assert result.success
    # No step events at all for the mapped op: not skipped, just untouched.
    assert result.is_node_untouched("double")
    assert not result.is_node_skipped("double")
    assert not any(e.step_key and e.step_key.startswith("double") for e in result.all_events)


def test_zero_dynamic_outputs_collect_runs_with_empty_list(execute):
    @job
    def j():
        after_collect(collect_sum(fan_out().map(double).collect()))

    result = execute(j, run_config=_cfg([]))
    assert result.is_node_success("collect_sum")
    assert result.output_for_node("collect_sum") == []
    assert result.output_for_node("after_collect") == ("after", [])


def test_zero_dynamic_outputs_output_for_mapped_node_raises(execute):
    result = execute(map_job, run_config=_cfg([]))
    with pytest.raises(DagsterError):
        result.output_for_node("double")


def test_failure_in_one_mapped_step_fails_run_others_succeed(execute):
    @op
    def picky(x):
        if x == 2:
            raise ValueError("no twos")
        return x

    @job
    def j():
        collect_sum(fan_out().map(picky).collect())

    result = execute(j, run_config=_cfg(["a", "bb", "ccc"]), raise_on_error=False)
    assert not result.success
    statuses = {
        e.step_key: e.event_type_value
        for e in result.all_events
        if e.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE")
    }
    assert statuses["picky[a]"] == "STEP_SUCCESS"
    assert statuses["picky[bb]"] == "STEP_FAILURE"
    assert statuses["picky[ccc]"] == "STEP_SUCCESS"
    assert result.is_node_untouched("collect_sum")


def test_collect_is_skipped_when_every_mapped_copy_skipped(execute):
    from opgrid import Out, Output

    @op(out=DynamicOut())
    def emit_two():
        for key in ("a", "b"):
            yield DynamicOutput(key, mapping_key=key)

    @op(out={"maybe": Out(is_required=False)})
    def never_yields(x):
        if x == "never":
            yield Output(1, "maybe")

    @op
    def gather(xs):
        return len(xs)

    @job
    def all_copies_skip():
        gather(emit_two().map(never_yields).collect())

    result = execute(all_copies_skip)
    assert result.success
    assert result.is_node_skipped("gather")
