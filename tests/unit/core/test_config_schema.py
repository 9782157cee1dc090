"""Config schemas in Dagster's forms, validated by pydantic, with dotted error paths."""

from __future__ import annotations

from typing import Any

import pytest

from opgrid import Array, Config, Field, IntSource, Noneable, Permissive, Selector, StringSource
from opgrid.config import ConfigSchema
from opgrid.errors import DagsterInvalidDefinitionError
from opgrid.types import NO_VALUE


def check(schema: Any, value: Any) -> tuple[Any, list[tuple[str, str]]]:
    return ConfigSchema(schema, "op 'x'").validate(value, "ops.x.config")


def test_scalars_are_strict_like_dagster():
    assert check(int, 3) == (3, [])
    assert check(int, "3")[1][0][0] == "ops.x.config"
    assert check(bool, 1)[1]
    assert check(float, 2) == (2.0, [])
    assert check(str, "s") == ("s", [])


def test_missing_scalar_config_is_required():
    assert check(int, NO_VALUE) == (None, [("ops.x.config", "required config is missing")])


def test_dict_schema_reports_every_bad_field_with_its_path():
    value, problems = check({"a": str, "b": {"c": [int]}}, {"a": 1, "b": {"c": [1, "x"]}, "z": 0})
    assert value is None
    assert {p for p, _ in problems} == {"ops.x.config.a", "ops.x.config.b.c.1", "ops.x.config.z"}


def test_field_defaults_fill_in_and_optional_fields_stay_absent():
    schema = {"a": Field(int, default_value=3), "b": Field(str, is_required=False)}
    assert check(schema, {}) == ({"a": 3}, [])
    assert check(schema, NO_VALUE) == ({"a": 3}, [])
    assert check(schema, {"b": "x"}) == ({"a": 3, "b": "x"}, [])


def test_field_as_whole_schema_with_default():
    assert check(Field(int, default_value=4), NO_VALUE) == (4, [])


def test_permissive_lets_unknown_keys_through_but_checks_known_ones():
    assert check(Permissive({"a": int}), {"a": 1, "other": "x"}) == ({"a": 1, "other": "x"}, [])
    assert check(Permissive({"a": int}), {"a": "1"})[1][0][0] == "ops.x.config.a"


def test_selector_needs_exactly_one_key():
    assert check(Selector({"a": int, "b": str}), {"b": "x"}) == ({"b": "x"}, [])
    assert check(Selector({"a": int, "b": str}), {"a": 1, "b": "x"})[1]
    assert check(Selector({"a": int, "b": str}), {})[1]


def test_noneable_and_array():
    assert check(Noneable(int), NO_VALUE) == (None, [])
    assert check(Noneable(int), 5) == (5, [])
    assert check(Array(str), ["a"]) == (["a"], [])
    assert check([str], ["a", 1])[1][0][0] == "ops.x.config.1"


def test_string_and_int_sources_read_the_environment(monkeypatch):
    monkeypatch.setenv("OPGRID_TEST_URL", "redis://x")
    monkeypatch.setenv("OPGRID_TEST_PORT", "6380")
    assert check(StringSource, {"env": "OPGRID_TEST_URL"}) == ("redis://x", [])
    assert check(IntSource, {"env": "OPGRID_TEST_PORT"}) == (6380, [])
    assert check(StringSource, "plain") == ("plain", [])
    _, problems = check(StringSource, {"env": "OPGRID_TEST_UNSET_VAR"})
    assert "OPGRID_TEST_UNSET_VAR" in problems[0][1]


def test_config_class_schema_validates_into_the_class():
    class Settings(Config):
        name: str
        retries: int = 3

    schema = ConfigSchema(Settings, "op 'x'")
    value, problems = schema.validate({"name": "n"}, "ops.x.config")
    assert (value, problems) == ({"name": "n", "retries": 3}, [])
    assert schema.instance(value) == Settings(name="n")
    assert schema.validate({"retries": 1}, "ops.x.config")[1][0][0] == "ops.x.config.name"


def test_keys_that_are_not_identifiers_keep_their_names():
    assert check({"with-dash": int}, {"with-dash": 1}) == ({"with-dash": 1}, [])


def test_invalid_schema_is_a_definition_error_naming_the_owner():
    with pytest.raises(DagsterInvalidDefinitionError, match="op 'x'"):
        ConfigSchema(object(), "op 'x'")
