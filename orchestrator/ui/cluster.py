"""The UI's one door into the rest of opgrid.

Every name the UI uses from the orchestrator (stores, records, events, the plan
compiler, re-execution, settings) and from the definitions API is imported here
and only here, so a move of those modules is re-pointed in this one file. The
few operations the UI performs on a cluster (open a store, launch, cancel,
re-execute) are written here too, on the store's public methods.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from opgrid import CodeLocation, GraphDefinition, JobDefinition, load_code_location
from opgrid.config import Array, Field, Noneable, Permissive, Selector, Shape
from opgrid.errors import (
    BackfillNotFound,
    ConfigError,
    DagsterInvalidDefinitionError,
    DagsterInvariantViolationError,
    Failure,
    InstigatorNotFound,
    OpgridError,
    RunNotFound,
    StorageError,
)
from opgrid.event_type import DagsterEventType
from opgrid.graph_wiring import upstream_nodes
from opgrid.op import OpDefinition
from opgrid.orchestrator.client.reexecute import reexecute
from opgrid.orchestrator.planning.compiler import compile_plan
from opgrid.orchestrator.planning.plan import ExecutionPlan, PlanStep
from opgrid.orchestrator.planning.state import ValueRef
from opgrid.orchestrator.protocol.events import ErrorInfo, RunEvent
from opgrid.orchestrator.protocol.messages import ERROR_OUTPUT, RUN_INPUTS_STEP, RunRecord
from opgrid.orchestrator.protocol.presence import RunningStep, WorkerInfo, claim_names
from opgrid.orchestrator.protocol.status import FINAL_RUN_STATUSES, RunStatus, StepStatus
from opgrid.orchestrator.protocol.tags import QUEUE_TAG
from opgrid.orchestrator.scheduler import control
from opgrid.orchestrator.scheduling.definitions import InstigatorDef, instigator_defs
from opgrid.orchestrator.scheduling.evaluation import InstigatorType
from opgrid.orchestrator.scheduling.tick_task import origin_of
from opgrid.orchestrator.scheduling.ticks import schedule_tick, sensor_tick
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.connect import REDIS_ERRORS, described, safe_url
from opgrid.orchestrator.store.envelopes import IOManager, io_manager_from_settings
from opgrid.orchestrator.store.keys import Keys
from opgrid.orchestrator.store.redis import RedisRunStore
from opgrid.orchestrator.store.tick_records import (
    BackfillProgressRecord,
    InstigatorState,
    TickRecord,
)
from opgrid.types import NO_VALUE

__all__ = [
    "ERROR_OUTPUT",
    "FINAL_RUN_STATUSES",
    "NO_VALUE",
    "QUEUE_TAG",
    "Array",
    "BackfillNotFound",
    "BackfillProgressRecord",
    "ClusterHandle",
    "CodeLocation",
    "ConfigError",
    "DagsterEventType",
    "DagsterInvalidDefinitionError",
    "DagsterInvariantViolationError",
    "ErrorInfo",
    "ExecutionPlan",
    "Failure",
    "Field",
    "GraphDefinition",
    "InstigatorDef",
    "InstigatorNotFound",
    "InstigatorState",
    "InstigatorType",
    "JobDefinition",
    "Keys",
    "Noneable",
    "OpDefinition",
    "OpgridError",
    "Permissive",
    "PlanStep",
    "RunEvent",
    "RunNotFound",
    "RunRecord",
    "RunStatus",
    "RunningStep",
    "Selector",
    "Settings",
    "Shape",
    "StepStatus",
    "StorageError",
    "TickRecord",
    "ValueRef",
    "WorkerInfo",
    "claim_names",
    "compile_plan",
    "instigator_defs",
    "load_code_location",
    "origin_of",
    "redis_errors",
    "safe_url",
    "schedule_tick",
    "sensor_tick",
    "upstream_nodes",
]


@dataclass(frozen=True, slots=True)
class ClusterHandle:
    """The store and IO manager of one cluster, shared by every request of a UI process."""

    settings: Settings
    store: RedisRunStore
    io: IOManager

    @classmethod
    def open(cls, settings: Settings) -> ClusterHandle:
        """Connect to the cluster ``settings`` name (no round trip yet)."""
        return cls(
            settings, RedisRunStore.from_settings(settings), io_manager_from_settings(settings)
        )

    @property
    def keys(self) -> Keys:
        return self.store.keys

    @property
    def redis(self) -> Any:
        """The store's Redis client, for the reads the store has no method for."""
        return self.store.client

    def close(self) -> None:
        self.store.client.close()

    # Launching ------------------------------------------------------------------------
    def launch(
        self,
        job: JobDefinition,
        location: str,
        run_config: Any,
        tags: Mapping[str, Any] | None = None,
        partition_key: str | None = None,
        select: Callable[[ExecutionPlan], Sequence[str]] | None = None,
    ) -> RunRecord:
        """Compile and queue a run the way ``opgrid.submit`` does; its record.

        Args:
            job: the job, from a code location this UI loaded.
            location: the code location's name, so workers take the job from it.
            run_config: validated here; nothing is queued when it is invalid.
            tags: laid over the job's tags.
            partition_key: for a partitioned job.
            select: picks the keys of the plan steps to run (an op selection); all by default.

        Raises:
            ConfigError: the run config is invalid.
            DagsterInvalidDefinitionError: the job, its tags or the selection cannot run.
        """
        values = dict(job.input_values)
        plan = compile_plan(
            job, run_config, partition_key=partition_key, tags=tags, input_names=frozenset(values)
        )
        if select is not None:
            plan = _subset(plan, select(plan))
        record = RunRecord(
            run_id=str(uuid.uuid4()),
            job_name=job.name,
            location=location,
            tags=dict(plan.tags),
            partition_key=partition_key,
            created_at=time.time(),
        )
        if values:
            refs = [
                (ValueRef(RUN_INPUTS_STEP, name), self.io.dumps(value, where=f"input {name!r}"))
                for name, value in values.items()
            ]
            self.store.commit_step(record.run_id, refs, [])
        self.store.create_run(record, plan)
        return record

    def cancel(self, run_id: str) -> RunRecord:
        """Ask the run's coordinator to stop it; its record.

        Raises:
            RunNotFound: no such run.
            DagsterInvariantViolationError: the run has already ended.
        """
        record = self.store.get_run(run_id)
        if record.status in FINAL_RUN_STATUSES:
            raise DagsterInvariantViolationError(
                f"run {run_id} is {record.status.value}: only a queued or started run can be "
                "canceled"
            )
        event = RunEvent(
            run_id=run_id,
            kind=DagsterEventType.RUN_CANCELING,
            timestamp=time.time(),
            message="requested from the web UI",
        )
        self.store.append_events(run_id, [event])
        return record

    def reexecute(self, run_id: str, from_failure: bool) -> RunRecord:
        """Queue a re-execution of a finished run (see ``opgrid run reexecute``)."""
        return reexecute(self.store, run_id, from_failure=from_failure)

    def load_value(self, data: bytes, where: str) -> Any:
        """A stored value (signed by the cluster), as the op produced it."""
        return self.io.loads(data, where=where)

    def live_workers(self) -> dict[str, list[str]]:
        return self.store.live_workers()

    def queue_depths(self, queues: Sequence[str]) -> dict[str, int]:
        return self.store.queue_depths(queues)

    def live_coordinators(self) -> list[str]:
        return self.store.live_coordinators()

    # Schedules, sensors and backfills -------------------------------------------------
    def scheduler_leader(self) -> str | None:
        """The coordinator whose scheduler leads (ticks), or None: no tick is evaluated."""
        return self.store.scheduler_leader()

    def published_instigators(self) -> dict[str, InstigatorDef]:
        """Origin -> definition of the schedules and sensors workers published."""
        return self.store.instigator_defs()

    def instigator_state(self, origin: str) -> InstigatorState:
        return self.store.get_instigator_state(origin)

    def ticks(self, origin: str, limit: int) -> list[TickRecord]:
        """The newest ticks first."""
        return self.store.list_ticks(origin, limit)

    def set_running(
        self, kind: InstigatorType, name: str, running: bool, known: Sequence[InstigatorDef]
    ) -> InstigatorState:
        """Turn a schedule or sensor on or off, as ``opgrid schedule|sensor start|stop``.

        Raises:
            InstigatorNotFound: ``known`` has no such schedule or sensor.
        """
        return control.set_running(self.store, kind, name, running, known)

    def backfills(self, limit: int) -> list[BackfillProgressRecord]:
        """The newest backfills first, with what their partitions did."""
        found = (self.store.get_backfill(r.backfill_id) for r in self.store.list_backfills(limit))
        return [progress for progress in found if progress is not None]

    def cancel_backfill(self, backfill_id: str) -> list[str]:
        """Cancel a backfill as ``opgrid backfill cancel``; the runs asked to stop.

        Raises:
            BackfillNotFound: no such backfill.
            DagsterInvariantViolationError: it is over already.
        """
        return control.cancel_backfill(self.store, backfill_id)

    def live_worker_info(self) -> dict[str, WorkerInfo]:
        return self.store.live_worker_info()

    def step_claims(self, steps: Sequence[tuple[str, str]]) -> list[str | None]:
        return self.store.step_claims(steps)

    def run_leases(self, run_ids: Sequence[str]) -> dict[str, str]:
        """Run id -> the coordinator whose lease it holds, for each run that has one."""
        with redis_errors("reading the runs' leases"), self.redis.pipeline(False) as pipe:
            for run_id in run_ids:
                pipe.get(self.keys.lease(run_id))
            owners = pipe.execute()
        return {r: o.decode() for r, o in zip(run_ids, owners, strict=True) if o is not None}


@contextlib.contextmanager
def redis_errors(what: str) -> Iterator[None]:
    """The UI's own reads of the store's keys fail as the store's do: ``StorageError``."""
    try:
        yield
    except REDIS_ERRORS as exc:
        raise StorageError(f"{what}: {described(exc)}") from exc


def _subset(plan: ExecutionPlan, keys: Sequence[str]) -> ExecutionPlan:
    """``plan`` cut down to the steps ``keys`` name; every input of a kept step must come
    from a kept step (or from no step at all).

    Raises:
        DagsterInvalidDefinitionError: a kept step reads an output of a step left out.
    """
    kept = set(keys)
    steps = [step for step in plan.steps if step.key in kept]
    for step in steps:
        for step_input in step.inputs:
            outside = [s.step for s in step_input.sources if s.step not in kept]
            if outside and not step_input.is_nothing:
                raise DagsterInvalidDefinitionError(
                    f"op selection: step {step.key!r} input {step_input.name!r} reads "
                    f"step {outside[0]!r}, which the selection leaves out"
                )
    trimmed = [_without_sources(step, kept) for step in steps]
    return plan.model_copy(update={"steps": tuple(trimmed)})


def _without_sources(step: PlanStep, kept: set[str]) -> PlanStep:
    """A kept step whose Nothing inputs forget the steps left out."""
    inputs = tuple(
        dataclasses.replace(i, sources=tuple(s for s in i.sources if s.step in kept))
        if i.is_nothing
        else i
        for i in step.inputs
    )
    return dataclasses.replace(step, inputs=inputs)
