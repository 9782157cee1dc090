"""Jobs: ``@job`` and ``JobDefinition``, a graph made executable with resources and config."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .config_mapping import ConfigMapping
from .definition_checks import check_tags
from .errors import DagsterInvalidDefinitionError, DagsterInvariantViolationError
from .graph import GraphDefinition, graph_from_function
from .hook import HookDefinition
from .partition import PartitionedConfig
from .resource import ResourceDefinition, as_resource_def, check_resource_dependencies
from .retry import RetryPolicy
from .run_config import RunConfig


@dataclass(frozen=True, slots=True)
class ExecutorDefinition:
    """Names how a job's steps are executed; in-process execution ignores it."""

    name: str
    config: Mapping[str, Any] | None = None

    def configured(self, config: Mapping[str, Any]) -> ExecutorDefinition:
        return ExecutorDefinition(self.name, dict(config))


in_process_executor = ExecutorDefinition("in_process")
multiprocess_executor = ExecutorDefinition("multiprocess")


class JobDefinition:
    """A graph bound to resources, default config, hooks and tags.

    Args:
        graph_def: the graph of ops the job runs.
        name: defaults to the graph's name.
        resource_defs: resources by key; plain objects become hardcoded resources.
        config: a default run config dict, a ``ConfigMapping`` or a ``PartitionedConfig``.
        tags: tags of every run of the job.
        hook_defs: hooks applied to every op.
        executor_def: how steps are executed.
        op_retry_policy: the retry policy of ops that declare none.
        description: shown in tooling.
    """

    def __init__(
        self,
        graph_def: GraphDefinition,
        name: str | None = None,
        resource_defs: Mapping[str, Any] | None = None,
        config: Any = None,
        tags: Mapping[str, Any] | None = None,
        hook_defs: Any = None,
        executor_def: ExecutorDefinition | None = None,
        op_retry_policy: RetryPolicy | None = None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        logger_defs: Mapping[str, Any] | None = None,
        input_values: Mapping[str, Any] | None = None,
        partitions_def: Any = None,
    ) -> None:
        if not isinstance(graph_def, GraphDefinition):
            raise DagsterInvalidDefinitionError(f"a job needs a GraphDefinition, got {graph_def!r}")
        self.graph = graph_def
        self.name = name or graph_def.name
        self.description = description if description is not None else graph_def.description
        self.resource_defs: dict[str, ResourceDefinition] = {
            key: as_resource_def(value) for key, value in (resource_defs or {}).items()
        }
        self.tags: dict[str, Any] = {**graph_def.tags, **(tags or {})}
        self.hook_defs: frozenset[HookDefinition] = frozenset(hook_defs or ())
        self.executor_def = executor_def or in_process_executor
        self.explicit_executor = executor_def is not None
        self.op_retry_policy = op_retry_policy
        self.metadata = dict(metadata or {})
        self.input_values = _checked_input_values(self.name, graph_def, input_values)
        check_tags(tags, f"job {self.name!r}")
        self.config_mapping: ConfigMapping | None = None
        self.partitioned_config: PartitionedConfig | None = None
        self.default_run_config: dict[str, Any] = {}
        self._set_config(config)
        check_resource_dependencies(self.resource_defs)
        if resource_defs is not None:
            self.check_resources()
        #: the selection this job is a subset by (``get_subset``), None for a whole job
        self.op_selection: list[str] | None = None
        self._init_args = {
            "name": self.name,
            "config": config,
            "tags": tags,
            "executor_def": executor_def,
            "op_retry_policy": op_retry_policy,
            "description": description,
            "metadata": metadata,
            "input_values": input_values,
        }

    def _set_config(self, config: Any) -> None:
        if config is None:
            return
        if isinstance(config, ConfigMapping):
            self.config_mapping = config
        elif isinstance(config, PartitionedConfig):
            self.partitioned_config = config
        elif isinstance(config, RunConfig | Mapping):
            self.default_run_config = dict(config)
        else:
            raise DagsterInvalidDefinitionError(
                f"job {self.name!r}: config must be a dict, a ConfigMapping or a "
                f"PartitionedConfig, got {type(config).__name__}"
            )

    def check_resources(self) -> None:
        """Raise when an op or hook needs a resource the job does not provide."""
        for op_def in self.graph.iterate_op_defs():
            for key in sorted(op_def.required_resource_keys - set(self.resource_defs)):
                provided = ", ".join(sorted(self.resource_defs)) or "none"
                raise DagsterInvalidDefinitionError(
                    f"resource with key '{key}' required by op '{op_def.name}' was not "
                    f"provided. Please provide a ResourceDefinition to key '{key}' in job "
                    f"{self.name!r} (resources: {provided})"
                )
        for key in self.missing_resource_keys():
            raise DagsterInvalidDefinitionError(
                f"a hook of job {self.name!r} requires resource {key!r}, which the job does not "
                "provide"
            )

    @property
    def job_name(self) -> str:
        return self.name

    @property
    def partitions_def(self) -> Any:
        return self.partitioned_config.partitions_def if self.partitioned_config else None

    def required_resource_keys(self) -> frozenset[str]:
        keys = self.graph.all_required_resource_keys()
        for hook in self.hook_defs:
            keys |= hook.required_resource_keys
        return keys

    def missing_resource_keys(self) -> list[str]:
        """Resource keys some op or hook needs and the job does not provide."""
        return sorted(self.required_resource_keys() - set(self.resource_defs))

    def with_top_level_resources(self, resources: Mapping[str, Any]) -> JobDefinition:
        """A copy of the job where ``resources`` fill the keys it does not define itself."""
        merged = {**resources, **self.resource_defs}
        return JobDefinition(
            self.graph, resource_defs=merged, hook_defs=self.hook_defs, **self._init_args
        )

    def with_resources(self, resources: Mapping[str, Any]) -> JobDefinition:
        """A copy of the job where ``resources`` (definitions or plain objects) replace its own."""
        return JobDefinition(
            self.graph,
            resource_defs={**self.resource_defs, **resources},
            hook_defs=self.hook_defs,
            **self._init_args,
        )

    def with_hooks(self, hook_defs: Any) -> JobDefinition:
        """A copy of the job with more hooks on every op."""
        return JobDefinition(
            self.graph,
            resource_defs=self.resource_defs,
            hook_defs=self.hook_defs | frozenset(hook_defs),
            **self._init_args,
        )

    def has_node(self, name: str) -> bool:
        """Whether the job has a node of that name (a dotted path reaches into graphs)."""
        graph: Any = self.graph
        for part in name.split("."):
            if not hasattr(graph, "node_dict") or part not in graph.node_dict:
                return False
            graph = graph.node_dict[part].definition
        return True

    def get_subset(self, op_selection: Sequence[str] | None = None, **_: Any) -> JobDefinition:
        """This job restricted to ``op_selection`` (``"op"``, ``"*op"``, ``"op+"``,
        ``"graph.op"``, ...), under the same name; see ``opgrid.selection``."""
        if op_selection is None:
            return self
        from .selection import subset_graph

        subset = JobDefinition(
            subset_graph(self.graph, list(op_selection)),
            resource_defs=self.resource_defs,
            hook_defs=self.hook_defs,
            **self._init_args,
        )
        subset.op_selection = list(op_selection)
        return subset

    def execute_in_process(
        self,
        run_config: Any = None,
        raise_on_error: bool = True,
        tags: Mapping[str, Any] | None = None,
        partition_key: str | None = None,
        resources: Mapping[str, Any] | None = None,
        input_values: Mapping[str, Any] | None = None,
        run_id: str | None = None,
        instance: Any = None,
        op_selection: Sequence[str] | None = None,
    ) -> Any:
        """Run every op of the job in this process and return the result.

        Args:
            run_config: config for ops and resources (validated before any op runs).
            raise_on_error: re-raise the exception of the first op that fails.
            tags: added to the job's tags for this run.
            partition_key: the partition to run, for a job with partitioned config.
            resources: resources (or plain objects) that replace the job's.
            input_values: values for the job's top-level graph inputs.
            run_id: the run's id; a new one when omitted.
            instance: accepted for compatibility; unused.
            op_selection: run only these nodes (Dagster's selection syntax).

        Returns:
            ExecuteInProcessResult: success, outputs and events of the run.
        """
        from opgrid.orchestrator.client.in_process import (
            execute_in_process,  # the one allowed import
        )

        job = self.with_resources(resources) if resources else self
        job = job.get_subset(op_selection=op_selection)
        return execute_in_process(
            job,
            run_config=run_config,
            raise_on_error=raise_on_error,
            tags=tags,
            partition_key=partition_key,
            input_values=input_values,
            run_id=run_id,
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise DagsterInvariantViolationError(
            f"Attempted to call job '{self.name}' directly. Jobs should be invoked by using an "
            "execution API function (e.g. `job.execute_in_process`)."
        )

    def __repr__(self) -> str:
        return f"<JobDefinition {self.name}>"


def _checked_input_values(
    name: str, graph_def: GraphDefinition, input_values: Mapping[str, Any] | None
) -> dict[str, Any]:
    for key in input_values or {}:
        if key not in graph_def.input_defs:
            raise DagsterInvalidDefinitionError(
                f"Error when constructing JobDefinition '{name}': Input value provided "
                f"for key '{key}', but job has no top-level input with that name."
            )
    return dict(input_values or {})


def job(
    compose_fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    resource_defs: Mapping[str, Any] | None = None,
    config: Any = None,
    tags: Mapping[str, Any] | None = None,
    hooks: Any = None,
    executor_def: ExecutorDefinition | None = None,
    op_retry_policy: RetryPolicy | None = None,
    metadata: Mapping[str, Any] | None = None,
    logger_defs: Mapping[str, Any] | None = None,
    input_values: Mapping[str, Any] | None = None,
    partitions_def: Any = None,
) -> Any:
    """Turn a composition function into a ``JobDefinition`` (``@job`` or ``@job(...)``)."""

    def wrap(fn: Callable[..., Any]) -> JobDefinition:
        graph_def = graph_from_function(fn, name, description, None, None, None, None, "job")
        definition = JobDefinition(
            graph_def,
            name=name,
            resource_defs=resource_defs,
            config=config,
            tags=tags,
            hook_defs=hooks,
            executor_def=executor_def,
            op_retry_policy=op_retry_policy,
            description=description,
            metadata=metadata,
            input_values=input_values,
        )
        functools.update_wrapper(definition, fn, updated=())  # __wrapped__ calls the body
        return definition

    return wrap(compose_fn) if compose_fn is not None else wrap
