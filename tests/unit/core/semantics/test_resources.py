"""Resources: definitions, config, teardown, mocks and binding."""

import pytest

from opgrid import (
    DagsterInvalidDefinitionError,
    Definitions,
    Field,
    ResourceDefinition,
    graph,
    job,
    op,
    resource,
)


def test_configured_resource(execute):
    @resource(config_schema={"host": str, "port": Field(int, default_value=80)})
    def conn(context):
        return "%s:%s" % (context.resource_config["host"], context.resource_config["port"])

    @op(required_resource_keys={"conn"})
    def use_conn(context):
        return context.resources.conn

    @job(resource_defs={"conn": conn})
    def j():
        use_conn()

    rc = {"resources": {"conn": {"config": {"host": "db"}}}}
    assert execute(j, run_config=rc).output_for_node("use_conn") == "db:80"


def test_generator_resources_teardown_in_reverse_order(execute):
    log = []

    @resource
    def res_a(_):
        log.append("a setup")
        yield "A"
        log.append("a teardown")

    @resource(required_resource_keys={"res_a"})
    def res_b(context):
        log.append("b setup")
        yield context.resources.res_a + "B"
        log.append("b teardown")

    @op(required_resource_keys={"res_a", "res_b"})
    def use(context):
        log.append(("op", context.resources.res_a, context.resources.res_b))

    @job(resource_defs={"res_a": res_a, "res_b": res_b})
    def j():
        use()

    execute(j)
    assert log == ["a setup", "b setup", ("op", "A", "AB"), "b teardown", "a teardown"]


def test_generator_resource_torn_down_after_op_failure(execute):
    log = []

    @resource
    def res(_):
        yield "R"
        log.append("teardown")

    @op(required_resource_keys={"res"})
    def fails(context):
        log.append("op")
        raise ValueError("x")

    @job(resource_defs={"res": res})
    def j():
        fails()

    result = execute(j, raise_on_error=False)
    assert not result.success
    assert log == ["op", "teardown"]


def test_mock_resource(execute):
    @op(required_resource_keys={"server"})
    def ping(context):
        context.resources.server.ping_server()
        return "pinged"

    @graph
    def g():
        ping()

    j = g.to_job(resource_defs={"server": ResourceDefinition.mock_resource()}, name="mocked")
    assert execute(j).output_for_node("ping") == "pinged"


class Server:
    def ping(self):
        return "pong"


@op(required_resource_keys={"server"})
def ping_op(context):
    return context.resources.server.ping()


def test_hardcoded_resource(execute):
    @job(resource_defs={"server": ResourceDefinition.hardcoded_resource(Server())})
    def j():
        ping_op()

    assert execute(j).output_for_node("ping_op") == "pong"


def test_resources_kwarg_accepts_plain_objects(execute):
    @job
    def j():
        ping_op()

    assert execute(j, resources={"server": Server()}).output_for_node("ping_op") == "pong"


def test_resource_only_initialized_when_required(execute):
    log = []

    @resource
    def unused(_):
        log.append("unused init")
        return 1

    @op
    def plain():
        return 1

    @job(resource_defs={"unused": unused})
    def j():
        plain()

    assert execute(j).success
    assert log == []


def test_missing_resource_with_resource_defs_is_definition_error():
    with pytest.raises(DagsterInvalidDefinitionError) as exc:

        @job(resource_defs={"other": ResourceDefinition.hardcoded_resource(1)})
        def j():
            ping_op()

    assert "server" in str(exc.value) and "ping_op" in str(exc.value)


def test_missing_resource_without_resource_defs_errors_at_execution(execute):
    # With no resource_defs the job can still be defined (it may be bound later
    # via Definitions); executing it raises a definition error.
    @job
    def j():
        ping_op()

    with pytest.raises(DagsterInvalidDefinitionError) as exc:
        execute(j)
    assert "server" in str(exc.value) and "ping_op" in str(exc.value)


def test_definitions_binds_resources_to_jobs(execute):
    @job
    def unbound():
        ping_op()

    defs = Definitions(jobs=[unbound], resources={"server": Server()})
    bound = defs.get_job_def("unbound")
    assert bound.name == "unbound"
    assert execute(bound).output_for_node("ping_op") == "pong"


def test_definitions_resource_definition_binding(execute):
    @resource(config_schema={"word": str})
    def word(context):
        return context.resource_config["word"]

    @op(required_resource_keys={"word"})
    def say(context):
        return context.resources.word

    @job
    def sayer():
        say()

    defs = Definitions(jobs=[sayer], resources={"word": word})
    rc = {"resources": {"word": {"config": {"word": "hi"}}}}
    assert execute(defs.get_job_def("sayer"), run_config=rc).output_for_node("say") == "hi"
