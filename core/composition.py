"""Tracing of ``@graph``/``@job`` bodies: calling ops inside one records the wiring.

A composition function runs once, at decoration time, with a ``_Composition``
on a thread-local stack. Every op or graph called inside it becomes a node;
the handles it returns stand for its outputs and, passed to other calls,
become dependencies. The result is the same dependency dictionary a user
would hand to ``GraphDefinition``.
"""

from __future__ import annotations

import functools
import threading
import warnings
from collections import namedtuple
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .dependency import (
    DependencyDefinition,
    DynamicCollectDependencyDefinition,
    InputMapping,
    MultiDependencyDefinition,
    NodeInvocation,
    OutputMapping,
)
from .errors import DagsterInvalidDefinitionError, DagsterInvariantViolationError
from .output import DEFAULT_OUTPUT

_local = threading.local()


@dataclass(frozen=True, slots=True)
class OutputHandle:
    """An output of a node invoked in a composition body."""

    node: str
    output: str = DEFAULT_OUTPUT
    #: "plain", "dynamic" (a DynamicOut not yet mapped) or "mapped" (inside .map)
    mode: str = "plain"

    def map(self, fn: Callable[[OutputHandle], Any]) -> Any:
        """Run ``fn`` once per value of a dynamic output (``DynamicOut``)."""
        if self.mode == "plain":
            raise DagsterInvalidDefinitionError(
                f"output {self.output!r} of {self.node!r} is not dynamic; only a DynamicOut "
                "can be mapped"
            )
        return fn(OutputHandle(self.node, self.output, "mapped"))

    def collect(self) -> CollectHandle:
        """Gather every mapped value of this output into a list for one downstream input."""
        if self.mode == "plain":
            raise DagsterInvalidDefinitionError(
                f"output {self.output!r} of {self.node!r} is not dynamic; only mapped "
                "outputs can be collected"
            )
        return CollectHandle(self.node, self.output)

    def alias(self, _name: str) -> Any:
        raise DagsterInvariantViolationError(
            f"In @job/@graph, attempted to call alias method for the output {self.output!r} of "
            f"the already invoked node {self.node!r}: call alias() on the op before invoking it"
        )

    def __getitem__(self, _index: Any) -> Any:
        raise DagsterInvariantViolationError(
            f'Attempted to index in to the output "{self.output}" of node {self.node!r}. '
            "Consider defining multiple Outs if you seek to pass different parts of this "
            "output to different nodes."
        )

    def __iter__(self) -> Any:
        raise DagsterInvariantViolationError(
            f'Attempted to iterate over the output "{self.output}" of node {self.node!r}. '
            "Consider defining multiple Outs if you seek to pass different parts of this "
            "output to different nodes."
        )


@dataclass(frozen=True, slots=True)
class CollectHandle:
    """The collected values of a mapped output."""

    node: str
    output: str


@dataclass(frozen=True, slots=True)
class GraphInputHandle:
    """A graph input inside its graph's body."""

    name: str


@dataclass
class _Composition:
    graph_name: str
    invocations: dict[NodeInvocation, dict[str, Any]] = field(default_factory=dict)
    node_defs: list[Any] = field(default_factory=list)
    node_def_ids: set[int] = field(default_factory=set)
    used_names: set[str] = field(default_factory=set)
    counters: dict[str, int] = field(default_factory=dict)
    input_mappings: list[InputMapping] = field(default_factory=list)
    #: aliased/tagged nodes made in this body and not (yet) invoked, by id
    pending: dict[int, PendingNodeInvocation] = field(default_factory=dict)

    def unique_name(self, base: str) -> str:
        if base not in self.used_names:
            self.used_names.add(base)
            return base
        count = self.counters.get(base, 1)
        while True:
            count += 1
            candidate = f"{base}_{count}"
            if candidate not in self.used_names:
                self.counters[base] = count
                self.used_names.add(candidate)
                return candidate


@dataclass(frozen=True, slots=True)
class Traced:
    """What a composition body declared."""

    node_defs: list[Any]
    dependencies: dict[NodeInvocation, dict[str, Any]]
    input_mappings: list[InputMapping]
    output_mappings: list[OutputMapping]


def _stack() -> list[_Composition]:
    stack: list[_Composition] | None = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


def is_composing() -> bool:
    """Whether a composition body is being traced on this thread."""
    return bool(getattr(_local, "stack", None))


def trace(
    graph_name: str,
    fn: Callable[..., Any],
    input_names: list[str],
    out_names: list[str] | None,
    decorator: str = "graph",
) -> Traced:
    """Run a composition body and return the wiring it declared."""
    current = _Composition(graph_name)
    _stack().append(current)
    try:
        returned = fn(**{name: GraphInputHandle(name) for name in input_names})
    finally:
        _stack().pop()
    for pending in current.pending.values():
        _warn_uninvoked(decorator, graph_name, pending)
    outputs = _output_mappings(graph_name, returned, out_names)
    return Traced(current.node_defs, current.invocations, current.input_mappings, outputs)


def _output_mappings(
    graph_name: str, returned: Any, out_names: list[str] | None
) -> list[OutputMapping]:
    if returned is None:
        return []
    if isinstance(returned, OutputHandle):
        name = out_names[0] if out_names and len(out_names) == 1 else DEFAULT_OUTPUT
        return [_mapping(graph_name, name, returned)]
    if isinstance(returned, Mapping):
        return [_mapping(graph_name, name, handle) for name, handle in returned.items()]
    if isinstance(returned, tuple) and out_names and len(out_names) == len(returned):
        pairs = zip(out_names, returned, strict=True)
        return [_mapping(graph_name, name, handle) for name, handle in pairs]
    if isinstance(returned, tuple) and hasattr(returned, "_fields"):  # a multi-output node
        return [_mapping(graph_name, name, getattr(returned, name)) for name in returned._fields]
    raise DagsterInvalidDefinitionError(
        f"graph {graph_name!r} returned {returned!r}; a composition function must return an "
        "op output, a dict of op outputs, or None"
    )


def _mapping(graph_name: str, name: str, handle: Any) -> OutputMapping:
    if not isinstance(handle, OutputHandle):
        raise DagsterInvalidDefinitionError(
            f"graph {graph_name!r} output {name!r} must be an op output, got {handle!r}"
        )
    return OutputMapping(
        name, handle.node, handle.output, from_dynamic_mapping=handle.mode != "plain"
    )


def _warn_uninvoked(decorator: str, graph_name: str, pending: PendingNodeInvocation) -> None:
    """Dagster's warning for an aliased node that a body made but never called."""
    if pending.given_alias is None:
        return
    name = pending.node_def.name
    kind = pending.node_def.node_type_str
    message = (
        f"While in @{decorator} context '{graph_name}', received an uninvoked {kind} "
        f"'{name}'.\n'{name}' was aliased as '{pending.given_alias}'."
    )
    if pending.tags:
        message += f"\nProvided tags: {pending.tags}."
    warnings.warn(message, UserWarning, stacklevel=4)


class PendingNodeInvocation:
    """An op or graph with an alias, tags, hooks or retry policy, not yet invoked."""

    def __init__(
        self,
        node_def: Any,
        alias: str | None = None,
        tags: Mapping[str, str] | None = None,
        hook_defs: frozenset[Any] = frozenset(),
        retry_policy: Any = None,
    ) -> None:
        self.node_def = node_def
        self.given_alias = alias
        self.tags = dict(tags or {})
        self.hook_defs = hook_defs
        self.retry_policy = retry_policy
        if is_composing():
            _stack()[-1].pending[id(self)] = self

    def _with(self, **changes: Any) -> PendingNodeInvocation:
        values = {
            "alias": self.given_alias,
            "tags": self.tags,
            "hook_defs": self.hook_defs,
            "retry_policy": self.retry_policy,
        }
        values.update(changes)
        if is_composing():
            _stack()[-1].pending.pop(id(self), None)  # superseded by the new one
        return PendingNodeInvocation(self.node_def, **values)

    def alias(self, name: str) -> PendingNodeInvocation:
        return self._with(alias=name)

    def tag(self, tags: Mapping[str, str]) -> PendingNodeInvocation:
        return self._with(tags={**self.tags, **tags})

    def with_hooks(self, hook_defs: Any) -> PendingNodeInvocation:
        return self._with(hook_defs=self.hook_defs | frozenset(hook_defs))

    def with_retry_policy(self, retry_policy: Any) -> PendingNodeInvocation:
        return self._with(retry_policy=retry_policy)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not is_composing():
            raise DagsterInvalidDefinitionError(
                f"{self.node_def.name!r} with an alias, tags, hooks or a retry policy can only be "
                "invoked inside a @graph or @job body"
            )
        return invoke(self.node_def, self, args, kwargs)


class Invocable:
    """``alias``/``tag``/``with_hooks``/``with_retry_policy`` for ops and graphs."""

    def alias(self, name: str) -> PendingNodeInvocation:
        return PendingNodeInvocation(self, alias=name)

    def tag(self, tags: Mapping[str, str]) -> PendingNodeInvocation:
        return PendingNodeInvocation(self, tags=dict(tags))

    def with_hooks(self, hook_defs: Any) -> PendingNodeInvocation:
        return PendingNodeInvocation(self, hook_defs=frozenset(hook_defs))

    def with_retry_policy(self, retry_policy: Any) -> PendingNodeInvocation:
        return PendingNodeInvocation(self, retry_policy=retry_policy)


def invoke(
    node_def: Any,
    pending: PendingNodeInvocation | None,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """Record a call of ``node_def`` in the current composition; return its output handles."""
    current = _stack()[-1]
    if pending is not None:
        current.pending.pop(id(pending), None)
    given = pending.given_alias if pending else None
    if given is not None and given in current.used_names:
        raise DagsterInvalidDefinitionError(
            f"graph {current.graph_name!r}: two nodes are named {given!r}"
        )
    name = current.unique_name(given or node_def.name)
    bindings = _bind(current.graph_name, node_def, name, args, kwargs)
    deps: dict[str, Any] = {}
    mapped = False
    for input_name, value in bindings.items():
        dep, is_mapped = _dependency(current, node_def, name, input_name, value)
        mapped = mapped or is_mapped
        if dep is not None:
            deps[input_name] = dep
    invocation = NodeInvocation(
        name=node_def.name,
        alias=name,
        tags=pending.tags if pending else None,
        hook_defs=pending.hook_defs if pending else None,
        retry_policy=pending.retry_policy if pending else None,
    )
    current.invocations[invocation] = deps
    if id(node_def) not in current.node_def_ids:
        current.node_def_ids.add(id(node_def))
        current.node_defs.append(node_def)
    return _handles(node_def, name, "mapped" if mapped else "plain")


def _bind(
    graph_name: str, node_def: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    nothing = [n for n, d in node_def.input_defs.items() if d.is_nothing]
    positional = (*node_def.positional_inputs, *nothing)  # In(Nothing) may be passed in order
    if len(args) > len(positional):
        raise DagsterInvalidDefinitionError(
            f"graph {graph_name!r}: {node_def.node_type_str} {name!r} was called with "
            f"{len(args)} positional arguments but takes {len(positional)} "
            f"({', '.join(positional) or 'none'})"
        )
    bindings = dict(zip(positional, args, strict=False))
    for key, value in kwargs.items():
        if key not in node_def.input_defs:
            raise DagsterInvalidDefinitionError(
                f"graph {graph_name!r}: {node_def.node_type_str} {name!r} has no input {key!r} "
                f"(inputs: {', '.join(node_def.input_defs.keys()) or 'none'})"
            )
        if key in bindings:
            raise DagsterInvalidDefinitionError(
                f"graph {graph_name!r}: input {key!r} of {name!r} was passed twice"
            )
        bindings[key] = value
    return bindings


def _dependency(
    current: _Composition, node_def: Any, name: str, input_name: str, value: Any
) -> tuple[Any, bool]:
    where = (
        f"graph {current.graph_name!r}: input {input_name!r} of {node_def.node_type_str} {name!r}"
    )
    if isinstance(value, GraphInputHandle):
        current.input_mappings.append(InputMapping(value.name, name, input_name))
        return None, False
    if isinstance(value, OutputHandle):
        if value.mode == "dynamic":
            raise DagsterInvalidDefinitionError(
                f"{where} received the dynamic output {value.output!r} of {value.node!r}; "
                "use .map(...) or .collect() on it"
            )
        return DependencyDefinition(value.node, value.output), value.mode == "mapped"
    if isinstance(value, CollectHandle):
        return DynamicCollectDependencyDefinition(value.node, value.output), False
    if isinstance(value, list | tuple) and not hasattr(value, "_fields"):
        return _fan_in(current, where, name, input_name, value), False
    raise DagsterInvalidDefinitionError(
        f"{where} received {value!r}; inside a graph an input takes the output of another op "
        "(or a list of outputs for a fan-in), not a plain value"
    )


def _fan_in(
    current: _Composition, where: str, name: str, input_name: str, values: Any
) -> MultiDependencyDefinition:
    deps = []
    for item in values:
        if isinstance(item, OutputHandle) and item.mode == "plain":
            deps.append(DependencyDefinition(item.node, item.output))
        elif isinstance(item, GraphInputHandle):
            current.input_mappings.append(InputMapping(item.name, name, input_name))
        else:
            raise DagsterInvalidDefinitionError(
                f"{where}: a fan-in list may only hold op outputs, got {item!r}"
            )
    return MultiDependencyDefinition(deps)


@functools.lru_cache(maxsize=256)
def _outputs_tuple(names: tuple[str, ...]) -> Any:
    return namedtuple("_Outputs", names)


def _handles(node_def: Any, name: str, mode: str) -> Any:
    outputs = dict(node_def.output_defs.items())
    if not outputs:
        return None

    def handle(output: str) -> OutputHandle:
        is_dynamic = getattr(outputs[output], "is_dynamic", False)
        return OutputHandle(name, output, "dynamic" if is_dynamic and mode == "plain" else mode)

    if len(outputs) == 1:
        return handle(next(iter(outputs)))
    return _outputs_tuple(tuple(outputs))(*(handle(o) for o in outputs))
