"""``RunConfig``: run config written with ``Config`` objects, as Dagster users write it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from .config_types import enum_members_to_names


class RunConfig(dict[str, Any]):
    """Run config built from ``Config`` objects: ``RunConfig(ops={"my_op": MyConfig(...)})``."""

    def __init__(
        self,
        ops: Mapping[str, Any] | None = None,
        resources: Mapping[str, Any] | None = None,
        loggers: Mapping[str, Any] | None = None,
        execution: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if ops:
            self["ops"] = _node_entries(ops)
        if resources:
            self["resources"] = {name: {"config": _as_plain(c)} for name, c in resources.items()}
        if loggers:
            self["loggers"] = dict(loggers)
        if execution:
            self["execution"] = dict(execution)

    def to_config_dict(self) -> dict[str, Any]:
        """The run config as plain dicts (Dagster's four sections, empty when unset)."""
        plain: dict[str, Any] = {"loggers": {}, "resources": {}, "ops": {}, "execution": {}}
        plain.update(_plain_dicts(dict(self)))
        return plain


def _node_entries(ops: Mapping[str, Any]) -> dict[str, Any]:
    """``ops=`` of a RunConfig: a Config object is an op's config; a dict with ``ops`` is a
    graph's section, converted the same way inside; any other dict is taken as written."""
    entries: dict[str, Any] = {}
    for name, value in ops.items():
        if isinstance(value, BaseModel):
            entries[name] = {"config": _as_plain(value)}
        elif isinstance(value, Mapping) and isinstance(value.get("ops"), Mapping):
            entries[name] = {**value, "ops": _node_entries(value["ops"])}
        else:
            entries[name] = value
    return entries


def _plain_dicts(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return _as_plain(value)
    if isinstance(value, Mapping):
        return {k: _plain_dicts(v) for k, v in value.items()}
    return value


def _as_plain(value: Any) -> Any:
    return enum_members_to_names(value.model_dump()) if isinstance(value, BaseModel) else value
