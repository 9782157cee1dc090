"""How a graph's nodes and edges are built from Dagster's dependency declarations."""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .definition_checks import check_name, check_tags
from .dependency import (
    Binding,
    Collect,
    DependencyDefinition,
    DynamicCollectDependencyDefinition,
    FanIn,
    MultiDependencyDefinition,
    Node,
    NodeInvocation,
    Upstream,
)
from .errors import DagsterInvalidDefinitionError


def build_nodes(
    graph_name: str, node_defs: Sequence[Any], dependencies: Mapping[Any, Any]
) -> dict[str, Node]:
    by_name: dict[str, Any] = {}
    for definition in node_defs:
        if not hasattr(definition, "output_defs"):
            raise DagsterInvalidDefinitionError(
                f"graph {graph_name!r}: node_defs must hold ops or graphs, got {definition!r}"
            )
        by_name[definition.name] = definition
    nodes: dict[str, Node] = {}
    invoked: set[str] = set()
    for key in dependencies:
        invocation = key if isinstance(key, NodeInvocation) else NodeInvocation(name=key)
        definition = by_name.get(invocation.name)
        node_name = invocation.alias or invocation.name
        if definition is None:
            raise DagsterInvalidDefinitionError(
                f"graph {graph_name!r}: dependencies name node {node_name!r}, but no definition "
                f"named {invocation.name!r} is in node_defs ({', '.join(by_name) or 'none'})"
            )
        if node_name in nodes:
            raise DagsterInvalidDefinitionError(
                f"graph {graph_name!r}: two nodes are named {node_name!r}"
            )
        check_name(node_name, f"a node of graph {graph_name!r}")
        check_tags(invocation.tags, f"node {node_name!r}")
        invoked.add(invocation.name)
        nodes[node_name] = Node(
            node_name,
            definition,
            dict(invocation.tags or {}),
            frozenset(invocation.hook_defs or ()),
            invocation.retry_policy,
        )
    for name, definition in by_name.items():
        if name not in invoked and name not in nodes:
            nodes[name] = Node(name, definition)
    return nodes


def resolve_edges(graph: Any, dependencies: Mapping[Any, Mapping[str, Any]]) -> None:
    for key, inputs in dependencies.items():
        node_name = key.alias or key.name if isinstance(key, NodeInvocation) else key
        node = graph.node_dict[node_name]
        for input_name, dep in inputs.items():
            input_def = node.definition.input_defs.get(input_name)
            if input_def is None:
                raise DagsterInvalidDefinitionError(
                    f"graph {graph.name!r}: node {node_name!r} has no input {input_name!r} "
                    f"(inputs: {', '.join(node.definition.input_defs.keys()) or 'none'})"
                )
            graph.edges[node_name][input_name] = _binding(graph, node_name, input_name, dep)


def _binding(graph: Any, node_name: str, input_name: str, dep: Any) -> Binding:
    where = f"graph {graph.name!r}: input {input_name!r} of node {node_name!r}"
    if isinstance(dep, DependencyDefinition):
        _check_source(graph, where, dep.node, dep.output)
        return Upstream(dep.node, dep.output)
    if isinstance(dep, MultiDependencyDefinition):
        input_def = graph.node_dict[node_name].definition.input_defs[input_name]
        if not input_def.dagster_type.accepts_list:
            raise DagsterInvalidDefinitionError(
                f"{where} is a fan-in of {len(dep.dependencies)} outputs, but its type "
                f"{input_def.type_display} is not a list; annotate it List[...]"
            )
        seen: set[tuple[str, str]] = set()
        for item in dep.dependencies:
            _check_source(graph, where, item.node, item.output)
            if (item.node, item.output) in seen:
                raise DagsterInvalidDefinitionError(
                    f"{where} lists output {item.output!r} of node {item.node!r} twice "
                    "in one fan-in"
                )
            seen.add((item.node, item.output))
        return FanIn(tuple(Upstream(d.node, d.output) for d in dep.dependencies))
    if isinstance(dep, DynamicCollectDependencyDefinition):
        _check_source(graph, where, dep.node, dep.output)
        return Collect(dep.node, dep.output)
    raise DagsterInvalidDefinitionError(
        f"{where}: expected a DependencyDefinition or MultiDependencyDefinition, got {dep!r}"
    )


def _check_source(graph: Any, where: str, node_name: str, output: str) -> None:
    source = graph.node_dict.get(node_name)
    if source is None:
        raise DagsterInvalidDefinitionError(
            f"{where} depends on node {node_name!r}, which is not in the graph "
            f"(nodes: {', '.join(graph.node_dict)})"
        )
    if output not in source.definition.output_defs:
        raise DagsterInvalidDefinitionError(
            f"{where} depends on output {output!r} of node {node_name!r}, which has no such "
            f"output (outputs: {', '.join(source.definition.output_defs.keys()) or 'none'})"
        )


def upstream_nodes(binding: Binding) -> Iterator[str]:
    """The node names a binding depends on."""
    if isinstance(binding, Upstream | Collect):
        yield binding.node
    elif isinstance(binding, FanIn):
        for item in binding.items:
            if isinstance(item, Upstream):
                yield item.node


def toposort(
    graph_name: str, nodes: Mapping[str, Node], edges: Mapping[str, Mapping[str, Binding]]
) -> list[str]:
    position = {name: index for index, name in enumerate(nodes)}
    waiting = {name: 0 for name in nodes}
    downstream: dict[str, list[str]] = {name: [] for name in nodes}
    for name, inputs in edges.items():
        for binding in inputs.values():
            for upstream in upstream_nodes(binding):
                waiting[name] += 1
                downstream[upstream].append(name)
    # Kahn's algorithm; among ready nodes the one declared first goes first.
    ready = [(position[name], name) for name, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, name = heapq.heappop(ready)
        order.append(name)
        for child in downstream[name]:
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, (position[child], child))
    if len(order) != len(nodes):
        stuck = [name for name, count in waiting.items() if count > 0]
        raise DagsterInvalidDefinitionError(
            f"graph {graph_name!r} has a circular dependency among nodes {', '.join(stuck)}"
        )
    return order
