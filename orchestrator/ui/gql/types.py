"""GraphQL types, named and shaped as Dagster's where Dagster's own client reads them.

Dagster's Python client (``dagster_graphql.DagsterGraphQLClient``) spreads fragments
on these names (``PipelineRun``, ``RunConfigValidationInvalid``, ``PythonError``...);
a name or a field missing here would fail its queries' validation. The rest (steps,
events, workers, queues) is opgrid's own, in Dagster's style.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Annotated

import strawberry
import yaml
from starlette.concurrency import run_in_threadpool

from ..cluster import ClusterHandle, RunNotFound
from ..cluster import RunEvent as CoreRunEvent
from ..redact import redact_text, redacted
from ..run_view import Attempt, load_run


@strawberry.enum
class RunStatus(Enum):
    QUEUED = "QUEUED"
    NOT_STARTED = "NOT_STARTED"
    MANAGED = "MANAGED"
    STARTING = "STARTING"
    STARTED = "STARTED"
    SUSPENDED = "SUSPENDED"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    CANCELING = "CANCELING"
    CANCELED = "CANCELED"


@strawberry.enum
class EvaluationErrorReason(Enum):
    RUNTIME_TYPE_MISMATCH = "RUNTIME_TYPE_MISMATCH"
    MISSING_REQUIRED_FIELD = "MISSING_REQUIRED_FIELD"
    MISSING_REQUIRED_FIELDS = "MISSING_REQUIRED_FIELDS"
    FIELD_NOT_DEFINED = "FIELD_NOT_DEFINED"
    FIELDS_NOT_DEFINED = "FIELDS_NOT_DEFINED"
    SELECTOR_FIELD_ERROR = "SELECTOR_FIELD_ERROR"


@strawberry.enum
class TerminateRunPolicy(Enum):
    SAFE_TERMINATE = "SAFE_TERMINATE"
    MARK_AS_CANCELED_IMMEDIATELY = "MARK_AS_CANCELED_IMMEDIATELY"


@strawberry.enum
class ReexecutionStrategy(Enum):
    ALL_STEPS = "ALL_STEPS"
    FROM_FAILURE = "FROM_FAILURE"


# Interfaces ---------------------------------------------------------------------------
@strawberry.interface
class Error:
    message: str


@strawberry.type
class PipelineTag:
    key: str
    value: str


@strawberry.type
class StepStats:
    """One step of a run: its status, first start, last end and attempt count."""

    step_key: str
    status: str
    start_time: float | None
    end_time: float | None
    attempts: int


@strawberry.type
class RunLogEvent:
    """One entry of a run's event log."""

    event_type: str
    message: str
    timestamp: str
    step_key: str | None
    level: str | None
    attempt: int
    error_class: str | None
    error_message: str | None


@strawberry.type
class EventConnection:
    events: list[RunLogEvent]
    cursor: str
    has_more: bool


@strawberry.type
class CapturedLogs:
    """What one step attempt printed (each stream cut at the workers' capture limit)."""

    step_key: str
    attempt: int
    stdout: str
    stderr: str
    stdout_cut_bytes: int
    stderr_cut_bytes: int


@strawberry.interface
class PipelineRun:
    run_id: str
    id: str
    status: RunStatus
    pipeline_name: str
    job_name: str
    tags: list[PipelineTag]
    creation_time: float
    start_time: float | None
    end_time: float | None
    parent_run_id: str | None
    root_run_id: str | None
    partition_key: str | None
    repository_location_name: str | None


@strawberry.type
class Run(PipelineRun):
    """A run; ``stepStats`` and ``eventConnection`` read the store when asked for."""

    cluster: strawberry.Private[ClusterHandle]

    @strawberry.field
    def run_config_yaml(self) -> str:
        """The run's config as YAML, secret-looking values masked (read when asked for)."""
        try:
            config = self.cluster.store.get_plan(self.run_id).run_config
        except RunNotFound:
            return "{}\n"
        return yaml.safe_dump(redacted(config), sort_keys=False) if config else "{}\n"

    @strawberry.field
    async def step_stats(self) -> list[StepStats]:
        view = await run_in_threadpool(load_run, self.cluster, self.run_id)
        firsts: dict[str, Attempt] = {}
        lasts: dict[str, Attempt] = {}
        counts: dict[str, int] = {}
        for attempt in view.attempts:
            firsts.setdefault(attempt.step_key, attempt)
            lasts[attempt.step_key] = attempt
            counts[attempt.step_key] = counts.get(attempt.step_key, 0) + 1
        return [
            StepStats(
                step_key=key,
                status=status.upper(),
                start_time=firsts[key].started_at if key in firsts else None,
                end_time=lasts[key].ended_at if key in lasts else None,
                attempts=counts.get(key, 0),
            )
            for key, status in sorted(view.statuses.items())
        ]

    @strawberry.field
    def event_connection(
        self, after_cursor: str | None = None, limit: int = 1000
    ) -> EventConnection:
        entries = self.cluster.store.read_events(self.run_id, after_cursor or "0-0")
        limit = max(1, min(limit, 10_000))
        shown = entries[:limit]
        cursor = shown[-1][0] if shown else (after_cursor or "0-0")
        return EventConnection(
            events=[log_event(event) for _, event in shown],
            cursor=cursor,
            has_more=len(entries) > limit,
        )

    @strawberry.field
    def captured_logs(self, step_key: str, attempt: int | None = None) -> CapturedLogs | None:
        """What a step attempt printed (its latest attempt by default); null if nothing."""
        found = self.cluster.store.get_captured(self.run_id, step_key, attempt)
        if found is None:
            return None
        return CapturedLogs(
            step_key=found.step_key,
            attempt=found.attempt,
            stdout=redact_text(found.stdout),
            stderr=redact_text(found.stderr),
            stdout_cut_bytes=found.stdout_cut_bytes,
            stderr_cut_bytes=found.stderr_cut_bytes,
        )


def log_event(event: CoreRunEvent) -> RunLogEvent:
    """An event as the API shows it (timestamps in milliseconds, as Dagster's)."""
    return RunLogEvent(
        event_type=event.kind.name,
        message=redact_text(event.message or event.describe()),
        timestamp=f"{event.timestamp * 1000:.0f}",
        step_key=event.step_key,
        level=event.level,
        attempt=event.attempt,
        error_class=event.error.cls_name if event.error else None,
        error_message=redact_text(event.error.message) if event.error else None,
    )


@strawberry.type
class Runs:
    results: list[Run]
    cursor: str | None
    #: counts the runs the query's filter accepts (read only when ``count`` is asked for)
    counter: strawberry.Private[Callable[[], int]]

    @strawberry.field
    async def count(self) -> int:
        """How many runs the filter accepts, on every page together."""
        return await run_in_threadpool(self.counter)


@strawberry.interface
class LaunchPipelineRunSuccess:
    run: PipelineRun


@strawberry.type
class LaunchRunSuccess(LaunchPipelineRunSuccess):
    run: Run


@strawberry.interface
class ConfigValidationError:
    message: str
    path: list[str]
    reason: EvaluationErrorReason


@strawberry.type
class FieldNotDefinedConfigError(ConfigValidationError):
    field_name: str


@strawberry.type
class MissingFieldConfigError(ConfigValidationError):
    field_name: str


@strawberry.type
class RuntimeMismatchConfigError(ConfigValidationError):
    value_rep: str | None


@strawberry.interface
class PipelineConfigValidationInvalid:
    pipeline_name: str
    errors: list[ConfigValidationError]


@strawberry.type
class RunConfigValidationInvalid(PipelineConfigValidationInvalid):
    pass


@strawberry.type
class PipelineNotFoundError(Error):
    pipeline_name: str
    repository_name: str
    repository_location_name: str


@strawberry.type
class PythonError(Error):
    class_name: str | None
    stack: list[str]


@strawberry.type
class InvalidStepError:
    invalid_step_key: str


@strawberry.type
class InvalidOutputError:
    step_key: str
    invalid_output_name: str


@strawberry.type
class ConflictingExecutionParamsError(Error):
    pass


@strawberry.type
class PresetNotFoundError(Error):
    preset: str


@strawberry.interface
class PipelineRunConflict:
    message: str


@strawberry.type
class RunConflict(Error, PipelineRunConflict):
    message: str


@strawberry.type
class UnauthorizedError(Error):
    pass


@strawberry.type
class InvalidSubsetError(Error):
    pass


@strawberry.type
class NoModeProvidedError(Error):
    pipeline_name: str


@strawberry.interface
class PipelineRunNotFoundError(Error):
    run_id: str


@strawberry.type
class RunNotFoundError(PipelineRunNotFoundError):
    pass


@strawberry.interface
class TerminatePipelineExecutionSuccess:
    run: PipelineRun


@strawberry.interface
class TerminatePipelineExecutionFailure:
    run: PipelineRun | None
    message: str


@strawberry.type
class TerminateRunSuccess(TerminatePipelineExecutionSuccess):
    run: Run


@strawberry.type
class TerminateRunFailure(TerminatePipelineExecutionFailure):
    run: Run | None
    message: str


LaunchRunResult = Annotated[
    LaunchRunSuccess
    | InvalidStepError
    | InvalidOutputError
    | RunConfigValidationInvalid
    | PipelineNotFoundError
    | RunConflict
    | UnauthorizedError
    | PythonError
    | InvalidSubsetError
    | PresetNotFoundError
    | ConflictingExecutionParamsError
    | NoModeProvidedError,
    strawberry.union("LaunchRunResult"),
]
LaunchRunReexecutionResult = Annotated[
    LaunchRunSuccess
    | RunNotFoundError
    | UnauthorizedError
    | PythonError
    | InvalidSubsetError
    | RunConfigValidationInvalid,
    strawberry.union("LaunchRunReexecutionResult"),
]
RunOrError = Annotated[Run | RunNotFoundError | PythonError, strawberry.union("RunOrError")]
TerminateRunResult = Annotated[
    TerminateRunSuccess | TerminateRunFailure | RunNotFoundError | UnauthorizedError | PythonError,
    strawberry.union("TerminateRunResult"),
]


@strawberry.type
class TerminateRunsResult:
    terminate_run_results: list[TerminateRunResult]


TerminateRunsResultOrError = Annotated[
    TerminateRunsResult | PythonError, strawberry.union("TerminateRunsResultOrError")
]
RunsOrError = Annotated[Runs | PythonError, strawberry.union("RunsOrError")]
