"""Hooks: functions run after an op succeeds or fails."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from .errors import DagsterInvalidDefinitionError
from .resource import Resources

HookKind = Literal["success", "failure"]


@dataclass(frozen=True, slots=True)
class HookNode:
    """The op a hook fired for (``context.op.name``)."""

    name: str
    handle: str
    tags: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HookContext:
    """What a hook function receives."""

    op: HookNode
    job_name: str
    run_id: str
    step_key: str
    hook_def: HookDefinition
    resources: Resources
    op_config: Any
    op_exception: BaseException | None
    op_output_values: Mapping[str, Any]
    log: logging.Logger | logging.LoggerAdapter[logging.Logger]

    @property
    def required_resource_keys(self) -> frozenset[str]:
        return self.hook_def.required_resource_keys


@dataclass(frozen=True, slots=True, eq=False)
class HookDefinition:
    """A success or failure hook."""

    name: str
    hook_fn: Callable[[HookContext], Any]
    kind: HookKind
    required_resource_keys: frozenset[str] = frozenset()
    decorated_fn: Callable[..., Any] | None = None

    def fires_on(self, succeeded: bool) -> bool:
        return (self.kind == "success") == succeeded

    def __call__(self, obj: Any) -> Any:
        """``@my_hook`` on a job or op applies the hook to it; called with a hook context
        (``build_hook_context``) it runs the hook function and returns what it returns."""
        if isinstance(obj, HookContext) or obj is None:
            context = obj if obj is not None else build_hook_context()
            return self.hook_fn(replace(context, hook_def=self))
        with_hooks = getattr(obj, "with_hooks", None)
        if with_hooks is None:
            raise DagsterInvalidDefinitionError(
                f"hook {self.name!r} can only decorate a job or op, not {obj!r}"
            )
        return with_hooks({self})


@dataclass(frozen=True, slots=True)
class HookExecutionResult:
    """Whether a hook ran (Dagster's record of one hook execution)."""

    hook_name: str
    is_skipped: bool = False


def build_hook_context(
    resources: Mapping[str, Any] | None = None,
    op: Any = None,
    run_id: str | None = None,
    job_name: str | None = None,
    op_exception: BaseException | None = None,
    instance: Any = None,
) -> HookContext:
    """A context for calling a hook directly (``my_hook(build_hook_context(...))``).

    Args:
        resources: the resources the hook may use, by key (plain objects).
        op: the op (definition) the hook pretends to fire for.
        run_id: the pretend run's id.
        job_name: the pretend job's name.
        op_exception: what the op raised, for a failure hook.
        instance: accepted for compatibility; unused.
    """
    name = getattr(op, "name", "") if op is not None else ""
    node = HookNode(name, name, dict(getattr(op, "tags", {}) or {}))
    placeholder = HookDefinition("direct", lambda _context: None, "success")
    return HookContext(
        op=node,
        job_name=job_name or "",
        run_id=run_id or "",
        step_key=name,
        hook_def=placeholder,
        resources=Resources(dict(resources or {})),
        op_config=None,
        op_exception=op_exception,
        op_output_values={},
        log=logging.getLogger("opgrid.hook"),
    )


def _hook_decorator(kind: HookKind) -> Callable[..., Any]:
    def decorator(name: Any = None, required_resource_keys: set[str] | None = None) -> Any:
        def wrap(fn: Callable[[HookContext], Any]) -> HookDefinition:
            return HookDefinition(
                name=name if isinstance(name, str) else fn.__name__,
                hook_fn=fn,
                kind=kind,
                required_resource_keys=frozenset(required_resource_keys or ()),
                decorated_fn=fn,
            )

        if callable(name):
            return wrap(name)
        return wrap

    decorator.__name__ = f"{kind}_hook"
    decorator.__doc__ = f"Decorate ``fn(context: HookContext)`` into a {kind} hook."
    return decorator


success_hook = _hook_decorator("success")
failure_hook = _hook_decorator("failure")
