"""What an op sees while it runs: ``OpExecutionContext`` and the run it belongs to."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import DagsterInvariantViolationError
from .resource import Resources

logger = logging.getLogger("opgrid.op")

#: Receives (level name, message) for each ``context.log`` line.
LogSink = Callable[[str, str], None]


@dataclass(frozen=True, slots=True)
class DagsterRun:
    """A run's identity: id, job name, tags and config."""

    run_id: str
    job_name: str
    tags: Mapping[str, str] = field(default_factory=dict)
    run_config: Mapping[str, Any] = field(default_factory=dict)
    #: "SUCCESS" or "FAILURE" once the run has ended (set on a result's run), else None
    status: str | None = None
    op_selection: list[str] | None = None

    @property
    def is_success(self) -> bool:
        return self.status == "SUCCESS"

    @property
    def is_failure(self) -> bool:
        return self.status == "FAILURE"

    @property
    def is_finished(self) -> bool:
        return self.status is not None

    @property
    def partition_key(self) -> str | None:
        return self.tags.get(PARTITION_TAG)


#: The run tag that holds a partitioned run's key.
PARTITION_TAG = "dagster/partition"


class StepLog:
    """``context.log``: its lines go to the run's sink (the event log), or without one
    to the ``opgrid.op`` logger."""

    __slots__ = ("_extra", "_sink")

    def __init__(self, run_id: str, step_key: str | None, sink: LogSink | None) -> None:
        self._extra = {"run_id": run_id, "step_key": step_key}
        self._sink = sink

    def _emit(self, level: int, name: str, msg: Any, args: tuple[Any, ...]) -> None:
        text = str(msg) % args if args else str(msg)
        if self._sink is not None:
            self._sink(name, text)
        else:
            logger.log(level, "%s", text, extra=self._extra)

    def debug(self, msg: Any, *args: Any) -> None:
        self._emit(logging.DEBUG, "DEBUG", msg, args)

    def info(self, msg: Any, *args: Any) -> None:
        self._emit(logging.INFO, "INFO", msg, args)

    def warning(self, msg: Any, *args: Any) -> None:
        self._emit(logging.WARNING, "WARNING", msg, args)

    warn = warning

    def error(self, msg: Any, *args: Any) -> None:
        self._emit(logging.ERROR, "ERROR", msg, args)

    def exception(self, msg: Any, *args: Any) -> None:
        self._emit(logging.ERROR, "ERROR", msg, args)

    def critical(self, msg: Any, *args: Any) -> None:
        self._emit(logging.CRITICAL, "CRITICAL", msg, args)


class NodeView:
    """``context.op``: a node's name (its alias), merged tags and definition; other
    attributes come from the op definition."""

    __slots__ = ("_definition", "_tags", "name")

    def __init__(self, name: str, definition: Any, tags: Mapping[str, Any] | None) -> None:
        self.name = name
        self._definition = definition
        self._tags = tags

    @property
    def tags(self) -> dict[str, Any]:
        if self._tags is not None:
            return dict(self._tags)
        return dict(getattr(self._definition, "tags", {}) or {})

    @property
    def definition(self) -> Any:
        return self._definition

    def __getattr__(self, item: str) -> Any:
        return getattr(object.__getattribute__(self, "_definition"), item)

    def __repr__(self) -> str:
        return f"<node {self.name}>"


class OpExecutionContext:
    """The ``context`` argument of an op."""

    __slots__ = (
        "_job_def",
        "_mapping_key",
        "_op_config",
        "_output_metadata",
        "_run",
        "_tags",
        "log",
        "op_def",
        "op_handle",
        "resources",
        "retry_number",
        "step_key",
    )

    def __init__(
        self,
        run: DagsterRun,
        op_def: Any,
        op_handle: str,
        step_key: str,
        op_config: Any,
        resources: Resources,
        log: StepLog,
        retry_number: int = 0,
        mapping_key: str | None = None,
        tags: Mapping[str, Any] | None = None,
        job_def: Any = None,
    ) -> None:
        self._run = run
        self._tags = tags
        self._job_def = job_def
        self.op_def = op_def
        self.op_handle = op_handle
        self.step_key = step_key
        self._op_config = op_config
        self.resources = resources
        self.log = log
        self.retry_number = retry_number
        self._mapping_key = mapping_key
        self._output_metadata: dict[tuple[str, str | None], dict[str, Any]] = {}

    def add_output_metadata(
        self,
        metadata: Mapping[str, Any],
        output_name: str | None = None,
        mapping_key: str | None = None,
    ) -> None:
        """Attach metadata to an output; it shows on the output's STEP_OUTPUT event.

        Args:
            metadata: facts about the output value.
            output_name: which output; may be omitted when the op has one.
            mapping_key: which value of a dynamic output.
        """
        outs = list(self.op_def.output_defs.keys()) if self.op_def is not None else []
        if output_name is None:
            if len(outs) != 1:
                raise DagsterInvariantViolationError(
                    f"op {self.op_def.name!r} has outputs {outs}: "
                    "add_output_metadata needs output_name"
                )
            output_name = outs[0]
        elif outs and output_name not in outs:
            raise DagsterInvariantViolationError(
                f"op {self.op_def.name!r} has no output {output_name!r} (outputs: {outs})"
            )
        self._output_metadata.setdefault((output_name, mapping_key), {}).update(metadata)

    def output_metadata_for(self, output_name: str, mapping_key: str | None) -> dict[str, Any]:
        """The metadata added with ``add_output_metadata`` for one output value."""
        if not self._output_metadata:
            return {}
        return dict(self._output_metadata.get((output_name, mapping_key), {}))

    @property
    def op_config(self) -> Any:
        return self._op_config

    @property
    def run(self) -> DagsterRun:
        return self._run

    @property
    def dagster_run(self) -> DagsterRun:
        return self._run

    @property
    def run_id(self) -> str:
        return self._run.run_id

    @property
    def job_name(self) -> str:
        return self._run.job_name

    @property
    def run_config(self) -> Mapping[str, Any]:
        return self._run.run_config

    @property
    def run_tags(self) -> Mapping[str, str]:
        return self._run.tags

    def has_tag(self, key: str) -> bool:
        return key in self._run.tags

    def get_tag(self, key: str) -> str | None:
        return self._run.tags.get(key)

    @property
    def has_partition_key(self) -> bool:
        return self._run.partition_key is not None

    @property
    def partition_key(self) -> str:
        key = self._run.partition_key
        if key is None:
            raise DagsterInvariantViolationError(
                f"op {self.op_def.name!r} asked for context.partition_key in a run that has none"
            )
        return key

    @property
    def partition_keys(self) -> list[str]:
        return [self.partition_key]

    @property
    def partition_key_range(self) -> Any:
        from .partition import PartitionKeyRange

        return PartitionKeyRange(self.partition_key, self.partition_key)

    @property
    def has_partition_key_range(self) -> bool:
        return False  # a run covers one partition here, never a range

    @property
    def partition_time_window(self) -> Any:
        """The time window of the run's partition (time-partitioned jobs only)."""
        from .partition import partition_time_window

        partitions_def = getattr(self._job_def, "partitions_def", None)
        return partition_time_window(partitions_def, self.partition_key)

    def get_mapping_key(self) -> str | None:
        """The mapping key of this copy of a mapped op, else None."""
        return self._mapping_key

    def describe_op(self) -> str:
        return f'op "{self.op_handle}"'

    @property
    def op(self) -> NodeView:
        """The node this op runs as: its name (alias), tags and definition."""
        name = self.op_handle.rsplit(".", 1)[-1] if self.op_handle else self.op_def.name
        return NodeView(name, self.op_def, self._tags if self._tags is not None else None)

    @property
    def job_def(self) -> Any:
        """The job this op runs in (None when invoked directly)."""
        return self._job_def
