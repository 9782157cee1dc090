"""Runtime types of op inputs and outputs: ``Nothing`` and annotation checks.

An annotation is turned once, at definition time, into a small checker so
that a step pays one function call per value. ``Any``, unannotated values and
string annotations that cannot be resolved are not checked.
"""

from __future__ import annotations

import collections.abc
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: A type check: returns None when ``value`` passes, else a short reason.
Checker = Callable[[Any], "str | None"]


class _NothingType:
    """The type of an input or output that carries no value, only ordering."""

    _instance: _NothingType | None = None

    def __new__(cls) -> _NothingType:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "Nothing"

    def __reduce__(self) -> str:
        return "Nothing"


#: Marks an input or output that orders ops without passing data.
Nothing = _NothingType()


@dataclass(frozen=True, slots=True)
class _NoValue:
    """Sentinel for "no default given"."""

    def __repr__(self) -> str:
        return "NO_VALUE"


NO_VALUE: Any = _NoValue()


def is_nothing(tp: Any) -> bool:
    """Whether ``tp`` is the ``Nothing`` marker (or the Dagster type it resolves to)."""
    return tp is Nothing or getattr(tp, "kind", None) == "nothing"


def type_name(tp: Any) -> str:
    """A readable name for an annotation, as shown in error messages."""
    if tp is None or tp is type(None):
        return "None"
    if isinstance(tp, type) and not typing.get_args(tp):
        return tp.__name__
    return repr(tp).replace("typing.", "")


def is_list_type(tp: Any) -> bool:
    """Whether ``tp`` accepts a list, so a fan-in may feed it."""
    if tp is Any or tp is None or tp is NO_VALUE or is_nothing(tp):
        return True
    origin = typing.get_origin(tp) or tp
    return origin in (list, collections.abc.Sequence, collections.abc.Iterable)


def make_checker(tp: Any) -> Checker | None:
    """Build the check for annotation ``tp``; None when every value passes."""
    if tp is Any or tp is NO_VALUE or isinstance(tp, str | typing.ForwardRef | typing.TypeVar):
        return None
    if is_nothing(tp):
        return _check_nothing
    if tp is None or tp is type(None):
        return _check_none
    if tp is float:
        return _check_float
    origin = typing.get_origin(tp)
    if origin is None:
        return _instance_checker(tp) if isinstance(tp, type) else None
    return _generic_checker(tp, origin, typing.get_args(tp))


def _check_nothing(value: Any) -> str | None:
    return None if value is None else f"Nothing type received value {value!r}"


def _check_none(value: Any) -> str | None:
    return None if value is None else f"expected None, got {type(value).__name__}"


def _check_float(value: Any) -> str | None:
    ok = isinstance(value, float | int) and not isinstance(value, bool)
    return None if ok else f"expected float, got {type(value).__name__} {value!r}"


def _instance_checker(tp: type) -> Checker | None:
    if tp is object:
        return None

    def check(value: Any) -> str | None:
        if isinstance(value, tp):
            return None
        return f"expected {tp.__name__}, got {type(value).__name__} {_short(value)}"

    return check


def _generic_checker(tp: Any, origin: Any, args: tuple[Any, ...]) -> Checker | None:
    if origin is typing.Union or origin is types.UnionType:
        return _union_checker(tp, args)
    if origin is typing.Literal:
        return lambda v: None if v in args else f"expected one of {args!r}, got {v!r}"
    if origin in (list, set, frozenset, collections.abc.Sequence):
        return _collection_checker(tp, origin, args[0] if args else Any)
    if isinstance(origin, type):
        return _instance_checker(origin)
    return None


def _union_checker(tp: Any, args: tuple[Any, ...]) -> Checker | None:
    members = [make_checker(arg) for arg in args]
    if any(member is None for member in members):
        return None
    name = type_name(tp)

    def check(value: Any) -> str | None:
        if any(member(value) is None for member in members if member is not None):
            return None
        return f"expected {name}, got {type(value).__name__} {_short(value)}"

    return check


def _collection_checker(tp: Any, origin: Any, item_tp: Any) -> Checker:
    outer = _instance_checker(origin if origin is not collections.abc.Sequence else list)
    item = make_checker(item_tp)
    name = type_name(tp)

    def check(value: Any) -> str | None:
        if outer is not None and outer(value) is not None:
            return f"expected {name}, got {type(value).__name__} {_short(value)}"
        if item is not None:
            for index, element in enumerate(value):
                reason = item(element)
                if reason is not None:
                    return f"item {index} of {name}: {reason}"
        return None

    return check


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
