"""Dagster types: named runtime checks for op inputs and outputs.

``Int``, ``String``, ``Bool`` and ``Float`` are the Python classes themselves (as in
Dagster 1.13) and ``Any`` is ``typing.Any``; each resolves to a built-in
``DagsterType`` when used in ``In``/``Out`` or as an annotation. ``List[...]``,
``Optional[...]``, ``Dict[...]``, ``Set[...]`` and ``Tuple[...]`` (``collection_types``)
build collection types. Any other class becomes a ``PythonObjectDagsterType`` (an ``isinstance``
check), and annotations the checker cannot judge (unions, literals, ...) keep the
annotation's own check from ``types.make_checker``.
"""

from __future__ import annotations

import inspect
import logging
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import DagsterInvalidDefinitionError
from .types import NO_VALUE, is_list_type, is_nothing, make_checker, type_name

#: A user's type check: ``fn(context, value) -> bool | TypeCheck``.
TypeCheckFn = Callable[[Any, Any], Any]

logger = logging.getLogger("opgrid.types")


@dataclass(frozen=True, slots=True)
class TypeCheck:
    """The result of a type check.

    Args:
        success: whether the value passed.
        description: why it failed (or a note on why it passed).
        metadata: facts about the value, reported with the failure.
    """

    success: bool
    description: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TypeCheckContext:
    """What a type check function receives as its first argument."""

    log: logging.Logger = logger
    resources: Any = None


#: The context type checks get when a run has nothing more specific to offer.
_CONTEXT = TypeCheckContext()


class DagsterType:
    """A named type check applied to the values an op receives and produces.

    Args:
        type_check_fn: ``fn(context, value)`` returning a bool or a ``TypeCheck``.
        key: unique key of the type; defaults to ``name``.
        name: shown in errors and tooling.
        is_builtin: whether opgrid defines it.
        description: shown in tooling.
        loader: builds input values from run config (``dagster_type_loader``).
        required_resource_keys: resources the type check uses.
        typing_type: the Python type values of this type have.
        metadata: free-form facts about the type.
    """

    def __init__(
        self,
        type_check_fn: TypeCheckFn,
        key: str | None = None,
        name: str | None = None,
        is_builtin: bool = False,
        description: str | None = None,
        loader: Any = None,
        required_resource_keys: set[str] | None = None,
        kind: str = "regular",
        typing_type: Any = Any,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        label = name or key
        if not label:
            raise DagsterInvalidDefinitionError("a DagsterType needs a name or a key")
        _check_arity(type_check_fn, label)
        self._type_check_fn = type_check_fn
        self._name = label
        self.key = key or label
        self.is_builtin = is_builtin
        self.description = description
        self.loader = loader
        self.required_resource_keys = frozenset(required_resource_keys or ())
        self.kind = kind
        self.typing_type = typing_type
        self.metadata = dict(metadata or {})

    @property
    def display_name(self) -> str:
        return self._name

    @property
    def unique_name(self) -> str:
        return self._name

    @property
    def is_nothing(self) -> bool:
        return self.kind == "nothing"

    @property
    def is_any(self) -> bool:
        return self.kind == "any"

    @property
    def inner_types(self) -> list[DagsterType]:
        return []

    @property
    def accepts_list(self) -> bool:
        """Whether a list of values (a fan-in or a collect) may feed an input of this type."""
        return self.kind in ("any", "nothing", "list") or (
            self.kind == "annotation" and is_list_type(self.typing_type)
        )

    def type_check(self, context: Any, value: Any) -> TypeCheck:
        """Check ``value``; always returns a ``TypeCheck``."""
        result = self._type_check_fn(context, value)
        if isinstance(result, TypeCheck):
            return result
        if isinstance(result, bool):
            return TypeCheck(result)
        raise DagsterInvalidDefinitionError(
            f'type check of Dagster type "{self._name}" returned {result!r}; '
            "return a bool or a TypeCheck"
        )

    def failure(self, value: Any) -> TypeCheck | None:
        """The failed check of ``value``, or None when it passes."""
        if self.kind == "any":
            return None
        if self.kind == "scalar" and isinstance(value, self.typing_type):
            return None  # the common case, without building a TypeCheck
        result = self.type_check(_CONTEXT, value)
        return None if result.success else result

    def reason(self, value: Any) -> str | None:
        """Why ``value`` fails the check, or None (the ``types.Checker`` form)."""
        failed = self.failure(value)
        if failed is None:
            return None
        return failed.description or f'value {value!r} is not a "{self._name}"'

    def __repr__(self) -> str:
        return f"<DagsterType {self._name}>"


def _check_arity(fn: Any, name: str) -> None:
    if not callable(fn):
        raise DagsterInvalidDefinitionError(f'type_check_fn of type "{name}" must be callable')
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return
    count = sum(1 for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
    if count != 2:
        raise DagsterInvalidDefinitionError(
            f'type_check_fn argument on type "{name}" must take 2 arguments, received {count}.'
        )


class PythonObjectDagsterType(DagsterType):
    """A Dagster type whose check is ``isinstance(value, python_type)``.

    Args:
        python_type: a class or a tuple of classes.
        key: defaults to the class name.
        name: defaults to the class name.
        description: shown in tooling.
        loader: builds input values from run config.
        typing_type: defaults to ``python_type``.
    """

    def __init__(
        self,
        python_type: type | tuple[type, ...],
        key: str | None = None,
        name: str | None = None,
        description: str | None = None,
        loader: Any = None,
        typing_type: Any = None,
        **kwargs: Any,
    ) -> None:
        self.python_type = python_type
        label = name or (
            python_type.__name__
            if isinstance(python_type, type)
            else "Union[" + ", ".join(t.__name__ for t in python_type) + "]"
        )

        def check(_context: Any, value: Any) -> TypeCheck:
            if isinstance(value, python_type):
                return TypeCheck(True)
            return TypeCheck(
                False,
                f"Value of type {type(value)} failed type check for Dagster type {label}, "
                f"expected value to be of Python type {_qualified(python_type)}.",
            )

        super().__init__(
            check,
            key=key,
            name=label,
            description=description,
            loader=loader,
            typing_type=typing_type or python_type,
            **kwargs,
        )


def _qualified(python_type: Any) -> str:
    if isinstance(python_type, tuple):
        return "(" + ", ".join(_qualified(t) for t in python_type) + ")"
    module = getattr(python_type, "__module__", "")
    name = getattr(python_type, "__qualname__", repr(python_type))
    return name if module == "builtins" else f"{module}.{name}"


def _scalar(name: str, python_type: type, article: str) -> DagsterType:
    def check(_context: Any, value: Any) -> TypeCheck:
        if isinstance(value, python_type):
            return TypeCheck(True)
        return TypeCheck(
            False,
            f'Value "{value}" of python type "{type(value).__name__}" must be a {article}.',
        )

    return DagsterType(check, name=name, is_builtin=True, kind="scalar", typing_type=python_type)


BUILTIN_INT = _scalar("Int", int, "int")
BUILTIN_STRING = _scalar("String", str, "string")
BUILTIN_BOOL = _scalar("Bool", bool, "bool")
BUILTIN_FLOAT = _scalar("Float", float, "float")
BUILTIN_ANY = DagsterType(lambda _c, _v: True, name="Any", is_builtin=True, kind="any")
BUILTIN_NOTHING = DagsterType(
    lambda _c, v: TypeCheck(
        v is None, None if v is None else f"Value must be None or unset, got a {type(v)}"
    ),
    name="Nothing",
    is_builtin=True,
    kind="nothing",
)
_BY_CLASS: dict[Any, DagsterType] = {
    int: BUILTIN_INT,
    str: BUILTIN_STRING,
    bool: BUILTIN_BOOL,
    float: BUILTIN_FLOAT,
}
#: Classes made Dagster types with ``@usable_as_dagster_type``.
_REGISTERED: dict[type, DagsterType] = {}


def resolve_dagster_type(tp: Any) -> DagsterType:
    """The ``DagsterType`` for an ``In``/``Out`` type or a Python annotation."""
    from .collection_types import is_collection_api

    if isinstance(tp, DagsterType):
        return tp
    if tp is NO_VALUE or tp is Any or tp is object:
        return BUILTIN_ANY
    if is_nothing(tp):
        return BUILTIN_NOTHING
    if is_collection_api(tp):
        return tp.bare()  # type: ignore[no-any-return]
    if isinstance(tp, type) and tp in _REGISTERED:
        return _REGISTERED[tp]
    if _hashable(tp) and tp in _BY_CLASS:
        return _BY_CLASS[tp]
    found = _from_generic(tp)
    if found is not None:
        return found
    if isinstance(tp, type):
        return PythonObjectDagsterType(tp)
    return _annotation_type(tp)


def _hashable(tp: Any) -> bool:
    try:
        hash(tp)
    except TypeError:
        return False
    return True


def _from_generic(tp: Any) -> DagsterType | None:
    from .collection_types import Dict, List, Optional, Set, Tuple

    origin = typing.get_origin(tp) or (tp if tp in (list, typing.List) else None)  # noqa: UP006
    args = typing.get_args(tp)
    if origin is list:
        return List[args[0]] if args else List[Any]
    if origin is typing.Union and len(args) == 2 and type(None) in args:
        return Optional[next(a for a in args if a is not type(None))]
    if origin is dict and len(args) == 2:
        return Dict[args[0], args[1]]
    if origin is set and len(args) == 1:
        return Set[args[0]]
    if origin is tuple and args and Ellipsis not in args:
        return Tuple[args]
    return None


def _annotation_type(tp: Any) -> DagsterType:
    if isinstance(tp, str | typing.ForwardRef | typing.TypeVar):
        return BUILTIN_ANY
    checker = make_checker(tp)

    def check(_context: Any, value: Any) -> TypeCheck:
        reason = checker(value) if checker is not None else None
        return TypeCheck(reason is None, reason)

    return DagsterType(check, name=type_name(tp), kind="annotation", typing_type=tp)


def check_dagster_type(dagster_type: Any, value: Any) -> TypeCheck:
    """Check ``value`` against a Dagster type (or anything ``In`` accepts) outside a run."""
    return resolve_dagster_type(dagster_type).type_check(TypeCheckContext(), value)


def usable_as_dagster_type(
    name: Any = None,
    description: str | None = None,
    loader: Any = None,
) -> Any:
    """Make a class usable as a Dagster type in annotations and ``In``/``Out``.

    Works bare (``@usable_as_dagster_type``) or with arguments.
    """

    def wrap(cls: type) -> type:
        if not isinstance(cls, type):
            raise DagsterInvalidDefinitionError(
                f"usable_as_dagster_type decorates a class, got {cls!r}"
            )
        _REGISTERED[cls] = PythonObjectDagsterType(
            cls,
            name=name if isinstance(name, str) else None,
            description=description,
            loader=loader,
        )
        return cls

    if isinstance(name, type):
        return wrap(name)
    return wrap


def make_python_type_usable_as_dagster_type(python_type: type, dagster_type: DagsterType) -> None:
    """Resolve ``python_type`` annotations to ``dagster_type`` from now on."""
    _REGISTERED[python_type] = dagster_type
