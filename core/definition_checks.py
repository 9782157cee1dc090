"""Definition-time checks Dagster makes: names, tags, and how dynamic outputs are wired."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .dependency import Collect, FanIn, Node, Upstream
from .errors import DagsterInvalidDefinitionError


def valid_name(name: Any) -> bool:
    """Letters, digits and underscores only (Dagster's ``^[A-Za-z0-9_]+$``)."""
    return isinstance(name, str) and name.isascii() and name.replace("_", "a").isalnum()


def check_name(name: Any, what: str) -> None:
    """Refuse a name Dagster would refuse, in Dagster's words (``what`` says whose)."""
    if not valid_name(name):
        raise DagsterInvalidDefinitionError(
            f'"{name}" is not a valid name in Dagster. Names must be in regex '
            f"^[A-Za-z0-9_]+$ ({what})."
        )


def check_tags(tags: Mapping[str, Any] | None, owner: str) -> None:
    """Every tag value must be a string or survive a JSON round trip unchanged."""
    for key, value in (tags or {}).items():
        if isinstance(value, str):
            continue
        try:
            same = json.loads(json.dumps(value)) == value
        except (TypeError, ValueError):
            same = False
        if not same:
            raise DagsterInvalidDefinitionError(
                f'Invalid value for tag "{key}" of {owner}, Could not JSON encode value '
                f'"{value!r}". Tag values must be strings or meet the constraint that '
                "json.loads(json.dumps(value)) == value."
            )


def check_dynamic_wiring(
    graph_name: str,
    nodes: Mapping[str, Node],
    edges: Mapping[str, Mapping[str, Any]],
    order: list[str],
) -> None:
    """A node may be downstream of one dynamic output only (so a mapped op's own dynamic
    output cannot be mapped again), and may not both collect a mapped output and take it
    directly."""
    mapped_by: dict[str, frozenset[str]] = {}
    for name in order:
        sources: set[str] = set()
        collected: set[str] = set()
        for binding in edges[name].values():
            if isinstance(binding, Collect):
                collected |= mapped_by.get(binding.node, frozenset()) | _dynamic(
                    nodes, binding.node, binding.output
                )
                continue
            for item in binding.items if isinstance(binding, FanIn) else (binding,):
                if isinstance(item, Upstream):
                    sources |= mapped_by.get(item.node, frozenset())
                    sources |= _dynamic(nodes, item.node, item.output)
        if sources & collected:
            raise DagsterInvalidDefinitionError(
                f"In @job/@graph {graph_name}, node {name!r} received the dynamic output "
                f"{sorted(sources & collected)[0]} directly as well as collected. Dynamic "
                "output must be unpacked by invoking map or collect."
            )
        if len(sources) > 1:
            both = " and ".join(f'"{s}"' for s in sorted(sources))
            raise DagsterInvalidDefinitionError(
                f"op {name!r} cannot be downstream of more than one dynamic output. It is "
                f"downstream of both {both}"
            )
        mapped_by[name] = frozenset(sources)


def _dynamic(nodes: Mapping[str, Node], node: str, output: str) -> frozenset[str]:
    out_def = nodes[node].definition.output_defs.get(output)
    return (
        frozenset({f"{node}:{output}"})
        if out_def is not None and out_def.is_dynamic
        else (frozenset())
    )


def check_unique_definitions(graph_name: str, node_defs: list[Any]) -> dict[str, Any]:
    """Every definition used anywhere under a graph, by name; two different ones with one
    name are refused, as Dagster does."""
    found: dict[str, Any] = {}
    for definition in node_defs:
        nested = getattr(definition, "all_definitions", {})
        for name, item in [*nested.items(), (definition.name, definition)]:
            other = found.get(name)
            if other is not None and other is not item:
                raise DagsterInvalidDefinitionError(
                    f'Detected conflicting node definitions with the same name "{name}" '
                    f"(in graph {graph_name!r})"
                )
            found[name] = item
    return found
