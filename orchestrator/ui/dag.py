"""The edges of a graph definition, node to node, for drawing."""

from __future__ import annotations

from .cluster import GraphDefinition, upstream_nodes


def upstream_of(graph: GraphDefinition) -> list[tuple[str, str]]:
    """(upstream node, downstream node) for every data dependency between two nodes."""
    edges: list[tuple[str, str]] = []
    for target, inputs in graph.edges.items():
        for binding in inputs.values():
            edges.extend((source, target) for source in upstream_nodes(binding))
    return list(dict.fromkeys(edges))
