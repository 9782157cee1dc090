"""Collection Dagster types: ``List[...]``, ``Optional[...]``, ``Dict[...]``, ``Set[...]``,
``Tuple[...]``, with Dagster's display names (``[Int]``, ``Int?``, ``Dict[String,Int]``)
and check descriptions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .dagster_type import DagsterType, PythonObjectDagsterType, TypeCheck, resolve_dagster_type


def _collection(
    name: str, kind: str, outer: type, outer_fail: Callable[[Any], str], items: Any
) -> DagsterType:
    def check(context: Any, value: Any) -> TypeCheck:
        if not isinstance(value, outer):
            return TypeCheck(False, outer_fail(value))
        for inner, item in items(value):
            result: TypeCheck = inner.type_check(context, item)
            if not result.success:
                return result
        return TypeCheck(True)

    return DagsterType(check, name=name, is_builtin=True, kind=kind, typing_type=outer)


class _CollectionApi:
    """``List[...]``-style constructors of collection types."""

    def __init__(self, name: str, build: Callable[[tuple[DagsterType, ...]], DagsterType]) -> None:
        self._name = name
        self._build = build

    def __getitem__(self, params: Any) -> DagsterType:
        args = params if isinstance(params, tuple) else (params,)
        return self._build(tuple(resolve_dagster_type(arg) for arg in args))

    def bare(self) -> DagsterType:
        if self._name == "List":
            return self[Any]
        return PythonObjectDagsterType({"Dict": dict, "Set": set, "Tuple": tuple}[self._name])

    def __repr__(self) -> str:
        return self._name


def _list(inner: tuple[DagsterType, ...]) -> DagsterType:
    (item,) = inner
    return _collection(
        f"[{item.display_name}]",
        "list",
        list,
        lambda v: f'Value "{v}" of python type "{type(v).__name__}" must be a list.',
        lambda value: ((item, element) for element in value),
    )


def _optional(inner: tuple[DagsterType, ...]) -> DagsterType:
    (item,) = inner

    def check(context: Any, value: Any) -> TypeCheck:
        return TypeCheck(True) if value is None else item.type_check(context, value)

    return DagsterType(check, name=f"{item.display_name}?", is_builtin=True, kind="optional")


def _dict(inner: tuple[DagsterType, ...]) -> DagsterType:
    key, val = inner
    return _collection(
        f"Dict[{key.display_name},{val.display_name}]",
        "dict",
        dict,
        lambda v: f"Value should be a dict, got a {type(v)}",
        lambda value: (pair for k, v in value.items() for pair in ((key, k), (val, v))),
    )


def _set(inner: tuple[DagsterType, ...]) -> DagsterType:
    (item,) = inner
    return _collection(
        f"Set[{item.display_name}]",
        "set",
        set,
        lambda v: f"Value should be a set, got a{type(v)}",
        lambda value: ((item, element) for element in value),
    )


def _tuple(inner: tuple[DagsterType, ...]) -> DagsterType:
    names = ",".join(t.display_name for t in inner)

    def check(context: Any, value: Any) -> TypeCheck:
        if not isinstance(value, tuple):
            return TypeCheck(False, f"Value should be a tuple, got a {type(value)}")
        if len(value) != len(inner):
            return TypeCheck(
                False, f"Tuple with key {names} requires {len(inner)} entries, got {len(value)}."
            )
        for item_type, item in zip(inner, value, strict=True):
            result = item_type.type_check(context, item)
            if not result.success:
                return result
        return TypeCheck(True)

    return DagsterType(check, name=f"Tuple[{names}]", is_builtin=True, kind="tuple")


List = _CollectionApi("List", _list)
Optional = _CollectionApi("Optional", _optional)
Dict = _CollectionApi("Dict", _dict)
Set = _CollectionApi("Set", _set)
Tuple = _CollectionApi("Tuple", _tuple)


def is_collection_api(value: Any) -> bool:
    """Whether ``value`` is ``List``, ``Optional``, ... itself (not subscripted)."""
    return isinstance(value, _CollectionApi)
