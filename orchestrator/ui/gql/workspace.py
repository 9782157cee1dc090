"""GraphQL types of code locations and of the cluster (workers, queues, coordinators),
named as Dagster's where its client reads them."""

from __future__ import annotations

from typing import Annotated

import strawberry

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
class Worker:
    hostname: str
    queues: list[str]


@strawberry.type
class Queue:
    name: str
    depth: int
    consumers: list[str]


@strawberry.type
class Coordinator:
    id: str
