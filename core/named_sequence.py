"""``input_defs`` / ``output_defs``: Dagster's sequences of definitions, also readable by name.

Iterating, indexing with an int and ``len`` behave as Dagster's list of
definitions (``op.input_defs[0].name``); indexing with a name, ``name in``,
``get``, ``keys``, ``values`` and ``items`` look a definition up by its name.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, KeysView, ValuesView
from typing import Any, Generic, TypeVar, overload

D = TypeVar("D")


class NamedDefinitions(Generic[D]):
    """An ordered, read-only sequence of definitions that each have a ``name``."""

    __slots__ = ("_by_name",)

    def __init__(self, by_name: dict[str, D]) -> None:
        self._by_name: dict[str, D] = dict(by_name)

    @overload
    def __getitem__(self, key: int) -> D: ...
    @overload
    def __getitem__(self, key: str) -> D: ...
    def __getitem__(self, key: int | str) -> D:
        if isinstance(key, str):
            return self._by_name[key]
        return list(self._by_name.values())[key]

    def __iter__(self) -> Iterator[D]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def __contains__(self, item: object) -> bool:
        if isinstance(item, str):
            return item in self._by_name
        return any(item is d for d in self._by_name.values())

    def __bool__(self) -> bool:
        return bool(self._by_name)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, NamedDefinitions):
            return self._by_name == other._by_name
        if isinstance(other, list):
            return list(self) == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def get(self, name: str, default: Any = None) -> Any:
        return self._by_name.get(name, default)

    def keys(self) -> KeysView[str]:
        return self._by_name.keys()

    def values(self) -> ValuesView[D]:
        return self._by_name.values()

    def items(self) -> ItemsView[str, D]:
        return self._by_name.items()

    def names(self) -> list[str]:
        """The definitions' names, in order."""
        return list(self._by_name)

    def __repr__(self) -> str:
        return repr(list(self._by_name.values()))
