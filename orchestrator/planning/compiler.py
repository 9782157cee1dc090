"""The plan compiler: (job, run config) -> ``ExecutionPlan``, pure and deterministic.

Nested graphs are flattened into steps keyed by node handle (``outer.inner``);
every step input names where its value comes from. Steps downstream of a
``DynamicOut`` are templates (``mapped_by`` set) that the run state copies once per
mapping key. The run config is validated along the way, and every problem is
reported at once with its dotted path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opgrid.config_problems import did_you_mean, unexpected_key
from opgrid.errors import ConfigError, DagsterInvalidDefinitionError
from opgrid.gc_pause import gc_paused
from opgrid.graph import GraphDefinition
from opgrid.handle import resolve_op
from opgrid.job import JobDefinition
from opgrid.op import OpDefinition
from opgrid.orchestrator.protocol.tags import check_cluster_tags
from opgrid.types import NO_VALUE

from .feeds import Feed, Source, feed_of, mapping_of
from .plan import (
    ExecutionPlan,
    OutputRef,
    PlanInput,
    PlanOutput,
    PlanRetryPolicy,
    PlanStep,
)
from .run_config import check_top_level, deep_merge, effective_run_config, resolve_resources


def compile_plan(
    job: JobDefinition,
    run_config: Any = None,
    *,
    partition_key: str | None = None,
    tags: Mapping[str, Any] | None = None,
    input_names: frozenset[str] = frozenset(),
) -> ExecutionPlan:
    """Validate ``run_config`` against ``job`` and flatten the job into steps.

    Args:
        job: the job to plan.
        run_config: the config given at launch.
        partition_key: the partition to run, for a partitioned job.
        tags: launch tags, laid over the job's.
        input_names: the job's top-level inputs given values at launch.

    Raises:
        ConfigError: listing every bad field of the run config.
        DagsterInvalidDefinitionError: when the job cannot run as defined.
    """
    job.check_resources()  # deferred to here for jobs that Definitions binds
    effective, partition_tags = effective_run_config(job, run_config, partition_key)
    problems = check_top_level(effective)
    builder = _Builder(job, problems)
    top_inputs = _top_inputs(job, effective, input_names, problems)
    with gc_paused():
        builder.walk(job.graph, "", builder.top_section(effective), "ops", top_inputs)
    keys, resource_config = resolve_resources(job, effective.get("resources"), problems)
    if problems:
        raise ConfigError(problems, subject=f"job {job.name}")
    run_tags = {**job.tags, **partition_tags, **(tags or {})}
    check_cluster_tags("the run", run_tags)
    for step in builder.steps:
        if step.tags:
            check_cluster_tags(f"op {step.key!r}", step.tags)
    return ExecutionPlan.model_construct(  # parts built above; validated when loaded
        job_name=job.name,
        steps=tuple(builder.steps),
        run_config=effective,
        resource_keys=tuple(keys),
        resource_config=resource_config,
        tags=run_tags,
        partition_key=partition_key,
        op_selection=getattr(job, "op_selection", None),
    )


def _top_inputs(
    job: JobDefinition,
    run_config: Mapping[str, Any],
    input_names: frozenset[str],
    problems: list[tuple[str, str]],
) -> dict[str, Feed]:
    """The job's own graph inputs: launch values, else the top-level ``inputs`` config."""
    given = _section(run_config, "inputs", "inputs", problems)
    feeds: dict[str, Feed] = {}
    for name in job.graph.input_defs.keys():
        if name in input_names:
            feeds[name] = Feed("run_input", run_inputs=(name,))
        elif name in given:
            feeds[name] = Feed("config", value=_unwrap(given[name]))
    known = job.graph.input_defs.keys()
    problems.extend(
        (f"inputs.{name}", f"job {job.name!r} has no input {name!r}: {did_you_mean(name, known)}")
        for name in given
        if name not in job.graph.input_defs
    )
    return feeds


def _section(parent: Any, key: str, path: str, problems: list[tuple[str, str]]) -> dict[str, Any]:
    value = parent.get(key) if isinstance(parent, Mapping) else None
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        problems.append((path, f"must be a dict, got {value!r}"))
        return {}
    return dict(value)


_OP_KEYS = frozenset({"config", "inputs", "outputs"})


_GRAPH_KEYS = frozenset({"ops", "config", "inputs"})


class _Builder:
    """Walks a job's graphs depth-first, appending steps in topological order."""

    def __init__(self, job: JobDefinition, problems: list[tuple[str, str]]) -> None:
        self.job = job
        self.problems = problems
        self.steps: list[PlanStep] = []
        self._output_models: dict[int, tuple[PlanOutput, ...]] = {}

    def walk(
        self,
        graph: GraphDefinition,
        prefix: str,
        section: dict[str, Any],
        path: str,
        feeds: dict[str, Feed],
    ) -> dict[str, Source]:
        """Add the steps of ``graph``; return its outputs by name."""
        for name in section:
            if name not in graph.node_dict:
                self.problems.append(
                    (
                        f"{path}.{name}",
                        f"no node named {name!r}: {did_you_mean(name, graph.node_dict)}",
                    )
                )
        produced: dict[tuple[str, str], Source] = {}
        for name in graph.topological_order:
            node = graph.node_dict[name]
            node_path = f"{path}.{name}"
            node_section = _section(section, name, node_path, self.problems)
            bindings = graph.edges[name]
            resolved = {
                input_name: feed_of(binding, produced, feeds)
                for input_name, binding in bindings.items()
            }
            if isinstance(node.definition, OpDefinition):
                self._check_keys(node_section, _OP_KEYS, node_path)
                step = self._op_step(
                    prefix + name, node.definition, node_section, node_path, resolved
                )
                for out in step.outputs:
                    produced[(name, out.name)] = Source(
                        OutputRef(step=step.key, output=out.name),
                        out.is_dynamic,
                        step.mapped_by,
                    )
            else:
                self._check_keys(node_section, _GRAPH_KEYS, node_path)
                outputs = self._graph_node(
                    node.definition, prefix + name + ".", node_section, node_path, resolved
                )
                for out_name, source in outputs.items():
                    produced[(name, out_name)] = source
        return {
            m.graph_output_name: produced[(m.node_name, m.output_name)]
            for m in graph.output_mappings
        }

    def _check_keys(self, section: Mapping[str, Any], allowed: frozenset[str], path: str) -> None:
        for key in section:
            if key not in allowed:
                self.problems.append((f"{path}.{key}", unexpected_key(key, allowed)))

    def _graph_node(
        self,
        graph: GraphDefinition,
        prefix: str,
        section: dict[str, Any],
        path: str,
        resolved: dict[str, Feed],
    ) -> dict[str, Source]:
        inner_section = self.graph_section(
            graph, _section(section, "ops", f"{path}.ops", self.problems), section, path
        )
        given = _section(section, "inputs", f"{path}.inputs", self.problems)
        feeds: dict[str, Feed] = {}
        for name in graph.input_defs.keys():
            if name in resolved and resolved[name].kind != "none":
                feeds[name] = resolved[name]
            elif name in given:
                feeds[name] = Feed("config", value=_unwrap(given[name]))
        return self.walk(graph, prefix, inner_section, f"{path}.ops", feeds)

    def top_section(self, run_config: Mapping[str, Any]) -> dict[str, Any]:
        """The node config of the job's own graph; with a graph config mapping (and no job
        mapping) ``ops.config`` is the mapping's input, as in Dagster."""
        top = _section(run_config, "ops", "ops", self.problems)
        graph = self.job.graph
        if graph.config_mapping is None or self.job.config_mapping is not None:
            return top
        nodes = {k: v for k, v in top.items() if k != "config" or k in graph.node_dict}
        return self.graph_section(graph, nodes, top, "ops")

    def graph_section(
        self, graph: GraphDefinition, ops: dict[str, Any], section: Mapping[str, Any], path: str
    ) -> dict[str, Any]:
        """The config of a graph's nodes: ``ops`` after the graph's config (a dict of
        defaults, or a mapping of ``section["config"]``) is applied, as Dagster does."""
        mapping = graph.config_mapping
        if isinstance(mapping, Mapping):
            return deep_merge(_node_config(mapping), ops)
        if mapping is None or ("config" not in section and not mapping.needs_no_config):
            return ops
        try:
            mapped = mapping.resolve(section.get("config"), f"{path}.config")
        except ConfigError as exc:
            self.problems.extend(exc.errors)
            return {}
        if not isinstance(mapped, Mapping):
            self.problems.append((f"{path}.config", f"config mapping returned {mapped!r}"))
            return {}
        return _node_config(mapped)

    def _op_step(
        self,
        key: str,
        op_def: OpDefinition,
        section: dict[str, Any],
        path: str,
        resolved: dict[str, Feed],
    ) -> PlanStep:
        config = self._op_config(op_def, section, path)
        given = _section(section, "inputs", f"{path}.inputs", self.problems)
        inputs = []
        mapped_by: OutputRef | None = None
        for name in op_def.input_defs.keys():
            feed = resolved.get(name)
            if feed is not None and feed.kind == "none":
                feed = None
            plan_input = self._input(op_def, key, name, feed, given, f"{path}.inputs.{name}")
            inputs.append(plan_input)
            if feed is not None:
                mapped_by = mapping_of(key, name, feed, mapped_by)
        for name in given:
            if name not in op_def.input_defs:
                self.problems.append(
                    (
                        f"{path}.inputs.{name}",
                        f"op {op_def.name!r} has no such input: "
                        f"{did_you_mean(name, op_def.input_defs.keys())}",
                    )
                )
        if mapped_by is not None and any(o.is_dynamic for o in op_def.output_defs.values()):
            raise DagsterInvalidDefinitionError(
                f"op {key!r} has a DynamicOut but runs inside a .map(); nested dynamic "
                "mapping is not supported"
            )
        resolved_op = resolve_op(self.job, key)
        step = PlanStep(
            key=key,
            op=op_def.name,
            inputs=tuple(inputs),
            outputs=self._outputs(op_def),
            tags=dict(resolved_op.tags),
            config=config,
            retry_policy=_policy(resolved_op.retry_policy),
            mapped_by=mapped_by,
        )
        self.steps.append(step)
        return step

    def _outputs(self, op_def: OpDefinition) -> tuple[PlanOutput, ...]:
        """The (shared, frozen) output models of an op definition."""
        cached = self._output_models.get(id(op_def))
        if cached is None:
            cached = self._output_models[id(op_def)] = tuple(
                PlanOutput(name=o.name, is_required=o.is_required, is_dynamic=o.is_dynamic)
                for o in op_def.output_defs.values()
            )
        return cached

    def _op_config(self, op_def: OpDefinition, section: Mapping[str, Any], path: str) -> Any:
        raw = section.get("config", NO_VALUE)
        if op_def.config_schema is None:  # Dagster treats a missing schema as Any
            return None if raw is NO_VALUE else raw
        value, found = op_def.config_schema.validate(raw, f"{path}.config")
        self.problems.extend(found)
        return value

    def _input(
        self,
        op_def: OpDefinition,
        key: str,
        name: str,
        feed: Feed | None,
        given: Mapping[str, Any],
        path: str,
    ) -> PlanInput:
        input_def = op_def.input_defs[name]
        nothing = input_def.is_nothing
        if feed is not None:
            if name in given:
                self.problems.append(
                    (path, "input is connected to an upstream output; it cannot be set in config")
                )
            refs = tuple(source.ref for source in feed.sources)
            return PlanInput(
                name=name,
                kind=feed.kind,
                sources=refs,
                run_inputs=feed.run_inputs,
                value=feed.value,
                is_nothing=nothing,
            )
        if name in given:
            value = _unwrap(given[name])
            reason = input_def.config_problem(value)
            if reason is not None:
                self.problems.append((path, reason))
            return PlanInput(name=name, kind="config", value=value, is_nothing=nothing)
        if input_def.has_default:
            return PlanInput(name=name, kind="default", is_nothing=nothing)
        if not nothing:
            self.problems.append(
                (
                    path,
                    f"input {name!r} of op {key!r} has no upstream output, no default value "
                    "and no value in run config",
                )
            )
        return PlanInput(name=name, kind="none", is_nothing=nothing)


def _node_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """A graph's node config, keyed by node (an ``{"ops": ...}`` wrapper is accepted too)."""
    if set(config) == {"ops"} and isinstance(config["ops"], Mapping):
        return dict(config["ops"])
    return dict(config)


def _unwrap(value: Any) -> Any:
    if isinstance(value, Mapping) and set(value) == {"value"}:
        return value["value"]
    return value


def _policy(policy: Any) -> PlanRetryPolicy | None:
    if policy is None:
        return None
    return PlanRetryPolicy(
        max_retries=policy.max_retries,
        delay=policy.delay,
        backoff=policy.backoff.value if policy.backoff else None,
        jitter=policy.jitter.value if policy.jitter else None,
    )
