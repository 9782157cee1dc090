"""opgrid's web UI and GraphQL API (``opgrid ui``): one stateless server per process,
any number of them per cluster.

``serve`` and ``create_app`` live in ``server``; they are loaded on first use, so the
``opgrid`` command does not import the web stack unless it serves.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LocationSource", "create_app", "serve", "serving"]


def __getattr__(name: str) -> Any:
    if name == "LocationSource":
        from .catalog import LocationSource

        return LocationSource
    if name in ("create_app", "serve", "serving"):
        from . import server

        return getattr(server, name)
    raise AttributeError(name)
