"""Resources: services ops use, built once per run (or per step on a cluster) from config."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import AbstractContextManager, ContextDecorator, ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from .config import ConfigSchema
from .errors import (
    DagsterInvalidDefinitionError,
    DagsterInvariantViolationError,
    DagsterUnknownResourceError,
    ResourceError,
)

ResourceFn = Callable[..., Any]
#: Told about a resource whose teardown raised: (resource key, the exception).
TeardownErrorSink = Callable[[str, BaseException], None]

logger = logging.getLogger("opgrid.resource")


@dataclass(frozen=True, slots=True)
class InitResourceContext:
    """What a resource function receives."""

    resource_config: Any
    resources: Resources
    run_id: str | None = None
    log: logging.Logger | logging.LoggerAdapter[logging.Logger] = field(
        default_factory=lambda: logging.getLogger("opgrid.resource")
    )
    instance: Any = None
    resource_def: Any = None
    dagster_run: Any = None


class ResourceDefinition:
    """A resource: a function from ``InitResourceContext`` to the object ops use.

    Args:
        resource_fn: returns the resource, or yields it once and tears it down after.
        config_schema: the schema of ``resources.<key>.config``.
        description: shown in tooling.
        required_resource_keys: other resources this one is built from.
    """

    def __init__(
        self,
        resource_fn: ResourceFn,
        config_schema: Any = None,
        description: str | None = None,
        required_resource_keys: set[str] | frozenset[str] | None = None,
    ) -> None:
        self.resource_fn = resource_fn
        self.description = description if description is not None else inspect.getdoc(resource_fn)
        name = getattr(resource_fn, "__name__", "resource")
        self.required_resource_keys = resource_keys(required_resource_keys, f"resource {name!r}")
        self.config_schema = (
            ConfigSchema(config_schema, f"resource {name!r}") if config_schema is not None else None
        )
        self._takes_context = _takes_context(resource_fn)

    @property
    def takes_context(self) -> bool:
        """Whether the resource function has a context parameter."""
        return self._takes_context

    @staticmethod
    def hardcoded_resource(value: Any, description: str | None = None) -> ResourceDefinition:
        """A resource that is always ``value``."""
        return ResourceDefinition(lambda: value, description=description)

    @staticmethod
    def mock_resource(description: str | None = None) -> ResourceDefinition:
        """A resource that is a fresh ``MagicMock``."""
        return ResourceDefinition(lambda: mock.MagicMock(), description=description)

    @staticmethod
    def none_resource(description: str | None = None) -> ResourceDefinition:
        """A resource that is None."""
        return ResourceDefinition.hardcoded_resource(None, description)

    @staticmethod
    def string_resource(description: str | None = None) -> ResourceDefinition:
        """A resource configured with a string, which it is."""
        return ResourceDefinition(lambda ctx: ctx.resource_config, str, description)

    def configured(
        self,
        config_or_config_fn: Any,
        config_schema: Any = None,
        description: str | None = None,
    ) -> ResourceDefinition:
        """A copy whose config is fixed, or mapped from ``config_schema``."""
        from .configured import configure_resource

        result: ResourceDefinition = configure_resource(
            self, config_or_config_fn, config_schema, description
        )
        return result

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Invoke the resource function directly, as Dagster allows (see ``invoke_resource``)."""
        from .resource_invocation import invoke_resource

        return invoke_resource(self, args, kwargs)

    @contextmanager
    def build(self, context: InitResourceContext) -> Iterator[Any]:
        """Make the resource, and tear it down when the block exits."""
        produced = self.resource_fn(context) if self._takes_context else self.resource_fn()
        if inspect.isgenerator(produced):
            yield from _drive(produced)
        elif isinstance(produced, ContextDecorator) and isinstance(
            produced, AbstractContextManager
        ):  # a @contextmanager function: entered, and exited at teardown
            with produced as value:
                yield value
        else:
            yield produced


def resource_keys(keys: Any, owner: str) -> frozenset[str]:
    """``required_resource_keys`` as a frozenset of strings (a string is its characters,
    as in Dagster); anything else is refused."""
    if keys is None:
        return frozenset()
    if isinstance(keys, str):
        return frozenset(keys)
    try:
        members = list(keys)
    except TypeError:
        members = [keys]
    bad = [k for k in members if not isinstance(k, str)]
    if bad:
        raise DagsterInvalidDefinitionError(
            f"{owner}: required_resource_keys must be strings, got {bad[0]!r}"
        )
    return frozenset(members)


def _drive(generator: Generator[Any, Any, Any]) -> Iterator[Any]:
    value = next(generator)
    try:
        yield value
    finally:
        for _ in generator:
            pass


def _takes_context(fn: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return True
    return len(params) > 0


def resource(
    config_schema: Any = None,
    description: str | None = None,
    required_resource_keys: set[str] | None = None,
) -> Any:
    """Decorate a function into a ``ResourceDefinition`` (bare or with arguments)."""
    if callable(config_schema) and not isinstance(config_schema, type):
        return ResourceDefinition(config_schema)

    def wrap(fn: ResourceFn) -> ResourceDefinition:
        return ResourceDefinition(fn, config_schema, description, required_resource_keys)

    return wrap


class Resources:
    """The resources an op may use, as attributes: ``context.resources.db``."""

    def __init__(self, values: Mapping[str, Any], owner: str = "") -> None:
        object.__setattr__(self, "_values", dict(values))
        object.__setattr__(self, "_owner", owner)

    def __getattr__(self, key: str) -> Any:
        values: dict[str, Any] = object.__getattribute__(self, "_values")
        if key in values:
            return values[key]
        owner = object.__getattribute__(self, "_owner")
        raise DagsterUnknownResourceError(
            f"{owner or 'this context'} has no resource {key!r}; "
            f"add it to required_resource_keys (available: {sorted(values)})"
        )

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError("resources are read-only")

    def __contains__(self, key: str) -> bool:
        return key in object.__getattribute__(self, "_values")

    def _asdict(self) -> dict[str, Any]:
        return dict(object.__getattribute__(self, "_values"))

    def subset(self, keys: frozenset[str], owner: str) -> Resources:
        values = object.__getattribute__(self, "_values")
        return Resources({k: values[k] for k in keys if k in values}, owner)


def as_resource_def(value: Any) -> ResourceDefinition:
    """Wrap a plain object as a hardcoded resource; definitions pass through."""
    if isinstance(value, ResourceDefinition):
        return value
    return ResourceDefinition.hardcoded_resource(value)


def resource_closure(defs: Mapping[str, ResourceDefinition], keys: frozenset[str]) -> list[str]:
    """The keys needed to build ``keys``, dependencies first."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(key: str, trail: tuple[str, ...]) -> None:
        if key in seen:
            return
        if key in trail:
            raise DagsterInvalidDefinitionError(f"resource dependency cycle: {' -> '.join(trail)}")
        if key not in defs:
            raise DagsterInvalidDefinitionError(
                f"resource {trail[-1]!r} requires resource {key!r}, which is not provided"
                if trail
                else f"resource {key!r} is not provided"
            )
        for dep in sorted(defs[key].required_resource_keys):
            visit(dep, (*trail, key))
        seen.add(key)
        order.append(key)

    for key in sorted(keys):
        visit(key, ())
    return order


@contextmanager
def build_resources(
    defs: Mapping[str, ResourceDefinition],
    keys: frozenset[str],
    configs: Mapping[str, Any],
    run_id: str | None = None,
    on_teardown_error: TeardownErrorSink | None = None,
) -> Iterator[Resources]:
    """Build the resources named by ``keys`` (and what they need); tear them down in reverse.

    A teardown that raises is logged and handed to ``on_teardown_error`` (the in-process
    executor records it as an engine event); it never changes how the block ended.
    """
    built: dict[str, Any] = {}
    with ExitStack() as stack:
        for key in resource_closure(defs, keys):
            definition = defs[key]
            context = InitResourceContext(
                resource_config=configs.get(key),
                resources=Resources({k: built[k] for k in definition.required_resource_keys}),
                run_id=run_id,
            )
            manager = definition.build(context)
            try:
                built[key] = manager.__enter__()
            except Exception as exc:
                raise ResourceError(
                    f"Error while initializing resource {key!r}: {type(exc).__name__}: {exc}"
                ) from exc
            stack.push(_teardown_guard(key, manager, on_teardown_error))
        yield Resources(built)


def _teardown_guard(
    key: str, manager: AbstractContextManager[Any], sink: TeardownErrorSink | None
) -> Callable[..., bool]:
    """An exit callback that tears one resource down; a teardown that raises is reported
    (logged with its traceback), not raised, so it cannot change the run's outcome."""

    def exit_(exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        try:
            return bool(manager.__exit__(exc_type, exc, tb))
        except Exception as error:
            if error is exc:
                raise  # the resource re-raised what the block raised: not a teardown error
            logger.error(
                "Teardown of resource %r raised %s: %s; the run's result stands",
                key,
                type(error).__name__,
                error,
                exc_info=True,
            )
            if sink is not None:
                sink(key, error)
            return False

    return exit_


def check_resource_dependencies(defs: Mapping[str, ResourceDefinition]) -> None:
    """Refuse resources that need a key nobody provides, or that depend on themselves.

    Raises:
        DagsterInvariantViolationError: with Dagster's wording, naming the keys.
    """
    for key in sorted(defs):
        for dep in sorted(defs[key].required_resource_keys):
            if dep not in defs:
                raise DagsterInvariantViolationError(
                    f"Resource with key '{dep}' required by resource with key '{key}', "
                    "but not provided."
                )
    for key in sorted(defs):
        pending = list(defs[key].required_resource_keys)
        seen: set[str] = set()
        while pending:
            dep = pending.pop()
            if dep == key:
                raise DagsterInvariantViolationError(
                    f'Resource key "{key}" transitively depends on itself.'
                )
            if dep not in seen and dep in defs:
                seen.add(dep)
                pending.extend(defs[dep].required_resource_keys)
