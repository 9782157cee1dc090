"""The result of a run, with Dagster's accessors (``success``, ``output_for_node``, ...)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from opgrid.context import DagsterRun
from opgrid.errors import DagsterInvariantViolationError
from opgrid.event_type import DagsterEventType as E
from opgrid.graph import GraphDefinition
from opgrid.job import JobDefinition
from opgrid.orchestrator.planning.plan import ExecutionPlan
from opgrid.orchestrator.planning.state import ValueRef
from opgrid.orchestrator.planning.summary import Outcomes
from opgrid.orchestrator.protocol.events import RunEvent
from opgrid.orchestrator.protocol.status import RunStatus, StepStatus
from opgrid.orchestrator.protocol.step_keys import is_copy_of
from opgrid.orchestrator.store.base import OutputStore
from opgrid.output import DEFAULT_OUTPUT

S = StepStatus


class ExecuteInProcessResult:
    """What a finished run produced: its status, step outcomes, outputs and events.

    ``state`` answers for the steps (the run state, or a finished run's summary);
    ``events`` is the event log, or a function that reads it when first asked for.
    """

    def __init__(
        self,
        job: JobDefinition,
        plan: ExecutionPlan,
        run: DagsterRun,
        state: Outcomes,
        store: OutputStore,
        events: list[RunEvent] | Callable[[], list[RunEvent]],
    ) -> None:
        self.job_def = job
        self.plan = plan
        self._state = state
        self._store = store
        self._read_events = events if callable(events) else None
        self._loaded: list[RunEvent] | None = None if callable(events) else events
        status = None if state.run_status is None else state.run_status.name
        self.dagster_run = dataclasses.replace(run, status=status, op_selection=plan.op_selection)

    @property
    def _events(self) -> list[RunEvent]:
        if self._loaded is None:
            assert self._read_events is not None
            self._loaded = self._read_events()
        return self._loaded

    # The run ---------------------------------------------------------------------
    @property
    def success(self) -> bool:
        return self._state.run_status is RunStatus.SUCCESS

    @property
    def run_id(self) -> str:
        return self.dagster_run.run_id

    @property
    def job_name(self) -> str:
        return self.dagster_run.job_name

    @property
    def tags(self) -> dict[str, Any]:
        return dict(self.dagster_run.tags)

    @property
    def all_events(self) -> list[RunEvent]:
        """The run's events in order; ``context.log`` lines are in ``log_messages``."""
        return [e for e in self._events if e.kind is not E.LOG_MESSAGE]

    @property
    def log_messages(self) -> list[RunEvent]:
        """The ``context.log`` lines of the run, in order."""
        return [e for e in self._events if e.kind is E.LOG_MESSAGE]

    @property
    def all_node_events(self) -> list[RunEvent]:
        return [e for e in self.all_events if e.step_key is not None]

    def events_for_node(self, node_name: str) -> list[RunEvent]:
        """The events of a node's steps; none for a name the job does not have."""
        try:
            keys = set(self._step_keys(node_name))
        except DagsterInvariantViolationError:
            return []  # Dagster answers an unknown node with no events
        return [e for e in self.all_events if e.step_key in keys]

    def filter_events(self, event_filter: Callable[[RunEvent], bool]) -> list[RunEvent]:
        """The run's events for which ``event_filter`` is true."""
        return [e for e in self.all_events if event_filter(e)]

    def get_step_skipped_events(self) -> list[RunEvent]:
        return [e for e in self._events if e.kind is E.STEP_SKIPPED]

    def retry_attempts_for_node(self, node_str: str) -> int:
        """How many times the node's step was retried."""
        return sum(1 for e in self.events_for_node(node_str) if e.kind is E.STEP_UP_FOR_RETRY)

    def failure_data_for_node(self, node_str: str) -> RunEvent | None:
        """The node's STEP_FAILURE event (its ``.error`` says what failed), else None."""
        failures = [e for e in self.events_for_node(node_str) if e.kind is E.STEP_FAILURE]
        return failures[0].event_specific_data if failures else None

    def get_step_success_events(self) -> list[RunEvent]:
        return [e for e in self._events if e.kind is E.STEP_SUCCESS]

    def get_step_failure_events(self) -> list[RunEvent]:
        return [e for e in self._events if e.kind is E.STEP_FAILURE]

    def get_failed_step_keys(self) -> set[str]:
        return {k for k, s in self._state.statuses().items() if s is S.FAILURE}

    def step_statuses(self) -> dict[str, StepStatus]:
        """Every step's final status, by step key."""
        return self._state.statuses()

    # Outputs ---------------------------------------------------------------------
    def output_for_node(self, node_str: str, output_name: str = DEFAULT_OUTPUT) -> Any:
        """The value a node produced; a dict by mapping key for a mapped or dynamic output."""
        handle, output_name = self._op_output(node_str, output_name)
        if handle in self._state.statuses():
            return self._value_of(handle, output_name, node_str)
        copies = self._state.instances_of(handle)
        if self._is_template(handle) and not copies:
            raise DagsterInvariantViolationError(
                f"mapped node {node_str!r} never ran: its dynamic output yielded nothing"
            )
        if copies:
            return {
                self._state.mapping_key_of(key): self._store.get(
                    self.run_id, ValueRef(key, output_name)
                )
                for key in copies
                if output_name in self._state.yielded(key)  # the state knows: no I/O
            }
        raise DagsterInvariantViolationError(f"job {self.job_name!r} has no node {node_str!r}")

    def output_value(self, output_name: str = DEFAULT_OUTPUT) -> Any:
        """The value of one of the job's (graph's) own outputs."""
        mapping = self.job_def.graph.output_mapping_by_name.get(output_name)
        if mapping is None:
            raise DagsterInvariantViolationError(
                f"job {self.job_name!r} has no output {output_name!r}"
            )
        return self.output_for_node(mapping.node_name, mapping.output_name)

    def _value_of(self, handle: str, output_name: str, node_str: str) -> Any:
        keys = self._state.yielded(handle).get(output_name)
        if keys is None:
            raise DagsterInvariantViolationError(
                f"node {node_str!r} did not produce output {output_name!r}"
            )
        if any(k is not None for k in keys):
            return {k: self._store.get(self.run_id, ValueRef(handle, output_name, k)) for k in keys}
        return self._store.get(self.run_id, ValueRef(handle, output_name))

    def _op_output(self, node_str: str, output_name: str) -> tuple[str, str]:
        """Follow graph output mappings down to the op that produces the value."""
        definition = self._definition_at(node_str)
        handle = node_str
        while isinstance(definition, GraphDefinition):
            mapping = definition.output_mapping_by_name.get(output_name)
            if mapping is None:
                raise DagsterInvariantViolationError(
                    f"graph node {handle!r} has no output {output_name!r}"
                )
            handle = f"{handle}.{mapping.node_name}"
            output_name = mapping.output_name
            definition = definition.node_dict[mapping.node_name].definition
        if output_name not in definition.output_defs:
            raise DagsterInvariantViolationError(
                f"node {node_str!r} has no output {output_name!r} "
                f"(outputs: {', '.join(definition.output_defs.keys()) or 'none'})"
            )
        return handle, output_name

    def _definition_at(self, node_str: str) -> Any:
        graph: Any = self.job_def.graph
        definition: Any = None
        for part in node_str.split("."):
            if not isinstance(graph, GraphDefinition) or part not in graph.node_dict:
                raise DagsterInvariantViolationError(
                    f"job {self.job_name!r} has no node {node_str!r}"
                )
            definition = graph.node_dict[part].definition
            graph = definition
        return definition

    def _is_template(self, handle: str) -> bool:
        return any(s.key == handle and s.mapped_by is not None for s in self.plan.steps)

    # Node outcomes ---------------------------------------------------------------
    def _step_keys(self, node_str: str) -> list[str]:
        self._definition_at(node_str)
        statuses = self._state.statuses()
        prefix = node_str + "."
        return [
            key
            for key in statuses
            if key == node_str or key.startswith(prefix) or is_copy_of(key, node_str)
        ]

    def _node_statuses(self, node_str: str) -> list[StepStatus]:
        statuses = self._state.statuses()
        return [statuses[key] for key in self._step_keys(node_str)]

    def is_node_success(self, node_str: str) -> bool:
        found = self._node_statuses(node_str)
        return bool(found) and all(s is S.SUCCESS for s in found)

    def is_node_failed(self, node_str: str) -> bool:
        return any(s is S.FAILURE for s in self._node_statuses(node_str))

    def is_node_skipped(self, node_str: str) -> bool:
        found = self._node_statuses(node_str)
        return bool(found) and all(s is S.SKIPPED for s in found)

    def is_node_untouched(self, node_str: str) -> bool:
        found = self._node_statuses(node_str)
        return all(s in (S.ABANDONED, S.CANCELED, S.PENDING) for s in found)
