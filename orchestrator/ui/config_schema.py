"""A job's config schema as a tree the pages show, and a YAML scaffold of it.

The tree is read from the schemas as users wrote them (dicts, ``Field``, ``Shape``,
``Permissive``, ``Selector``, ``Noneable``, ``Array``, scalars, ``Config`` classes),
one entry per op (``ops.<node>[.ops.<inner>].config``) and per resource with config.
The scaffold fills each field with its default, or with an empty value of its type
when it has none, and lays the job's own default run config over that.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field
from typing import Any

import pydantic
import yaml

from .cluster import (
    NO_VALUE,
    Array,
    Field,
    GraphDefinition,
    JobDefinition,
    Noneable,
    OpDefinition,
    Permissive,
    Selector,
    Shape,
)
from .redact import redacted


@dataclass(slots=True)
class SchemaNode:
    """One field of a schema: type name, whether required, default, children."""

    type_name: str
    required: bool = True
    default: Any = NO_VALUE
    description: str = ""
    fields: dict[str, SchemaNode] = field(default_factory=dict)

    @property
    def has_default(self) -> bool:
        return self.default is not NO_VALUE


_SCALARS = {int: "Int", str: "String", bool: "Bool", float: "Float", Any: "Any"}
_EMPTY = {"Int": 0, "String": "", "Bool": False, "Float": 0.0}


def describe(raw: Any) -> SchemaNode:
    """The tree of one schema as written."""
    if isinstance(raw, Field):
        inner = describe(raw.config)
        inner.description = raw.description or inner.description
        if raw.default_value is not NO_VALUE:
            inner.default = raw.default_value
        inner.required = raw.required
        return inner
    if isinstance(raw, type) and issubclass(raw, pydantic.BaseModel):
        return _model(raw)
    if isinstance(raw, dict | Shape | Permissive | Selector):
        return _shape(raw)
    if isinstance(raw, Noneable):
        inner = describe(raw.inner)
        return SchemaNode(f"{inner.type_name}?", False, None, fields=inner.fields)
    if isinstance(raw, Array) or (isinstance(raw, list) and len(raw) == 1):
        inner = describe(raw.inner if isinstance(raw, Array) else raw[0])
        return SchemaNode(f"[{inner.type_name}]")
    return SchemaNode(_type_name(raw))


def _shape(raw: Any) -> SchemaNode:
    kind = type(raw).__name__ if not isinstance(raw, dict) else "Shape"
    fields = raw if isinstance(raw, dict) else (raw.fields or {})
    children = {str(name): describe(spec) for name, spec in fields.items()}
    if isinstance(raw, Selector):
        for child in children.values():
            child.required = False
    return SchemaNode(kind, any(c.required for c in children.values()), fields=children)


def _model(model: type[pydantic.BaseModel]) -> SchemaNode:
    children = {}
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
            child = _model(annotation)
        else:
            child = SchemaNode(_type_name(annotation))
        child.required = info.is_required()
        child.description = info.description or ""
        if not info.is_required() and info.default is not pydantic_core_undefined():
            child.default = info.default
        children[info.alias or name] = child
    return SchemaNode(model.__name__, any(c.required for c in children.values()), fields=children)


def pydantic_core_undefined() -> Any:
    from pydantic_core import PydanticUndefined

    return PydanticUndefined


def _type_name(annotation: Any) -> str:
    if annotation in _SCALARS:
        return _SCALARS[annotation]
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _type_name(typing.get_args(annotation)[0])
    if origin in (list, tuple):
        args = typing.get_args(annotation)
        return f"[{_type_name(args[0]) if args else 'Any'}]"
    if origin is dict:
        return "Dict"
    if origin is typing.Union or type(annotation).__name__ == "UnionType":
        names = [_type_name(a) for a in typing.get_args(annotation) if a is not type(None)]
        return "|".join(names) + ("?" if type(None) in typing.get_args(annotation) else "")
    return getattr(annotation, "__name__", str(annotation))


def job_schema(job: JobDefinition) -> SchemaNode:
    """The run config schema of a job: ``ops`` (nested graphs inside) and ``resources``."""
    root = SchemaNode("RunConfig", required=False)
    ops = _graph_ops(job.graph)
    if ops.fields:
        root.fields["ops"] = ops
    resources = SchemaNode("Resources", required=False)
    for key, resource in sorted(job.resource_defs.items()):
        schema = getattr(resource, "config_schema", None)
        if schema is not None:
            config = describe(schema.raw)
            resources.fields[key] = SchemaNode(
                "Resource", config.required, fields={"config": config}
            )
    if resources.fields:
        resources.required = any(c.required for c in resources.fields.values())
        root.fields["resources"] = resources
    root.required = any(c.required for c in root.fields.values())
    return root


def _graph_ops(graph: GraphDefinition) -> SchemaNode:
    ops = SchemaNode("Ops", required=False)
    for node in graph.node_dict.values():
        definition = node.definition
        if isinstance(definition, GraphDefinition):
            inner = _graph_ops(definition)
            if inner.fields:
                ops.fields[node.name] = SchemaNode("Graph", inner.required, fields={"ops": inner})
        elif isinstance(definition, OpDefinition) and definition.config_schema is not None:
            config = describe(definition.config_schema.raw)
            ops.fields[node.name] = SchemaNode("Op", config.required, fields={"config": config})
    ops.required = any(c.required for c in ops.fields.values())
    return ops


def scaffold_value(node: SchemaNode) -> Any:
    """A value that fills ``node``: its default, its fields' scaffolds, or an empty value."""
    if node.has_default:
        return node.default
    if node.fields and node.type_name != "Selector":
        return {name: scaffold_value(child) for name, child in node.fields.items()}
    if node.type_name == "Selector" and node.fields:
        name, child = next(iter(node.fields.items()))
        return {name: scaffold_value(child)}
    if node.type_name.startswith("["):
        return []
    return _EMPTY.get(node.type_name.rstrip("?"), None)


def scaffold_yaml(job: JobDefinition) -> str:
    """The launchpad's starting YAML for ``job`` (secret-looking values masked); empty for a
    partitioned job, whose partition supplies its config."""
    if job.partitioned_config is not None:
        return "{}\n"
    value = scaffold_value(job_schema(job))
    defaults = job.default_run_config or {}
    if isinstance(value, dict) and defaults:
        value = _merge(value, dict(defaults))
    if not value:
        return "{}\n"
    return yaml.safe_dump(redacted(value), sort_keys=False, default_flow_style=False)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged
