"""The frame every page shares, and the helpers that keep markup escaped."""

from __future__ import annotations

import datetime
import json
from html import escape
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

from ..state import UIState

#: The pages in the navigation bar: (path, title).
NAV: tuple[tuple[str, str], ...] = (("/runs", "Runs"), ("/jobs", "Jobs"), ("/cluster", "Cluster"))
NAV += (("/schedules", "Schedules"), ("/sensors", "Sensors"), ("/backfills", "Backfills"))
NAV += (("/graphql", "GraphQL"),)


def h(value: Any) -> str:
    """``value`` as text safe in HTML (attributes too)."""
    return escape("" if value is None else str(value), quote=True)


def when(timestamp: float | None) -> str:
    if not timestamp:
        return "—"
    moment = datetime.datetime.fromtimestamp(timestamp, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(start: float | None, end: float | None) -> str:
    if not start:
        return "—"
    if not end:
        return "running"
    seconds = end - start
    return f"{seconds:.2f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def status_badge(status: str) -> str:
    return f'<span class="badge {h(status)}">{h(status)}</span>'


def tag_chips(tags: dict[str, Any]) -> str:
    return "".join(
        f'<span class="chip">{h(k)}=<b>{h(v)}</b></span>' for k, v in sorted(tags.items())
    )


def data_json(value: Any) -> str:
    """JSON for a ``<script type="application/json">`` block (``</`` cannot close it)."""
    return json.dumps(value, default=str).replace("</", "<\\/")


def page(
    request: Request, title: str, body: str, active: str = "", status: int = 200
) -> HTMLResponse:
    state: UIState = request.app.state.ui
    nav = "".join(
        f'<a href="{path}" class="{"active" if path == active else ""}">{name}</a>'
        for path, name in NAV
    )
    logout = (
        '<form method="post" action="/logout" class="logout"><button>Log out</button></form>'
        if state.policy.token
        else ""
    )
    html = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="{h(state.policy.csrf_token)}">
<title>{h(title)} · opgrid</title>
<link rel="stylesheet" href="/static/style.css">
<script src="/static/app.js" defer></script>
</head><body>
<header><a class="brand" href="/runs">opgrid</a><nav>{nav}</nav>{logout}</header>
<main>{body}</main>
</body></html>"""
    headers = {
        "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
        "style-src 'self'; script-src 'self'; frame-ancestors 'none'",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }
    return HTMLResponse(html, status_code=status, headers=headers)
