"""An unexpected config entry names the nearest valid key and lists the valid ones."""

from __future__ import annotations

from typing import Any

import pytest

from opgrid import Config, Field, Noneable, build_op_context, job, op, resource
from opgrid.config import ConfigSchema
from opgrid.config_problems import did_you_mean
from opgrid.errors import DagsterInvalidConfigError


def problems_of(schema: Any, value: Any) -> list[tuple[str, str]]:
    return ConfigSchema(schema, "op 'x'").validate(value, "ops.x.config")[1]


def config_error(job_def: Any, run_config: dict[str, Any]) -> DagsterInvalidConfigError:
    with pytest.raises(DagsterInvalidConfigError) as caught:
        job_def.execute_in_process(run_config=run_config)
    return caught.value


def test_the_nearest_key_is_suggested_and_the_valid_ones_listed() -> None:
    assert did_you_mean("thresold", ["window", "threshold"]) == (
        'did you mean "threshold"? Valid: "threshold", "window"'
    )


def test_with_no_close_match_only_the_valid_keys_are_listed() -> None:
    assert did_you_mean("zzz", ["window", "threshold"]) == 'valid: "threshold", "window"'
    assert did_you_mean("zzz", []) == "nothing is valid here"


def test_an_op_config_typo_keeps_dagster_s_words_and_adds_the_suggestion() -> None:
    @op(config_schema={"threshold": int, "window": Field(int, default_value=3)})
    def detect(context):
        return context.op_config["threshold"]

    @job
    def detecting():
        detect()

    error = config_error(detecting, {"ops": {"detect": {"config": {"thresold": 1}}}})
    messages = dict((item.path, item.message) for item in error.errors)
    assert messages["ops.detect.config.thresold"] == (
        'Received unexpected config entry "thresold" (not in the schema): '
        'did you mean "threshold"? Valid: "threshold", "window"'
    )
    assert messages["ops.detect.config.threshold"].startswith("Missing required config entry")


def test_a_nested_field_lists_the_keys_of_its_own_level() -> None:
    schema = {"model": {"layers": int, "dropout": Field(float, default_value=0.0)}, "name": str}
    (problem,) = problems_of(schema, {"model": {"layers": 2, "dropot": 0.1}, "name": "n"})
    assert problem == (
        "ops.x.config.model.dropot",
        'Received unexpected config entry "dropot" (not in the schema): '
        'did you mean "dropout"? Valid: "dropout", "layers"',
    )


def test_a_list_of_shapes_and_a_noneable_shape_lead_to_their_keys() -> None:
    shape = {"size": Field(int, default_value=0)}
    listed = problems_of({"items": [shape]}, {"items": [{"size": 1}, {"sise": 2}]})
    assert listed == [
        (
            "ops.x.config.items.1.sise",
            'Received unexpected config entry "sise" (not in the schema): '
            'did you mean "size"? Valid: "size"',
        )
    ]
    noneable = problems_of({"opt": Noneable({"alpha": int})}, {"opt": {"alpha": 1, "alpah": 1}})
    assert [message for _, message in noneable] == [
        'Received unexpected config entry "alpah" (not in the schema): '
        'did you mean "alpha"? Valid: "alpha"'
    ]


def test_a_config_class_suggests_its_fields() -> None:
    class Tuning(Config):
        learning_rate: float = 0.1
        epochs: int = 1

    (problem,) = problems_of(Tuning, {"learning_rat": 0.2})
    assert problem[1].endswith('did you mean "learning_rate"? Valid: "epochs", "learning_rate"')


def test_an_unknown_key_with_no_close_match_just_lists_the_valid_ones() -> None:
    (problem,) = problems_of({"alpha": int}, {"alpha": 1, "zzz": 2})
    assert problem[1] == (
        'Received unexpected config entry "zzz" (not in the schema): valid: "alpha"'
    )


def test_resource_config_typos_are_suggested() -> None:
    @resource(config_schema={"hostname": str})
    def warehouse(init_context):
        return init_context.resource_config["hostname"]

    @op(required_resource_keys={"warehouse"})
    def query(context) -> str:
        return context.resources.warehouse

    @job(resource_defs={"warehouse": warehouse})
    def querying():
        query()

    error = config_error(querying, {"resources": {"warehouse": {"config": {"hostnme": "b"}}}})
    text = str(error)
    assert 'Received unexpected config entry "hostnme"' in text
    assert 'did you mean "hostname"?' in text
    unknown = config_error(querying, {"resources": {"warehose": {"config": {}}}})
    assert 'did you mean "warehouse"?' in str(unknown)


def test_a_run_config_root_or_op_name_typo_is_suggested() -> None:
    @op(config_schema={"n": int})
    def count(context):
        return context.op_config["n"]

    @job
    def counting():
        count()

    root = config_error(counting, {"opps": {"count": {"config": {"n": 1}}}})
    assert 'unexpected top-level key "opps": did you mean "ops"?' in str(root)
    node = config_error(counting, {"ops": {"cont": {"config": {"n": 1}}}})
    assert "no node named 'cont': did you mean \"count\"?" in str(node)
    section = config_error(counting, {"ops": {"count": {"confg": {"n": 1}}}})
    assert 'unexpected key "confg": did you mean "config"?' in str(section)


def test_build_op_context_resource_config_typos_are_suggested() -> None:
    @resource(config_schema={"url": str})
    def client(init_context):
        return init_context.resource_config["url"]

    with pytest.raises(DagsterInvalidConfigError) as caught:
        build_op_context(resources={"client": client}, resources_config={"clint": {}})
    assert 'Received unexpected config entry "clint": did you mean "client"?' in str(caught.value)
    with pytest.raises(DagsterInvalidConfigError) as wrapped:
        build_op_context(
            resources={"client": client}, resources_config={"client": {"confi": {"url": "u"}}}
        )
    assert 'did you mean "config"?' in str(wrapped.value)


def test_a_key_that_is_not_text_gets_the_list_too() -> None:
    assert did_you_mean(0, ["greet", "shout"]) == 'valid: "greet", "shout"'  # type: ignore[arg-type]
