"""The JSON endpoints our pages call: list runs, validate config, launch, cancel, re-execute;
turn schedules and sensors on and off, cancel backfills.

Every POST passed the auth middleware (token and CSRF checks) before it gets here.
Errors answer ``{"ok": false, "error": ..., "errors": [{"path": ..., "message": ...}]}``
with a 4xx status; nothing secret is echoed back.
"""

from __future__ import annotations

from typing import Any

import yaml
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .automation import switch
from .cluster import (
    BackfillNotFound,
    InstigatorNotFound,
    InstigatorType,
    OpgridError,
    RunNotFound,
    StorageError,
)
from .launching import Launched, launch, validate
from .runs_query import RunFilter, list_runs
from .state import UIState

#: Statuses the run filter accepts.
STATUSES = ("queued", "started", "success", "failure", "canceled")


def ui_state(request: Request) -> UIState:
    state: UIState = request.app.state.ui
    return state


def run_filter(params: Any) -> RunFilter:
    """A filter from query parameters: ``job``, ``status`` (comma list), ``tag`` (k=v,
    repeatable), ``after``/``before`` (epoch seconds)."""
    statuses = {s for s in (params.get("status") or "").split(",") if s in STATUSES}
    tags = []
    for raw in params.getlist("tag") if hasattr(params, "getlist") else []:
        key, sep, value = raw.partition("=")
        if sep and key:
            tags.append((key.strip(), value.strip()))
    return RunFilter(
        job=params.get("job") or None,
        statuses=frozenset(statuses),
        tags=tuple(tags),
        created_after=_float(params.get("after")),
        created_before=_float(params.get("before")),
    )


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def run_row(record: Any) -> dict[str, Any]:
    """One run as the runs table and its live updates show it."""
    from .redact import redacted

    return {
        "run_id": record.run_id,
        "job": record.job_name,
        "status": record.status.value,
        "tags": redacted(record.tags),
        "created_at": record.created_at,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
    }


def runs_json(request: Request) -> Response:
    state = ui_state(request)
    limit = int(request.query_params.get("limit") or 50)
    page = list_runs(
        state.cluster, run_filter(request.query_params), limit, request.query_params.get("cursor")
    )
    return JSONResponse({"runs": [run_row(r) for r in page.runs], "next_cursor": page.next_cursor})


def _problem(message: str, status: int = 400, **extra: Any) -> JSONResponse:
    return JSONResponse({"ok": False, "error": message, **extra}, status_code=status)


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def parse_config(text: str) -> tuple[Any, list[dict[str, str]]]:
    """The YAML of the launchpad as a value, or the YAML error at its line."""
    try:
        value = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        return None, [{"path": where, "message": str(getattr(exc, "problem", exc))}]
    if value is not None and not isinstance(value, dict):
        return None, [{"path": "<root>", "message": "run config must be a mapping"}]
    return value or {}, []


async def validate_config(request: Request) -> Response:
    body = await _body(request)
    config, errors = parse_config(str(body.get("config", "")))
    if errors:
        return JSONResponse({"ok": False, "errors": errors})
    problems = await run_in_threadpool(
        validate,
        ui_state(request),
        str(body.get("job", "")),
        body.get("location") or None,
        config,
        body.get("partition") or None,
    )
    return JSONResponse(
        {"ok": not problems, "errors": [{"path": p or "<root>", "message": m} for p, m in problems]}
    )


async def launch_run(request: Request) -> Response:
    body = await _body(request)
    config, errors = parse_config(str(body.get("config", "")))
    if errors:
        return _problem("the run config is not valid YAML", errors=errors)
    tags = body.get("tags") or {}
    if not isinstance(tags, dict):
        return _problem("tags must be a mapping of names to values")
    outcome = await run_in_threadpool(
        launch,
        ui_state(request),
        str(body.get("job", "")),
        body.get("location") or None,
        config,
        {str(k): str(v) for k, v in tags.items()},
        body.get("partition") or None,
    )
    if isinstance(outcome, Launched):
        run_id = outcome.record.run_id
        return JSONResponse({"ok": True, "run_id": run_id, "url": f"/runs/{run_id}"})
    listed = [{"path": p or "<root>", "message": m} for p, m in outcome.errors]
    status = 404 if outcome.kind == "job_not_found" else 400
    return _problem(outcome.message, status, errors=listed, kind=outcome.kind)


async def cancel_run(request: Request) -> Response:
    run_id = request.path_params["run_id"]
    try:
        await run_in_threadpool(ui_state(request).cluster.cancel, run_id)
    except RunNotFound as exc:
        return _problem(str(exc), 404)
    except (OpgridError, StorageError) as exc:
        return _problem(str(exc), 409)
    return JSONResponse({"ok": True, "run_id": run_id})


async def reexecute_run(request: Request) -> Response:
    run_id = request.path_params["run_id"]
    body = await _body(request)
    try:
        record = await run_in_threadpool(
            ui_state(request).cluster.reexecute, run_id, bool(body.get("from_failure"))
        )
    except RunNotFound as exc:
        return _problem(str(exc), 404)
    except (OpgridError, StorageError) as exc:
        return _problem(str(exc), 409)
    return JSONResponse({"ok": True, "run_id": record.run_id, "url": f"/runs/{record.run_id}"})


async def switch_schedule(request: Request) -> Response:
    """``POST /api/schedules/<name>/start|stop``: as ``opgrid schedule start|stop``."""
    return await _switch(request, InstigatorType.SCHEDULE)


async def switch_sensor(request: Request) -> Response:
    """``POST /api/sensors/<name>/start|stop``: as ``opgrid sensor start|stop``."""
    return await _switch(request, InstigatorType.SENSOR)


async def _switch(request: Request, kind: InstigatorType) -> Response:
    name, verb = request.path_params["name"], request.path_params["verb"]
    if verb not in ("start", "stop"):
        return _problem(f"unknown action {verb!r} on {kind.value} {name!r}: start or stop", 404)
    try:
        new = await run_in_threadpool(switch, ui_state(request), kind, name, verb == "start")
    except InstigatorNotFound as exc:
        return _problem(str(exc), 404)
    running = "running" if new.running else "stopped"
    return JSONResponse({"ok": True, "kind": kind.value, "name": name, "state": running})


async def cancel_backfill(request: Request) -> Response:
    """``POST /api/backfills/<id>/cancel``: as ``opgrid backfill cancel``."""
    backfill_id = request.path_params["backfill_id"]
    try:
        in_flight = await run_in_threadpool(ui_state(request).cluster.cancel_backfill, backfill_id)
    except BackfillNotFound as exc:
        return _problem(str(exc), 404)
    except OpgridError as exc:
        return _problem(str(exc), 409)
    return JSONResponse({"ok": True, "backfill_id": backfill_id, "runs_asked_to_stop": in_flight})
