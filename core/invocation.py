"""Calling an op directly, as unit tests do: ``my_op(build_op_context(), 1)``."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from contextlib import ExitStack
from typing import Any

from .context import PARTITION_TAG, DagsterRun, OpExecutionContext, StepLog
from .errors import ConfigError, DagsterInvalidInvocationError
from .resource import as_resource_def, build_resources


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
    partition_key: str | None = None,
    run_tags: Mapping[str, str] | None = None,
    retry_number: int = 0,
) -> DirectOpContext:
    """A context for invoking an op directly.

    Resources (definitions or plain objects) are built at once and live until the
    context is used as a context manager and exits: ``with build_op_context(...) as c:``.
    """
    run_id = str(uuid.uuid4())
    tags = dict(run_tags or {})
    if partition_key is not None:
        tags[PARTITION_TAG] = partition_key
    defs = {key: as_resource_def(value) for key, value in (resources or {}).items()}
    teardown = ExitStack()
    built = teardown.enter_context(build_resources(defs, frozenset(defs), {}, run_id))
    run = DagsterRun(run_id, "ephemeral", tags)
    return DirectOpContext(
        teardown, run, None, "", "", op_config, built, StepLog(run_id, None, None), retry_number
    )


def invoke_op(op_def: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Run an op's function outside any job and return what it returns."""
    context: OpExecutionContext | None = None
    if args and isinstance(args[0], OpExecutionContext):
        context, args = args[0], args[1:]
    elif isinstance(kwargs.get("context"), OpExecutionContext):
        context = kwargs.pop("context")
    if op_def.has_context and context is None:
        context = build_op_context()
    if context is not None and not op_def.has_context and op_def.config_param is None:
        raise DagsterInvalidInvocationError(
            f"op {op_def.name!r} takes no context, but one was passed"
        )
    names = [n for n in op_def.input_defs if not op_def.input_defs[n].is_nothing]
    if len(args) > len(names):
        raise DagsterInvalidInvocationError(
            f"op {op_def.name!r} takes {len(names)} inputs but {len(args)} were given"
        )
    values = dict(zip(names, args, strict=False))
    values.update(kwargs)
    for name in names:
        if name not in values and not op_def.input_defs[name].has_default:
            raise DagsterInvalidInvocationError(f"op {op_def.name!r}: no value for input {name!r}")
    config = _config(op_def, context)
    if op_def.config_param is not None:
        values[op_def.config_param] = op_def.config_schema.instance(config)
    if context is None or not op_def.has_context:
        return op_def.compute_fn(**values)
    bound = OpExecutionContext(
        context.run,
        op_def,
        op_def.name,
        op_def.name,
        config,
        context.resources,
        context.log,
        context.retry_number,
    )
    return op_def.compute_fn(bound, **values)


def _config(op_def: Any, context: OpExecutionContext | None) -> Any:
    raw = context.op_config if context is not None else None
    if op_def.config_schema is None:
        return raw
    from .types import NO_VALUE

    value, problems = op_def.config_schema.validate(NO_VALUE if raw is None else raw, "config")
    if problems:
        raise ConfigError(problems, subject=f"config for op {op_def.name!r}")
    return value
