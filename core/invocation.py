"""Calling an op directly, as unit tests do: ``my_op(build_op_context(), 1)``.

As in Dagster, an op whose function takes a context must be given one (a
context from ``build_op_context`` or ``None``); an op without one accepts a
context and ignores it. Inputs and outputs are type checked, and dynamic
outputs must be ``DynamicOutput`` values; the function's own return value (or
generator) is handed back as it is.
"""

from __future__ import annotations

import dataclasses
import inspect
import uuid
from collections.abc import Generator, Iterator, Mapping
from contextlib import ExitStack
from typing import Any

from .config_problems import did_you_mean
from .context import PARTITION_TAG, DagsterRun, OpExecutionContext, StepLog
from .errors import (
    DagsterInvalidConfigError,
    DagsterInvalidDefinitionError,
    DagsterInvalidInvocationError,
)
from .resource import ResourceDefinition, as_resource_def, build_resources
from .types import NO_VALUE


class DirectOpContext(OpExecutionContext):
    """A context built for direct invocation; ``with`` it to tear its resources down."""

    __slots__ = ("_teardown",)

    def __init__(self, teardown: ExitStack, *args: Any) -> None:
        super().__init__(*args)
        self._teardown = teardown

    def __enter__(self) -> DirectOpContext:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._teardown.close()


def build_op_context(
    resources: Mapping[str, Any] | None = None,
    op_config: Any = None,
    resources_config: Mapping[str, Any] | None = None,
    instance: Any = None,
    config: Any = None,
    partition_key: str | None = None,
    partition_key_range: Any = None,
    mapping_key: str | None = None,
    run_tags: Mapping[str, str] | None = None,
    retry_number: int = 0,
) -> DirectOpContext:
    """A context for invoking an op directly.

    Args:
        resources: resource definitions or plain objects, by key.
        op_config: the op's config (``config`` is the older name).
        resources_config: ``{key: {"config": ...}}`` for configurable resources.
        instance: accepted for compatibility; unused.
        config: the older name of ``op_config``.
        partition_key: the partition the op runs for.
        partition_key_range: accepted for compatibility; unused.
        mapping_key: the mapping key, for an op that runs inside ``.map``.
        run_tags: tags of the pretend run.
        retry_number: what ``context.retry_number`` reports.

    Resources are built at once and live until the context is used as a context
    manager and exits: ``with build_op_context(...) as context:``.
    """
    if op_config is not None and config is not None:
        raise DagsterInvalidInvocationError("build_op_context: give op_config or config, not both")
    op_config = op_config if op_config is not None else config
    run_id = str(uuid.uuid4())
    tags = dict(run_tags or {})
    if partition_key is not None:
        tags[PARTITION_TAG] = partition_key
    defs = {key: as_resource_def(value) for key, value in (resources or {}).items()}
    configs = _resource_configs(defs, resources_config or {})
    teardown = ExitStack()
    built = teardown.enter_context(build_resources(defs, frozenset(defs), configs, run_id))
    run = DagsterRun(run_id, "ephemeral", tags, {"resources": dict(resources_config or {})})
    log = StepLog(run_id, None, None)
    return DirectOpContext(
        teardown, run, None, "", "", op_config, built, log, retry_number, mapping_key
    )


def _resource_configs(
    defs: Mapping[str, ResourceDefinition], given: Mapping[str, Any]
) -> dict[str, Any]:
    problems: list[tuple[str, str]] = []
    configs: dict[str, Any] = {}
    for key, entry in given.items():
        if key not in defs:
            problems.append(
                (
                    f"resources.{key}",
                    f'Received unexpected config entry "{key}": {did_you_mean(key, defs)}',
                )
            )
            continue
        if not isinstance(entry, Mapping) or set(entry) - {"config"}:
            extra = sorted(set(entry) - {"config"}) if isinstance(entry, Mapping) else [entry]
            problems.append(
                (
                    f"resources.{key}",
                    f'Received unexpected config entry "{extra[0]}" at path root:{key}. '
                    'Expected: "{ config: ... }" '
                    f"({did_you_mean(str(extra[0]), ['config'])})",
                )
            )
            continue
        configs[key] = entry.get("config")
    for key, definition in defs.items():
        if definition.config_schema is not None:
            raw = configs.get(key, NO_VALUE)
            value, found = definition.config_schema.validate(raw, f"resources.{key}.config")
            problems.extend(found)
            configs[key] = value
    if problems:
        raise DagsterInvalidConfigError(problems, subject="resources")
    return configs


def invoke_op(op_def: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Run an op's function outside any job and return what it returns."""
    context, args = _split_context(op_def, args, kwargs)
    for key in sorted(op_def.required_resource_keys):
        if key not in context.resources:
            raise DagsterInvalidDefinitionError(
                f"resource with key '{key}' required by op '{op_def.name}' was not provided. "
                "Pass it to build_op_context(resources=...)."
            )
    values = _input_values(op_def, args, kwargs)
    config = _config(op_def, context)
    if op_def.config_param is not None:
        values[op_def.config_param] = op_def.config_schema.instance(config)
    _check_inputs(op_def, values)
    bound = _bound(op_def, context, config) if op_def.has_context else None
    result = op_def.call(bound, values)
    return _checked(op_def, result)


def _split_context(
    op_def: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[OpExecutionContext, tuple[Any, ...]]:
    """(the context to use, the remaining positional arguments)."""
    context: OpExecutionContext | None = None
    given = False
    if args and (
        isinstance(args[0], OpExecutionContext) or (op_def.has_context and args[0] is None)
    ):
        context, args, given = args[0], args[1:], True
    elif op_def.has_context and op_def.context_param in kwargs:
        context, given = kwargs.pop(op_def.context_param), True
    if op_def.has_context and not given:
        raise DagsterInvalidInvocationError(
            f"Decorated function '{op_def.name}' has context argument, but no context was "
            "provided when invoking."
        )
    return context if context is not None else build_op_context(), args


def _input_values(op_def: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    names = [n for n, d in op_def.input_defs.items() if not d.is_nothing]
    extra = [k for k in kwargs if k != op_def.config_param]
    if len(args) + (0 if op_def.var_kwargs else len(extra)) > len(names):
        raise DagsterInvalidInvocationError(
            f"Too many input arguments were provided for op '{op_def.name}'. This may be "
            "because an argument was provided for the context parameter, but no context "
            "parameter was defined for the op."
        )
    values = dict(zip(names, args, strict=False))
    # as in Dagster, a keyword naming no input is ignored
    values.update(
        (key, value)
        for key, value in kwargs.items()
        if key in op_def.input_defs or key == op_def.config_param or op_def.var_kwargs
    )
    for name in names:
        if name not in values:
            default = op_def.input_defs[name]
            if not default.has_default:
                raise DagsterInvalidInvocationError(
                    f'No value provided for required input "{name}" (op {op_def.name!r}).'
                )
            values[name] = default.default_value
    return values


def _check_inputs(op_def: Any, values: Mapping[str, Any]) -> None:
    from .step_runner import raise_if_failed

    for name, value in values.items():
        input_def = op_def.input_defs.get(name)
        if input_def is not None and input_def.checker is not None:
            raise_if_failed(input_def.dagster_type, value, f'input "{name}"', op_def.name)


def _config(op_def: Any, context: OpExecutionContext) -> Any:
    raw = context.op_config
    if op_def.config_schema is None:
        return raw
    value, problems = op_def.config_schema.validate(NO_VALUE if raw is None else raw, "config")
    if problems:
        raise DagsterInvalidConfigError(problems, subject=f"op {op_def.name!r}")
    return value


def _bound(op_def: Any, context: OpExecutionContext, config: Any) -> OpExecutionContext:
    run_config: dict[str, Any] = {"resources": dict(context.run.run_config.get("resources", {}))}
    if config is not None:
        run_config = {"ops": {op_def.name: {"config": config}}, **run_config}
    run = dataclasses.replace(context.run, run_config=run_config)
    return OpExecutionContext(
        run,
        op_def,
        op_def.name,
        op_def.name,
        config,
        context.resources,
        context.log,
        context.retry_number,
        context.get_mapping_key(),
    )


def _checked(op_def: Any, result: Any) -> Any:
    """Type check what the op produced (outputs, dynamic outputs) and pass it through."""
    from .step_runner import StepSpec, output_collector

    collector = output_collector(StepSpec(op_def.name, op_def.name, op_def))
    if inspect.isgenerator(result):
        return _checked_events(collector, result)
    collector.add_return(result)
    return result


def _checked_events(collector: Any, events: Generator[Any, Any, Any]) -> Iterator[Any]:
    for item in events:
        collector.add_event(item)
        yield item
