"""Runs one step: calls the op with its inputs, checks what it produces, runs its hooks.

The same function serves in-process execution and the Celery workers, so a
step behaves identically wherever it runs. It performs no storage I/O: it gets
input values and resources, and returns a ``StepOutcome`` for the caller to
store and report.
"""

from __future__ import annotations

import dataclasses
import inspect
import random
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .context import DagsterRun, LogSink, OpExecutionContext, StepLog
from .dagster_type import DagsterType
from .errors import (
    DagsterInvariantViolationError,
    DagsterStepOutputNotFoundError,
    DagsterTypeCheckDidNotPass,
    Failure,
    OpgridError,
    RetryRequested,
)
from .hook import HookContext, HookDefinition, HookNode
from .op import OpDefinition
from .output import DynamicOutput, Output, jsonable_metadata
from .resource import Resources
from .retry import RetryPolicy

StepStatusName = Literal["success", "failure", "retry"]


@dataclass(frozen=True, slots=True)
class StepSpec:
    """What the runner needs to know about one step."""

    step_key: str
    handle: str
    op_def: OpDefinition
    op_config: Any = None
    hook_defs: frozenset[HookDefinition] = frozenset()
    retry_policy: RetryPolicy | None = None
    mapping_key: str | None = None
    #: the node's tags (op definition, graph and invocation tags merged), for ``context.op``
    tags: Mapping[str, Any] | None = None
    job_def: Any = None


@dataclass(frozen=True, slots=True)
class ProducedOutput:
    """One output value an op produced."""

    name: str
    value: Any
    mapping_key: str | None = None
    #: ``Output(metadata=)`` and ``context.add_output_metadata``, as JSON values
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class StepOutcome:
    """How a step attempt ended."""

    status: StepStatusName
    outputs: list[ProducedOutput] = field(default_factory=list)
    error: BaseException | None = None
    error_text: str = ""
    retry_delay_s: float = 0.0
    #: the step had retries and used them all
    retries_exhausted: bool = False
    hooks_completed: list[str] = field(default_factory=list)
    #: hooks that did not fire (a success hook on a failure, every hook on a retry)
    hooks_skipped: list[str] = field(default_factory=list)
    hook_errors: list[tuple[str, BaseException]] = field(default_factory=list)

    @property
    def user_failure(self) -> bool:
        """Whether the error came from the op's own code rather than opgrid's checks."""
        return self.error is not None and not isinstance(
            self.error, DagsterTypeCheckDidNotPass | DagsterStepOutputNotFoundError
        )


def run_step(
    spec: StepSpec,
    run: DagsterRun,
    inputs: Mapping[str, Any],
    resources: Resources,
    retry_number: int = 0,
    log_sink: LogSink | None = None,
) -> StepOutcome:
    """Run one attempt of a step and say how it ended."""
    op_def = spec.op_def
    log = StepLog(run.run_id, spec.step_key, log_sink)
    op_resources = resources.subset(op_def.required_resource_keys, f"op {op_def.name!r}")
    context = OpExecutionContext(
        run,
        op_def,
        spec.handle,
        spec.step_key,
        spec.op_config,
        op_resources,
        log,
        retry_number,
        spec.mapping_key,
        spec.tags,
        spec.job_def,
    )
    try:
        _check_inputs(spec, inputs)
        outputs = _call(spec, context, inputs)
    except Exception as exc:
        outcome = _failed(spec, exc, retry_number)
    else:
        outcome = StepOutcome("success", outputs)
    if outcome.status != "retry":
        _run_hooks(spec, run, resources, log, outcome)
    else:
        outcome.hooks_skipped.extend(sorted(hook.name for hook in spec.hook_defs))
    return outcome


def _check_inputs(spec: StepSpec, inputs: Mapping[str, Any]) -> None:
    for name, value in inputs.items():
        input_def = spec.op_def.input_defs[name]
        if input_def.checker is not None:
            raise_if_failed(input_def.dagster_type, value, f'step input "{name}"', spec.handle)


def raise_if_failed(dagster_type: DagsterType, value: Any, what: str, handle: str) -> None:
    """Raise Dagster's ``DagsterTypeCheckDidNotPass`` when ``value`` fails ``dagster_type``."""
    failed = dagster_type.failure(value)
    if failed is None:
        return
    raise DagsterTypeCheckDidNotPass(
        f'Type check failed for {what} - expected type "{dagster_type.display_name}" '
        f'(op "{handle}"). Description: {failed.description}',
        metadata=failed.metadata,
        dagster_type=dagster_type,
    )


def _call(
    spec: StepSpec, context: OpExecutionContext, inputs: Mapping[str, Any]
) -> list[ProducedOutput]:
    op_def = spec.op_def
    kwargs = dict(inputs)
    if op_def.config_param is not None and op_def.config_schema is not None:
        kwargs[op_def.config_param] = op_def.config_schema.instance(spec.op_config)
    result = op_def.call(context, kwargs)
    collector = _Collector(spec)
    if inspect.isgenerator(result):
        for item in result:
            collector.add_event(item)
    else:
        collector.add_return(result)
    return [_with_metadata(out, context) for out in collector.finish()]


def _with_metadata(out: ProducedOutput, context: OpExecutionContext) -> ProducedOutput:
    """The output with its metadata (``Output(metadata=)`` and the context's) as JSON."""
    added = context.output_metadata_for(out.name, out.mapping_key)
    if not out.metadata and not added:
        return out
    return dataclasses.replace(out, metadata=jsonable_metadata({**out.metadata, **added}))


def _dynamic_list(value: list[Any], outs: Mapping[str, Any]) -> bool:
    if value:
        return all(isinstance(v, DynamicOutput) for v in value)
    return any(o.is_dynamic for o in outs.values())  # an empty list: no mapped copies


def output_collector(spec: StepSpec) -> _Collector:
    """The checker of what one call of ``spec``'s op produces (also used by invocation)."""
    return _Collector(spec)


class _Collector:
    """Gathers and checks the outputs of one op call."""

    def __init__(self, spec: StepSpec) -> None:
        self.spec = spec
        self.outputs: list[ProducedOutput] = []
        self.seen: set[str] = set()
        self.keys: dict[str, set[str]] = {}

    def add_event(self, item: Any) -> None:
        if not isinstance(item, Output):
            raise DagsterInvariantViolationError(
                f'op "{self.spec.handle}" yielded {item!r}; an op yields Output or DynamicOutput'
            )
        self.add(item)

    def add_return(self, value: Any) -> None:
        outs = dict(self.spec.op_def.output_defs.items())
        if isinstance(value, Output):
            self.add(value)
        elif isinstance(value, list) and _dynamic_list(value, outs):
            for item in value:
                self.add(item)
        elif len(outs) == 1:
            name = next(iter(outs))
            if outs[name].is_dynamic:
                raise DagsterInvariantViolationError(
                    f'op "{self.spec.handle}" returned {value!r} for dynamic output "{name}"; '
                    "return or yield DynamicOutput values"
                )
            self.add(Output(value, name))
        elif len(outs) > 1:
            self._add_tuple(value, outs)
        elif value is not None:
            raise DagsterInvariantViolationError(
                f'op "{self.spec.handle}" has no outputs but returned {value!r}'
            )

    def _add_tuple(self, value: Any, outs: Mapping[str, Any]) -> None:
        if value is None and not any(o.is_required for o in outs.values()):
            return
        if not isinstance(value, tuple) or len(value) != len(outs):
            raise DagsterInvariantViolationError(
                f'op "{self.spec.handle}" has outputs {", ".join(outs)} and must return a tuple '
                f"of {len(outs)} values, got {value!r}"
            )
        for name, item in zip(outs, value, strict=True):
            self.add(item if isinstance(item, Output) else Output(item, name))

    def add(self, output: Output) -> None:
        name = output.output_name
        out_def = self.spec.op_def.output_defs.get(name)
        where = f'output "{name}" of op "{self.spec.handle}"'
        if out_def is None:
            raise DagsterInvariantViolationError(
                f'op "{self.spec.handle}" produced output "{name}", which it does not declare '
                f"(outputs: {', '.join(self.spec.op_def.output_defs.keys()) or 'none'})"
            )
        mapping_key = output.mapping_key if isinstance(output, DynamicOutput) else None
        if out_def.is_dynamic != (mapping_key is not None):
            kind = "DynamicOutput" if out_def.is_dynamic else "Output"
            raise DagsterInvariantViolationError(f"{where} must be produced as {kind}")
        if mapping_key is None:
            if name in self.seen:
                raise DagsterInvariantViolationError(f"{where} was produced more than once")
        elif mapping_key in self.keys.setdefault(name, set()):
            raise DagsterInvariantViolationError(
                f'{where} produced mapping key "{mapping_key}" more than once'
            )
        if out_def.checker is not None:
            raise_if_failed(
                out_def.dagster_type, output.value, f'step output "{name}"', self.spec.handle
            )
        self.seen.add(name)
        if mapping_key is not None:
            self.keys[name].add(mapping_key)
        self.outputs.append(ProducedOutput(name, output.value, mapping_key, output.metadata))

    def finish(self) -> list[ProducedOutput]:
        for name, out_def in self.spec.op_def.output_defs.items():
            if out_def.is_required and not out_def.is_dynamic and name not in self.seen:
                raise DagsterStepOutputNotFoundError(
                    f'Core compute for op "{self.spec.handle}" did not return an output for '
                    f'non-optional output "{name}"',
                    step_key=self.spec.step_key,
                    output_name=name,
                )
        return self.outputs


def _failed(spec: StepSpec, exc: Exception, retry_number: int) -> StepOutcome:
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    delay = _retry_delay(spec, exc, retry_number)
    if delay is not None:
        return StepOutcome("retry", error=exc, error_text=text, retry_delay_s=delay)
    return StepOutcome(
        "failure", error=exc, error_text=text, retries_exhausted=_had_retries(spec, exc)
    )


def _had_retries(spec: StepSpec, exc: Exception) -> bool:
    if isinstance(exc, RetryRequested):
        return True
    if isinstance(exc, Failure) and not exc.allow_retries:
        return False
    if isinstance(exc, OpgridError) and not isinstance(exc, Failure):
        return False
    return spec.retry_policy is not None and spec.retry_policy.max_retries > 0


def _retry_delay(spec: StepSpec, exc: Exception, retry_number: int) -> float | None:
    """The delay before the next attempt, or None when the step is not retried."""
    if isinstance(exc, RetryRequested):
        if retry_number < exc.max_retries:
            return exc.seconds_to_wait or 0.0
        return None
    if isinstance(exc, Failure) and not exc.allow_retries:
        return None
    if isinstance(exc, OpgridError) and not isinstance(exc, Failure):
        return None  # opgrid's own checks (type checks, missing outputs) are not retried
    policy = spec.retry_policy
    if policy is None or retry_number >= policy.max_retries:
        return None
    return policy.delay_for(retry_number + 1, random.Random())


def _run_hooks(
    spec: StepSpec, run: DagsterRun, resources: Resources, log: StepLog, outcome: StepOutcome
) -> None:
    succeeded = outcome.status == "success"
    for hook in sorted(spec.hook_defs, key=lambda h: h.name):
        if not hook.fires_on(succeeded):
            outcome.hooks_skipped.append(hook.name)
            continue
        context = HookContext(
            op=HookNode(spec.handle.rsplit(".", 1)[-1], spec.handle, dict(spec.tags or {})),
            job_name=run.job_name,
            run_id=run.run_id,
            step_key=spec.step_key,
            hook_def=hook,
            resources=resources.subset(hook.required_resource_keys, f"hook {hook.name!r}"),
            op_config=spec.op_config,
            op_exception=outcome.error,
            op_output_values={o.name: o.value for o in outcome.outputs},
            log=log,  # type: ignore[arg-type]
        )
        try:
            hook.hook_fn(context)
        except Exception as exc:  # a failing hook is reported, it does not fail the step
            outcome.hook_errors.append((hook.name, exc))
        else:
            outcome.hooks_completed.append(hook.name)
