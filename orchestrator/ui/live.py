"""Server-sent event streams that keep pages live without a reload.

- ``/live/runs/{id}?cursor=``: blocks on the run's event stream (``XREAD BLOCK``,
  as the coordinator does) and sends each batch of new events with the run's new
  step statuses and timeline (and the timeline alone every ``REFRESH_S`` meanwhile,
  so running bars grow).
- ``/live/runs?<filter>``: blocks on the submissions stream and the event streams
  of active runs; when anything arrives, sends the first page of the filter again.
- ``/live/cluster``: workers (with their running steps), queues and coordinators
  every two seconds (they are
  heartbeats, so there is nothing to block on).

Blocking reads run in worker threads; the stream ends when the client goes away.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from anyio import CapacityLimiter, to_thread
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from .actions import run_filter, run_row, ui_state
from .cluster import FINAL_RUN_STATUSES, RunNotFound, redis_errors
from .pages import fragments
from .pages.cluster import cluster_html
from .run_view import load_run
from .runs_query import list_runs

#: Longest one blocking read waits before the stream checks its client is still there.
BLOCK_S = 1.0
#: Most active runs whose event streams the runs page follows.
MAX_FOLLOWED = 200
#: A run page's timeline is sent again this often while nothing happens (bars grow).
REFRESH_S = 2.0
#: The runs page re-reads its rows at least this often, whatever it heard.
RESYNC_S = 5.0
#: The cluster page refreshes this often.
CLUSTER_EVERY_S = 2.0
#: Threads the live streams' blocking reads may hold at once; a pool of their own, so
#: open pages never take the threads that serve the other requests.
LIVE_THREADS = 256


def live_limiter() -> CapacityLimiter:
    """The live streams' thread limiter; the server makes one in its event loop."""
    return CapacityLimiter(LIVE_THREADS)


def _blocker(request: Request) -> Callable[..., Awaitable[Any]]:
    limiter: CapacityLimiter = request.app.state.live_limiter

    async def blocking(func: Callable[..., Any], *args: Any) -> Any:
        return await to_thread.run_sync(func, *args, limiter=limiter)

    return blocking


def _message(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n".encode()


def _stream(request: Request, body: Callable[[], AsyncIterator[bytes]]) -> Response:
    async def guarded() -> AsyncIterator[bytes]:
        yield b": live\n\n"
        async for chunk in body():
            if await request.is_disconnected():
                return
            yield chunk

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(guarded(), media_type="text/event-stream", headers=headers)


async def run_stream(request: Request) -> Response:
    state = ui_state(request)
    _blocking = _blocker(request)
    run_id = request.path_params["run_id"]
    cursor = request.query_params.get("cursor") or "0-0"
    store = state.cluster.store

    async def body() -> AsyncIterator[bytes]:
        nonlocal cursor
        refreshed = time.monotonic()
        while True:
            entries = await _blocking(store.wait_run, run_id, cursor, BLOCK_S)
            if not entries and time.monotonic() - refreshed < REFRESH_S:
                yield b": idle\n\n"
                continue
            refreshed = time.monotonic()
            cursor = entries[-1][0] if entries else cursor
            try:
                view = await _blocking(load_run, state.cluster, run_id)
            except RunNotFound:
                yield _message("gone", {"run_id": run_id})
                return
            update = await _blocking(fragments.run_update, state, view, entries)
            yield _message("update", update)
            if view.record.status in FINAL_RUN_STATUSES:
                yield _message("ended", {"status": view.record.status.value})
                return

    return _stream(request, body)


async def runs_stream(request: Request) -> Response:
    state = ui_state(request)
    _blocking = _blocker(request)
    flt = run_filter(request.query_params)
    limit = int(request.query_params.get("limit") or 50)
    cluster = state.cluster

    def first_page() -> list[dict[str, Any]]:
        return [run_row(r) for r in list_runs(cluster, flt, limit).runs]

    def wait(sub_cursor: str, cursors: dict[str, str]) -> tuple[str, bool]:
        submitted, found = cluster.store.wait(sub_cursor, cursors, BLOCK_S, count=100)
        for run_id, entries in found.items():
            cursors[run_id] = entries[-1][0]
        return (submitted[-1][0] if submitted else sub_cursor), bool(submitted or found)

    async def body() -> AsyncIterator[bytes]:
        sent = await _blocking(first_page)
        sub_cursor = await _blocking(_last_id, cluster, cluster.keys.submissions())
        cursors = await _blocking(_active_cursors, cluster)
        synced = time.monotonic()
        while True:
            sub_cursor, heard = await _blocking(wait, sub_cursor, cursors)
            if not heard and time.monotonic() - synced < RESYNC_S:
                yield b": idle\n\n"
                continue
            if time.monotonic() - synced >= RESYNC_S:
                cursors = await _blocking(_active_cursors, cluster)
                synced = time.monotonic()
            rows = await _blocking(first_page)
            if rows != sent:
                sent = rows
                yield _message("runs", {"html": fragments.run_rows_html(rows), "rows": rows})

    return _stream(request, body)


def _last_id(cluster: Any, stream: str) -> str:
    with redis_errors("reading the submissions stream"):
        entries = cluster.redis.xrevrange(stream, count=1)
    return entries[0][0].decode() if entries else "0-0"


def _active_cursors(cluster: Any) -> dict[str, str]:
    active = cluster.store.active_runs()[:MAX_FOLLOWED]
    with (
        redis_errors("reading the active runs' streams"),
        cluster.redis.pipeline(transaction=False) as pipe,
    ):
        for run_id in active:
            pipe.xrevrange(cluster.keys.events(run_id), count=1)
        lasts = pipe.execute()
    return {
        run_id: (last[0][0].decode() if last else "0-0")
        for run_id, last in zip(active, lasts, strict=True)
    }


async def cluster_stream(request: Request) -> Response:
    state = ui_state(request)
    _blocking = _blocker(request)

    async def body() -> AsyncIterator[bytes]:
        while True:
            html = await _blocking(cluster_html, state)
            yield _message("cluster", {"html": html})
            await asyncio.sleep(CLUSTER_EVERY_S)

    return _stream(request, body)
