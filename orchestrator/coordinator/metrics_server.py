"""Serving a coordinator's metrics over HTTP, from a daemon thread.

``MetricsServer`` answers for one ``PrometheusMetrics`` (``metrics``):

- ``GET /metrics``: Prometheus' text format;
- ``GET /healthz``: 200 ``ok`` while the coordinator's loop turns, 503 once it has not
  turned for ``stale_after_s`` (Redis unreachable, or the loop stuck).

``served_metrics`` is the wiring the CLI and the local coordinator use.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from opgrid.errors import OpgridError
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.redis import RedisRunStore

from .hooks import Hooks
from .metrics import PrometheusMetrics

logger = logging.getLogger(__name__)


class MetricsServer:
    """``/metrics`` and ``/healthz`` on ``host:port``, from a daemon thread (``with`` it).

    Port 0 takes a free port; ``.port`` says which.
    """

    def __init__(self, metrics: PrometheusMetrics, port: int, host: str = "127.0.0.1") -> None:
        handler = functools.partial(_Handler, metrics)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self.host = host
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"opgrid-metrics-{self.port}", daemon=True
        )

    def __enter__(self) -> MetricsServer:
        self._thread.start()
        logger.info("serving /metrics and /healthz on http://%s:%d", self.host, self.port)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class _Handler(BaseHTTPRequestHandler):
    def __init__(self, metrics: PrometheusMetrics, *args: Any) -> None:
        self.metrics = metrics
        super().__init__(*args)

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/metrics":
            self._reply(200, generate_latest(self.metrics.registry), CONTENT_TYPE_LATEST)
        elif path == "/healthz":
            healthy = self.metrics.healthy()
            self._reply(200 if healthy else 503, b"ok\n" if healthy else b"stale\n")
        else:
            self._reply(404, b"not found: try /metrics or /healthz\n")

    def _reply(
        self, code: int, body: bytes, content_type: str = "text/plain; charset=utf-8"
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("metrics: %s " + format, self.address_string(), *args)


@contextlib.contextmanager
def served_metrics(store: RedisRunStore, settings: Settings) -> Iterator[Hooks]:
    """A coordinator's metrics, served on ``settings.metrics_port`` while the block runs:
    the hooks to give the coordinator.

    With port 0 the hooks record nothing and nothing is served.

    Raises:
        OpgridError: the port cannot be bound (in use, or privileged).
    """
    if not settings.metrics_port:
        yield Hooks()
        return
    metrics = PrometheusMetrics(store, settings)
    try:
        try:
            server = MetricsServer(metrics, settings.metrics_port, settings.metrics_host)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise OpgridError(
                f"cannot serve metrics on {settings.metrics_host}:{settings.metrics_port}: {reason}"
            ) from exc
        with server:
            yield metrics
    finally:
        metrics.close()
