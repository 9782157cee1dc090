"""GraphQL types of code locations and of the cluster (workers, queues, coordinators),
named as Dagster's where its client reads them."""

from __future__ import annotations

from typing import Annotated

import strawberry

from ..cluster_view import WorkerNow
from .types import Error, PipelineTag, PythonError, UnauthorizedError


# Code locations -----------------------------------------------------------------------
@strawberry.type
class Job:
    name: str
    description: str | None
    tags: list[PipelineTag]
    is_partitioned: bool
    partition_keys: list[str]
    run_config_schema_scaffold: str
    ops: list[str]


@strawberry.type
class RepositoryLocation:
    id: str
    name: str
    is_reload_supported: bool
    repositories: list[Repository]


@strawberry.type
class Repository:
    id: str
    name: str
    location: RepositoryLocation
    pipelines: list[Job]
    jobs: list[Job]


@strawberry.type
class RepositoryConnection:
    nodes: list[Repository]


@strawberry.type
class RepositoryNotFoundError(Error):
    repository_name: str
    repository_location_name: str


RepositoriesOrError = Annotated[
    RepositoryConnection | RepositoryNotFoundError | PythonError,
    strawberry.union("RepositoriesOrError"),
]
RepositoryLocationOrLoadError = Annotated[
    RepositoryLocation | PythonError, strawberry.union("RepositoryLocationOrLoadError")
]


@strawberry.type
class WorkspaceLocationEntry:
    id: str
    name: str
    location_or_load_error: RepositoryLocationOrLoadError | None


@strawberry.type
class ReloadNotSupported(Error):
    pass


@strawberry.type
class RepositoryLocationNotFound(Error):
    pass


ReloadRepositoryLocationMutationResult = Annotated[
    WorkspaceLocationEntry
    | ReloadNotSupported
    | RepositoryLocationNotFound
    | UnauthorizedError
    | PythonError,
    strawberry.union("ReloadRepositoryLocationMutationResult"),
]


# The cluster --------------------------------------------------------------------------
@strawberry.type
class WorkerStep:
    """A step a worker's pool runs now (its claim names this attempt and process)."""

    run_id: str
    job_name: str
    step_key: str
    attempt: int
    pid: int
    start_time: float
    elapsed_seconds: float


@strawberry.type
class Worker:
    hostname: str
    queues: list[str]
    host: str | None = None
    pid: int | None = None
    concurrency: int | None = None
    pool: str | None = None
    running: list[WorkerStep] = strawberry.field(default_factory=list)


@strawberry.type
class Queue:
    name: str
    depth: int
    consumers: list[str]


@strawberry.type
class Coordinator:
    id: str
    leased_run_ids: list[str] = strawberry.field(default_factory=list)


def worker_of(worker: WorkerNow) -> Worker:
    """A live worker as the ``workers`` query answers it."""
    running = [
        WorkerStep(
            run_id=s.run_id,
            job_name=s.job_name,
            step_key=s.step_key,
            attempt=s.attempt,
            pid=s.pid,
            start_time=s.started_at,
            elapsed_seconds=s.elapsed_s,
        )
        for s in worker.running
    ]
    return Worker(
        hostname=worker.hostname,
        queues=worker.queues,
        host=worker.host,
        pid=worker.pid,
        concurrency=worker.concurrency,
        pool=worker.pool or None,
        running=running,
    )
