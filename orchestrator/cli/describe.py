"""What ``opgrid job print`` and ``opgrid job scaffold-config`` show of a job.

``job_outline`` draws the op graph as an indented list (nested graphs inside their
node, each node with the nodes it reads from), then the config schema; the scaffold
is a run config YAML with every field, filled with its default (the job's default run
config laid over them) or an empty value, each marked with its type and whether it is
required. Both read the config schema tree the web UI reads (``ui.config_schema``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from opgrid import GraphDefinition, JobDefinition
from opgrid.orchestrator.ui.config_schema import SchemaNode, job_schema, scaffold_value
from opgrid.orchestrator.ui.dag import upstream_of

#: Spaces per level of the outline and of the scaffold.
INDENT = 2


def job_outline(job: JobDefinition) -> list[str]:
    """The lines ``opgrid job print`` prints for ``job``."""
    lines = [f"job {job.name}"]
    if job.description:
        lines.append(f"  {job.description.strip().splitlines()[0]}")
    if job.tags:
        lines.append("  tags: " + ", ".join(f"{k}={v}" for k, v in sorted(job.tags.items())))
    lines.append("ops")
    lines += _graph_lines(job.graph, INDENT)
    schema = job_schema(job)
    lines.append("config schema" + ("" if schema.fields else ": none"))
    lines += _schema_lines(schema, INDENT)
    return lines


def _graph_lines(graph: GraphDefinition, depth: int) -> list[str]:
    reads: dict[str, list[str]] = {}
    for source, target in upstream_of(graph):
        reads.setdefault(target, []).append(source)
    lines: list[str] = []
    for name, node in graph.node_dict.items():
        definition = node.definition
        kind = "graph" if isinstance(definition, GraphDefinition) else "op"
        shown = f"{name} ({kind} {definition.name})" if definition.name != name else f"{name}"
        after = f"  <- {', '.join(reads[name])}" if name in reads else ""
        lines.append(" " * depth + shown + after)
        if isinstance(definition, GraphDefinition):
            lines += _graph_lines(definition, depth + INDENT)
    return lines


def _schema_lines(node: SchemaNode, depth: int) -> list[str]:
    lines: list[str] = []
    for name, child in node.fields.items():
        lines.append(" " * depth + f"{name}: {_note(child)}")
        lines += _schema_lines(child, depth + INDENT)
    return lines


def _note(node: SchemaNode) -> str:
    if node.has_default:
        return f"{node.type_name} = {node.default!r}"
    return f"{node.type_name}, {'required' if node.required else 'optional'}"


def scaffold_config(job: JobDefinition) -> str:
    """A run config YAML with every field of ``job``'s schema, required ones marked."""
    schema = job_schema(job)
    if not schema.fields:
        return "{}  # this job takes no config\n"
    defaults = dict(job.default_run_config or {})
    return "\n".join(_scaffold_lines(schema, defaults, 0)) + "\n"


def _scaffold_lines(node: SchemaNode, defaults: Mapping[str, Any], depth: int) -> list[str]:
    lines: list[str] = []
    pad = " " * depth
    for name, child in node.fields.items():
        given = defaults.get(name) if isinstance(defaults, Mapping) else None
        note = f"  # {_note(child)}"
        if child.fields and child.type_name != "Selector" and not child.has_default:
            lines.append(f"{pad}{name}:{note}")
            lines += _scaffold_lines(
                child, given if isinstance(given, Mapping) else {}, depth + INDENT
            )
            continue
        value = given if given is not None else scaffold_value(child)
        text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
        text = text.removesuffix("\n...").strip()
        lines.append(f"{pad}{name}: {text}{note}")
    return lines
