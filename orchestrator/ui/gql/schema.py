"""The GraphQL schema: queries for jobs, runs, one run, workers and queues; mutations to
launch, cancel (terminate), re-execute and reload a code location. Schedules, sensors
and backfills are mixed in from ``automation``."""

from __future__ import annotations

import functools
import logging
import traceback
from typing import Any

import strawberry
from starlette.concurrency import run_in_threadpool
from strawberry.types import Info

from ..catalog import REPOSITORY
from ..cluster import (
    QUEUE_TAG,
    DagsterInvariantViolationError,
    JobDefinition,
    OpgridError,
    RunNotFound,
    RunRecord,
    StorageError,
)
from ..cluster_view import cluster_now, workers_now
from ..config_schema import scaffold_yaml
from ..launching import Launched, Refused, launch
from ..redact import redacted
from ..runs_query import RunFilter, count_runs, list_runs
from ..state import UIState
from . import inputs as i
from . import types as t
from . import workspace as w
from .automation import AutomationQuery
from .automation_mutations import AutomationMutation
from .context import ui_state
from .workspace import worker_of

logger = logging.getLogger(__name__)

#: Our run statuses as Dagster's.
_STATUS = {
    "queued": t.RunStatus.QUEUED,
    "started": t.RunStatus.STARTED,
    "success": t.RunStatus.SUCCESS,
    "failure": t.RunStatus.FAILURE,
    "canceled": t.RunStatus.CANCELED,
}
_FROM_DAGSTER = {value: key for key, value in _STATUS.items()}


def run_of(state: UIState, record: RunRecord) -> t.Run:
    """A stored run as the API shows it (secret-looking tags and config masked)."""
    tags = redacted(record.tags)
    return t.Run(
        cluster=state.cluster,
        run_id=record.run_id,
        id=record.run_id,
        status=_STATUS[record.status.value],
        pipeline_name=record.job_name,
        job_name=record.job_name,
        tags=[t.PipelineTag(key=k, value=str(v)) for k, v in sorted(tags.items())],
        creation_time=record.created_at,
        start_time=record.started_at,
        end_time=record.finished_at,
        parent_run_id=record.parent_run_id,
        root_run_id=record.tags.get("dagster/root_run_id"),
        partition_key=record.partition_key,
        repository_location_name=record.location,
    )


def python_error(exc: BaseException) -> t.PythonError:
    stack = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return t.PythonError(message=str(exc), class_name=type(exc).__name__, stack=stack)


def _job(job: JobDefinition) -> w.Job:
    partitions = job.partitions_def
    keys = list(partitions.get_partition_keys()) if partitions is not None else []
    return w.Job(
        name=job.name,
        description=job.description,
        tags=[t.PipelineTag(key=k, value=str(v)) for k, v in sorted(redacted(job.tags).items())],
        is_partitioned=partitions is not None,
        partition_keys=keys,
        run_config_schema_scaffold=scaffold_yaml(job),
        ops=sorted(job.graph.node_dict),
    )


def _location(state: UIState, name: str) -> w.RepositoryLocation:
    location = state.catalog.locations[name]
    jobs = [_job(job) for job in sorted(location.jobs.values(), key=lambda j: j.name)]
    loc = w.RepositoryLocation(id=name, name=name, is_reload_supported=True, repositories=[])
    repo = w.Repository(
        id=f"{REPOSITORY}@{name}", name=REPOSITORY, location=loc, pipelines=jobs, jobs=jobs
    )
    loc.repositories.append(repo)
    return loc


def _config_error(path: str, message: str) -> t.ConfigValidationError:
    parts = [p for p in path.split(".") if p]
    where = f" at path {path}" if path else " at the root"
    text = f"{message}{where}"
    if "missing" in message:
        return t.MissingFieldConfigError(
            message=text,
            path=parts,
            reason=t.EvaluationErrorReason.MISSING_REQUIRED_FIELD,
            field_name=parts[-1] if parts else "",
        )
    if "unexpected" in message:
        return t.FieldNotDefinedConfigError(
            message=text,
            path=parts,
            reason=t.EvaluationErrorReason.FIELD_NOT_DEFINED,
            field_name=parts[-1] if parts else "",
        )
    return t.RuntimeMismatchConfigError(
        message=text,
        path=parts,
        reason=t.EvaluationErrorReason.RUNTIME_TYPE_MISMATCH,
        value_rep=None,
    )


def launch_result(state: UIState, params: i.ExecutionParams) -> t.LaunchRunResult:
    """``launchPipelineExecution``/``launchRun``: a run, or why there is none."""
    selector = params.selector
    job_name = selector.job_name or selector.pipeline_name or ""
    if selector.repository_name != REPOSITORY:
        return t.PipelineNotFoundError(
            message=f"Could not find Pipeline {selector.repository_location_name}."
            f"{selector.repository_name}.{job_name}",
            pipeline_name=job_name,
            repository_name=selector.repository_name,
            repository_location_name=selector.repository_location_name,
        )
    if params.preset:
        return t.PresetNotFoundError(
            message=f"opgrid jobs have no presets ({params.preset!r})", preset=params.preset
        )
    metadata = params.execution_metadata
    tags = {tag.key: tag.value for tag in (metadata.tags or [])} if metadata else {}
    partition = tags.pop("dagster/partition", None)  # Dagster's client passes it as a tag
    outcome = launch(
        state,
        job_name,
        selector.repository_location_name,
        params.run_config_data or {},
        tags,
        partition,
        selector.solid_selection,
    )
    if isinstance(outcome, Launched):
        return t.LaunchRunSuccess(run=run_of(state, outcome.record))
    return _refusal(outcome, selector, job_name)


def _refusal(
    outcome: Refused, selector: i.JobOrPipelineSelector, job_name: str
) -> t.LaunchRunResult:
    if outcome.kind == "config":
        errors = [_config_error(path, message) for path, message in outcome.errors]
        return t.RunConfigValidationInvalid(pipeline_name=job_name, errors=errors)
    if outcome.kind == "job_not_found":
        return t.PipelineNotFoundError(
            message=f"Could not find Pipeline {selector.repository_location_name}."
            f"{selector.repository_name}.{job_name}",
            pipeline_name=job_name,
            repository_name=selector.repository_name,
            repository_location_name=selector.repository_location_name,
        )
    if outcome.kind == "invalid_subset":
        return t.InvalidSubsetError(message=outcome.message)
    return t.PythonError(message=outcome.message, class_name=outcome.class_name, stack=[])


def terminate(state: UIState, run_id: str) -> t.TerminateRunResult:
    try:
        record = state.cluster.cancel(run_id)
    except RunNotFound:
        return t.RunNotFoundError(run_id=run_id, message=f"Run {run_id} could not be found.")
    except DagsterInvariantViolationError as exc:
        record = state.cluster.store.get_run(run_id)
        return t.TerminateRunFailure(run=run_of(state, record), message=str(exc))
    except (OpgridError, StorageError) as exc:
        return python_error(exc)
    return t.TerminateRunSuccess(run=run_of(state, record))


@strawberry.type
class Query(AutomationQuery):
    @strawberry.field
    def version(self) -> str:
        return "opgrid"

    @strawberry.field
    def repositories_or_error(self, info: Info[Any, Any]) -> w.RepositoriesOrError:
        state = ui_state(info)
        locations = [_location(state, name) for name in sorted(state.catalog.locations)]
        return w.RepositoryConnection(nodes=[r for loc in locations for r in loc.repositories])

    @strawberry.field
    def jobs(self, info: Info[Any, Any]) -> list[w.Job]:
        return [_job(job) for _, job in ui_state(info).catalog.jobs()]

    @strawberry.field
    def pipeline_run_or_error(self, info: Info[Any, Any], run_id: strawberry.ID) -> t.RunOrError:
        return _run_or_error(ui_state(info), str(run_id))

    @strawberry.field
    def run_or_error(self, info: Info[Any, Any], run_id: strawberry.ID) -> t.RunOrError:
        return _run_or_error(ui_state(info), str(run_id))

    @strawberry.field
    async def runs_or_error(
        self,
        info: Info[Any, Any],
        filter: i.RunsFilter | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> t.RunsOrError:
        state = ui_state(info)
        flt = _filter(filter)
        try:
            page = await run_in_threadpool(list_runs, state.cluster, flt, limit or 50, cursor)
        except StorageError as exc:
            return python_error(exc)
        results = [run_of(state, record) for record in page.runs]
        counter = functools.partial(count_runs, state.cluster, flt)
        return t.Runs(results=results, cursor=page.next_cursor, counter=counter)

    @strawberry.field
    def workers(self, info: Info[Any, Any]) -> list[w.Worker]:
        return [worker_of(worker) for worker in workers_now(ui_state(info))]

    @strawberry.field
    def queues(self, info: Info[Any, Any]) -> list[w.Queue]:
        return [
            w.Queue(name=q.name, depth=q.depth, consumers=q.consumers)
            for q in queue_rows(ui_state(info))
        ]

    @strawberry.field
    def coordinators(self, info: Info[Any, Any]) -> list[w.Coordinator]:
        return [
            w.Coordinator(id=c.id, leased_run_ids=c.runs)
            for c in cluster_now(ui_state(info)).coordinators
        ]


def _run_or_error(state: UIState, run_id: str) -> t.RunOrError:
    try:
        return run_of(state, state.cluster.store.get_run(run_id))
    except RunNotFound:
        return t.RunNotFoundError(run_id=run_id, message=f"Run {run_id} could not be found.")
    except StorageError as exc:
        return python_error(exc)


def _filter(given: i.RunsFilter | None) -> RunFilter:
    if given is None:
        return RunFilter()
    return RunFilter(
        job=given.pipeline_name,
        statuses=frozenset(_FROM_DAGSTER[s] for s in given.statuses or [] if s in _FROM_DAGSTER),
        tags=tuple((tag.key, tag.value) for tag in given.tags or []),
        created_after=given.created_after,
        created_before=given.created_before,
        run_ids=frozenset(r for r in given.run_ids or [] if r),
    )


def queue_rows(state: UIState) -> list[w.Queue]:
    """Every queue a worker consumes, a served job routes to or an active run names, with
    its depth and consumers."""
    workers = state.cluster.live_workers()
    names = {state.cluster.settings.default_queue}
    names.update(q for queues in workers.values() for q in queues)
    names.update(active_run_queues(state))
    for _, job in state.catalog.jobs():
        if QUEUE_TAG in job.tags:
            names.add(str(job.tags[QUEUE_TAG]))
        for op_def in job.graph.iterate_op_defs():
            if QUEUE_TAG in (op_def.tags or {}):
                names.add(str(op_def.tags[QUEUE_TAG]))
    depths = state.cluster.queue_depths(sorted(names))
    return [
        w.Queue(
            name=name,
            depth=depths.get(name, 0),
            consumers=sorted(h for h, qs in workers.items() if name in qs),
        )
        for name in sorted(names)
    ]


def active_run_queues(state: UIState) -> set[str]:
    """The queues that the tags of active runs route to."""
    active = state.cluster.store.active_runs()[:MAX_ACTIVE_SCANNED]
    page = list_runs(state.cluster, RunFilter(run_ids=frozenset(active)), len(active) or 1)
    return {str(r.tags[QUEUE_TAG]) for r in page.runs if QUEUE_TAG in r.tags}


#: Most active runs whose queue tags the cluster view reads.
MAX_ACTIVE_SCANNED = 500


@strawberry.type
class Mutation(AutomationMutation):
    @strawberry.mutation
    async def launch_pipeline_execution(
        self, info: Info[Any, Any], execution_params: i.ExecutionParams
    ) -> t.LaunchRunResult:
        result: t.LaunchRunResult = await run_in_threadpool(
            launch_result, ui_state(info), execution_params
        )
        return result

    @strawberry.mutation
    async def launch_run(
        self, info: Info[Any, Any], execution_params: i.ExecutionParams
    ) -> t.LaunchRunResult:
        result: t.LaunchRunResult = await run_in_threadpool(
            launch_result, ui_state(info), execution_params
        )
        return result

    @strawberry.mutation
    def launch_run_reexecution(
        self, info: Info[Any, Any], reexecution_params: i.ReexecutionParams
    ) -> t.LaunchRunReexecutionResult:
        state = ui_state(info)
        from_failure = reexecution_params.strategy is t.ReexecutionStrategy.FROM_FAILURE
        try:
            record = state.cluster.reexecute(reexecution_params.parent_run_id, from_failure)
        except RunNotFound:
            run_id = reexecution_params.parent_run_id
            return t.RunNotFoundError(run_id=run_id, message=f"Run {run_id} could not be found.")
        except (OpgridError, StorageError) as exc:
            return python_error(exc)
        return t.LaunchRunSuccess(run=run_of(state, record))

    @strawberry.mutation
    def terminate_run(
        self,
        info: Info[Any, Any],
        run_id: str,
        terminate_policy: t.TerminateRunPolicy | None = None,
    ) -> t.TerminateRunResult:
        return terminate(ui_state(info), run_id)

    @strawberry.mutation
    def terminate_runs(
        self,
        info: Info[Any, Any],
        run_ids: list[str],
        terminate_policy: t.TerminateRunPolicy | None = None,
    ) -> t.TerminateRunsResultOrError:
        state = ui_state(info)
        return t.TerminateRunsResult(terminate_run_results=[terminate(state, r) for r in run_ids])

    @strawberry.mutation
    def reload_repository_location(
        self, info: Info[Any, Any], repository_location_name: str
    ) -> w.ReloadRepositoryLocationMutationResult:
        state = ui_state(info)
        name = repository_location_name
        if not state.catalog.reload(name):
            return w.RepositoryLocationNotFound(message=f"Location {name} does not exist.")
        problem = state.catalog.problems.get(name)
        if problem is not None:
            error = t.PythonError(message=problem.message, class_name=None, stack=[problem.stack])
            return w.WorkspaceLocationEntry(id=name, name=name, location_or_load_error=error)
        return w.WorkspaceLocationEntry(
            id=name, name=name, location_or_load_error=_location(state, name)
        )


#: Types reached only through an interface, which the schema must list itself.
_IMPLEMENTERS: list[type] = [
    t.FieldNotDefinedConfigError,
    t.MissingFieldConfigError,
    t.RuntimeMismatchConfigError,
]

schema = strawberry.Schema(query=Query, mutation=Mutation, types=_IMPLEMENTERS)
