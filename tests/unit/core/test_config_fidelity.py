"""Config pieces whose opgrid side the parity suite cannot see."""

import enum
import logging

import pytest

import opgrid
from opgrid import Config, DagsterInvalidDefinitionError, Field, op, resource
from opgrid.config import ConfigSchema
from opgrid.orchestrator.planning.compiler import compile_plan
from opgrid.orchestrator.planning.plan import ExecutionPlan


class Shade(enum.Enum):
    DARK = object()  # not JSON: the plan must still be


class Choice(Config):
    shade: Shade


@op
def choose(config: Choice):
    return config.shade


def test_python_enum_config_is_stored_by_name_and_handed_over_as_the_member():
    job = opgrid.GraphDefinition(name="choice_job", node_defs=[choose]).to_job()
    plan = compile_plan(job, {"ops": {"choose": {"config": {"shade": "DARK"}}}})
    assert plan.steps[0].config == {"shade": "DARK"}
    ExecutionPlan.model_validate_json(plan.model_dump_json())  # JSON all the way
    result = job.execute_in_process(run_config={"ops": {"choose": {"config": {"shade": "DARK"}}}})
    assert result.output_for_node("choose") is Shade.DARK


def test_an_enum_value_that_cannot_be_stored_is_refused_at_definition():
    with pytest.raises(DagsterInvalidDefinitionError, match="python_value"):
        opgrid.Enum("Bad", [opgrid.EnumValue("A", python_value=object())])


def test_as_field_reports_whether_the_schema_needs_a_value():
    assert ConfigSchema({"a": int}, "test").as_field().is_required
    assert not ConfigSchema({"a": Field(int, default_value=1)}, "test").as_field().is_required


def test_configured_config_class_op_receives_the_class():
    configured = choose.configured({"shade": "DARK"}, name="always_dark")
    job = opgrid.GraphDefinition(name="dark_job", node_defs=[configured]).to_job()
    assert job.execute_in_process().output_for_node("always_dark") is Shade.DARK


def test_a_failing_teardown_is_logged_with_its_traceback(caplog):
    @resource
    def breaks(_init_context):
        yield 1
        raise ValueError("teardown")

    @op(required_resource_keys={"b"})
    def use(context):
        return context.resources.b

    job = opgrid.GraphDefinition(name="teardown_log_job", node_defs=[use]).to_job(
        resource_defs={"b": breaks}
    )
    with caplog.at_level(logging.ERROR, logger="opgrid.resource"):
        assert job.execute_in_process().success
    (record,) = [r for r in caplog.records if r.name == "opgrid.resource"]
    assert "Teardown of resource 'b' raised ValueError" in record.getMessage()
    assert record.exc_info is not None
