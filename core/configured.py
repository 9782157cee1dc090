"""``configured``: a definition with (part of) its config fixed, or mapped from a new schema.

``op.configured(config, name)``, ``resource.configured(config)``,
``graph.configured(config, name)`` and the ``@configured(definition,
config_schema=...)`` decorator all give a copy of the definition whose config
is the result of the given dict, or of the given function applied to config
of the new schema; that result is validated against the original schema.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from .config import ConfigSchema
from .config_mapping import ConfigMapping
from .config_problems import ConfigProblem
from .errors import DagsterInvalidConfigError, DagsterInvalidDefinitionError
from .types import NO_VALUE


class ConfiguredSchema:
    """A config schema that maps its value into another schema's.

    Args:
        inner: the original definition's schema (None: it takes any config).
        outer: the schema users fill in now (None: nothing to fill in).
        config_or_fn: the fixed config, or a function of the outer config.
        owner: the configured definition, for error messages.
    """

    def __init__(
        self, inner: Any, outer: ConfigSchema | None, config_or_fn: Any, owner: str
    ) -> None:
        self.inner = inner
        self.outer = outer
        self.config_or_fn = config_or_fn
        self.owner = owner
        self.raw = outer.raw if outer is not None else None
        self.default = outer.default if outer is not None else NO_VALUE
        self.config_class = inner.config_class if inner is not None else None

    def validate(self, value: Any, path: str) -> tuple[Any, list[ConfigProblem]]:
        """Validate the outer config, map it, and validate the result against the inner."""
        outer_value: Any = None
        if self.outer is not None:
            outer_value, problems = self.outer.validate(value, path)
            if problems:
                return None, problems
        mapped = self.config_or_fn
        if callable(mapped):
            try:
                mapped = mapped(outer_value)
            except Exception as exc:
                return None, [(path, f"configured function of {self.owner} raised {exc!r}")]
        if self.inner is None:
            return mapped, []
        result: tuple[Any, list[ConfigProblem]] = self.inner.validate(
            NO_VALUE if mapped is None else mapped, path
        )
        return result

    def instance(self, plain: Any) -> Any:
        return self.inner.instance(plain) if self.inner is not None else plain

    def as_field(self) -> Any:
        from .config import Field

        return Field(self.raw if self.raw is not None else {}, is_required=self.outer is not None)


def _outer(config_schema: Any, owner: str) -> ConfigSchema | None:
    return ConfigSchema(config_schema, owner) if config_schema is not None else None


def configure_op(
    op_def: Any, config_or_fn: Any, name: str, config_schema: Any, description: str | None
) -> Any:
    """A copy of ``op_def`` named ``name`` whose config comes from ``config_or_fn``."""
    configured = copy.copy(op_def)
    configured.name = name
    owner = f"op {name!r}"
    configured.config_schema = ConfiguredSchema(
        op_def.config_schema, _outer(config_schema, owner), config_or_fn, owner
    )
    if description is not None:
        configured.description = description
    return configured


def configure_resource(
    resource_def: Any, config_or_fn: Any, config_schema: Any, description: str | None
) -> Any:
    """A copy of ``resource_def`` whose config comes from ``config_or_fn``."""
    configured = copy.copy(resource_def)
    owner = "configured resource"
    configured.config_schema = ConfiguredSchema(
        resource_def.config_schema, _outer(config_schema, owner), config_or_fn, owner
    )
    if description is not None:
        configured.description = description
    return configured


def configure_graph(
    graph_def: Any, config_or_fn: Any, name: str, config_schema: Any, description: str | None
) -> Any:
    """A copy of ``graph_def`` whose config mapping is fed from ``config_or_fn``."""
    mapping = graph_def.config_mapping
    if not isinstance(mapping, ConfigMapping):
        raise DagsterInvalidDefinitionError(
            "Only graphs utilizing config mapping can be pre-configured. The graph "
            f'"{graph_def.name}" does not have a config mapping, and thus has nothing to be '
            "configured."
        )

    def feed(outer: Any) -> Any:
        inner = config_or_fn(outer) if callable(config_or_fn) else config_or_fn
        try:
            return mapping.resolve(inner, "config")
        except DagsterInvalidConfigError as exc:
            raise ValueError(str(exc)) from exc

    configured = copy.copy(graph_def)
    configured.name = name
    configured.config_mapping = ConfigMapping(feed, config_schema)
    configured.config_mapping.name = f"configured {name}"
    if description is not None:
        configured.description = description
    return configured


def configured(
    configurable: Any,
    config_schema: Any = None,
    **kwargs: Any,
) -> Callable[[Callable[..., Any]], Any]:
    """Decorate a config function into a configured copy of ``configurable``.

    The function receives config of ``config_schema`` (or None) and returns config for
    ``configurable``; an op or graph takes the function's name unless ``name=`` is given.
    """

    def wrap(fn: Callable[..., Any]) -> Any:
        method = getattr(configurable, "configured", None)
        if method is None:
            raise DagsterInvalidDefinitionError(f"{configurable!r} cannot be configured")
        if hasattr(configurable, "resource_fn"):
            return method(fn, config_schema=config_schema, **kwargs)
        name = kwargs.pop("name", None) or fn.__name__
        return method(fn, name=name, config_schema=config_schema, **kwargs)

    return wrap
