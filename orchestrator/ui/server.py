"""The UI's web server: pages, JSON actions, live streams and ``/graphql`` in one app.

``create_app`` builds the ASGI app for a cluster and some code locations; ``serve``
runs it with uvicorn until stopped (``opgrid ui`` calls it), ``serving`` runs it in a
thread for the length of a ``with`` block (for ``opgrid dev``).
The process keeps no run state of its own: several can serve one cluster.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from strawberry.asgi import GraphQL

from . import actions, live, pages
from .auth import TOKEN_ENV, AuthMiddleware, AuthPolicy
from .catalog import Catalog, LocationSource
from .cluster import (
    ClusterHandle,
    DagsterInvariantViolationError,
    Settings,
    StorageError,
    safe_url,
)
from .gql.schema import schema
from .state import UIState

logger = logging.getLogger(__name__)

#: Where the CSS and JS of the pages live (package data).
STATIC_DIR = Path(__file__).with_name("static")


class _GraphQL(GraphQL[dict[str, Any], None]):
    """Strawberry's ASGI app with the UI's state as context. A browser's GET gets our
    own explorer page (``pages.explorer_page``) in place of strawberry's GraphiQL, which
    loads its scripts from a CDN, which the UI never does."""

    def __init__(self, state: UIState) -> None:
        super().__init__(schema, graphql_ide="graphiql", allow_queries_via_get=True)
        self.state = state

    async def render_graphql_ide(self, request: Request) -> Response:
        return pages.explorer_page(request)

    async def get_context(self, request: Any, response: Any) -> dict[str, Any]:
        return {"ui": self.state, "request": request, "response": response}


def create_app(
    settings: Settings,
    sources: Sequence[LocationSource],
    host: str = "127.0.0.1",
    token: str | None = None,
    no_auth: bool = False,
) -> Starlette:
    """The ASGI app serving one cluster.

    Args:
        settings: the cluster's settings.
        sources: the code locations to load (files or modules).
        host: the address the server binds; beyond loopback a token is required.
        token: the token clients must show; ``OPGRID_UI_TOKEN`` when None.
        no_auth: serve without a token even beyond loopback.

    Raises:
        DagsterInvariantViolationError: bound beyond loopback without a token or ``no_auth``.
    """
    token = token if token is not None else os.environ.get(TOKEN_ENV) or None
    policy = AuthPolicy.build(host, token, no_auth, settings.secret.get_secret_value())
    state = UIState(ClusterHandle.open(settings), Catalog(list(sources)), policy)
    routes = _routes(_GraphQL(state))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.live_limiter = live.live_limiter()
        yield
        state.cluster.close()

    async def unreachable(request: Request, exc: Exception) -> Response:
        logger.error("the cluster's Redis failed: %s", exc, exc_info=True)
        text = f"cannot use the cluster's Redis at {safe_url(settings.redis_url)}: {exc}\n"
        return PlainTextResponse(text, status_code=503)

    app = Starlette(
        routes=routes,
        middleware=[Middleware(AuthMiddleware, policy=policy)],
        lifespan=lifespan,
        exception_handlers={StorageError: unreachable},
    )
    app.state.ui = state
    return app


def _routes(graphql: _GraphQL) -> list[BaseRoute]:
    """Pages, JSON actions, live streams, GraphQL and static files."""
    return [
        Route("/", lambda request: RedirectResponse("/runs", 303)),
        Route("/healthz", _healthz),
        Route("/login", pages.login_page, methods=["GET", "POST"]),
        Route("/logout", pages.logout, methods=["POST"]),
        Route("/graphql", graphql, methods=["GET", "POST"]),
        Route("/jobs", pages.jobs_page),
        Route("/jobs/{job}", pages.job_page),
        Route("/runs", pages.runs_page),
        Route("/runs/{run_id}", pages.run_page),
        Route("/runs/{run_id}/steps/{step_key}/{stream}", pages.captured_page),
        Route("/launchpad/{job}", pages.launchpad_page),
        Route("/cluster", pages.cluster_page),
        Route("/api/runs", actions.runs_json),
        Route("/api/launch", actions.launch_run, methods=["POST"]),
        Route("/api/validate", actions.validate_config, methods=["POST"]),
        Route("/api/runs/{run_id}/cancel", actions.cancel_run, methods=["POST"]),
        Route("/api/runs/{run_id}/reexecute", actions.reexecute_run, methods=["POST"]),
        *_automation_routes(),
        Route("/live/runs", live.runs_stream),
        Route("/live/runs/{run_id}", live.run_stream),
        Route("/live/cluster", live.cluster_stream),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]


def _automation_routes() -> list[BaseRoute]:
    """Schedules, sensors and backfills: pages and their POST actions."""
    return [
        Route("/schedules", pages.schedules_page),
        Route("/schedules/{name}", pages.schedule_page),
        Route("/sensors", pages.sensors_page),
        Route("/sensors/{name}", pages.sensor_page),
        Route("/backfills", pages.backfills_page),
        Route("/api/schedules/{name}/{verb}", actions.switch_schedule, methods=["POST"]),
        Route("/api/sensors/{name}/{verb}", actions.switch_sensor, methods=["POST"]),
        Route("/api/backfills/{backfill_id}/cancel", actions.cancel_backfill, methods=["POST"]),
    ]


async def _healthz(request: Request) -> Response:
    return PlainTextResponse("ok\n")


def serve(
    settings: Settings,
    sources: Sequence[LocationSource],
    host: str = "127.0.0.1",
    port: int = 3000,
    token: str | None = None,
    no_auth: bool = False,
) -> None:
    """Serve the UI and API until interrupted (blocking); see ``create_app``."""
    import uvicorn

    app = create_app(settings, sources, host, token, no_auth)
    logger.info("opgrid UI on http://%s:%d", host, port)
    uvicorn.run(app, host=host, port=port, log_level="warning", lifespan="on")


#: Longest ``serving`` waits for the server to listen.
START_TIMEOUT_S = 15.0


@contextlib.contextmanager
def serving(
    settings: Settings,
    sources: Sequence[LocationSource],
    host: str = "127.0.0.1",
    port: int = 3000,
    token: str | None = None,
    no_auth: bool = False,
) -> Iterator[str]:
    """Serve the UI from a thread of this process while the block runs; yields its URL.

    For ``opgrid dev`` and tests: same arguments as ``serve``.

    Raises:
        DagsterInvariantViolationError: bound beyond loopback without a token, or the
            server did not start listening within ``START_TIMEOUT_S``.
    """
    import uvicorn

    app = create_app(settings, sources, host, token, no_auth)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="opgrid-ui", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise DagsterInvariantViolationError(f"the UI did not start on {host}:{port}")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=START_TIMEOUT_S)
