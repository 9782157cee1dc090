"""Config types beyond dicts and scalars: ``Enum``/``EnumValue`` and ``Map``.

Also how Python ``enum.Enum`` fields of ``Config`` classes are read: by member
name, as Dagster does (``{"color": "RED"}``), and written back by name so that
run config stays JSON.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import DagsterInvalidDefinitionError

#: Python values an Enum config value may map to inside a (JSON) plan.
_JSON_SCALARS = (str, int, float, bool, type(None))


@dataclass(frozen=True, slots=True)
class EnumValue:
    """One value of a config ``Enum``.

    Args:
        config_value: the string written in run config.
        python_value: what the op receives; defaults to ``config_value``.
        description: shown in tooling.
    """

    config_value: str
    python_value: Any = None
    description: str | None = None

    @property
    def value(self) -> Any:
        return self.config_value if self.python_value is None else self.python_value


class Enum:
    """A config type whose value is one of a fixed set of strings.

    Args:
        name: the type's name, shown in errors.
        enum_values: the allowed values.
    """

    def __init__(self, name: str, enum_values: Sequence[EnumValue]) -> None:
        self.name = name
        self.enum_values = list(enum_values)
        for item in self.enum_values:
            if not isinstance(item, EnumValue):
                raise DagsterInvalidDefinitionError(
                    f"Enum {name!r}: enum_values must be EnumValue objects, got {item!r}"
                )
            if not isinstance(item.value, _JSON_SCALARS):
                raise DagsterInvalidDefinitionError(
                    f"Enum {name!r}: python_value of {item.config_value!r} must be a str, "
                    "number, bool or None, so that the run config can be stored"
                )
        self._by_config = {item.config_value: item.value for item in self.enum_values}

    @classmethod
    def from_python_enum(cls, enum_type: type[enum.Enum], name: str | None = None) -> Enum:
        """A config Enum of a Python enum's member names (values are the member names)."""
        return cls(name or enum_type.__name__, [EnumValue(m) for m in enum_type.__members__])

    def convert(self, value: Any) -> Any:
        """The python value for config ``value``; ValueError when it is not allowed."""
        if not isinstance(value, str) or value not in self._by_config:
            allowed = ", ".join(self._by_config)
            raise ValueError(
                f"Value {value!r} not in enum type {self.name}; expected one of {allowed}"
            )
        return self._by_config[value]


@dataclass(frozen=True, slots=True)
class Map:
    """A dict config type with arbitrary keys of ``key_type`` and values of ``inner_type``."""

    key_type: Any
    inner_type: Any
    key_label_name: str | None = None


#: Key types a ``Map`` (or a ``{str: int}`` schema) may have.
MAP_KEY_TYPES = (str, int, float, bool)


def map_schema(raw: Any) -> tuple[Any, Any] | None:
    """(key type, value schema) when ``raw`` is a map schema, else None."""
    if isinstance(raw, Map):
        if raw.key_type not in MAP_KEY_TYPES:
            raise DagsterInvalidDefinitionError(
                f"Map key type must be one of str, int, float, bool; got {raw.key_type!r}"
            )
        return raw.key_type, raw.inner_type
    if isinstance(raw, Mapping) and len(raw) == 1:
        key = next(iter(raw))
        if isinstance(key, type) and key in MAP_KEY_TYPES:
            return key, raw[key]
    return None


def enum_names_to_members(model: type, data: Any) -> Any:
    """Turn member names into members for the ``enum.Enum`` fields of a Config class."""
    if not isinstance(data, Mapping):
        return data
    fields = getattr(model, "model_fields", {})
    converted = dict(data)
    for name, info in fields.items():
        annotation = info.annotation
        value = converted.get(name)
        enum_type = _enum_of(annotation)
        if enum_type is not None and isinstance(value, str) and value in enum_type.__members__:
            converted[name] = enum_type[value]
    return converted


def _enum_of(annotation: Any) -> type[enum.Enum] | None:
    import typing

    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return annotation
    for arg in typing.get_args(annotation):  # Optional[Color]
        if isinstance(arg, type) and issubclass(arg, enum.Enum):
            return arg
    return None


def enum_members_to_names(value: Any) -> Any:
    """Python enum members in a dumped Config back to their names (JSON run config)."""
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, Mapping):
        return {k: enum_members_to_names(v) for k, v in value.items()}
    if isinstance(value, list):
        return [enum_members_to_names(v) for v in value]
    return value
