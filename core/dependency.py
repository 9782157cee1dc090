"""How graph nodes are wired: Dagster's dependency declarations and their resolved forms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import DagsterInvalidDefinitionError
from .output import DEFAULT_OUTPUT


class DependencyDefinition:
    """An input fed by one output of another node.

    Args:
        node: the upstream node's name (its alias if aliased).
        output: the upstream output's name.
        description: shown in tooling.
        solid: the older name of ``node``, still accepted.
    """

    __slots__ = ("description", "node", "output")

    def __init__(
        self,
        node: str | None = None,
        output: str = DEFAULT_OUTPUT,
        description: str | None = None,
        solid: str | None = None,
    ) -> None:
        name = node if node is not None else solid
        if not isinstance(name, str) or not name:
            raise DagsterInvalidDefinitionError(
                f"DependencyDefinition needs the upstream node's name, got {name!r}"
            )
        self.node = name
        self.output = output
        self.description = description

    def __repr__(self) -> str:
        return f"DependencyDefinition({self.node!r}, {self.output!r})"


class MultiDependencyDefinition:
    """A fan-in: an input fed by a list of outputs."""

    __slots__ = ("dependencies",)

    def __init__(self, dependencies: Sequence[DependencyDefinition]) -> None:
        for dep in dependencies:
            if not isinstance(dep, DependencyDefinition):
                raise DagsterInvalidDefinitionError(
                    f"MultiDependencyDefinition takes DependencyDefinitions, got {dep!r}"
                )
        self.dependencies = tuple(dependencies)


class DynamicCollectDependencyDefinition:
    """An input fed by every mapped copy of an upstream output, as a list."""

    __slots__ = ("node", "output")

    def __init__(self, node: str, output: str = DEFAULT_OUTPUT) -> None:
        self.node = node
        self.output = output


@dataclass(frozen=True, slots=True)
class NodeInvocation:
    """A use of a definition inside a graph, with its alias, tags, hooks and retry policy."""

    name: str
    alias: str | None = None
    tags: Mapping[str, str] | None = None
    hook_defs: frozenset[Any] | None = None
    retry_policy: Any = None

    def __hash__(self) -> int:
        return hash((self.name, self.alias))


# ---------------------------------------------------------------- resolved forms


@dataclass(frozen=True, slots=True)
class Upstream:
    """One node output feeding an input."""

    node: str
    output: str


@dataclass(frozen=True, slots=True)
class GraphInputRef:
    """A graph input feeding an inner node input."""

    name: str


@dataclass(frozen=True, slots=True)
class FanIn:
    """A list of sources feeding one list input."""

    items: tuple[Upstream | GraphInputRef, ...]


@dataclass(frozen=True, slots=True)
class Collect:
    """Every mapped copy of a node output feeding one list input."""

    node: str
    output: str


Binding = Upstream | GraphInputRef | FanIn | Collect


@dataclass(frozen=True, slots=True)
class InputMapping:
    """A graph input and the inner input it feeds (Dagster's field names).

    Args:
        graph_input_name: the graph's input.
        mapped_node_name: the inner node it feeds.
        mapped_node_input_name: that node's input.
        fan_in_index: position in a fan-in input; accepted, the order of mappings decides.
        graph_input_description: shown in tooling.
        dagster_type: accepted; the graph input takes the inner input's type.
    """

    graph_input_name: str
    mapped_node_name: str
    mapped_node_input_name: str
    fan_in_index: int | None = None
    graph_input_description: str | None = None
    dagster_type: Any = None

    @property
    def node_name(self) -> str:
        return self.mapped_node_name

    @property
    def input_name(self) -> str:
        return self.mapped_node_input_name


@dataclass(frozen=True, slots=True)
class OutputMapping:
    """A graph output and the inner output it comes from (Dagster's field names)."""

    graph_output_name: str
    mapped_node_name: str
    mapped_node_output_name: str
    graph_output_description: str | None = None
    dagster_type: Any = None
    from_dynamic_mapping: bool = False

    @property
    def node_name(self) -> str:
        return self.mapped_node_name

    @property
    def output_name(self) -> str:
        return self.mapped_node_output_name

    @property
    def description(self) -> str | None:
        return self.graph_output_description


@dataclass(frozen=True, slots=True, eq=False)
class Node:
    """A node of a graph: a definition under a name, with invocation-level settings."""

    name: str
    definition: Any
    tags: Mapping[str, str] = field(default_factory=dict)
    hook_defs: frozenset[Any] = frozenset()
    retry_policy: Any = None
