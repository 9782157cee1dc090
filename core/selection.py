"""Op selection: the subset of a graph that ``op_selection=[...]`` names.

Clauses are Dagster's: ``name`` selects a node, ``*name`` it and every node
upstream of it, ``+name`` one level upstream (``++name`` two, ...), ``name*``
and ``name+`` the same downstream. ``graph.node`` selects one node inside a
nested graph (no operators there, as in Dagster). A selected graph node with no
dotted clause keeps all its nodes.

``subset_graph`` is pure and deterministic: the same graph and selection list
always give the same subset, so any process can rebuild it from a job name and
the list. Nodes keep their names, so step keys (node handles) are those of the
full job: an input whose upstream is not selected must come from run config
(``ops: {node: {inputs: {name: ...}}}``), as in Dagster.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .dependency import (
    Binding,
    Collect,
    DependencyDefinition,
    DynamicCollectDependencyDefinition,
    FanIn,
    GraphInputRef,
    InputMapping,
    MultiDependencyDefinition,
    NodeInvocation,
    Upstream,
)
from .errors import DagsterInvalidSubsetError

_CLAUSE = re.compile(r"^(?P<up>\*|\+*)(?P<name>[A-Za-z0-9_.]+)(?P<down>\*|\+*)$")
#: Depth of a ``*`` operator: every level.
_ALL = 1 << 30


def parse_clause(clause: str) -> tuple[str, int, int]:
    """(node path, levels upstream, levels downstream) of one selection clause."""
    match = _CLAUSE.match(clause.strip()) if isinstance(clause, str) else None
    if match is None:
        raise DagsterInvalidSubsetError(f"op selection clause {clause!r} is not valid")
    up, name, down = match["up"], match["name"], match["down"]
    if "." in name and (up or down):
        head = name.split(".", 1)[0]
        raise DagsterInvalidSubsetError(
            f"Node {up + head if up else name.rsplit('.', 1)[-1] + down} was selected, but no "
            "node by that name was found: operators are not allowed on a nested path "
            f"({clause!r})"
        )
    return name, _depth(up), _depth(down)


def _depth(operator: str) -> int:
    return _ALL if operator == "*" else len(operator)


def selected_nodes(graph: Any, selection: Sequence[str]) -> tuple[set[str], dict[str, list[str]]]:
    """(top-level nodes selected whole, nested paths by top-level node)."""
    whole: set[str] = set()
    nested: dict[str, list[str]] = {}
    upstream, downstream = _adjacency(graph)
    for clause in selection:
        name, up, down = parse_clause(clause)
        head, _, rest = name.partition(".")
        if head not in graph.node_dict:
            raise DagsterInvalidSubsetError(
                f"Node {name} was selected, but no node named {name} was found "
                f"(graph {graph.name!r} has {', '.join(graph.node_dict)})."
            )
        if rest:
            nested.setdefault(head, []).append(rest)
            continue
        whole.add(head)
        whole |= _walk(head, upstream, up) | _walk(head, downstream, down)
    for name in whole:
        nested.pop(name, None)
    return whole, nested


def _adjacency(graph: Any) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    upstream: dict[str, set[str]] = {name: set() for name in graph.node_dict}
    downstream: dict[str, set[str]] = {name: set() for name in graph.node_dict}
    for name, inputs in graph.edges.items():
        for binding in inputs.values():
            for source in _sources(binding):
                upstream[name].add(source)
                downstream[source].add(name)
    return upstream, downstream


def _sources(binding: Binding) -> Iterable[str]:
    if isinstance(binding, Upstream | Collect):
        yield binding.node
    elif isinstance(binding, FanIn):
        yield from (item.node for item in binding.items if isinstance(item, Upstream))


def _walk(start: str, edges: Mapping[str, set[str]], depth: int) -> set[str]:
    found: set[str] = set()
    frontier = {start}
    while frontier and depth > 0:
        frontier = {n for node in frontier for n in edges[node]} - found - {start}
        found |= frontier
        depth -= 1
    return found


def subset_graph(graph: Any, selection: Sequence[str]) -> Any:
    """The graph restricted to ``selection``; raises ``DagsterInvalidSubsetError``."""
    from .graph import GraphDefinition

    if not selection:
        raise DagsterInvalidSubsetError(
            f"No qualified ops to execute found for op_selection={list(selection)!r}"
        )
    whole, nested = selected_nodes(graph, selection)
    if not whole and not nested:
        raise DagsterInvalidSubsetError(
            f"No qualified ops to execute found for op_selection={list(selection)!r}"
        )
    definitions: dict[str, Any] = {}
    for name in graph.node_dict:
        definition = graph.node_dict[name].definition
        if name in whole:
            definitions[name] = definition
        elif name in nested:
            if not hasattr(definition, "node_dict"):
                raise DagsterInvalidSubsetError(
                    f"Node {name}.{nested[name][0]} was selected, but {name!r} is an op, "
                    "not a graph"
                )
            definitions[name] = subset_graph(definition, sorted(set(nested[name])))
    dependencies, input_mappings = _wiring(graph, definitions)
    output_mappings = [
        m
        for m in graph.output_mappings
        if m.node_name in definitions and m.output_name in definitions[m.node_name].output_defs
    ]
    unique_defs = list({id(d): d for d in definitions.values()}.values())
    return GraphDefinition(
        name=graph.name,
        description=graph.description,
        node_defs=unique_defs,
        dependencies=dependencies,
        input_mappings=input_mappings,
        output_mappings=output_mappings,
        config=graph.config_mapping,
        tags=graph.tags,
    )


def _wiring(
    graph: Any, definitions: Mapping[str, Any]
) -> tuple[dict[NodeInvocation, dict[str, Any]], list[InputMapping]]:
    dependencies: dict[NodeInvocation, dict[str, Any]] = {}
    input_mappings: list[InputMapping] = []
    for name, definition in definitions.items():
        node = graph.node_dict[name]
        invocation = NodeInvocation(
            name=definition.name,
            alias=name,
            tags=dict(node.tags) or None,
            hook_defs=node.hook_defs or None,
            retry_policy=node.retry_policy,
        )
        deps: dict[str, Any] = {}
        for input_name, binding in graph.edges[name].items():
            if input_name not in definition.input_defs:
                continue  # the input fed only nodes that are not selected
            dep = _kept(binding, definitions, name, input_name, input_mappings)
            if dep is not None:
                deps[input_name] = dep
        dependencies[invocation] = deps
    return dependencies, input_mappings


def _kept(
    binding: Binding,
    definitions: Mapping[str, Any],
    node: str,
    input_name: str,
    input_mappings: list[InputMapping],
) -> Any:
    """The dependency that survives the subset (None: the input comes from config)."""
    if isinstance(binding, GraphInputRef):
        input_mappings.append(InputMapping(binding.name, node, input_name))
        return None
    if isinstance(binding, Upstream):
        return _if_selected(binding.node, binding.output, definitions, DependencyDefinition)
    if isinstance(binding, Collect):
        return _if_selected(
            binding.node, binding.output, definitions, DynamicCollectDependencyDefinition
        )
    kept = []
    for item in binding.items:
        if isinstance(item, GraphInputRef):
            input_mappings.append(InputMapping(item.name, node, input_name))
        elif item.node in definitions and item.output in definitions[item.node].output_defs:
            kept.append(DependencyDefinition(item.node, item.output))
    return MultiDependencyDefinition(kept) if kept else None


def _if_selected(source: str, output: str, definitions: Mapping[str, Any], kind: Any) -> Any:
    if source in definitions and output in definitions[source].output_defs:
        return kind(source, output)
    return None
