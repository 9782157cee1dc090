"""Raw op definitions, hooks, tags, the result API, partitions and small surface."""

import warnings

import pytest

from .shim import dg, raised


@dg.op
def one():
    return 1


def _add_one(context, inputs):
    yield dg.Output(inputs["x"] + 1)


raw = dg.OpDefinition(
    name="raw", ins={"x": dg.In(int)}, outs={"result": dg.Out(int)}, compute_fn=_add_one
)


def test_the_raw_op_definition_form_and_kwargs_ops():
    @dg.op
    def keywords(context, **kwargs):
        return sorted(kwargs)

    @dg.job
    def raw_job():
        raw(one())

    assert [d.name for d in raw.input_defs] == ["x"]
    assert list(keywords.input_defs) == []
    assert raw_job.execute_in_process().output_for_node("raw") == 2


def test_a_nothing_input_can_be_passed_positionally():
    @dg.op(ins={"start": dg.In(dg.Nothing)})
    def after():
        return 2

    @dg.job
    def ordered():
        after(one())

    assert ordered.execute_in_process().output_for_node("after") == 2


@dg.success_hook(required_resource_keys={"r"})
def record(context):
    return context.op.name, context.resources.r


def test_hooks_are_invoked_directly_with_a_built_context():
    context = dg.build_hook_context(resources={"r": 1}, op=one)
    assert record(context) == ("one", 1)
    assert dg.HookExecutionResult(hook_name="record").is_skipped is False


@dg.success_hook
def quiet(context):
    pass


@dg.op(tags={"a": "1"})
def tagged(context):
    return dict(context.op.tags)


def test_tags_survive_alias_tag_and_hook_combinations():
    @dg.job
    def tag_job():
        tagged.tag({"b": "2"}).alias("renamed").with_hooks({quiet})()
        tagged.with_hooks({quiet}).tag({"c": "3"})()

    result = tag_job.execute_in_process()
    assert result.output_for_node("renamed") == {"a": "1", "b": "2"}
    assert result.output_for_node("tagged") == {"a": "1", "c": "3"}


@dg.op(retry_policy=dg.RetryPolicy(max_retries=2))
def flaky():
    raise Exception("boom")


@dg.op(out=dg.Out(is_required=False))
def maybe():
    if False:
        yield dg.Output(1)


@dg.op
def after_maybe(x):
    return x


@dg.job
def mixed():
    flaky()
    after_maybe(maybe())


def test_result_accessors():
    result = mixed.execute_in_process(raise_on_error=False)
    assert [e.step_key for e in result.get_step_skipped_events()] == ["after_maybe"]
    assert [e.step_key for e in result.get_step_success_events()] == ["maybe"]
    assert result.retry_attempts_for_node("flaky") == 2
    assert result.failure_data_for_node("flaky").error is not None
    assert result.failure_data_for_node("maybe") is None
    assert result.events_for_node("nope") == []
    kinds = [e.event_type_value for e in result.filter_events(lambda e: e.is_step_failure)]
    assert kinds == ["STEP_FAILURE"]
    assert result.dagster_run.is_success is False
    assert mixed.execute_in_process(op_selection=["maybe"]).dagster_run.is_success


@dg.op(config_schema={"k": str})
def partitioned(context):
    return context.op_config["k"], context.partition_key, context.has_partition_key


@dg.static_partitioned_config(
    partition_keys=["a", "b"], tags_for_partition_key_fn=lambda k: {"t": k}
)
def by_key(key):
    return {"ops": {"partitioned": {"config": {"k": key}}}}


@dg.job(config=by_key)
def partitioned_job():
    partitioned()


def test_partitions():
    result = partitioned_job.execute_in_process(partition_key="a")
    assert result.output_for_node("partitioned") == ("a", "a", True)
    assert result.dagster_run.tags["t"] == "a"
    assert raised(lambda: partitioned_job.execute_in_process(partition_key="zz")) == (
        "DagsterUnknownPartitionError"
    )
    assert issubclass(dg.DagsterUnknownPartitionError, dg.DagsterError)
    assert by_key.get_tags_for_partition_key("b") == {"t": "b", "dagster/partition": "b"}
    assert by_key.get_run_config_for_partition_key("b") == {
        "ops": {"partitioned": {"config": {"k": "b"}}}
    }
    assert by_key.partitions_def.get_partition_keys() == ["a", "b"]


def test_small_surface():
    @dg.op
    def job_name(context):
        return context.job_def.name

    assert mixed.has_node("flaky") and not mixed.has_node("nope")
    graph = dg.GraphDefinition(name="named_job", node_defs=[job_name])
    assert graph.to_job().execute_in_process().output_for_node("job_name") == "named_job"
    policy = dg.RetryPolicy(max_retries=3, delay=1, backoff=dg.Backoff.EXPONENTIAL)
    assert [policy.calculate_delay(n) for n in (1, 2, 3)] == [1, 3, 7]
    linear = dg.RetryPolicy(max_retries=3, delay=2, backoff=dg.Backoff.LINEAR)
    assert [linear.calculate_delay(n) for n in (1, 2, 3)] == [2, 4, 6]
    assert dg.Out(code_version="v1").code_version == "v1"


def test_repositories_and_docstrings():
    @dg.job
    def documented():
        """Job doc."""
        one()

    @dg.resource
    def documented_resource(_init_context):
        """The resource's doc."""
        return 1

    @dg.repository
    def lazy():
        return {"jobs": {"documented": lambda: documented}}

    assert lazy.get_job("documented").description == "Job doc."
    assert documented_resource.description == "The resource's doc."

    @dg.repository(default_executor_def=dg.in_process_executor)
    def with_executor():
        return [documented]

    assert with_executor.get_job("documented").executor_def.name == "in_process"


def test_an_uninvoked_aliased_op_warns():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")

        @dg.job
        def forgetful():
            one.tag({"a": "b"}).alias("never")
            one()

    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert len(messages) == 1
    assert "received an uninvoked op 'one'" in messages[0]
    assert "'one' was aliased as 'never'" in messages[0]
    assert "Provided tags: {'a': 'b'}" in messages[0]


@pytest.mark.parametrize("kind", ["tag", "with_hooks"])
def test_an_uninvoked_tagged_op_does_not_warn(kind):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")

        @dg.job
        def forgetful():
            getattr(one, kind)({"a": "b"} if kind == "tag" else set())
            one()

    assert [w for w in caught if issubclass(w.category, UserWarning)] == []


@dg.op
def accessors(context):
    return (
        context.partition_keys,
        tuple(context.partition_key_range),
        context.has_partition_key_range,
    )


@dg.op
def window(context):
    span = context.partition_time_window
    return span.start.isoformat(), span.end.isoformat()


@dg.daily_partitioned_config(start_date="2024-01-01")
def daily(start, end):
    return {}


@dg.dynamic_partitioned_config(
    partition_fn=lambda _now: ["x", "y"], tags_for_partition_key_fn=lambda k: {"k": k}
)
def dynamic(key):
    return {}


def test_dynamic_partitions_and_partition_accessors():
    dynamic_job = dg.GraphDefinition(name="dynamic_job", node_defs=[accessors]).to_job(
        config=dynamic
    )
    result = dynamic_job.execute_in_process(partition_key="y")
    assert result.output_for_node("accessors") == (["y"], ("y", "y"), False)
    assert result.dagster_run.tags["k"] == "y"
    assert dynamic.partitions_def.get_partition_keys() == ["x", "y"]
    assert raised(lambda: dynamic_job.execute_in_process(partition_key="zz")) == (
        "DagsterUnknownPartitionError"
    )
    daily_job = dg.GraphDefinition(name="daily_job", node_defs=[window]).to_job(config=daily)
    assert daily_job.execute_in_process(partition_key="2024-01-02").output_for_node("window") == (
        "2024-01-02T00:00:00+00:00",
        "2024-01-03T00:00:00+00:00",
    )


def test_a_failure_reports_its_description_and_metadata():
    @dg.op
    def refuses():
        raise dg.Failure(description="nope", metadata={"rows": 3})

    result = (
        dg.GraphDefinition(name="refusing", node_defs=[refuses])
        .to_job()
        .execute_in_process(raise_on_error=False)
    )
    data = result.failure_data_for_node("refuses")
    assert data.error.cls_name == "Failure"
    assert data.user_failure_data.description == "nope"
    metadata = {k: getattr(v, "value", v) for k, v in data.user_failure_data.metadata.items()}
    assert metadata == {"rows": 3}


def test_hooks_that_do_not_fire_are_reported_skipped():
    @dg.success_hook
    def on_success(context):
        pass

    @dg.failure_hook
    def on_failure(context):
        pass

    @dg.op
    def works():
        return 1

    @dg.op
    def breaks():
        raise ValueError("x")

    @dg.job(hooks={on_success, on_failure})
    def hooked():
        works()
        breaks()

    result = hooked.execute_in_process(raise_on_error=False)
    kinds = {}
    for event in result.all_events:
        if event.event_type_value.startswith("HOOK"):
            kinds.setdefault(event.step_key, []).append(event.event_type_value)
    assert {k: sorted(v) for k, v in kinds.items()} == {
        "works": ["HOOK_COMPLETED", "HOOK_SKIPPED"],
        "breaks": ["HOOK_COMPLETED", "HOOK_SKIPPED"],
    }
