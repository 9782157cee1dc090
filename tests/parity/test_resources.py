"""Resources: dependency checks, teardown errors, direct use."""

from .shim import dg, raised, run


@dg.resource(required_resource_keys={"b"})
def needs_b(init_context):
    return "a" + init_context.resources.b


@dg.resource(required_resource_keys={"a"})
def needs_a(_init_context):
    return "b"


@dg.resource
def plain_b(_init_context):
    return "B"


@dg.op(required_resource_keys={"a"})
def use_a(context):
    return context.resources.a


graph = dg.GraphDefinition(name="uses_a", node_defs=[use_a])


def test_missing_and_cyclic_resource_dependencies_fail_at_definition():
    assert raised(lambda: graph.to_job(resource_defs={"a": needs_b})) == (
        "DagsterInvariantViolationError"
    )
    assert raised(lambda: graph.to_job(resource_defs={"a": needs_b, "b": needs_a})) == (
        "DagsterInvariantViolationError"
    )
    job = graph.to_job(resource_defs={"a": needs_b, "b": plain_b})
    assert job.execute_in_process().output_for_node("use_a") == "aB"


def test_a_failing_teardown_is_reported_not_raised():
    @dg.resource
    def breaks_on_teardown(_init_context):
        yield 1
        raise ValueError("teardown")

    @dg.op(required_resource_keys={"t"})
    def use_t(context):
        return context.resources.t

    job = dg.GraphDefinition(name="teardown_job", node_defs=[use_t]).to_job(
        resource_defs={"t": breaks_on_teardown}
    )
    outcome = run(job)
    assert outcome.success
    assert outcome.steps == {"use_t": "success"}
    events = job.execute_in_process().all_events
    assert events[-1].event_type_value == "PIPELINE_SUCCESS"
    teardown = [
        e
        for e in events
        if e.event_type_value == "ENGINE_EVENT" and "Teardown of resource" in e.message
    ]
    assert [e.event_specific_data.error.cls_name for e in teardown] == ["ValueError"]


def test_an_op_reading_an_undeclared_resource_fails():
    @dg.op
    def sneaky(context):
        return context.resources.a

    job = dg.GraphDefinition(name="sneaky_job", node_defs=[sneaky]).to_job(
        resource_defs={"a": plain_b}
    )
    assert run(job).errors == {"sneaky": "DagsterUnknownResourceError"}


def test_invoking_an_op_without_its_required_resource_fails():
    assert raised(lambda: use_a(dg.build_op_context())) == "DagsterInvalidDefinitionError"


def test_build_init_resource_context_and_direct_resource_calls():
    @dg.resource(config_schema={"x": int})
    def configured_resource(init_context):
        return init_context.resource_config["x"] + init_context.resources.other

    context = dg.build_init_resource_context(config={"x": 1}, resources={"other": 5})
    assert context.resource_config == {"x": 1}
    assert context.resources.other == 5
    assert context.run_id is None
    assert configured_resource(context) == 6

    @dg.resource
    def no_context():
        return 42

    @dg.resource
    def with_context(init_context):
        return init_context.resource_config

    assert no_context() == 42
    assert raised(lambda: no_context(None)) == "DagsterInvalidInvocationError"
    assert with_context(None) is None
    assert raised(lambda: with_context()) == "DagsterInvalidInvocationError"


def test_make_values_resource():
    typed = dg.make_values_resource(a=int, b=dg.Field(str, default_value="x"))
    free = dg.make_values_resource()

    @dg.op(required_resource_keys={"values"})
    def read(context):
        return context.resources.values

    graph_def = dg.GraphDefinition(name="values_job", node_defs=[read])
    result = graph_def.to_job(resource_defs={"values": typed}).execute_in_process(
        run_config={"resources": {"values": {"config": {"a": 1}}}}
    )
    assert result.output_for_node("read") == {"a": 1, "b": "x"}
    result = graph_def.to_job(resource_defs={"values": free}).execute_in_process(
        run_config={"resources": {"values": {"config": {"q": [1]}}}}
    )
    assert result.output_for_node("read") == {"q": [1]}
