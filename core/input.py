"""Input declarations: ``In`` for ops and ``GraphIn`` for graphs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .dagster_type import BUILTIN_ANY, DagsterType, resolve_dagster_type
from .errors import DagsterInvalidDefinitionError
from .types import NO_VALUE, Checker


@dataclass(frozen=True, slots=True)
class In:
    """Declares an op input.

    Args:
        dagster_type: the input's type; ``Nothing`` for an ordering-only input.
        description: shown in tooling.
        default_value: used when nothing is connected to the input.
        metadata: free-form facts about the input.
    """

    dagster_type: Any = NO_VALUE
    description: str | None = None
    default_value: Any = NO_VALUE
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_type_arg(self.dagster_type, "In")


@dataclass(frozen=True, slots=True)
class GraphIn:
    """Declares a graph input (its type comes from the inner inputs it feeds)."""

    description: str | None = None


@dataclass(frozen=True, slots=True, eq=False)
class InputDefinition:
    """An op input as resolved from its ``In`` and the function signature."""

    name: str
    dagster_type: DagsterType = BUILTIN_ANY
    description: str | None = None
    default_value: Any = NO_VALUE
    checker: Checker | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_nothing(self) -> bool:
        return self.dagster_type.is_nothing

    @property
    def has_default(self) -> bool:
        return self.default_value is not NO_VALUE

    @property
    def type_display(self) -> str:
        return self.dagster_type.display_name

    def config_problem(self, value: Any) -> str | None:
        """Why ``value`` cannot be this input's run config (``ops.x.inputs.<name>``), or None."""
        loader = self.dagster_type.loader
        if loader is not None:
            problems = loader.schema.validate(value, "")[1]
            return "; ".join(f"{p}: {m}" if p else m for p, m in problems) or None
        if self.dagster_type.kind == "scalar":
            strict = _strict_config(self.dagster_type.typing_type)
            if not strict(value):
                return (
                    f'Value "{value}" of type "{type(value)}" is not valid for expected type '
                    f'"{self.dagster_type.display_name}".'
                )
            return None
        return self.checker(value) if self.checker is not None else None

    def value_from_config(self, value: Any, op_def: Any = None) -> Any:
        """The value the op receives for run config ``value`` (its type's loader applied)."""
        loader = self.dagster_type.loader
        if loader is None:
            return value
        from .type_loader import DagsterTypeLoaderContext

        validated = loader.schema.validate(value, "")[0]
        return loader.construct_from_config_value(DagsterTypeLoaderContext(op_def), validated)

    @staticmethod
    def build(name: str, dagster_type: Any, spec: In | None, default: Any) -> InputDefinition:
        if spec is not None and spec.dagster_type is not NO_VALUE:
            dagster_type = spec.dagster_type
        if spec is not None and spec.default_value is not NO_VALUE:
            default = spec.default_value
        resolved = resolve_dagster_type(dagster_type)
        if resolved.is_nothing and spec is None:
            raise DagsterInvalidDefinitionError(
                f"Input parameter {name} is annotated with Nothing which is a type that "
                "represents passing no data. This type must be used via In() and no parameter "
                "should be included"
            )
        if default is not NO_VALUE and not resolved.is_any:
            failed = resolved.failure(default)
            if failed is not None:
                raise DagsterInvalidDefinitionError(
                    f"Type check failed for the default_value of InputDefinition {name} of type "
                    f"{resolved.display_name}. Received value {default} of type {type(default)}"
                )
        return InputDefinition(
            name=name,
            dagster_type=resolved,
            description=spec.description if spec else None,
            default_value=default,
            checker=None if resolved.is_any else resolved.reason,
            metadata=dict(spec.metadata) if spec else {},
        )


def _strict_config(python_type: Any) -> Any:
    if python_type is float:
        return lambda v: isinstance(v, int | float)
    if python_type is int:
        return lambda v: isinstance(v, int) and not isinstance(v, bool)
    return lambda v: isinstance(v, python_type)


def check_type_arg(value: Any, where: str) -> None:
    """Refuse an ``In``/``Out`` type that is no type at all (``Out(3)``)."""
    if value is NO_VALUE or isinstance(value, DagsterType) or value is None:
        return
    if isinstance(value, type) or value is Any or _is_typing_form(value):
        return
    from .collection_types import is_collection_api
    from .types import is_nothing

    if is_nothing(value) or is_collection_api(value):
        return
    raise DagsterInvalidDefinitionError(
        f"{where}: Invalid type: dagster_type must be an instance of DagsterType or a Python "
        f"type: got {value!r}."
    )


def _is_typing_form(value: Any) -> bool:
    import typing

    return typing.get_origin(value) is not None or type(value).__module__ == "typing"
