"""Type loaders: how an unconnected input of a Dagster type is built from run config.

``ops: {my_op: {inputs: {x: <config>}}}`` gives an input its value; a
``dagster_type_loader`` on the input's type validates that config against its
schema and turns it into the value the op receives.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .config import ConfigSchema

#: ``fn(context, config_value) -> value``
LoaderFn = Callable[[Any, Any], Any]


@dataclass(frozen=True, slots=True)
class DagsterTypeLoaderContext:
    """What a loader function receives as its first argument."""

    op_def: Any = None
    resources: Any = None
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("opgrid.types"))


class DagsterTypeLoader:
    """Builds an input value from its run config.

    Args:
        loader_fn: ``fn(context, config_value)``.
        config_schema: the schema of the input's config.
        required_resource_keys: resources the loader uses.
    """

    def __init__(
        self,
        loader_fn: LoaderFn,
        config_schema: Any,
        required_resource_keys: set[str] | None = None,
    ) -> None:
        self.loader_fn = loader_fn
        name = getattr(loader_fn, "__name__", "loader")
        self.schema = ConfigSchema(config_schema, f"type loader {name!r}")
        self.required_resource_keys = frozenset(required_resource_keys or ())

    @property
    def schema_type(self) -> Any:
        return self.schema.raw

    def construct_from_config_value(self, context: Any, config_value: Any) -> Any:
        """The input value for ``config_value`` (already validated)."""
        return self.loader_fn(context, config_value)


def dagster_type_loader(
    config_schema: Any, required_resource_keys: set[str] | None = None
) -> Callable[[LoaderFn], DagsterTypeLoader]:
    """Decorate ``fn(context, config)`` into a loader for ``DagsterType(loader=...)``."""

    def wrap(fn: LoaderFn) -> DagsterTypeLoader:
        return DagsterTypeLoader(fn, config_schema, required_resource_keys)

    return wrap
