"""Input declarations: ``In`` for ops and ``GraphIn`` for graphs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .types import NO_VALUE, Checker, is_nothing, make_checker, type_name


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


@dataclass(frozen=True, slots=True)
class GraphIn:
    """Declares a graph input (its type comes from the inner inputs it feeds)."""

    description: str | None = None


@dataclass(frozen=True, slots=True, eq=False)
class InputDefinition:
    """An op input as resolved from its ``In`` and the function signature."""

    name: str
    dagster_type: Any = Any
    description: str | None = None
    default_value: Any = NO_VALUE
    checker: Checker | None = None

    @property
    def is_nothing(self) -> bool:
        return is_nothing(self.dagster_type)

    @property
    def has_default(self) -> bool:
        return self.default_value is not NO_VALUE

    @property
    def type_display(self) -> str:
        return type_name(self.dagster_type)

    @staticmethod
    def build(name: str, dagster_type: Any, spec: In | None, default: Any) -> InputDefinition:
        if spec is not None and spec.dagster_type is not NO_VALUE:
            dagster_type = spec.dagster_type
        if dagster_type is NO_VALUE:
            dagster_type = Any
        if spec is not None and spec.default_value is not NO_VALUE:
            default = spec.default_value
        return InputDefinition(
            name=name,
            dagster_type=dagster_type,
            description=spec.description if spec else None,
            default_value=default,
            checker=make_checker(dagster_type),
        )
