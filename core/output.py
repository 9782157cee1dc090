"""Output declarations (``Out``, ``DynamicOut``, ``GraphOut``) and the values ops emit."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .dagster_type import BUILTIN_ANY, DagsterType, resolve_dagster_type
from .errors import DagsterInvalidDefinitionError, DagsterInvalidInvocationError
from .types import NO_VALUE, Checker

#: Name of an op's output when it declares a single one.
DEFAULT_OUTPUT = "result"

_MAPPING_KEY = re.compile(r"^[A-Za-z0-9_]+$")


@dataclass(frozen=True, slots=True)
class Out:
    """Declares an op output.

    Args:
        dagster_type: the output's type; checked at run time.
        description: shown in tooling.
        is_required: when False the op may finish without producing it, and
            ops that consume it are skipped.
        io_manager_key: the resource that stores the output.
        metadata: free-form facts about the output.
    """

    dagster_type: Any = NO_VALUE
    description: str | None = None
    is_required: bool = True
    io_manager_key: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    code_version: str | None = None


@dataclass(frozen=True, slots=True)
class DynamicOut(Out):
    """Declares an output yielded any number of times, each with a mapping key."""


@dataclass(frozen=True, slots=True)
class GraphOut:
    """Declares a graph output."""

    description: str | None = None


@dataclass(frozen=True, slots=True, eq=False)
class OutputDefinition:
    """An op output as resolved from its ``Out`` and the return annotation."""

    name: str
    dagster_type: DagsterType = BUILTIN_ANY
    description: str | None = None
    is_required: bool = True
    is_dynamic: bool = False
    checker: Checker | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    code_version: str | None = None
    io_manager_key: str = "io_manager"

    @property
    def type_display(self) -> str:
        return self.dagster_type.display_name

    @property
    def optional(self) -> bool:
        return not self.is_required

    @staticmethod
    def build(name: str, spec: Out, annotation: Any) -> OutputDefinition:
        dagster_type = spec.dagster_type if spec.dagster_type is not NO_VALUE else annotation
        resolved = resolve_dagster_type(dagster_type)
        return OutputDefinition(
            name=name,
            dagster_type=resolved,
            description=spec.description,
            is_required=spec.is_required,
            is_dynamic=isinstance(spec, DynamicOut),
            checker=None if resolved.is_any else resolved.reason,
            metadata=dict(spec.metadata),
            code_version=spec.code_version,
            io_manager_key=spec.io_manager_key or "io_manager",
        )


class Output:
    """A value an op returns or yields for one of its outputs.

    Args:
        value: the value.
        output_name: which output it is for.
        metadata: facts about the value, recorded with the output event.
    """

    __slots__ = ("metadata", "output_name", "value")

    def __init__(
        self,
        value: Any,
        output_name: str = DEFAULT_OUTPUT,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self.value = value
        self.output_name = output_name
        self.metadata = dict(metadata or {})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.value!r}, {self.output_name!r})"


class DynamicOutput(Output):
    """One value of a ``DynamicOut``; downstream mapped ops run once per mapping key.

    Args:
        value: the value.
        mapping_key: unique among this output's values; letters, digits and ``_``.
        output_name: which dynamic output it is for.
        metadata: facts about the value.
    """

    __slots__ = ("mapping_key",)

    def __init__(
        self,
        value: Any,
        mapping_key: str,
        output_name: str = DEFAULT_OUTPUT,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(mapping_key, str) or not _MAPPING_KEY.match(mapping_key):
            raise DagsterInvalidInvocationError(
                f"Invalid mapping_key {mapping_key!r} for output {output_name!r}: "
                "use only letters, digits and underscores"
            )
        super().__init__(value, output_name, metadata)
        self.mapping_key = mapping_key

    def __repr__(self) -> str:
        return f"DynamicOutput({self.value!r}, {self.mapping_key!r}, {self.output_name!r})"


def check_output_name(name: str, where: str) -> None:
    """Refuse output names that are not identifiers."""
    if not name.isidentifier():
        raise DagsterInvalidDefinitionError(f"{where}: output name {name!r} is not an identifier")
