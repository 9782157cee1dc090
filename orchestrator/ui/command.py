"""``opgrid ui``: serve the web UI and the GraphQL API for a cluster.

    opgrid ui -f FILE | -m MODULE [-f ...] [--host 127.0.0.1] [--port 3000] [--no-auth]

The cluster comes from the usual settings (``OPGRID_REDIS_URL``, ``OPGRID_NAMESPACE``,
``OPGRID_SECRET``...); the token from ``OPGRID_UI_TOKEN``.
"""

from __future__ import annotations

import logging
import os

import click

from .catalog import LocationSource
from .cluster import DagsterInvariantViolationError, command_settings, safe_url

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
@click.option("--redis-url", help="The cluster's Redis (default: OPGRID_REDIS_URL).")
@click.option("--namespace", help="The cluster's namespace (default: OPGRID_NAMESPACE).")
def ui_command(
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
    settings = command_settings(click.get_current_context(), redis_url, namespace)
    sources = [LocationSource(file=f) for f in files] + [LocationSource(module=m) for m in modules]
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    from .auth import AuthPolicy
    from .server import TOKEN_ENV

    try:  # refused before anything is loaded or bound
        AuthPolicy.build(host, os.environ.get(TOKEN_ENV), no_auth, "")
    except DagsterInvariantViolationError as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(
        f"opgrid UI on http://{host}:{port} for {safe_url(settings.redis_url)} "
        f"namespace {settings.namespace!r}",
        err=True,
    )
    from .server import serve  # starlette and strawberry load only for this command

    try:
        serve(settings, sources, host, port, no_auth=no_auth)
    except DagsterInvariantViolationError as exc:
        raise click.UsageError(str(exc)) from exc
