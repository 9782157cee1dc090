"""Where step outputs live between steps: the ``OutputStore`` interface and its in-memory form."""

from __future__ import annotations

from typing import Any, Protocol

from opgrid.errors import OutputNotFound

from .state import ValueRef


class OutputStore(Protocol):
    """Stores the values steps produce, by run and output reference."""

    def put(self, run_id: str, ref: ValueRef, value: Any) -> None:
        """Store one output value (overwriting a value from an earlier attempt)."""

    def get(self, run_id: str, ref: ValueRef) -> Any:
        """The stored value; raises ``OutputNotFound`` when there is none."""

    def has(self, run_id: str, ref: ValueRef) -> bool:
        """Whether a value is stored."""


class InMemoryOutputStore:
    """Output values kept in this process, for in-process runs and tests."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, ValueRef], Any] = {}

    def put(self, run_id: str, ref: ValueRef, value: Any) -> None:
        self._values[(run_id, ref)] = value

    def get(self, run_id: str, ref: ValueRef) -> Any:
        try:
            return self._values[(run_id, ref)]
        except KeyError:
            where = f"{ref.step_key}.{ref.output}" + (
                f"[{ref.mapping_key}]" if ref.mapping_key else ""
            )
            raise OutputNotFound(f"run {run_id}: no stored value for output {where}") from None

    def has(self, run_id: str, ref: ValueRef) -> bool:
        return (run_id, ref) in self._values
