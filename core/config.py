"""Config schemas: Dagster's schema forms, validated by pydantic.

A schema is written the way Dagster users write it: a Python type (``str``,
``int``, ``float``, ``bool``, ``Any``), a one-element list (``[str]``), a
dict of field schemas, ``Field(...)``, ``Permissive``/``Shape``/``Selector``/
``Noneable``/``Array``, ``StringSource``-style env lookups, or a pydantic
``Config`` class. ``ConfigSchema`` turns it, once per definition, into a
pydantic type and validates values against it, reporting every bad field by
its dotted path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Optional

import pydantic
from pydantic import BaseModel, BeforeValidator, ConfigDict, StrictBool, StrictInt, StrictStr

from .config_problems import ConfigProblem, problem
from .config_types import Enum, enum_members_to_names, enum_names_to_members, map_schema
from .errors import DagsterInvalidConfigDefinitionError, DagsterInvalidDefinitionError
from .types import NO_VALUE


class Config(BaseModel):
    """Base class for pythonic op and resource config (Dagster's ``Config``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @pydantic.model_validator(mode="before")
    @classmethod
    def _enum_members_by_name(cls, data: Any) -> Any:
        # Dagster reads Python Enum fields by member name: {"color": "RED"}
        return enum_names_to_members(cls, data)


@dataclass(frozen=True, slots=True)
class Field:
    """A config field with a default, optionality and a description."""

    config: Any = Any
    default_value: Any = NO_VALUE
    is_required: bool | None = None
    description: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.config, str | int | float | bool) or self.config is None:
            raise DagsterInvalidDefinitionError(
                f"Attempted to pass {self.config!r} to a Field that expects a valid dagster type "
                "usable in config (e.g. Dict, Int, String et al)."
            )
        _refuse_dagster_type(self.config)
        if self.is_required and self.default_value is not NO_VALUE:
            raise DagsterInvalidDefinitionError(
                "required arguments should not specify default values"
            )
        if self.is_required is None:
            optional = self.default_value is not NO_VALUE or _all_optional(self.config)
            object.__setattr__(self, "is_required", not optional)

    @property
    def required(self) -> bool:
        return bool(self.is_required) and self.default_value is NO_VALUE

    @property
    def default_provided(self) -> bool:
        return self.default_value is not NO_VALUE

    @property
    def config_type(self) -> Any:
        return self.config


def _all_optional(config: Any) -> bool:
    """Dagster's rule: a field is optional when nothing inside it needs a value."""
    if isinstance(config, Noneable):
        return True
    if isinstance(config, Permissive) and not config.fields:
        return True
    fields = config.fields if isinstance(config, Shape | Permissive) else config
    if isinstance(fields, Mapping):
        return all(
            (not spec.is_required) if isinstance(spec, Field) else _all_optional(spec)
            for spec in fields.values()
        )
    return False


@dataclass(frozen=True, slots=True)
class Shape:
    """A dict schema whose keys are exactly the given fields."""

    fields: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Permissive:
    """A dict schema that checks the given fields and lets any other key through."""

    fields: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Selector:
    """A dict schema where exactly one of the given fields must be set."""

    fields: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Noneable:
    """A schema that also accepts None (and defaults to it)."""

    inner: Any


@dataclass(frozen=True, slots=True)
class Array:
    """A list schema whose items match the inner schema."""

    inner: Any


def _from_env(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"env"}:
        name = value["env"]
        if name not in os.environ:
            raise ValueError(f"environment variable {name!r} is not set")
        return os.environ[name]
    return value


def _int_from_env(value: Any) -> Any:
    resolved = _from_env(value)
    if resolved is not value and isinstance(resolved, str):
        return int(resolved)
    return resolved


StringSource = Annotated[StrictStr, BeforeValidator(_from_env)]
IntSource = Annotated[StrictInt, BeforeValidator(_int_from_env)]
BoolSource = Annotated[StrictBool, BeforeValidator(_from_env)]


class _ShapeModel(BaseModel):
    """Base of the models generated from dict schemas."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _PermissiveModel(_ShapeModel):
    model_config = ConfigDict(extra="allow", strict=True, frozen=True)


class _Absent:
    """Default of an optional field without a default: the key stays absent."""

    def __repr__(self) -> str:
        return "<absent>"


_ABSENT = _Absent()
_SCALARS: dict[Any, Any] = {
    str: StrictStr,
    int: StrictInt,
    bool: StrictBool,
    float: float,
    Any: Any,
    dict: dict[str, Any],
    list: list[Any],
}


class ConfigSchema:
    """A compiled config schema.

    Args:
        raw: the schema as the user wrote it.
        owner: what the schema belongs to, for definition error messages.
    """

    def __init__(self, raw: Any, owner: str) -> None:
        self.raw = raw
        self.owner = owner
        self.config_class: type[BaseModel] | None = (
            raw if isinstance(raw, type) and issubclass(raw, BaseModel) else None
        )
        annotation, self.default = _convert(raw, owner, "")
        self._annotation = annotation
        self._adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(annotation)

    def validate(self, value: Any, path: str) -> tuple[Any, list[ConfigProblem]]:
        """Validate ``value`` (``NO_VALUE`` when absent); returns (plain value, problems)."""
        if value is NO_VALUE or value is None:
            if self.default is not NO_VALUE:
                return _plain(self.default), []
            if isinstance(self.raw, dict | Shape | Permissive) or self.config_class:
                value = {}
            elif value is NO_VALUE:
                return None, [(path, "required config is missing")]
        if isinstance(value, BaseModel):
            value = value.model_dump()
        try:
            validated = self._adapter.validate_python(value)
        except pydantic.ValidationError as exc:
            return None, [problem(path, err, self._annotation) for err in exc.errors()]
        return _plain(validated), []

    def as_field(self) -> Field:
        """The schema as a ``Field`` (required unless nothing in it needs a value)."""
        return self.raw if isinstance(self.raw, Field) else Field(self.raw)

    def instance(self, plain: Any) -> Any:
        """The value an op sees as its ``config`` parameter (a Config object when declared)."""
        if self.config_class is None:
            return plain
        return self.config_class.model_validate(plain)


def _plain(value: Any) -> Any:
    """Generated models back to plain dicts; absent optional fields dropped."""
    if isinstance(value, _ShapeModel):
        fields = type(value).model_fields
        out = {
            fields[attr].alias or attr: _plain(item)
            for attr, item in value.__dict__.items()
            if item is not _ABSENT
        }
        out.update({k: _plain(v) for k, v in (value.__pydantic_extra__ or {}).items()})
        return out
    if isinstance(value, BaseModel):
        return enum_members_to_names(value.model_dump())
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _convert(raw: Any, owner: str, where: str) -> tuple[Any, Any]:
    """(pydantic annotation, default or NO_VALUE) for a user schema."""
    if isinstance(raw, Field):
        annotation, inner_default = _convert(raw.config, owner, where)
        default = raw.default_value if raw.default_value is not NO_VALUE else inner_default
        return annotation, default
    if _hashable(raw) and raw in _SCALARS:
        return _SCALARS[raw], NO_VALUE
    if isinstance(raw, type) and issubclass(raw, BaseModel):
        return raw, NO_VALUE
    if isinstance(raw, list) and len(raw) == 1:
        return list[_convert(raw[0], owner, where)[0]], NO_VALUE  # type: ignore[misc]
    if isinstance(raw, Array):
        return list[_convert(raw.inner, owner, where)[0]], NO_VALUE  # type: ignore[misc]
    if isinstance(raw, Noneable):
        return Optional[_convert(raw.inner, owner, where)[0]], None  # noqa: UP045
    special = _convert_enum_or_map(raw, owner, where)
    if special is not None:
        return special, NO_VALUE
    if isinstance(raw, dict | Shape):
        fields = raw.fields if isinstance(raw, Shape) else raw
        return _model(fields, owner, where, _ShapeModel), NO_VALUE
    if isinstance(raw, Permissive):
        return _model(raw.fields or {}, owner, where, _PermissiveModel), NO_VALUE
    if isinstance(raw, Selector):
        return _selector(raw.fields, owner, where), NO_VALUE
    if raw is StringSource or raw is IntSource or raw is BoolSource:
        return raw, NO_VALUE
    _refuse_dagster_type(raw)
    raise DagsterInvalidConfigDefinitionError(
        f"{owner}: Error defining config. Original value passed: {raw!r}. "
        f"{raw!r} cannot be resolved{' (at ' + where + ')' if where else ''}; a config schema "
        "is a Field, a Python primitive type, a config type (Shape, Permissive, Selector, "
        "Noneable, Array, Enum, Map, ...), a dict of them or a one-element list of one."
    )


def _convert_enum_or_map(raw: Any, owner: str, where: str) -> Any:
    if isinstance(raw, Enum):
        return Annotated[Any, pydantic.BeforeValidator(raw.convert)]
    found = map_schema(raw)
    if found is None:
        return None
    key, inner = found
    value_annotation = _convert(inner, owner, where)[0]
    return dict[_SCALARS[key], value_annotation]  # type: ignore[valid-type]


def _refuse_dagster_type(raw: Any) -> None:
    """Dagster types are not config schemas; say so in Dagster's words."""
    from .collection_types import is_collection_api
    from .dagster_type import DagsterType

    if is_collection_api(raw) or getattr(raw, "kind", None) == "list":
        name = repr(raw) if is_collection_api(raw) else "List"
        where = "config" if name == "List" else "a config field"
        raise DagsterInvalidDefinitionError(
            f"Cannot use {name} in the context of {where}. Please use a python list "
            "(e.g. [int]) or dagster.Array (e.g. Array(int)) instead."
        )
    if isinstance(raw, DagsterType):
        raise DagsterInvalidDefinitionError(
            f"You have passed an instance of DagsterType {raw.display_name} to the config "
            "system. The DagsterType and config schema systems are separate. Valid config "
            "values are: a Python primitive type (int, float, bool, str), a config type (Int, "
            "Float, Bool, String, StringSource, Any, Array, Noneable, Selector, Shape, "
            "Permissive, ...), a dict of them, or a one-element list of one."
        )


def _hashable(raw: Any) -> bool:
    try:
        hash(raw)
    except TypeError:
        return False
    return True


def _model(
    fields: Mapping[str, Any],
    owner: str,
    where: str,
    base: type[_ShapeModel],
    fill_defaults: bool = True,
) -> type[BaseModel]:
    definitions: dict[str, Any] = {}
    for name, spec in fields.items():
        annotation, default = _convert(spec, owner, f"{where}.{name}" if where else name)
        inner = spec.config if isinstance(spec, Field) else spec
        fill = (
            fill_defaults
            and default is NO_VALUE
            and _all_optional(inner)
            and not isinstance(inner, Noneable)
        )
        required = spec.required if isinstance(spec, Field) else default is NO_VALUE and not fill
        if fill:
            default = {}  # a shape whose fields all have defaults: filled in, as Dagster does
        elif isinstance(spec, Field) and not required and default is NO_VALUE:
            default = _ABSENT
        description = spec.description if isinstance(spec, Field) else None
        info = pydantic.Field(
            default=... if required else default,
            description=description,
            alias=name,
            validate_default=fill,
        )
        definitions[_safe_attr(name)] = (annotation, info)
    model: type[BaseModel] = pydantic.create_model("ConfigShape", __base__=base, **definitions)
    return model


def _safe_attr(name: str) -> str:
    return name if name.isidentifier() and not name.startswith("_") else f"f_{abs(hash(name))}"


def _selector(fields: Mapping[str, Any], owner: str, where: str) -> Any:
    model = _model(
        {name: Field(spec, is_required=False) for name, spec in fields.items()},
        owner,
        where,
        _ShapeModel,
        fill_defaults=False,  # a selector's unchosen fields stay absent
    )

    def exactly_one(value: Any) -> Any:
        chosen = [k for k, v in value.__dict__.items() if v is not _ABSENT]
        if len(chosen) != 1:
            raise ValueError(f"exactly one of {sorted(fields)} must be set, got {sorted(chosen)}")
        return value

    return Annotated[model, pydantic.AfterValidator(exactly_one)]
