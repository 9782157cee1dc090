"""``opgrid ui``: serve the web UI and the GraphQL API for a cluster.

    opgrid ui -f FILE | -m MODULE [-f ...] [--host 127.0.0.1] [--port 3000] [--no-auth]

The cluster comes from the usual settings (``OPGRID_REDIS_URL``, ``OPGRID_NAMESPACE``,
``OPGRID_SECRET``...); the token from ``OPGRID_UI_TOKEN``.
"""

from __future__ import annotations

import logging
import os

import click

from opgrid.errors import DagsterInvariantViolationError
from opgrid.orchestrator.store.connect import safe_url
from opgrid.orchestrator.ui.auth import TOKEN_ENV, AuthPolicy
from opgrid.orchestrator.ui.catalog import LocationSource

from .options import cluster_options, cluster_settings

logger = logging.getLogger(__name__)


@click.command(name="ui")
@click.option(
    "-f",
    "--file",
    "files",
    multiple=True,
    metavar="FILE",
    help="A Python file of jobs (repeatable).",
)
@click.option(
    "-m",
    "--module",
    "modules",
    multiple=True,
    metavar="MODULE",
    help="A module of jobs (repeatable).",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; beyond loopback OPGRID_UI_TOKEN is required.",
)
@click.option("--port", default=3000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--no-auth", is_flag=True, help="Serve without a token even beyond loopback.")
@cluster_options
@click.pass_context
def ui_command(
    ctx: click.Context,
    files: tuple[str, ...],
    modules: tuple[str, ...],
    host: str,
    port: int,
    no_auth: bool,
    redis_url: str | None,
    namespace: str | None,
) -> None:
    """Serve the web UI and GraphQL API (/graphql) for the cluster."""
    if not files and not modules:
        raise click.UsageError("give at least one -f/--file or -m/--module")
    settings = cluster_settings(ctx, redis_url, namespace)
    sources = [LocationSource(file=f) for f in files] + [LocationSource(module=m) for m in modules]
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    try:  # refused before anything is loaded or bound
        AuthPolicy.build(host, os.environ.get(TOKEN_ENV), no_auth, "")
    except DagsterInvariantViolationError as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(
        f"opgrid UI on http://{host}:{port} for {safe_url(settings.redis_url)} "
        f"namespace {settings.namespace!r}",
        err=True,
    )
    from opgrid.orchestrator.ui.server import serve  # starlette, strawberry: only for this

    try:
        serve(settings, sources, host, port, no_auth=no_auth)
    except DagsterInvariantViolationError as exc:
        raise click.UsageError(str(exc)) from exc
