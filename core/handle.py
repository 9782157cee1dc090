"""Finding the op at a node handle (``outer.inner.op``) with everything it inherits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import DagsterInvariantViolationError
from .hook import HookDefinition
from .op import OpDefinition
from .retry import RetryPolicy

if TYPE_CHECKING:
    from .job import JobDefinition


@dataclass(frozen=True, slots=True)
class ResolvedOp:
    """An op as a job runs it at one handle: tags, hooks and retry policy all merged."""

    handle: str
    op_def: OpDefinition
    tags: Mapping[str, Any]
    hook_defs: frozenset[HookDefinition]
    retry_policy: RetryPolicy | None


def resolve_op(job: JobDefinition, handle: str) -> ResolvedOp:
    """The op at ``handle`` (mapping keys like ``[k]`` are ignored).

    Precedence of retry policies: the op's invocation, the op definition, the
    enclosing graph invocations (innermost first), then the job's ``op_retry_policy``.
    Tags merge outermost first, so the op's own win.
    """
    if "[" in handle:
        handle = handle.split("[", 1)[0]
    path = handle.split(".")
    graph = job.graph
    tags: dict[str, Any] = {}
    hooks: frozenset[HookDefinition] = job.hook_defs
    inherited_policy: RetryPolicy | None = None
    for depth, name in enumerate(path):
        node = graph.node_dict.get(name)
        if node is None:
            raise DagsterInvariantViolationError(
                f"job {job.name!r} has no node {'.'.join(path[: depth + 1])!r}"
            )
        if node.hook_defs:
            hooks = hooks | node.hook_defs
        definition = node.definition
        if depth < len(path) - 1:
            if not hasattr(definition, "node_dict"):
                raise DagsterInvariantViolationError(
                    f"job {job.name!r}: {'.'.join(path[: depth + 1])!r} is an op, not a graph"
                )
            tags.update(definition.tags)
            tags.update(node.tags)
            inherited_policy = node.retry_policy or inherited_policy
            graph = definition
            continue
        if not isinstance(definition, OpDefinition):
            raise DagsterInvariantViolationError(
                f"job {job.name!r}: {handle!r} is a graph, not an op"
            )
        if tags or node.tags:
            tags.update(definition.tags)
            tags.update(node.tags)
        else:
            tags = definition.tags
        policy = (
            node.retry_policy or definition.retry_policy or inherited_policy or job.op_retry_policy
        )
        return ResolvedOp(handle, definition, tags, hooks, policy)
    raise DagsterInvariantViolationError(f"job {job.name!r}: empty node handle")
