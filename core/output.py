"""Output declarations (``Out``, ``DynamicOut``, ``GraphOut``) and the values ops emit."""

from __future__ import annotations

import collections.abc
import re
import types
import typing
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

    def __post_init__(self) -> None:
        from .input import check_type_arg

        check_type_arg(self.dagster_type, "Out")


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

    def __class_getitem__(cls, item: Any) -> Any:
        """``Output[int]``: an annotation whose output type is ``int``."""
        return types.GenericAlias(cls, item if isinstance(item, tuple) else (item,))

    def __init__(
        self,
        value: Any,
        output_name: str = DEFAULT_OUTPUT,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self.value = value
        self.output_name = output_name
        self.metadata = dict(metadata or {})

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]

    def _key(self) -> tuple[Any, ...]:
        return (self.value, self.output_name, self.metadata)

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

    def _key(self) -> tuple[Any, ...]:
        return (self.value, self.mapping_key, self.output_name, self.metadata)

    def __repr__(self) -> str:
        return f"DynamicOutput({self.value!r}, {self.mapping_key!r}, {self.output_name!r})"


def output_type_of(annotation: Any, op_name: str) -> Any:
    """The output type a return annotation declares, as Dagster reads it.

    ``Output[T]`` and ``List[DynamicOutput[T]]`` declare ``T``; a bare ``Output`` and
    generator annotations (``Iterator[...]``) declare nothing; ``DynamicOutput[T]``
    outside a list is refused.
    """
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation in (Output, DynamicOutput) or origin in _GENERATORS:
        if annotation is DynamicOutput:
            _refuse_bare_dynamic(op_name, annotation)
        return NO_VALUE
    if origin is Output:
        return args[0] if args else NO_VALUE
    if origin is DynamicOutput:
        _refuse_bare_dynamic(op_name, annotation)
    if origin is list and args:
        item = args[0]
        if item is DynamicOutput:
            return NO_VALUE
        if typing.get_origin(item) is DynamicOutput:
            return typing.get_args(item)[0]
    return annotation


_GENERATORS = (
    collections.abc.Iterator,
    collections.abc.Iterable,
    collections.abc.Generator,
    collections.abc.AsyncIterator,
    collections.abc.AsyncGenerator,
)


def _refuse_bare_dynamic(op_name: str, annotation: Any) -> None:
    raise DagsterInvalidDefinitionError(
        f"op {op_name!r}: Problem using type {annotation!r} from return type annotation: "
        "DynamicOutputs can only be returned in the context of a List. If only one output is "
        "needed, use the Output API."
    )


def jsonable_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Output metadata as JSON values, so it survives the trip through the event log."""
    return {str(key): _jsonable(value) for key, value in metadata.items()}


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    inner = getattr(value, "value", NO_VALUE)  # metadata value wrappers
    if inner is not NO_VALUE and inner is not value:
        return _jsonable(inner)
    return str(value)


def check_output_name(name: str, where: str) -> None:
    """Refuse output names that are not identifiers."""
    if not name.isidentifier():
        raise DagsterInvalidDefinitionError(f"{where}: output name {name!r} is not an identifier")
