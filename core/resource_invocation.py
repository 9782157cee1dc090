"""Resources outside a run: ``build_init_resource_context``, direct calls, values resources."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from .errors import DagsterInvalidConfigError, DagsterInvalidInvocationError
from .resource import InitResourceContext, ResourceDefinition, Resources
from .types import NO_VALUE


def build_init_resource_context(
    config: Any = None,
    resources: Mapping[str, Any] | None = None,
    instance: Any = None,
) -> InitResourceContext:
    """A context for calling a resource function directly.

    Args:
        config: what ``context.resource_config`` returns.
        resources: the other resources, as ``context.resources.<key>``.
        instance: accepted for compatibility; returned as ``context.instance``.
    """
    return InitResourceContext(
        resource_config=config, resources=Resources(dict(resources or {})), instance=instance
    )


def invoke_resource(
    resource_def: ResourceDefinition, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Call a resource's function as Dagster does: with a context (or None) when the
    function takes one, with nothing when it does not. Config given in the context is
    validated against the resource's schema first."""
    given = list(args) + list(kwargs.values())
    if not resource_def.takes_context:
        if given:
            raise DagsterInvalidInvocationError(
                "Attempted to invoke resource with argument, but underlying function has no "
                "context argument. Either specify a context argument on the resource function, "
                "or remove the passed-in argument."
            )
        return _first_value(resource_def.resource_fn())
    if len(given) != 1:
        raise DagsterInvalidInvocationError(
            "Resource initialization function has context argument, but no context was "
            "provided when invoking."
        )
    context = given[0]
    if context is None:
        context = build_init_resource_context()
    if not isinstance(context, InitResourceContext):
        raise DagsterInvalidInvocationError(
            f"a resource is invoked with a build_init_resource_context(), got {context!r}"
        )
    schema = resource_def.config_schema
    if schema is not None:
        raw = context.resource_config
        value, problems = schema.validate(NO_VALUE if raw is None else raw, "config")
        if problems:
            raise DagsterInvalidConfigError(problems, subject="resource")
        context = InitResourceContext(
            value, context.resources, context.run_id, context.log, context.instance, resource_def
        )
    return _first_value(resource_def.resource_fn(context))


def _first_value(produced: Any) -> Any:
    """A generator resource invoked directly gives what it yields first."""
    if inspect.isgenerator(produced):
        return next(produced)
    return produced


def make_values_resource(**kwargs: Any) -> ResourceDefinition:
    """A resource whose value is its config: fields from ``kwargs``, or any config."""
    schema: Any = dict(kwargs) if kwargs else Any
    return ResourceDefinition(
        lambda init_context: init_context.resource_config,
        config_schema=schema,
        description="a resource whose value is its config",
    )
