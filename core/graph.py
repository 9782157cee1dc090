"""Graphs: ``@graph`` and ``GraphDefinition``, ops (or graphs) wired by data dependencies."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import composition
from .dagster_type import BUILTIN_ANY
from .definition_checks import (
    check_dynamic_wiring,
    check_name,
    check_tags,
    check_unique_definitions,
)
from .dependency import (
    Binding,
    FanIn,
    GraphInputRef,
    InputMapping,
    Node,
    OutputMapping,
)
from .errors import DagsterInvalidDefinitionError, DagsterInvariantViolationError
from .gc_pause import gc_paused
from .graph_wiring import build_nodes, resolve_edges, toposort
from .input import GraphIn
from .named_sequence import NamedDefinitions
from .output import GraphOut, OutputDefinition
from .types import NO_VALUE, is_nothing

if TYPE_CHECKING:
    from .job import JobDefinition


@dataclass(frozen=True, slots=True, eq=False)
class GraphInputDefinition:
    """A graph input: its name, type (from the inner inputs it feeds) and targets."""

    name: str
    dagster_type: Any
    description: str | None
    targets: tuple[tuple[str, str], ...]
    default_value: Any = NO_VALUE

    @property
    def is_nothing(self) -> bool:
        return is_nothing(self.dagster_type)

    @property
    def has_default(self) -> bool:
        return self.default_value is not NO_VALUE


class GraphDefinition(composition.Invocable):
    """A set of nodes (ops or graphs) and the dependencies between them.

    Args:
        name: the graph's name.
        description: shown in tooling.
        node_defs: the op and graph definitions the graph uses.
        dependencies: for each node (a name, or a ``NodeInvocation`` for an alias), a
            dict from input name to ``DependencyDefinition``/``MultiDependencyDefinition``.
        input_mappings: graph inputs and the inner inputs they feed.
        output_mappings: graph outputs and the inner outputs they expose.
        config: a ``ConfigMapping`` exposing a simpler config for the graph's nodes.
        tags: tags applied to every op in the graph.
    """

    def __init__(
        self,
        name: str,
        description: str | None = None,
        node_defs: Sequence[Any] | None = None,
        dependencies: Mapping[Any, Mapping[str, Any]] | None = None,
        input_mappings: Sequence[InputMapping] | None = None,
        output_mappings: Sequence[OutputMapping] | None = None,
        config: Any = None,
        tags: Mapping[str, Any] | None = None,
        ins: Mapping[str, GraphIn] | None = None,
        out: Mapping[str, GraphOut] | None = None,
    ) -> None:
        check_name(name, "the name of a graph or job")
        check_tags(tags, f"graph {name!r}")
        self.name = name
        self.description = description
        self.config_mapping = config
        self.tags: dict[str, Any] = dict(tags or {})
        self.node_defs = list(node_defs or [])
        self.all_definitions = check_unique_definitions(name, self.node_defs)
        self.node_dict: dict[str, Node] = build_nodes(name, self.node_defs, dependencies or {})
        self.edges: dict[str, dict[str, Binding]] = {n: {} for n in self.node_dict}
        resolve_edges(self, dependencies or {})
        self._given_input_mappings = list(input_mappings or ())
        for mapping in self._given_input_mappings:
            self._map_input(mapping)
        self.input_defs: NamedDefinitions[GraphInputDefinition] = NamedDefinitions(
            self._input_defs(ins or {})
        )
        self.input_mappings = self._mappings_in()
        self.output_mappings = list(output_mappings or ())
        self.output_defs: NamedDefinitions[OutputDefinition] = NamedDefinitions(
            self._output_defs(out or {})
        )
        self.positional_inputs = tuple(n for n, d in self.input_defs.items() if not d.is_nothing)
        self.topological_order = toposort(name, self.node_dict, self.edges)
        check_dynamic_wiring(name, self.node_dict, self.edges, self.topological_order)

    # Dagster-compatible views -------------------------------------------------
    @property
    def node_type_str(self) -> str:
        return "graph"

    @property
    def nodes(self) -> list[Node]:
        return list(self.node_dict.values())

    @property
    def output_mapping_by_name(self) -> dict[str, OutputMapping]:
        return {m.graph_output_name: m for m in self.output_mappings}

    def node_named(self, name: str) -> Node:
        if name not in self.node_dict:
            raise DagsterInvalidDefinitionError(f"graph {self.name!r} has no node {name!r}")
        return self.node_dict[name]

    def has_node_named(self, name: str) -> bool:
        return name in self.node_dict

    def iterate_op_defs(self) -> Iterator[Any]:
        """Every op definition used, once each."""
        seen: set[int] = set()
        for node in self.node_dict.values():
            for op_def in node.definition.iterate_op_defs():
                if id(op_def) not in seen:
                    seen.add(id(op_def))
                    yield op_def

    def all_required_resource_keys(self) -> frozenset[str]:
        keys: set[str] = set()
        for node in self.node_dict.values():
            keys |= node.definition.all_required_resource_keys()
            for hook in node.hook_defs:
                keys |= hook.required_resource_keys
        return frozenset(keys)

    # Use ------------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not composition.is_composing():
            raise DagsterInvariantViolationError(
                f"Attempted to call graph '{self.name}' outside of a composition function. "
                "Invoking graphs is only valid in a function decorated with @job or @graph "
                "(use execute_in_process() to run it)."
            )
        return composition.invoke(self, None, args, kwargs)

    def configured(
        self,
        config_or_config_fn: Any,
        name: str,
        config_schema: Any = None,
        description: str | None = None,
    ) -> GraphDefinition:
        """A copy named ``name`` whose config mapping is fed fixed or mapped config."""
        from .configured import configure_graph

        result: GraphDefinition = configure_graph(
            self, config_or_config_fn, name, config_schema, description
        )
        return result

    def to_job(self, name: str | None = None, **kwargs: Any) -> JobDefinition:
        """Make a job from this graph; takes the same arguments as ``@job``."""
        from .job import JobDefinition

        if "hooks" in kwargs:  # @job's name for it
            kwargs["hook_defs"] = kwargs.pop("hooks")
        op_selection = kwargs.pop("op_selection", None)
        return JobDefinition(graph_def=self, name=name, **kwargs).get_subset(op_selection)

    def execute_in_process(
        self,
        run_config: Any = None,
        resources: Mapping[str, Any] | None = None,
        raise_on_error: bool = True,
        input_values: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Run the graph as an ephemeral job in this process."""
        job = self.to_job(name=self.name, resource_defs=resources)
        return job.execute_in_process(
            run_config=run_config,
            raise_on_error=raise_on_error,
            input_values=input_values,
            **kwargs,
        )

    def __repr__(self) -> str:
        return f"<GraphDefinition {self.name}>"

    # Construction helpers ---------------------------------------------------------
    def _map_input(self, mapping: InputMapping) -> None:
        node = self.node_dict.get(mapping.node_name)
        if node is None or mapping.input_name not in node.definition.input_defs:
            raise DagsterInvalidDefinitionError(
                f"graph {self.name!r}: input {mapping.graph_input_name!r} maps to "
                f"{mapping.node_name}.{mapping.input_name}, which does not exist"
            )
        existing = self.edges[mapping.node_name].get(mapping.input_name)
        ref = GraphInputRef(mapping.graph_input_name)
        if isinstance(existing, FanIn):
            self.edges[mapping.node_name][mapping.input_name] = FanIn((*existing.items, ref))
        else:
            self.edges[mapping.node_name][mapping.input_name] = ref

    def _mappings_in(self) -> list[InputMapping]:
        """Every graph input mapping, in the order the graph's inputs were declared."""
        return [
            InputMapping(d.name, node, input_name)
            for d in self.input_defs
            for node, input_name in d.targets
        ]

    def _input_defs(self, ins: Mapping[str, GraphIn]) -> dict[str, GraphInputDefinition]:
        targets: dict[str, list[tuple[str, str]]] = {}
        for node_name, inputs in self.edges.items():
            for input_name, binding in inputs.items():
                refs = binding.items if isinstance(binding, FanIn) else (binding,)
                for ref in refs:
                    if isinstance(ref, GraphInputRef):
                        targets.setdefault(ref.name, []).append((node_name, input_name))
        result: dict[str, GraphInputDefinition] = {}
        for input_name in [*ins, *(t for t in targets if t not in ins)]:
            where = targets.get(input_name, [])
            first = where[0] if where else None
            inner = self.node_dict[first[0]].definition.input_defs[first[1]] if first else None
            fan_in = first is not None and isinstance(self.edges[first[0]][first[1]], FanIn)
            result[input_name] = GraphInputDefinition(
                name=input_name,
                dagster_type=inner.dagster_type if inner and not fan_in else BUILTIN_ANY,
                description=ins[input_name].description if input_name in ins else None,
                targets=tuple(where),
                default_value=inner.default_value if inner and len(where) == 1 else NO_VALUE,
            )
        return result

    def _output_defs(self, out: Mapping[str, GraphOut]) -> dict[str, OutputDefinition]:
        result: dict[str, OutputDefinition] = {}
        for mapping in self.output_mappings:
            node = self.node_dict.get(mapping.node_name)
            if node is None or mapping.output_name not in node.definition.output_defs:
                raise DagsterInvalidDefinitionError(
                    f"graph {self.name!r}: output {mapping.graph_output_name!r} maps to "
                    f"{mapping.node_name}.{mapping.output_name}, which does not exist"
                )
            inner = node.definition.output_defs[mapping.output_name]
            spec = out.get(mapping.graph_output_name)
            result[mapping.graph_output_name] = OutputDefinition(
                name=mapping.graph_output_name,
                dagster_type=inner.dagster_type,
                description=spec.description if spec else mapping.description,
                is_required=inner.is_required,
                is_dynamic=inner.is_dynamic or mapping.from_dynamic_mapping,
                checker=inner.checker,
            )
        missing = [name for name in out if name not in result]
        if missing:
            raise DagsterInvalidDefinitionError(
                f"graph {self.name!r} declares outputs {missing} that its body does not return"
            )
        return result


def graph(
    compose_fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    ins: Mapping[str, GraphIn] | None = None,
    out: Mapping[str, GraphOut] | GraphOut | None = None,
    config: Any = None,
    tags: Mapping[str, Any] | None = None,
) -> Any:
    """Turn a composition function into a ``GraphDefinition`` (``@graph`` or ``@graph(...)``)."""

    def wrap(fn: Callable[..., Any]) -> GraphDefinition:
        definition = graph_from_function(fn, name, description, ins, out, config, tags)
        functools.update_wrapper(definition, fn, updated=())  # __wrapped__ calls the body
        return definition

    return wrap(compose_fn) if compose_fn is not None else wrap


def graph_from_function(
    fn: Callable[..., Any],
    name: str | None,
    description: str | None,
    ins: Mapping[str, GraphIn] | None,
    out: Mapping[str, GraphOut] | GraphOut | None,
    config: Any,
    tags: Mapping[str, Any] | None,
    decorator: str = "graph",
) -> GraphDefinition:
    """Trace ``fn`` and build the graph it describes."""
    graph_name = name or fn.__name__
    params = [p.name for p in inspect.signature(fn).parameters.values()]
    outs = {"result": out} if isinstance(out, GraphOut) else dict(out or {})
    with gc_paused():
        traced = composition.trace(graph_name, fn, params, list(outs) or None, decorator)
        mapped = {m.graph_input_name for m in traced.input_mappings}
        for param in params:
            if param not in mapped:
                raise DagsterInvalidDefinitionError(
                    f"@graph '{graph_name}' has unmapped input '{param}'. Remove it or pass it "
                    "to the appropriate op/graph invocation."
                )
        return GraphDefinition(
            name=graph_name,
            description=description if description is not None else inspect.getdoc(fn),
            node_defs=traced.node_defs,
            dependencies=traced.dependencies,
            input_mappings=traced.input_mappings,
            output_mappings=traced.output_mappings,
            config=config,
            tags=tags,
            ins={**{p: GraphIn() for p in params}, **(ins or {})},
            out=outs,
        )
