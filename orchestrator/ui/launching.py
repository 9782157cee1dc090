"""Launching a run from the launchpad or the API, with every way it can be refused.

``launch`` answers a ``Launched`` record or a ``Refused`` reason of one of the kinds
Dagster's API distinguishes (config invalid, job not found, bad op selection, an
error of ours), so the pages and GraphQL can each show it their way.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .cluster import (
    ConfigError,
    DagsterInvalidDefinitionError,
    ExecutionPlan,
    OpgridError,
    RunRecord,
    StorageError,
    compile_plan,
)
from .state import UIState

logger = logging.getLogger(__name__)

RefusalKind = Literal["config", "job_not_found", "invalid_subset", "error"]


@dataclass(frozen=True, slots=True)
class Refused:
    """Why a launch did not happen."""

    kind: RefusalKind
    message: str
    #: for ``config``: (dotted path, message) per bad field
    errors: list[tuple[str, str]] = field(default_factory=list)
    class_name: str = ""
    stack: str = ""


@dataclass(frozen=True, slots=True)
class Launched:
    record: RunRecord


def launch(
    state: UIState,
    job_name: str,
    location: str | None,
    run_config: Any,
    tags: Mapping[str, Any] | None = None,
    partition_key: str | None = None,
    op_selection: Sequence[str] | None = None,
) -> Launched | Refused:
    """Compile and queue a run of ``job_name``; nothing is queued when refused."""
    found = state.catalog.find(job_name, location)
    if found is None:
        where = f"code location {location!r}" if location else "the code locations served"
        return Refused("job_not_found", f"Could not find job {job_name!r} in {where}")
    location_name, job = found
    select = _selector(op_selection) if op_selection else None
    try:
        record = state.cluster.launch(
            job, location_name, run_config, tags, partition_key, select=select
        )
    except ConfigError as exc:
        return Refused("config", str(exc), list(exc.errors))
    except DagsterInvalidDefinitionError as exc:
        kind: RefusalKind = "invalid_subset" if "op selection" in str(exc) else "error"
        return Refused(kind, str(exc), class_name=type(exc).__name__)
    except (OpgridError, StorageError) as exc:
        logger.warning("launch of job %s refused: %s", job_name, exc)
        return Refused("error", str(exc), class_name=type(exc).__name__)
    return Launched(record)


def validate(
    state: UIState,
    job_name: str,
    location: str | None,
    run_config: Any,
    partition_key: str | None = None,
) -> list[tuple[str, str]]:
    """Every problem of ``run_config`` for the job, by dotted path; [] when it is valid."""
    found = state.catalog.find(job_name, location)
    if found is None:
        return [("", f"no job {job_name!r} is served")]
    try:
        compile_plan(found[1], run_config, partition_key=partition_key)
    except ConfigError as exc:
        return list(exc.errors)
    except OpgridError as exc:
        return [("", str(exc))]
    return []


def _selector(names: Sequence[str]) -> Any:
    """The step keys an op selection names: ``op`` (and its copies and inner steps), ``*op``
    (with everything upstream), ``op*`` (with everything downstream)."""

    def select(plan: ExecutionPlan) -> list[str]:
        upstream = {s.key: {src.step for i in s.inputs for src in i.sources} for s in plan.steps}
        downstream: dict[str, set[str]] = {s.key: set() for s in plan.steps}
        for key, sources in upstream.items():
            for source in sources:
                downstream.setdefault(source, set()).add(key)
        chosen: set[str] = set()
        for raw in names:
            name = raw.strip("*")
            matched = [k for k in upstream if k == name or k.startswith((f"{name}.", f"{name}["))]
            if not matched:
                raise DagsterInvalidDefinitionError(f"op selection {raw!r} names no op of the job")
            chosen.update(matched)
            if raw.startswith("*"):
                chosen.update(_closure(matched, upstream))
            if raw.endswith("*"):
                chosen.update(_closure(matched, downstream))
        return [s.key for s in plan.steps if s.key in chosen]

    return select


def _closure(start: list[str], edges: Mapping[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    stack = list(start)
    while stack:
        for nxt in edges.get(stack.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen
