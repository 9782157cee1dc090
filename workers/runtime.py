"""What one worker process does for one step request: the thin adapter around core.

parse the request -> load the plan (cached) and the input refs -> load the input
values -> build the op's resources -> run the step through core's step runner ->
store the outputs and the step's events in one transaction.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from opgrid.context import DagsterRun
from opgrid.errors import (
    DagsterExecutionInterruptedError,
    OpgridError,
    StepExecutionError,
    StorageError,
)
from opgrid.event_type import DagsterEventType as E
from opgrid.handle import ResolvedOp, resolve_op
from opgrid.job import JobDefinition
from opgrid.orchestrator.logs import log_context
from opgrid.orchestrator.planning.around_step import (
    assemble_inputs,
    outcome_events,
    plan_refs,
    raised_for,
)
from opgrid.orchestrator.planning.plan import ExecutionPlan, PlanStep
from opgrid.orchestrator.planning.state import ValueRef
from opgrid.orchestrator.protocol.attempts import Begun, Verdict, claim_of, died_here, worker_token
from opgrid.orchestrator.protocol.events import ErrorInfo, RunEvent
from opgrid.orchestrator.protocol.messages import ERROR_OUTPUT, RUN_INPUTS_STEP, StepRequest
from opgrid.orchestrator.protocol.status import StepStatus
from opgrid.orchestrator.protocol.step_keys import template_of
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.base import StepStore
from opgrid.orchestrator.store.envelopes import IOManager
from opgrid.resource import build_resources
from opgrid.step_runner import StepOutcome, StepSpec, run_step

from .attempt_logs import AttemptLogs
from .failures import explain_time_limit, too_many_deaths
from .locations import LocationRegistry
from .outcome import Delivered, dropped, reported
from .watch import StepWatch

logger = logging.getLogger(__name__)

#: The step status a worker records for each way an attempt can end.
_REPORTED = {
    "success": StepStatus.SUCCESS.value,
    "failure": StepStatus.FAILURE.value,
    "retry": StepStatus.UP_FOR_RETRY.value,
}
#: Plans kept per worker process (runs in flight).
PLAN_CACHE_SIZE = 64

T = TypeVar("T")


class WorkerRuntime:
    """The per-process state of a worker: Redis, the IO manager, code locations, plans."""

    def __init__(
        self,
        settings: Settings,
        locations: LocationRegistry,
        store: StepStore,
        io: IOManager,
        may_kill_process: bool = False,
    ) -> None:
        self.settings = settings
        self.locations = locations
        self.store = store
        self.io = io
        #: whether this process runs steps for a pool and may be killed to stop one
        self.may_kill_process = may_kill_process
        #: this process's name in the claims of the attempts it runs
        self.token = worker_token()
        self._plans: OrderedDict[str, tuple[ExecutionPlan, dict[str, PlanStep]]] = OrderedDict()
        self._ops: dict[tuple[int, str], tuple[JobDefinition, ResolvedOp]] = {}

    def execute(self, request: StepRequest) -> Delivered:
        """Run one delivery of a step attempt (unless another worker has it), record how it
        ended, and return that (``outcome.as_celery_result`` tells Celery and Flower)."""
        with log_context(run_id=request.run_id, step_key=request.step_key):
            return self._execute(request)

    def _execute(self, request: StepRequest) -> Delivered:
        plan, steps = self._plan(request.run_id)  # RunNotFound before anything is written
        job = self.locations.find(request.location, request.job_name)
        if job is None:
            message = self.locations.missing(request.location, request.job_name)
            logger.error("%s", message)
            self._fail(request, "JobNotFound", message)
            return Delivered("failure", f"failure: JobNotFound: {message}")
        plan_step = steps[template_of(request.step_key)]
        resolved = self._resolved(job, plan_step.key)
        known = plan_refs(plan_step, steps)
        begun = self._claim(request, known)
        if not begun.verdict.runs:
            return dropped(request, begun)
        claim = (request.step_key, claim_of(request.attempt, self.token))
        died = too_many_deaths(request, begun, self.settings.max_redeliveries)
        if died is not None:  # its op keeps killing its process: a failure, not a loop
            committed = self._commit(request, claim, resolved, died, None)
            if not committed:
                return Delivered("dropped", "refused: failure")
            return Delivered("failure", f"failure: {died.error_text}"[:200])
        logs = AttemptLogs(self.store, request, claim, self.settings)
        watch = StepWatch(
            self.store,
            request.run_id,
            claim,
            self.settings.step_heartbeat_s,
            self.settings.cancel_grace_s,
            self.may_kill_process,
        ).sending(logs.live)
        committed = False
        # what is reported if the op is interrupted (canceled, taken over) before it ends
        outcome = StepOutcome("failure", error_text="interrupted before it ended")
        with watch:  # heartbeats go on until the result is stored (Redis may be away)
            try:
                loaded = self._load(request, plan_step, known, begun)
                with logs.capture:
                    outcome = self._run(request, job, plan, plan_step, resolved, loaded, logs)
                outcome = explain_time_limit(request, plan, plan_step, outcome)
                if watch.reason is None:
                    committed = self._commit(request, claim, resolved, outcome, logs)
            except DagsterExecutionInterruptedError:
                if watch.reason is None:
                    raise
            except OpgridError as exc:  # unreadable inputs, failing resources: a clear failure
                outcome = StepOutcome("failure", error=exc, error_text=str(exc))
                committed = self._commit(request, claim, resolved, outcome, logs)
        if not committed:  # canceled, taken over or refused: what it logged and printed stays
            logs.keep()
        return reported(request, watch.reason, committed, outcome)

    # Claiming and inputs ------------------------------------------------------------------
    def _claim(self, request: StepRequest, known: dict[str, list[ValueRef]] | None) -> Begun:
        """Claim the attempt and record its start (a take-over notes the lost holder
        first); read the values the plan says it reads."""
        refs = None if known is None else [ref for items in known.values() for ref in items]
        kind = E.STEP_RESTARTED if request.attempt else E.STEP_START
        start = self._event(request, kind, worker=self.token.rsplit("/", 1)[0])

        def begin(take_over: str = "") -> Begun:
            return self.store.begin_attempt(
                request.run_id,
                request.step_key,
                request.attempt,
                self.token,
                start,
                self.settings.step_lost_after_s,
                refs,
                take_over,
            )

        begun = self._persist(begin)
        if begun.verdict is Verdict.BUSY and died_here(begun.holder):
            begun = self._persist(lambda: begin(begun.holder))
        return begun

    def _load(
        self,
        request: StepRequest,
        plan_step: PlanStep,
        known: dict[str, list[ValueRef]] | None,
        begun: Begun,
    ) -> dict[str, list[Any]]:
        """The input values, by input: from the claim's reply, or read now by the
        coordinator's refs."""
        if known is not None:
            return self._decode(request, plan_step, known, begun.values)
        given = begun.inputs.refs if begun.inputs is not None else {}
        refs = {name: [ValueRef(*ref) for ref in items] for name, items in given.items()}
        raw = self.store.load_outputs(
            request.run_id, [ref for items in refs.values() for ref in items]
        )
        return self._decode(request, plan_step, refs, raw)

    def _decode(
        self,
        request: StepRequest,
        plan_step: PlanStep,
        refs: dict[str, list[ValueRef]],
        raw: list[bytes | None],
    ) -> dict[str, list[Any]]:
        """Stored values by input; a value that is absent was not produced (fan-in)."""
        values = iter(raw)
        loaded: dict[str, list[Any]] = {}
        for name, items in refs.items():
            loaded[name] = []
            for ref in items:
                data = next(values)
                if data is not None:
                    where = f'output "{ref.output}" of step "{ref.step_key}"'
                    loaded[name].append(self.io.loads(data, where=where))
        for plan_input in plan_step.inputs:
            if plan_input.kind == "from_step" and not loaded.get(plan_input.name):
                source = plan_input.sources[0]
                raise OpgridError(
                    f"run {request.run_id}: input {plan_input.name!r} of step "
                    f"{request.step_key!r} reads {source.step}.{source.output}, which is "
                    "not in storage"
                )
        return loaded

    # Steps ----------------------------------------------------------------------------------
    def _run(
        self,
        request: StepRequest,
        job: JobDefinition,
        plan: ExecutionPlan,
        plan_step: PlanStep,
        resolved: ResolvedOp,
        loaded: dict[str, list[Any]],
        logs: AttemptLogs,
    ) -> StepOutcome:
        mapping_key = request.step_key[len(plan_step.key) + 1 : -1] or None
        spec = StepSpec(
            step_key=request.step_key,
            handle=plan_step.key,
            op_def=resolved.op_def,
            op_config=plan_step.config,
            hook_defs=resolved.hook_defs,
            retry_policy=resolved.retry_policy,
            mapping_key=mapping_key,
            tags=resolved.tags,
            job_def=job,
        )
        run = DagsterRun(request.run_id, job.name, dict(plan.tags), plan.run_config)
        keys = resolved.op_def.required_resource_keys.union(
            *(hook.required_resource_keys for hook in resolved.hook_defs)
        )
        run_inputs = self._run_inputs(request, plan_step)
        inputs = assemble_inputs(plan_step, resolved.op_def, loaded, run_inputs)
        with build_resources(job.resource_defs, keys, plan.resource_config, request.run_id) as res:
            return run_step(spec, run, inputs, res, request.attempt, logs.live.add)

    def _run_inputs(self, request: StepRequest, plan_step: PlanStep) -> dict[str, Any]:
        """Values given at launch to the job inputs this step reads."""
        names = [name for i in plan_step.inputs for name in i.run_inputs]
        if not names:
            return {}
        refs = [ValueRef(RUN_INPUTS_STEP, name) for name in names]
        raw = self.store.load_outputs(request.run_id, refs)
        values: dict[str, Any] = {}
        for ref, data in zip(refs, raw, strict=True):
            if data is None:
                raise OpgridError(f"run {request.run_id}: no stored value for input {ref.output!r}")
            values[ref.output] = self.io.loads(data, where=f"input value {ref.output!r}")
        return values

    def _commit(
        self,
        request: StepRequest,
        claim: tuple[str, str],
        resolved: ResolvedOp,
        outcome: StepOutcome,
        logs: AttemptLogs | None,
    ) -> bool:
        stored: list[tuple[ValueRef, bytes]] = []
        if outcome.status == "success":
            try:
                for output in outcome.outputs:
                    where = f'output "{output.name}" of op "{resolved.handle}"'
                    data = self.io.dumps(output.value, where=where)
                    stored.append(
                        (ValueRef(request.step_key, output.name, output.mapping_key), data)
                    )
            except OpgridError as exc:  # too large or not picklable: the step fails, clearly
                outcome = StepOutcome("failure", error=exc, error_text=str(exc))
                stored = []
        if outcome.status == "failure":
            stored.append(
                (ValueRef(request.step_key, ERROR_OUTPUT), self._error_data(request, outcome))
            )
        lines = logs.closing() if logs is not None else []  # the lines not sent live
        events = lines + outcome_events(
            request.run_id, request.step_key, request.attempt, outcome, time.time()
        )
        status = _REPORTED[outcome.status]
        committed = self._persist(
            lambda: self.store.commit_attempt(request.run_id, claim, stored, events, status)
        )
        return logs.recorded(committed) if logs is not None else committed

    def _persist(self, write: Callable[[], T]) -> T:
        """``write()``, retried while Redis is unreachable (for ``redis_retry_s``)."""
        deadline = time.monotonic() + self.settings.redis_retry_s
        pause = 0.1
        while True:
            try:
                return write()
            except StorageError as exc:  # noqa: PERF203 (a retry loop)
                if time.monotonic() + pause > deadline:
                    raise
                logger.warning("Redis unreachable (%s); retrying in %.1f s", exc, pause)
                time.sleep(pause)
                pause = min(pause * 2, 1.0)

    def _error_data(self, request: StepRequest, outcome: StepOutcome) -> bytes:
        """The exception a client re-raises for this failure, signed like an output."""
        error = raised_for(request.step_key, request.attempt, outcome)
        where = f"the exception of step {request.step_key!r}"
        try:
            return self.io.dumps(error, where=where)
        except OpgridError:  # not picklable: keep its class name and message
            text = f"{type(error).__name__}: {error}"
            return self.io.dumps(
                StepExecutionError(text, run_id=request.run_id, step_key=request.step_key),
                where=where,
            )

    def _fail(self, request: StepRequest, cls_name: str, message: str) -> None:
        error = ErrorInfo(cls_name=cls_name, message=message)
        self.store.commit_step(
            request.run_id,
            [],
            [self._event(request, E.STEP_FAILURE, error=error)],
            (request.step_key, StepStatus.FAILURE.value),
        )

    # Caches ---------------------------------------------------------------------------------
    def _plan(self, run_id: str) -> tuple[ExecutionPlan, dict[str, PlanStep]]:
        cached = self._plans.get(run_id)
        if cached is None:
            plan = self.store.get_plan(run_id)
            cached = self._plans[run_id] = (plan, plan.step_named())
            while len(self._plans) > PLAN_CACHE_SIZE:
                self._plans.popitem(last=False)
        else:
            self._plans.move_to_end(run_id)
        return cached

    def _resolved(self, job: JobDefinition, handle: str) -> ResolvedOp:
        key = (id(job), handle)
        cached = self._ops.get(key)
        # the entry holds its job: an id can be reused once a replaced job is collected
        if cached is None or cached[0] is not job:
            cached = self._ops[key] = (job, resolve_op(job, handle))
        return cached[1]

    @staticmethod
    def _event(request: StepRequest, kind: E, **fields: Any) -> RunEvent:
        return RunEvent(
            run_id=request.run_id,
            kind=kind,
            timestamp=time.time(),
            step_key=request.step_key,
            attempt=request.attempt,
            **fields,
        )
