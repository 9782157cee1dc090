"""GraphQL input types, named and shaped as Dagster's (its client sends them)."""

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON

from .types import ReexecutionStrategy, RunStatus


@strawberry.input
class AssetKeyInput:
    path: list[str]


@strawberry.input
class JobOrPipelineSelector:
    repository_location_name: str
    repository_name: str
    pipeline_name: str | None = None
    job_name: str | None = None
    solid_selection: list[str] | None = None
    asset_selection: list[AssetKeyInput] | None = None


@strawberry.input
class ExecutionTag:
    key: str
    value: str


@strawberry.input
class ExecutionMetadata:
    tags: list[ExecutionTag] | None = None
    root_run_id: str | None = None
    parent_run_id: str | None = None


@strawberry.input
class ExecutionParams:
    selector: JobOrPipelineSelector
    run_config_data: JSON | None = None
    mode: str | None = None
    execution_metadata: ExecutionMetadata | None = None
    step_keys: list[str] | None = None
    preset: str | None = None


@strawberry.input
class ReexecutionParams:
    parent_run_id: str
    strategy: ReexecutionStrategy


@strawberry.input
class RunsFilter:
    run_ids: list[str | None] | None = None
    pipeline_name: str | None = None
    tags: list[ExecutionTag] | None = None
    statuses: list[RunStatus] | None = None
    created_before: float | None = None
    created_after: float | None = None
